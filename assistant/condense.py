"""Follow-up questions become standalone before retrieval (「それはいつから？」 finds nothing alone)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from langchain_core.language_models import BaseChatModel

from yakuba.assistant.prompts import condense_messages
from yakuba.assistant.schemas import ChatMessage
from yakuba.assistant.text import nfkc

# Words that lean on the previous turn: demonstratives, "the same", "then", "also".
_ANAPHORA = re.compile(r"(それ|その|これ|この|あれ|あの|そこ|ここ|同じ|同様|前者|後者|上記|では|じゃあ|また|さらに|他に|ほかに)")
_SHORT = 12


def needs_context(question: str) -> bool:
    text = nfkc(question).strip()
    return len(text) <= _SHORT or bool(_ANAPHORA.search(text[:8]))


def heuristic_condense(question: str, history: Sequence[ChatMessage]) -> str:
    """Prefix the last user question so retrieval sees its topic; good enough without a model."""
    previous = [m.content for m in history if m.role == "user" and m.content.strip()]
    if not previous or not needs_context(question):
        return question
    return f"{previous[-1].strip()} {question.strip()}"


def condense(
    question: str, history: Sequence[ChatMessage], chat_model: BaseChatModel | None, *, max_turns: int = 4
) -> str:
    recent = list(history)[-max_turns * 2 :] if max_turns else []
    if not recent or not needs_context(question):
        return question
    if chat_model is None:
        return heuristic_condense(question, recent)
    try:
        reply = chat_model.invoke(condense_messages(question, recent), max_tokens=80)
        text = str(reply.content).strip().splitlines()[0].strip() if str(reply.content).strip() else ""
    except Exception:  # noqa: BLE001 - a failed rewrite must not fail the answer
        text = ""
    text = text.removeprefix("質問:").removeprefix("質問：").strip(" 「」\"")
    if not text or len(text) > 300:
        return heuristic_condense(question, recent)
    return text
