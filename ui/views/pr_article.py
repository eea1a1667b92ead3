"""広報記事作成: notes, an interview transcript or an interview recording → editable PR article draft.

A recording goes through the API's streamed interview flow (Whisper with a progress bar → transcript
with 聞き手 / 話し手 lines → draft); the transcript lands in the notes box to be corrected and drafted
again. Related corpus sentences are offered as suggestions; only the ones the officer ticks are added.
"""

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
TRANSCRIBED = "pr_transcribed"
AUDIO_TYPES = ["wav", "mp3", "m4a", "ogg", "webm", "flac"]
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
    speaker = st.text_input(
        "話し手の名前・肩書き（インタビューの引用に使います）", key="pr_speaker", placeholder="例: 市立図書館長の山田さん"
    )
    use_corpus = st.checkbox(
        "登録資料から関連する記述を探す（出典付き・追加候補として表示）",
        value=True,
        key="pr_use_corpus",
        help="資料ライブラリの文書から記事と同じ話題の記述を探します。本文には自動で入れず、選んだものだけを追加します。",
    )
    return {
        "title_hint": headline.strip() or None,
        "target_chars": int(length),
        "style": style,
        "contact": contact.strip() or None,
        "speaker_name": speaker.strip() or None,
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


def apply_suggestions(markdown: str, chosen: list[dict[str, Any]]) -> str:
    """The draft with the accepted corpus sentences: each at the end of the body with its [n], and its
    source under 関連資料 (added once). The contact section and everything after it stay in place."""
    if not chosen:
        return markdown
    additions = "".join(
        s["text"][:-1] + f"[{s['n']}]。" if s["text"].endswith("。") else f"{s['text']}[{s['n']}]" for s in chosen
    )
    lines = markdown.rstrip("\n").split("\n")
    contact_at = next(
        (i for i, line in enumerate(lines) if line in ("## 問い合わせ先", "## お問い合わせ", "## 聞きたいことがあるとき")),
        len(lines),
    )
    body = lines[:contact_at]
    while body and not body[-1].strip():
        body.pop()
    list_at = len(body)  # the facts list (「- 日時：…」) stays last in the body
    while list_at > 0 and body[list_at - 1].startswith("- "):
        list_at -= 1
    if list_at < len(body):
        body = body[:list_at] + [additions, ""] + body[list_at:]
    else:
        body += ["", additions]
    rest = lines[contact_at:]
    sources = [f"- [{s['n']}] {s['label']}" for s in chosen]
    sources = list(dict.fromkeys(line for line in sources if line not in rest))
    if sources:
        if "## 関連資料" not in rest:
            rest += ["", "## 関連資料", ""]
        rest += sources
    return "\n".join(body + [""] + rest).rstrip() + "\n"


def _accept_suggestions() -> None:
    """Button callback: runs before the editor is drawn, so the draft box can take the new text."""
    result = st.session_state.get(RESULT) or {}
    chosen = [s for i, s in enumerate(result.get("suggestions") or []) if st.session_state.get(f"pr_suggest_{i}")]
    st.session_state[DRAFT] = apply_suggestions(st.session_state.get(DRAFT) or "", chosen)
    for i in range(len(result.get("suggestions") or [])):
        st.session_state[f"pr_suggest_{i}"] = False
    st.session_state["pr_accepted"] = len(chosen)


def _suggestions(result: dict[str, Any]) -> None:
    suggestions = result.get("suggestions") or []
    if not suggestions:
        return
    with st.container(border=True):
        st.markdown("**資料からの追加候補**（記事と同じ話題の記述です。採用するものだけ選んでください）")
        for i, suggestion in enumerate(suggestions):
            st.checkbox(
                f"{suggestion.get('text', '')}　— 出典 [{suggestion.get('n')}] {suggestion.get('label', '')}",
                key=f"pr_suggest_{i}",
                help=f"メモとの共通語: {'、'.join(suggestion.get('shared_terms') or [])}",
            )
        st.button("選んだ候補を本文に追加", on_click=_accept_suggestions, icon=":material/playlist_add:")
        if accepted := st.session_state.pop("pr_accepted", None):
            st.caption(f":material/check: {accepted} 件を本文に追加しました（出典は「関連資料」に追加）。")


def _store(result: dict[str, Any]) -> None:
    st.session_state[RESULT] = result
    st.session_state[DRAFT] = result.get("markdown", "")
    st.session_state[DRAFT_TITLE] = result.get("headline") or "広報記事"
    for key in [k for k in st.session_state if str(k).startswith("pr_suggest_")]:
        del st.session_state[key]


def _from_recording(fields: dict[str, Any]) -> None:
    audio = st.file_uploader("取材の録音（wav / mp3 / m4a など）", type=AUDIO_TYPES, key="pr_audio_file")
    if not st.button(
        "文字起こしして下書きを作成",
        disabled=audio is None,
        icon=":material/mic:",
        help="録音時間のおよそ 1/6 の時間がかかります（10分の録音で約2分）。進み具合を表示します。",
    ):
        return
    bar = st.progress(0.0, text="録音を送信しています…")

    def progress(done: float, total: float) -> None:
        share = min(done / total, 1.0) if total else 0.0
        bar.progress(share, text=f"文字起こし中… {done / 60:.1f} / {total / 60:.1f} 分")

    request = {k: v for k, v in fields.items() if v is not None}
    try:
        result = client().draft_pr_article_from_audio(audio.name, audio.getvalue(), request, on_progress=progress)
    except ApiError as exc:
        bar.empty()
        show_error(exc, context="録音から下書きを作成できませんでした")
        return
    bar.progress(1.0, text="文字起こしと下書きが完了しました")
    st.session_state[NOTES] = result.get("transcript") or ""  # the notes box below is not drawn yet
    st.session_state[TRANSCRIBED] = True
    _store(result)


def render() -> None:
    st.title("広報記事作成")
    st.caption("取材メモやインタビューの文字起こしから、広報記事（見出し・リード・本文・問い合わせ先）の下書きを作ります。")
    source = st.radio(
        "入力方法", ["メモ・文字起こしを入力", "取材の録音から"], horizontal=True, key="pr_source"
    )
    fields = _fields()
    if source == "取材の録音から":
        _from_recording(fields)
    else:
        st.file_uploader(
            "メモ・文字起こしのファイルを読み込む（任意。.txt / .md / .vtt）",
            type=["txt", "md", "vtt"],
            key="pr_notes_file",
            on_change=_load_notes_file,
        )
    if st.session_state.get(TRANSCRIBED):
        st.warning(
            "録音を文字起こしし、各行を「聞き手」「話し手」に分けました。自動の文字起こしには誤りが含まれます。"
            "固有名詞・数字・聞き手／話し手の区別を下の欄で確認・修正し、「記事の下書きを作成」で作り直してください。",
            icon=":material/edit:",
        )
    st.text_area(
        "取材メモ・文字起こし",
        key=NOTES,
        height=240,
        placeholder="例）\n・5月1日から市立図書館が新しくなる\n・開館時間は午前9時から午後8時まで\n・担当: 生涯学習課",
    )
    notes = st.session_state.get(NOTES, "")
    if st.button("記事の下書きを作成", type="primary", disabled=not notes.strip(), icon=":material/campaign:"):
        request = {"notes": notes, **{k: v for k, v in fields.items() if v is not None}}
        with st.spinner("下書きを作成しています…"):
            try:
                result = client().draft_pr_article(request)
            except ApiError as exc:
                show_error(exc, context="下書きを作成できませんでした")
                return
        _store(result)
    result = st.session_state.get(RESULT)
    if result is None:
        return
    st.divider()
    st.subheader("下書き")
    _checks(result)
    title = st.session_state.get(DRAFT_TITLE) or "広報記事"
    draft_editor(key=DRAFT, file_stem=title, title=title)
    _suggestions(result)
    _citations(result)


if __name__ == "__main__":  # run as a page by ui/app.py
    render()
