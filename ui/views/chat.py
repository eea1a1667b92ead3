"""チャット: ask about the registered documents; streamed answers with their sources.

The evidence (the passages' own sentences with their [n]) is shown as soon as retrieval ends; the
model's answer then streams below it under 「AIが回答を作成中…」 with a stop button. Stopping (or any
other click while the answer streams, which makes Streamlit rerun the page) keeps the evidence as
the answer, so staff never lose what they already read."""

from __future__ import annotations

from datetime import date
from typing import Any

import streamlit as st

from yakuba.ui.client import DOC_TYPES, Answer, ApiError, ChatFilters, ChatMessage, Citation, Evidence
from yakuba.ui.components import escape_md, show_error, source_cards
from yakuba.ui.session import client

_MESSAGES = "chat_messages"
_PENDING = "chat_pending"  # the answer being streamed: question, sources, evidence (survives a stop)
EVIDENCE_HEADING = "資料の該当箇所"
WRITING = "AIが回答を作成中…"
STOPPED = "回答の作成を停止しました。資料の該当箇所を回答として表示しています。"
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


def _markdown(text: str) -> str:
    """Generated text is meant as Markdown (lists, paragraphs); only「$」would turn into formulas."""
    return text.replace("$", "\\$")


def _render_evidence(evidence: Evidence) -> None:
    with st.container(border=True):
        st.caption(f":material/format_quote: {EVIDENCE_HEADING}")
        st.markdown(_markdown(evidence.text))


def _render_answer(answer: Answer, index: int) -> None:
    if answer.abstained:
        st.info(answer.answer, icon=":material/info:")
        source_cards(cited(answer), key=f"{index}", heading="参考になりそうな資料")
    else:
        st.markdown(_markdown(answer.answer))
        # The model's answer was kept: the evidence it rests on stays one click away.
        if answer.evidence and answer.evidence.text.strip() != answer.answer.strip():
            with st.expander(EVIDENCE_HEADING, icon=":material/format_quote:"):
                st.markdown(_markdown(answer.evidence.text))
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
    pending: dict[str, Any] = {"question": question, "sources": None, "evidence": None}
    st.session_state[_PENDING] = pending
    found: dict[str, Any] = {"answer": None, "error": None}
    with st.chat_message("assistant", avatar=ASSISTANT_AVATAR):
        evidence_box = st.empty()
        status = st.empty()
        live = st.empty()
        status.caption(":material/search: 資料を検索しています…")
        streamed = ""
        try:
            for event in client().chat_stream(question, history=history, filters=filters):
                if event.type == "sources":
                    pending["sources"] = [c.model_dump(mode="json") for c in event.sources or []]
                elif event.type == "evidence" and event.evidence is not None:
                    pending["evidence"] = event.evidence.model_dump(mode="json")
                    with evidence_box.container():
                        _render_evidence(event.evidence)
                    with status.container():
                        st.caption(f":material/edit_note: {WRITING}")
                        st.button("回答の作成を停止", icon=":material/stop_circle:", key="chat-stop", on_click=_stop)
                elif event.type == "token" and event.text:
                    streamed += event.text
                    evidence_text = (pending["evidence"] or {}).get("text", "")
                    if streamed.strip() != evidence_text.strip():  # the extractive engine streams the evidence itself
                        live.markdown(_markdown(streamed) + "▌")
                elif event.type == "answer":
                    found["answer"] = event.answer
                elif event.type == "error":
                    found["error"] = event.error
        except ApiError as exc:
            st.session_state.pop(_PENDING, None)
            return {"role": "assistant", "content": "", "error": exc.message}
        evidence_box.empty()
        status.empty()
        live.empty()
    st.session_state.pop(_PENDING, None)
    if found["error"]:
        if pending["evidence"]:
            return _evidence_message(pending, notice=f"AIの回答の作成に失敗しました: {found['error']}")
        return {"role": "assistant", "content": "", "error": f"回答を作成できませんでした: {found['error']}"}
    answer: Answer | None = found["answer"]
    if answer is None:
        if pending["evidence"]:
            return _evidence_message(pending, notice="AIの回答を受け取れませんでした。資料の該当箇所を表示しています。")
        return {"role": "assistant", "content": "", "error": "回答を受け取れませんでした。もう一度お試しください。"}
    return {"role": "assistant", "content": answer.answer, "answer": answer.model_dump(mode="json")}


def _stop() -> None:
    """The stop button's callback: runs before the rerun that ends the streaming script run."""
    pending = st.session_state.get(_PENDING)
    if pending is not None:
        pending["stopped"] = True


def _evidence_message(pending: dict[str, Any], *, notice: str) -> dict[str, Any]:
    """The evidence already on screen, kept as the answer (stop button, model failure)."""
    evidence = Evidence.model_validate(pending["evidence"])
    sources = [Citation.model_validate(c) for c in pending.get("sources") or []]
    cited_numbers = {s.n for s in evidence.sentences}
    answer = Answer(
        answer=evidence.text,
        abstained=False,
        citations=[c for c in sources if c.n in cited_numbers],
        sources=sources,
        engine="extractive",
        fallback="stopped",
        notices=[notice],
        evidence=evidence,
    )
    return {"role": "assistant", "content": answer.answer, "answer": answer.model_dump(mode="json")}


def _settle_interrupted(messages: list[dict[str, Any]]) -> None:
    """An answer whose stream a click interrupted: keep its evidence (or say it stopped)."""
    pending = st.session_state.pop(_PENDING, None)
    if pending is None:
        return
    messages.append({"role": "user", "content": pending["question"]})
    if pending.get("evidence"):
        messages.append(_evidence_message(pending, notice=STOPPED))
    else:
        messages.append({"role": "assistant", "content": "", "error": "回答の作成を停止しました。"})


def render() -> None:
    st.title("チャット")
    st.caption("登録されている資料をもとに回答します。回答には必ず出典が付きます。")
    filters = _filters()
    if st.sidebar.button("会話をリセット", icon=":material/restart_alt:", width="stretch"):
        st.session_state[_MESSAGES] = []
        st.session_state.pop(_PENDING, None)
    messages: list[dict[str, Any]] = st.session_state.setdefault(_MESSAGES, [])
    _settle_interrupted(messages)
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
