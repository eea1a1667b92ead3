"""広報記事作成: notes or an interview transcript → editable PR article draft with checked facts."""

from __future__ import annotations

from typing import Any

import streamlit as st

from yakuba.ui.client import ApiError, Citation
from yakuba.ui.components import draft_editor, escape_md, read_text_upload, show_error, source_cards
from yakuba.ui.session import client

NOTES = "pr_notes"
DRAFT = "pr_draft"
DRAFT_TITLE = "pr_draft_title"
RESULT = "pr_result"
STYLES = {
    "広報誌": "広報誌の記事らしい、ていねいな文体",
    "ウェブお知らせ": "ホームページのお知らせ向けの簡潔な文体",
    "やさしい日本語": "外国人住民・子ども向けの短くやさしい文",
}


def _load_notes_file() -> None:
    uploaded = st.session_state.get("pr_notes_file")
    if uploaded is not None and (text := read_text_upload(uploaded)) is not None:
        st.session_state[NOTES] = text


def _fields() -> dict[str, Any]:
    st.markdown("**記事の条件（任意）**")
    left, right = st.columns(2)
    headline = left.text_input(
        "見出し（指定するとそのまま使います）", key="pr_headline", placeholder="例: 市立図書館がリニューアルオープン"
    )
    length = right.number_input("目安の文字数", min_value=100, max_value=4000, value=600, step=100, key="pr_length")
    style = st.radio(
        "文体",
        list(STYLES),
        format_func=lambda s: f"{s}（{STYLES[s]}）",
        horizontal=True,
        key="pr_style",
    )
    contact = st.text_area(
        "問い合わせ先", key="pr_contact", height=80, placeholder="例: 生涯学習課 図書館係 電話 088-000-0000"
    )
    use_corpus = st.checkbox(
        "登録資料から関連する事実を補う（出典付き）",
        value=True,
        key="pr_use_corpus",
        help="資料ライブラリの文書から関連する記述を探し、出典を付けて本文に生かします。",
    )
    return {
        "title_hint": headline.strip() or None,
        "target_chars": int(length),
        "style": style,
        "contact": contact.strip() or None,
        "use_corpus": use_corpus,
    }


def _checks(result: dict[str, Any]) -> None:
    """Numbers and dates found in no source: to check before anything is published."""
    flags = result.get("flags") or []
    if flags:
        items = "\n".join(f"- {escape_md(_flag_text(f))}" for f in flags)
        st.warning(
            "次の数字・日付はメモや資料で確認できませんでした。公開前に必ず確認してください。\n\n" + items,
            icon=":material/fact_check:",
        )
    for warning in result.get("warnings") or []:
        st.caption(f":material/info: {warning}")


def _citations(result: dict[str, Any]) -> None:
    citations = [Citation.model_validate(c) for c in result.get("citations") or []]
    source_cards(citations, key="pr", heading="資料からの出典（本文の [n] に対応）")


def _flag_text(flag: Any) -> str:
    """「50人」 — 「…参加者は50人でした。」"""
    if isinstance(flag, dict):
        text, sentence = str(flag.get("text") or ""), str(flag.get("sentence") or "")
        return f"「{text}」 — {sentence}" if sentence else text
    return str(flag)


def render() -> None:
    st.title("広報記事作成")
    st.caption("取材メモやインタビューの文字起こしから、広報記事（見出し・リード・本文・問い合わせ先）の下書きを作ります。")
    st.file_uploader(
        "メモ・文字起こしのファイルを読み込む（任意。.txt / .md / .vtt）",
        type=["txt", "md", "vtt"],
        key="pr_notes_file",
        on_change=_load_notes_file,
    )
    st.text_area(
        "取材メモ・文字起こし",
        key=NOTES,
        height=240,
        placeholder="例）\n・5月1日から市立図書館が新しくなる\n・開館時間は午前9時から午後8時まで\n・担当: 生涯学習課",
    )
    fields = _fields()
    notes = st.session_state.get(NOTES, "")
    if st.button("記事の下書きを作成", type="primary", disabled=not notes.strip(), icon=":material/campaign:"):
        request = {"notes": notes, **{k: v for k, v in fields.items() if v is not None}}
        with st.spinner("下書きを作成しています…"):
            try:
                result = client().draft_pr_article(request)
            except ApiError as exc:
                show_error(exc, context="下書きを作成できませんでした")
                return
        st.session_state[RESULT] = result
        st.session_state[DRAFT] = result.get("markdown", "")
        st.session_state[DRAFT_TITLE] = result.get("headline") or "広報記事"
    result = st.session_state.get(RESULT)
    if result is None:
        return
    st.divider()
    st.subheader("下書き")
    _checks(result)
    title = st.session_state.get(DRAFT_TITLE) or "広報記事"
    draft_editor(key=DRAFT, file_stem=title, title=title)
    _citations(result)


if __name__ == "__main__":  # run as a page by ui/app.py
    render()
