"""Pieces several screens share: error boxes, source cards, the editable draft with downloads."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import streamlit as st

from yakuba.ui.client import ApiError, Citation
from yakuba.ui.session import client

ROLE_LABELS = {"staff": "職員", "pr": "広報", "admin": "管理者", "evaluator": "評価担当"}

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$])")


def escape_md(text: str) -> str:
    """Document text shown as text: no accidental headings, links, tables or formulas."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def show_error(error: ApiError | str, *, context: str | None = None) -> None:
    """One plain Japanese message; never a traceback."""
    message = error.message if isinstance(error, ApiError) else str(error)
    st.error(f"{context}：{message}" if context else message, icon=":material/error:")


def short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def table_markdown(excerpt: str) -> str:
    """A cited table's Markdown rendered as a table: the caption line is escaped text, the `|` rows
    pass through with their cells escaped (a cell must not become a link or a heading)."""
    lines: list[str] = []
    for line in excerpt.split("\n"):
        stripped = line.strip()
        if stripped.startswith("|") and stripped.endswith("|"):
            cells = stripped[1:-1].split("|")
            if all(set(cell.strip()) <= {"-", ":"} and cell.strip() for cell in cells):
                lines.append(stripped)  # the separator row
            else:
                lines.append("| " + " | ".join(_MD_SPECIAL.sub(r"\\\1", c.strip()) or " " for c in cells) + " |")
        elif stripped:
            lines.extend([escape_md(stripped.lstrip("#").strip()), ""])
    return "\n".join(lines)


def citation_where(citation: Citation) -> str:
    """「p.3」 or 「2022-12-01 ・ 市長 山田太郎」: where in the document the passage is."""
    parts: list[str] = []
    if citation.page is not None:
        parts.append(f"{citation.page}ページ")
    if citation.table is not None:
        parts.append(f"表{citation.table}")
    if citation.ocr_confidence is not None:
        parts.append(f"OCR（信頼度 {citation.ocr_confidence:.0f}）")
    if citation.date:
        parts.append(citation.date)
    speaker = " ".join(p for p in (citation.role, citation.speaker) if p)
    if speaker:
        parts.append(speaker)
    return "・".join(parts)


def source_cards(citations: Sequence[Citation], *, key: str, heading: str) -> None:
    """Sources as cards: title, where, excerpt, relevance; the whole passage opens in an expander."""
    if not citations:
        return
    st.markdown(f"**{heading}**")
    best = max((c.score for c in citations), default=0.0) or 1.0
    columns = st.columns(min(len(citations), 2))
    for index, citation in enumerate(citations):
        with (
            columns[index % len(columns)],
            st.container(border=True, key=f"source-{key}-{index}"),
        ):
            st.markdown(f"**[{citation.n}] {escape_md(citation.title)}**")
            meta = [m for m in (citation.doc_type, citation_where(citation)) if m]
            if meta:
                st.caption(escape_md(" ｜ ".join(meta)))
            st.markdown(escape_md(short(citation.excerpt, 110)))
            relevance = max(0.0, min(1.0, citation.score / best))
            st.progress(relevance, text=f"関連度 {citation.score:.2f}")
            with st.expander("引用箇所を読む"):
                if citation.table_markdown:  # a cited table (or its row sentences): shown as the table
                    st.markdown(table_markdown(citation.table_markdown))
                else:
                    st.markdown(escape_md(citation.excerpt))
                st.caption(f"文書ID: {escape_md(citation.doc_id)}")


def _docx_bytes(markdown: str, title: str | None) -> tuple[bytes | None, ApiError | None]:
    """The .docx of the current text, converted once per distinct text (the API does the work)."""
    digest = hashlib.sha256(f"{title}\n{markdown}".encode()).hexdigest()
    cache: dict[str, bytes] = st.session_state.setdefault("docx_cache", {})
    if digest in cache:
        return cache[digest], None
    try:
        data = client().export_docx(markdown, title)
    except ApiError as exc:
        return None, exc
    cache.clear()  # keep only the latest text's file
    cache[digest] = data
    return data, None


def draft_editor(*, key: str, file_stem: str, title: str | None, height: int = 480) -> str:
    """The draft in an editable box (changes stay in the session) with .md and .docx downloads."""
    edit, preview = st.tabs(["編集", "プレビュー"])
    with edit:
        text: str = st.text_area(
            "下書き（このまま編集できます）",
            key=key,
            height=height,
            help="内容を確認・修正してからダウンロードしてください。AIの下書きは必ず人が確認してください。",
        )
    with preview, st.container(border=True):
        st.markdown(text.replace("$", "\\$"))
    data, error = _docx_bytes(text, title) if text.strip() else (None, None)
    with st.container(horizontal=True):
        st.download_button(
            "Markdown (.md) をダウンロード",
            data=text.encode("utf-8"),
            file_name=f"{file_stem}.md",
            mime="text/markdown",
            key=f"{key}-md",
            icon=":material/download:",
        )
        st.download_button(
            "Word (.docx) をダウンロード",
            data=data or b"",
            file_name=f"{file_stem}.docx",
            mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            key=f"{key}-docx",
            disabled=data is None,
            icon=":material/description:",
        )
    if error is not None:
        show_error(error, context="Word 形式に変換できませんでした")
    return text


def read_text_upload(uploaded) -> str | None:  # type: ignore[no-untyped-def]
    """Text of an uploaded .txt/.md/.vtt in UTF-8 (with or without BOM) or Shift_JIS, as staff PCs save."""
    raw: bytes = uploaded.getvalue()
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    st.error("ファイルの文字コードを読み取れませんでした。UTF-8 で保存し直してください。", icon=":material/error:")
    return None
