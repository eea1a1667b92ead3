"""What every loader shares: the intermediate result, error construction, page markers and titles."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from yakuba.core.types import DocumentLoadError, ExtractedTable, PageText
from yakuba.ingest.clean import mojibake_score


@dataclass
class Extracted:
    """A loader's result before `load_path` adds identity (doc_id, hash, path)."""

    pages: list[PageText]
    title: str | None = None
    tables: list[ExtractedTable] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


# Each code with the Japanese and English explanation shown to staff and written to logs.
_MESSAGES: dict[str, tuple[str, str]] = {
    "not_found": ("ファイルが見つかりません", "file not found"),
    "unreadable": ("ファイルを読み込めません", "file cannot be read"),
    "unsupported_format": ("対応していないファイル形式です", "unsupported file format"),
    "too_large": ("ファイルが大きすぎます", "file is too large"),
    "empty": ("本文がありません（空のファイル）", "the file has no content"),
    "corrupt": ("ファイルが壊れているか、形式が正しくありません", "the file is corrupt or malformed"),
    "encrypted": ("パスワードで保護されているため読み込めません", "the file is password-protected"),
    "no_text_layer": (
        "テキスト情報がありません（スキャンした画像のPDFと思われます）。OCR処理をしてから登録してください",
        "the PDF has no text layer (scanned images); run OCR before ingesting it",
    ),
    "mojibake": (
        "文字化けしているため登録できません（PDFのフォント情報が壊れています）。元のファイルから作り直してください",
        "the extracted text is garbage (broken font maps in the PDF); re-export it from the source document",
    ),
    # Limits (ingest/loaders/limits.py, archive.py): one hostile or huge file never stops the rest.
    "archive_bomb": (
        "圧縮された中身が大きすぎるため読み込みません（zip爆弾の可能性があります）",
        "the archive expands too far (possible zip bomb)",
    ),
    "too_many_pages": ("ページ数が上限を超えています", "the document has too many pages"),
    "parse_timeout": ("読み込みが時間内に終わりませんでした", "parsing timed out"),
    "parse_memory": ("読み込みに必要なメモリが上限を超えました", "parsing exceeded the memory limit"),
    "parse_crashed": ("読み込み処理が異常終了しました", "the parser crashed"),
}


def load_error(code: str, name: str, detail_ja: str = "", detail_en: str = "") -> DocumentLoadError:
    """A `DocumentLoadError` whose messages name the file and, if given, what exactly went wrong."""
    base_ja, base_en = _MESSAGES[code]
    message_ja = f"{name}: {base_ja}" + (f"（{detail_ja}）" if detail_ja else "")
    message_en = f"{name}: {base_en}" + (f" ({detail_en})" if detail_en else "")
    return DocumentLoadError(message_ja, message_en, code=code)


def warning(ja: str, en: str) -> str:
    """Warnings are single strings for `LoadedDocument.warnings`: Japanese first, then English."""
    return f"{ja} / {en}"


def page_list(pages: list[int]) -> str:
    """ "1, 3, 5-8" (ranges keep warnings about long documents short)."""
    parts: list[str] = []
    start = prev = None
    for page in [*sorted(pages), None]:
        if start is not None and (page is None or page != prev + 1):
            parts.append(str(start) if start == prev else f"{start}-{prev}")
            start = None
        if page is not None and start is None:
            start = page
        prev = page
    return ", ".join(parts)


_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
PAGE_MARKER = re.compile(r"^[ \t]*<!--\s*page:\s*(\d{1,6})\s*-->[ \t]*$", re.MULTILINE)


def split_page_markers(text: str) -> list[PageText]:
    """`<!-- page: 12 -->` on a line of its own starts page 12; text before the first marker (a
    title, say) is kept as a page-less section. Without markers the text is one PageText(None)."""
    matches = list(PAGE_MARKER.finditer(text))
    if not matches:
        return [PageText(page=None, text=text)] if text.strip() else []
    pages: list[PageText] = []
    head = text[: matches[0].start()]
    if head.strip():
        pages.append(PageText(page=None, text=head.strip("\n")))
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        body = text[match.end() : end].strip("\n")
        if body.strip():
            pages.append(PageText(page=int(match.group(1)), text=body))
    return pages


_OFFICE_PREFIX = re.compile(r"^Microsoft\s+(Word|Excel|PowerPoint)\s*-\s*", re.IGNORECASE)
_FILE_EXTENSION = re.compile(r"\.(docx?|xlsx?|pptx?|indd|jtd|jtdc|pdf|txt|html?|ai|psd)$", re.IGNORECASE)
_JUNK_TITLES = {"untitled", "無題", "document", "ドキュメント", "powerpoint プレゼンテーション", "スライド 1"}
_CODE_LIKE = re.compile(r"^[A-Za-z0-9_.\-#]+$")


def sensible_title(raw: str | None) -> str | None:
    """A metadata title worth showing, or None: "Microsoft Word - 0228_W….docx", "2004.indd",
    mojibake and file-code-like strings are what authoring tools leave there."""
    if not raw:
        return None
    title = re.sub(r"\s+", " ", raw).strip()
    if _OFFICE_PREFIX.match(title) or _FILE_EXTENSION.search(title):
        return None
    if len(title) < 2 or len(title) > 200 or title.lower() in _JUNK_TITLES:
        return None
    if any(ord(ch) < 0x20 for ch in title) or mojibake_score(title) > 0.05:
        return None
    if _CODE_LIKE.match(title) and any(ch.isdigit() or ch == "_" for ch in title):
        return None
    return title


def first_line_title(text: str, limit: int = 100) -> str | None:
    """The first non-empty line, without markdown "#"s, as a fallback title."""
    text = _HTML_COMMENT.sub("", text)
    for line in text.split("\n"):
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:limit]
    return None
