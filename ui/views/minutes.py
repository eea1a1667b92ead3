"""議事録作成: transcript (pasted, a text/VTT file, or transcribed audio) → editable minutes draft."""

from __future__ import annotations

from typing import Any

import streamlit as st

from yakuba.ui.client import ApiError
from yakuba.ui.components import draft_editor, read_text_upload, show_error
from yakuba.ui.session import client

TRANSCRIPT = "minutes_transcript"
DRAFT = "minutes_draft"
DRAFT_TITLE = "minutes_draft_title"
NOTICES = "minutes_notices"
TRANSCRIBED = "minutes_transcribed"
STYLES = {"要点筆記": "要点をまとめた議事録", "逐語整文": "発言を整えてそのまま残す議事録"}


def _load_text_file() -> None:
    uploaded = st.session_state.get("minutes_text_file")
    if uploaded is not None and (text := read_text_upload(uploaded)) is not None:
        st.session_state[TRANSCRIPT] = text
        st.session_state[TRANSCRIBED] = None


def _transcribe(uploaded) -> None:  # type: ignore[no-untyped-def]
    """Runs in the page (not a callback) so the spinner shows while Whisper works."""
    with st.spinner("文字起こししています…（録音時間のおよそ 1/6 の時間がかかります）"):
        try:
            result = client().transcribe(uploaded.name, uploaded.getvalue())
        except ApiError as exc:
            st.session_state[TRANSCRIBED] = {"error": exc.message}
            return
    st.session_state[TRANSCRIPT] = result.get("text", "")  # the text box below is not drawn yet
    st.session_state[TRANSCRIBED] = {"duration_s": result.get("duration_s") or 0.0}


def _duration(seconds: float) -> str:
    return f"約 {seconds:.0f} 秒" if seconds < 90 else f"約 {seconds / 60:.0f} 分"


def _input_section() -> None:
    source = st.radio(
        "文字起こし・メモの入力方法",
        ["貼り付ける", "テキストファイルを読み込む", "音声ファイルから文字起こし"],
        horizontal=True,
        key="minutes_source",
    )
    if source == "テキストファイルを読み込む":
        st.file_uploader(
            "文字起こしファイル（.txt / .vtt / .md。Teams・Zoom の字幕ファイルも可）",
            type=["txt", "vtt", "md"],
            key="minutes_text_file",
            on_change=_load_text_file,
        )
    elif source == "音声ファイルから文字起こし":
        audio = st.file_uploader(
            "会議の録音（wav / mp3 / m4a など）",
            type=["wav", "mp3", "m4a", "ogg", "webm", "flac"],
            key="minutes_audio_file",
        )
        if st.button(
            "文字起こしする",
            disabled=audio is None,
            icon=":material/mic:",
            help="録音時間のおよそ 1/6 の時間がかかります（10分の録音で約2分）。",
        ):
            _transcribe(audio)
    transcribed = st.session_state.get(TRANSCRIBED)
    if transcribed and transcribed.get("error"):
        show_error(transcribed["error"], context="文字起こしできませんでした")
    elif transcribed:
        st.warning(
            f"音声（{_duration(transcribed.get('duration_s') or 0.0)}）を文字起こししました。"
            "自動の文字起こしには誤りが含まれます。"
            "下の欄で固有名詞や数字を確認・修正してから議事録を作成してください。",
            icon=":material/edit:",
        )
    st.text_area(
        "文字起こし・メモ（「話者: 発言」の形式だと発言者を正しく整理できます）",
        key=TRANSCRIPT,
        height=260,
        placeholder="例）\n司会: それでは定刻になりましたので始めます。\n田中課長: えー、まず予算について報告します。",
    )


def _fields() -> dict[str, Any]:
    st.markdown("**会議の情報（任意。入力した内容はそのまま使われます）**")
    left, right = st.columns(2)
    title = left.text_input("会議名", key="minutes_title", placeholder="例: 第3回 地域公共交通会議")
    held = right.text_input("日時", key="minutes_date", placeholder="例: 令和7年5月12日 14:00〜15:30")
    place = left.text_input("場所", key="minutes_place", placeholder="例: 市役所 3階 第1会議室")
    attendees = right.text_area("出席者（1行に1人、または「、」区切り）", key="minutes_attendees", height=90)
    agenda = st.text_area("議題（1行に1件）", key="minutes_agenda", height=90)
    style = st.radio(
        "議事録の形式",
        list(STYLES),
        format_func=lambda s: f"{s}（{STYLES[s]}）",
        horizontal=True,
        key="minutes_style",
    )
    return {
        "meeting_name": title.strip() or None,
        "date": held.strip() or None,
        "place": place.strip() or None,
        "attendees": _split(attendees),
        "agenda": _split(agenda, separators=("\n",)),
        "style": style,
    }


def _split(text: str, separators: tuple[str, ...] = ("\n", "、", ",")) -> list[str]:
    for separator in separators[1:]:
        text = text.replace(separator, separators[0])
    return [part.strip() for part in text.split(separators[0]) if part.strip()]


def render() -> None:
    st.title("議事録作成")
    st.caption("会議の文字起こしやメモから議事録の下書きを作ります。下書きはこの画面で直してからダウンロードできます。")
    _input_section()
    fields = _fields()
    transcript = st.session_state.get(TRANSCRIPT, "")
    if st.button("議事録の下書きを作成", type="primary", disabled=not transcript.strip(), icon=":material/edit_note:"):
        request = {"transcript": transcript, **{k: v for k, v in fields.items() if v not in (None, [])}}
        with st.spinner("下書きを作成しています…"):
            try:
                draft = client().draft_minutes(request)
            except ApiError as exc:
                show_error(exc, context="下書きを作成できませんでした")
                return
        st.session_state[DRAFT] = draft.get("markdown", "")
        st.session_state[DRAFT_TITLE] = fields["meeting_name"] or "議事録"
        st.session_state[NOTICES] = list(draft.get("warnings") or []) + list(draft.get("notices") or [])
    if st.session_state.get(DRAFT) is None:
        return
    st.divider()
    st.subheader("下書き")
    for notice in st.session_state.get(NOTICES) or []:
        st.caption(f":material/info: {notice}")
    title = st.session_state.get(DRAFT_TITLE) or "議事録"
    draft_editor(key=DRAFT, file_stem=title, title=title)


if __name__ == "__main__":  # run as a page by ui/app.py
    render()
