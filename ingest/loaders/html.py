"""HTML loader (BeautifulSoup + lxml): the page's content without navigation chrome.

Scripts, styles, nav, header, footer and aside are dropped (menus would otherwise be indexed on
every page of a municipal site); h1–h6 become markdown heading lines; data tables become
`ExtractedTable`s (own chunks, ingest/tables.py), layout tables stay as "cell | cell" lines. The title is the first h1 of the content, else <title>. The declared charset is honoured, otherwise the same UTF-8 / cp932 / EUC-JP
detection as for text files is used.
"""

from __future__ import annotations

import re
from typing import Any

from yakuba.core.types import ExtractedTable, PageText
from yakuba.ingest.loaders.common import Extracted, first_line_title, load_error
from yakuba.ingest.loaders.text import decode_text
from yakuba.ingest.tables import Origins, build_table

_DROP = {
    "script",
    "style",
    "nav",
    "header",
    "footer",
    "aside",
    "noscript",
    "template",
    "iframe",
    "svg",
    "form",
    "button",
    "select",
    "object",
    "canvas",
    "head",
}
_HEADINGS = {f"h{i}": i for i in range(1, 7)}
_BLOCKS = {
    "p",
    "div",
    "section",
    "article",
    "main",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "blockquote",
    "figure",
    "figcaption",
    "address",
    "fieldset",
    "details",
    "summary",
    "hr",
    "body",
    "center",
}
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.IGNORECASE)
# Whitespace with a line break between two Japanese characters is source formatting, not a space.
_WIDE_BREAK = re.compile(r"(?<=[^\x00-\x7f])\s*\n\s*(?=[^\x00-\x7f])")
_SPACES = re.compile(r"\s+")


def _decode(data: bytes, name: str) -> tuple[str, str, list[str]]:
    declared = _CHARSET.search(data[:4096])
    if declared:
        encoding = declared.group(1).decode("ascii").lower()
        if encoding in {"shift_jis", "shift-jis", "sjis", "x-sjis", "windows-31j", "ms932"}:
            encoding = "cp932"  # what "Shift_JIS" pages actually contain
        try:
            return data.decode(encoding), encoding, []
        except (LookupError, UnicodeDecodeError):
            pass  # the declaration lies; detect instead
    return decode_text(data, name)


def _inline_text(text: str) -> str:
    return _SPACES.sub(" ", _WIDE_BREAK.sub("", text))


def _html_grid(table: Any) -> tuple[list[list[str | None]], Origins]:
    """The table's cells on a grid; the positions a colspan or rowspan covers are None, as
    pdfplumber gives merged cells, with where each covering cell starts (`build_table` spreads them)."""
    grid: list[list[str | None]] = []
    origins: Origins = {}
    pending: dict[int, tuple[int, tuple[int, int]]] = {}  # column -> (rows still covered, origin)
    for r, tr in enumerate(table.find_all("tr")):
        row: list[str | None] = []
        cells = iter(tr.find_all(["th", "td"]))
        column = 0
        while True:
            if column in pending:
                left, origin = pending[column]
                row.append(None)
                origins[(r, column)] = origin
                if left <= 1:
                    del pending[column]
                else:
                    pending[column] = (left - 1, origin)
                column += 1
                continue
            cell = next(cells, None)
            if cell is None:
                break
            span = _span(cell.get("colspan"))
            down = _span(cell.get("rowspan"))
            for offset in range(span):
                row.append(cell.get_text("\n") if offset == 0 else None)
                if offset:
                    origins[(r, column + offset)] = (r, column)
                if down > 1:
                    pending[column + offset] = (down - 1, (r, column))
            column += span
        grid.append(row)
    return grid, origins


def _span(value: Any) -> int:
    try:
        return max(1, min(50, int(str(value))))
    except (TypeError, ValueError):
        return 1


def _walk(node: Any, out: list[str], tables: list[ExtractedTable] | None = None) -> None:
    from bs4 import Comment, NavigableString, Tag

    if tables is None:
        tables = []
    for child in node.children:
        if isinstance(child, Comment):
            continue
        if isinstance(child, NavigableString):
            out.append(_inline_text(str(child)))
            continue
        if not isinstance(child, Tag):
            continue
        tag = child.name.lower() if child.name else ""
        if tag in _DROP:
            continue
        if tag in _HEADINGS:
            text = _SPACES.sub(" ", _inline_text(child.get_text(" "))).strip()
            if text:
                out.append(f"\n\n{'#' * _HEADINGS[tag]} {text}\n\n")
        elif tag == "table" and (table := _data_table(child, out, tables)) is not None:
            tables.append(table)
        elif tag == "table":
            out.append("\n\n")
            for row in child.find_all("tr"):
                cells = [
                    _SPACES.sub(" ", _inline_text(c.get_text(" "))).strip()
                    for c in row.find_all(["th", "td"])
                ]
                if any(cells):
                    out.append(" | ".join(cells) + "\n")
            out.append("\n")
        elif tag == "br":
            out.append("\n")
        elif tag == "pre":
            out.append("\n" + child.get_text() + "\n")
        elif tag == "li":
            out.append("\n- ")
            _walk(child, out, tables)
            out.append("\n")
        elif tag in _BLOCKS or tag == "tr":
            out.append("\n")
            _walk(child, out, tables)
            out.append("\n")
        else:
            _walk(child, out, tables)


def _data_table(node: Any, out: list[str], tables: list[ExtractedTable]) -> ExtractedTable | None:
    """A data table as an `ExtractedTable`; None for layout tables (nested tables, one column),
    whose text stays in the flow."""
    if node.find("table") is not None:
        return None
    caption_node = node.find("caption")
    caption = _SPACES.sub(" ", _inline_text(caption_node.get_text(" "))).strip() if caption_node else ""
    if not caption:  # the heading or line just above the table
        previous = "".join(out).rstrip().rsplit("\n", 1)[-1].lstrip("#").strip()
        caption = previous if len(previous) <= 60 else ""
    grid, origins = _html_grid(node)
    return build_table(
        grid,
        number=len(tables) + 1,
        caption=caption or None,
        previous=tables[-1] if tables else None,
        origins=origins,
    )


def extract_html(data: bytes, name: str, stem: str) -> Extracted:
    """Visible text of an HTML page (one page-less section)."""
    from bs4 import BeautifulSoup

    text, encoding, warnings = _decode(data, name)
    try:
        soup = BeautifulSoup(text, "lxml")
    except Exception as exc:
        raise load_error("corrupt", name, "HTMLとして解析できません", f"cannot parse HTML: {exc}") from exc
    page_title = soup.title.get_text(" ", strip=True) if soup.title else ""
    root = soup.find("main") or soup.body or soup
    pieces: list[str] = []
    tables: list[ExtractedTable] = []
    _walk(root, pieces, tables)
    lines = [line.strip() for line in "".join(pieces).split("\n")]
    body = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if not body and not tables:
        raise load_error("empty", name, "表示されるテキストがありません", "no visible text")
    lang = None
    if soup.html is not None:
        lang = soup.html.get("lang")
    metadata: dict[str, Any] = {"encoding": encoding}
    if lang:
        metadata["lang"] = lang
    h1 = next((line[2:].strip() for line in body.split("\n") if line.startswith("# ")), None)
    title = h1 or _SPACES.sub(" ", page_title).strip() or first_line_title(body) or stem
    if tables:
        metadata["tables"] = len(tables)
    return Extracted(
        pages=[PageText(page=None, text=body)] if body else [],
        title=title,
        metadata=metadata,
        warnings=warnings,
        tables=tables,
    )
