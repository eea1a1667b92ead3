"""Word (.docx) loader: paragraphs and tables in document order, headings as markdown lines.

Heading paragraphs (styles "Heading n"/"見出し n"/"Title", or an outline level set on the paragraph
or its style, which Japanese templates often use instead) become "#"-prefixed lines so that
`ingest.clean.is_heading` recognises them. Data tables become `ExtractedTable`s (their own chunks,
ingest/tables.py); layout grids that are not tables stay in the text as "cell | cell" lines.
"""

from __future__ import annotations

import contextlib
import io
import re
import zipfile
from typing import Any

from yakuba.core.types import ExtractedTable, PageText
from yakuba.ingest.loaders.common import Extracted, load_error, sensible_title
from yakuba.ingest.tables import Origins, build_table

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
_HEADING_STYLE = re.compile(r"^(?:heading|見出し)\s*(\d)$", re.IGNORECASE)
_TITLE_STYLES = {"title", "表題", "タイトル"}
_W_NS = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _outline_level(element: Any) -> int | None:
    """w:outlineLvl (0-based) of a paragraph's or style's properties, if any."""
    ppr = getattr(element, "pPr", None)
    if ppr is None:
        return None
    node = ppr.find(f"{_W_NS}outlineLvl")
    if node is None:
        return None
    try:
        level = int(node.get(f"{_W_NS}val"))
    except (TypeError, ValueError):
        return None
    return level + 1 if 0 <= level < 6 else None  # 9 means "body text"


def _heading_level(paragraph: Any) -> int | None:
    try:
        style = paragraph.style
    except Exception:  # a dangling style reference
        style = None
    if style is not None:
        name = (style.name or "").strip()
        if name.lower() in _TITLE_STYLES:
            return 1
        if m := _HEADING_STYLE.match(name):
            return max(1, min(6, int(m.group(1))))
    level = _outline_level(paragraph._p)
    if level is None and style is not None:
        level = _outline_level(style.element)
    return level


def _table_grid(table: Any) -> tuple[list[list[str | None]], Origins]:
    """Cell text per grid position; the positions a merged cell covers (python-docx repeats the
    cell there, right and down) are None, as pdfplumber gives them, with where that cell starts."""
    grid: list[list[str | None]] = []
    origins: Origins = {}
    above: list[Any] = []
    for r, row in enumerate(table.rows):
        cells: list[str | None] = []
        elements: list[Any] = []
        for c, cell in enumerate(row.cells):
            if elements and cell._tc is elements[-1]:
                cells.append(None)
                origins[(r, c)] = origins.get((r, c - 1), (r, c - 1))
            elif c < len(above) and cell._tc is above[c]:
                cells.append(None)
                origins[(r, c)] = origins.get((r - 1, c), (r - 1, c))
            else:
                cells.append(cell.text)
            elements.append(cell._tc)
        grid.append(cells)
        above = elements
    return grid, origins


def _table_lines(table: Any) -> list[str]:
    lines: list[str] = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if previous is not None and cell._tc is previous:  # merged cells repeat
                continue
            previous = cell._tc
            text = " ".join(cell.text.split())
            cells.append(text)
        if any(cells):
            lines.append(" | ".join(cells))
    return lines


def extract_docx(data: bytes, name: str, stem: str) -> Extracted:
    """Text of a .docx given as bytes (one page-less section)."""
    if data.startswith(_OLE_MAGIC):
        if _ENCRYPTED_PACKAGE in data:
            raise load_error(
                "encrypted",
                name,
                "パスワードを解除して保存し直してください",
                "remove the password and save again",
            )
        raise load_error(
            "unsupported_format",
            name,
            "旧形式の Word 文書（.doc）です。.docx で保存し直してください",
            "this is a legacy .doc file; save it as .docx",
        )
    from docx import Document  # imported here: loading python-docx is only needed for Word files
    from docx.table import Table

    try:
        document = Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise load_error("corrupt", name, "Word文書として開けません", f"cannot open as .docx: {exc}") from exc
    except Exception as exc:  # python-docx raises PackageNotFoundError and lxml errors
        raise load_error("corrupt", name, "Word文書として開けません", f"cannot open as .docx: {exc}") from exc

    lines: list[str] = []
    tables: list[ExtractedTable] = []
    first_heading: str | None = None
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            caption = next((line.lstrip("#").strip() for line in reversed(lines) if line.strip()), None)
            grid, origins = _table_grid(block)
            table = build_table(
                grid,
                origins=origins,
                number=len(tables) + 1,
                caption=caption if caption and len(caption) <= 60 else None,
                previous=tables[-1] if tables else None,
            )
            if table is None:  # a layout grid, not a data table: keep its text in the flow
                lines.extend(_table_lines(block))
            else:
                tables.append(table)
            continue
        text = block.text.strip()
        if not text:
            if lines and lines[-1]:
                lines.append("")
            continue
        level = _heading_level(block)
        if level is not None:
            first_heading = first_heading or text
            lines.extend(["", f"{'#' * level} {' '.join(text.split())}", ""])
        else:
            lines.append(text)
    body = "\n".join(lines).strip()
    if not body and not tables:
        raise load_error("empty", name)
    core_title = None
    with contextlib.suppress(Exception):  # malformed core.xml only costs the title
        core_title = document.core_properties.title
    metadata: dict[str, Any] = {}
    if core_title:
        metadata["docx_title"] = core_title
    title = sensible_title(core_title) or first_heading or stem
    if tables:
        metadata["tables"] = len(tables)
    pages = [PageText(page=None, text=body)] if body else []
    return Extracted(pages=pages, title=title, metadata=metadata, tables=tables)
