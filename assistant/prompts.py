"""Prompts for the answer engines. Short on purpose: a 1.5B model on 2 cores reads ~80 tokens/s,
so every passage character costs time to first token (README has the measured numbers)."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from yakuba.assistant.schemas import ChatMessage
from yakuba.assistant.text import split_sentences, truncate
from yakuba.retriever.search import Passage

MODEL_ABSTAIN_PHRASE = "資料に記載がありません"

ANSWER_SYSTEM = (
    "あなたは自治体職員を支援するアシスタントです。【資料】だけを根拠に、日本語で簡潔に答えてください。\n"
    "- 根拠にした資料の番号を文末に [1] のように必ず付けてください。\n"
    f"- 資料に答えがない場合は「{MODEL_ABSTAIN_PHRASE}」とだけ答えてください。\n"
    "- 資料にない数字や事実を書かないでください。"
)

CONDENSE_SYSTEM = (
    "会話の流れを踏まえて、最後の質問を、それだけで意味が通じる検索用の質問に書き換えてください。"
    "書き換えた質問文だけを1行で出力してください。"
)


def focus(text: str, tokens: Sequence[str], limit: int) -> str:
    """The part of a passage around the sentences that share the question's words, within `limit` chars."""
    if len(text) <= limit:
        return text
    sentences = split_sentences(text)
    if not sentences:
        return truncate(text, limit)
    scores = [sum(1 for t in tokens if t in s) for s in sentences]
    best = max(range(len(sentences)), key=lambda i: scores[i])
    start = end = best
    length = len(sentences[best])
    while True:
        grown = False
        if end + 1 < len(sentences) and length + len(sentences[end + 1]) <= limit:
            end += 1
            length += len(sentences[end])
            grown = True
        if start > 0 and length + len(sentences[start - 1]) <= limit:
            start -= 1
            length += len(sentences[start])
            grown = True
        if not grown:
            break
    return truncate("".join(sentences[start : end + 1]), limit)


def passage_block(n: int, passage: Passage, text: str) -> str:
    return f"[{n}] {passage.citation}\n{text}"


def answer_messages(
    question: str, numbered: dict[int, str], labels: dict[int, Passage]
) -> list[BaseMessage]:
    blocks = "\n\n".join(passage_block(n, labels[n], text) for n, text in sorted(numbered.items()))
    user = f"【資料】\n{blocks}\n\n【質問】{question}"
    return [SystemMessage(ANSWER_SYSTEM), HumanMessage(user)]


def condense_messages(question: str, history: Sequence[ChatMessage], max_chars: int = 200) -> list[BaseMessage]:
    lines = []
    for message in history:
        who = "利用者" if message.role == "user" else "アシスタント"
        lines.append(f"{who}: {truncate(message.content, max_chars)}")
    user = "【会話】\n" + "\n".join(lines) + f"\n\n【最後の質問】{question}"
    return [SystemMessage(CONDENSE_SYSTEM), HumanMessage(user)]

