"""チャット: ask about the registered documents; streamed answers with their sources."""

from __future__ import annotations

from datetime import date
from typing import Any

import streamlit as st

from yakuba.ui.client import DOC_TYPES, Answer, ApiError, ChatFilters, ChatMessage, Citation
from yakuba.ui.components import escape_md, show_error, source_cards
from yakuba.ui.session import client

_MESSAGES = "chat_messages"
USER_AVATAR = ":material/person:"
ASSISTANT_AVATAR = ":material/account_balance:"
_HISTORY_TURNS = 8  # messages sent back for follow-up questions; the API keeps what it needs


def _filters() -> ChatFilters | None:
    with st.sidebar.expander("絞り込み条件", expanded=False, icon=":material/filter_alt:"):
        doc_types = st.multiselect(
            "資料の種類", list(DOC_TYPES), key="filter_doc_types", placeholder="すべて"
        )
        start = st.date_input("期間（開始日）", value=None, key="filter_from", format="YYYY/MM/DD")
        end = st.date_input("期間（終了日）", value=None, key="filter_to", format="YYYY/MM/DD")
        speaker = st.text_input("発言者（議事録）", key="filter_speaker", placeholder="例: 市長、山田")
    if isinstance(start, date) and isinstance(end, date) and start > end:
        st.sidebar.warning("期間の開始日が終了日より後になっています。期間の絞り込みは使われません。")
        start = end = None
    filters = ChatFilters(
        doc_types=doc_types or None,
        date_from=start if isinstance(start, date) else None,
        date_to=end if isinstance(end, date) else None,
        speaker=speaker.strip() or None,
    )
    active = filters.to_api()
    if active:
        st.sidebar.caption("絞り込み中: " + "、".join(_describe(active)))
    return filters if active else None


def _describe(active: dict[str, Any]) -> list[str]:
    labels = []
    if "doc_types" in active:
        labels.append("・".join(active["doc_types"]))
    if "date_from" in active or "date_to" in active:
        labels.append(f"{active.get('date_from', '')}〜{active.get('date_to', '')}")
    if "speaker" in active:
        labels.append(f"発言者「{active['speaker']}」")
    return labels


def _render_answer(answer: Answer, index: int) -> None:
    if answer.abstained:
        st.info(answer.answer, icon=":material/info:")
        source_cards(cited(answer), key=f"{index}", heading="参考になりそうな資料")
    else:
        # Generated text is meant as Markdown (lists, paragraphs); only「$」would turn into formulas.
        st.markdown(answer.answer.replace("$", "\\$"))
        source_cards(cited(answer), key=f"{index}", heading="出典")
    for notice in answer.notices:
        st.caption(f":material/info: {notice}")
    seconds = (answer.timings_ms.get("total") or sum(answer.timings_ms.values())) / 1000
    with st.expander("回答をコピー", icon=":material/content_copy:"):
        st.code(answer.answer, language=None, wrap_lines=True)
    if seconds:
        st.caption(f"回答にかかった時間: {seconds:.1f} 秒")


def _render_message(message: dict[str, Any], index: int) -> None:
    with st.chat_message(message["role"], avatar=USER_AVATAR if message["role"] == "user" else ASSISTANT_AVATAR):
        if message.get("error"):
            show_error(message["error"])
        elif message.get("answer") is not None:
            _render_answer(Answer.model_validate(message["answer"]), index)
        else:
            st.markdown(escape_md(message["content"]))


def _history(messages: list[dict[str, Any]]) -> list[ChatMessage]:
    usable = [m for m in messages if not m.get("error") and m.get("content")]
    return [ChatMessage(role=m["role"], content=m["content"]) for m in usable[-_HISTORY_TURNS:]]


def _ask(question: str, filters: ChatFilters | None, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """Stream one answer into the page; return the assistant message to keep in the history."""
    history = _history(messages)
    found: dict[str, Any] = {"sources": None, "answer": None, "error": None}

    def tokens():  # type: ignore[no-untyped-def]
        for event in client().chat_stream(question, history=history, filters=filters):
            if event.type == "sources":
                found["sources"] = event.sources
            elif event.type == "token" and event.text:
                yield event.text
            elif event.type == "answer":
                found["answer"] = event.answer
            elif event.type == "error":
                found["error"] = event.error

    with st.chat_message("assistant", avatar=ASSISTANT_AVATAR):
        live = st.empty()
        try:
            with live.container(), st.spinner("資料を検索して回答を作成しています…"):
                st.write_stream(tokens())
        except ApiError as exc:
            live.empty()
            return {"role": "assistant", "content": "", "error": exc.message}
        live.empty()
    if found["error"]:
        return {"role": "assistant", "content": "", "error": f"回答を作成できませんでした: {found['error']}"}
    answer: Answer | None = found["answer"]
    if answer is None:
        return {"role": "assistant", "content": "", "error": "回答を受け取れませんでした。もう一度お試しください。"}
    return {"role": "assistant", "content": answer.answer, "answer": answer.model_dump(mode="json")}


def render() -> None:
    st.title("チャット")
    st.caption("登録されている資料をもとに回答します。回答には必ず出典が付きます。")
    filters = _filters()
    if st.sidebar.button("会話をリセット", icon=":material/restart_alt:", width="stretch"):
        st.session_state[_MESSAGES] = []
    messages: list[dict[str, Any]] = st.session_state.setdefault(_MESSAGES, [])
    if not messages:
        st.info(
            "下の入力欄に質問を入力してください。例:「自治体DXの推進で重点的に取り組む事項は？」",
            icon=":material/chat:",
        )
    for index, message in enumerate(messages):
        _render_message(message, index)
    question = st.chat_input("質問を入力してください（Enter で送信）", max_chars=2000)
    if question and question.strip():
        question = question.strip()
        _render_message({"role": "user", "content": question}, len(messages))
        reply = _ask(question, filters, messages)
        messages.extend([{"role": "user", "content": question}, reply])
        st.rerun()


def cited(answer: Answer) -> list[Citation]:
    """What the cards show: citations of an answer, or the closest sources of an abstention."""
    return answer.sources if answer.abstained and answer.sources else answer.citations


if __name__ == "__main__":  # run as a page by ui/app.py
    render()
