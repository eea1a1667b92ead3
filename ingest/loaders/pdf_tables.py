"""Ruled tables in PDF pages (pdfplumber), and the page text outside them.

pdfplumber's rule-based detection ("lines" strategy) finds the tables municipal PDFs draw with
ruling lines: budget tables (款・項・金額), 職員数, 賛否一覧. Each accepted table is cropped out of
the page text, so the text chunks no longer repeat its cells as label and number fragments.

Only pages whose content stream draws enough path segments are opened with pdfplumber: parsing a
page's layout costs ~40–150 ms here, and most pages of a plan or a statement hold no ruled table.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from yakuba.core.types import ExtractedTable
from yakuba.ingest.clean import normalize
from yakuba.ingest.tables import build_table

# A ruled table of 2×2 cells needs at least 6 line segments (or 4 rectangles); fewer is a frame.
MIN_PATH_OPS = 6
# How far above a table (in points, ~2 lines of body text) its caption lines may sit, and how many
# (more lines, 「２．一般職 / （１）総括 / （単位：千円）」, were not better on benchmarks/table_questions).
CAPTION_BAND = 36.0
CAPTION_MAX_LINES = 1
CAPTION_LINE_MAX_CHARS = 40
CAPTION_MAX_CHARS = 80
# 「（単位：千円）」 alone on the line above a table is its unit, not its title: the line above it is
# taken too (「イ 初任給」「第３表 地方債」), and the unit line does not count against CAPTION_MAX_LINES.
_UNIT_LINE = re.compile(r"^[（(]?\s*単\s*位\s*[:：][^()（）]{1,12}[)）]?$")

_PATH_OP = re.compile(rb"(?<![A-Za-z])(?:re|l)(?![A-Za-z])")
_log = logging.getLogger(__name__)


@dataclass
class PageLayout:
    """What pdfplumber adds to one page: its tables and the text that lies outside them."""

    tables: list[ExtractedTable] = field(default_factory=list)
    text_outside: str | None = None  # None: keep pypdf's text (no table accepted on this page)


def has_ruling(page: Any) -> bool:
    """Cheap pre-check on a pypdf page: does its content stream draw enough lines/rectangles?"""
    try:
        contents = page.get_contents()
        data = contents.get_data() if contents is not None else b""
    except Exception:  # a damaged stream: let pdfplumber decide
        return True
    return len(_PATH_OP.findall(data)) >= MIN_PATH_OPS


def _outside(bboxes: list[tuple[float, float, float, float]]) -> Any:
    def keep(obj: dict[str, Any]) -> bool:
        if obj.get("object_type") != "char":
            return True
        cx = (obj["x0"] + obj["x1"]) / 2
        cy = (obj["top"] + obj["bottom"]) / 2
        return not any(x0 <= cx <= x1 and top <= cy <= bottom for x0, top, x1, bottom in bboxes)

    return keep


def merge_origins(found: Any) -> dict[tuple[int, int], tuple[int, int]]:
    """Where the merged cell covering each empty grid position of a pdfplumber table starts, from
    the cell rectangles: tells a label spanning columns from a value spanning rows."""
    cells = list(found.cells)
    if not cells:
        return {}
    lefts = sorted({round(x0, 1) for x0, _, _, _ in cells})
    tops = sorted({round(top, 1) for _, top, _, _ in cells})
    right = max(x1 for _, _, x1, _ in cells)
    bottom_edge = max(bottom for _, _, _, bottom in cells)
    xs = [*lefts, right]
    ys = [*tops, bottom_edge]
    origins: dict[tuple[int, int], tuple[int, int]] = {}
    for r, row in enumerate(found.rows):
        if r >= len(tops):
            break
        cy = (ys[r] + ys[r + 1]) / 2
        for c, cell in enumerate(row.cells):
            if cell is not None or c >= len(lefts):
                continue
            cx = (xs[c] + xs[c + 1]) / 2
            for x0, top, x1, bottom in cells:
                if x0 <= cx <= x1 and top <= cy <= bottom:
                    origin = (tops.index(round(top, 1)), lefts.index(round(x0, 1)))
                    if origin != (r, c):
                        origins[(r, c)] = origin
                    break
    return origins


def _caption(page: Any, bbox: tuple[float, float, float, float]) -> str | None:
    top = bbox[1]
    if top <= 1:
        return None
    try:
        band = page.crop((0, max(0.0, top - CAPTION_BAND), page.width, top), strict=False)
        text = band.extract_text() or ""
    except Exception:
        return None
    lines = [normalize(line).strip() for line in text.split("\n") if line.strip()]
    picked: list[str] = []
    for line in reversed(lines):  # nearest first; a long line is body text, not a caption
        line = re.sub(r"(?<=[^\x00-\x7f]) (?=[^\x00-\x7f])", "", line)
        if len(line) > CAPTION_LINE_MAX_CHARS and picked:
            break
        picked.insert(0, line)
        titles = sum(not _UNIT_LINE.match(kept) for kept in picked)
        if len(line) > CAPTION_LINE_MAX_CHARS or titles >= CAPTION_MAX_LINES:
            break
    caption = " ".join(picked)
    return caption[:CAPTION_MAX_CHARS] if len(caption) >= 2 else None


def extract_layouts(data: bytes, page_numbers: list[int], *, first_table_number: int = 1) -> dict[int, PageLayout]:
    """Tables and outside-text for the given 1-based pages (those `has_ruling` selected).

    Tables are numbered in page order from `first_table_number`; a table continuing the previous
    one (same columns, no header row of its own) takes that table's header. Any pdfplumber failure
    leaves the page to pypdf's text: tables are an improvement, never a reason to lose a page.
    """
    if not page_numbers:
        return {}
    import pdfplumber  # imported here: only PDFs with ruled pages pay for loading pdfminer

    layouts: dict[int, PageLayout] = {}
    number = first_table_number
    previous: ExtractedTable | None = None
    try:
        pdf = pdfplumber.open(io.BytesIO(data), password="")
    except Exception as exc:
        _log.debug("pdfplumber cannot open the PDF: %s", exc)
        return {}
    with pdf:
        for page_number in page_numbers:
            try:
                page = pdf.pages[page_number - 1]
                layout = PageLayout()
                bboxes: list[tuple[float, float, float, float]] = []
                for found in page.find_tables():
                    table = build_table(
                        found.extract(),
                        number=number,
                        page=page_number,
                        caption=_caption(page, found.bbox),
                        previous=previous,
                        origins=merge_origins(found),
                    )
                    if table is None:
                        continue
                    layout.tables.append(table)
                    bboxes.append(found.bbox)
                    previous = table
                    number += 1
                if bboxes:
                    layout.text_outside = page.filter(_outside(bboxes)).extract_text() or ""
                layouts[page_number] = layout
                page.close()
            except Exception as exc:  # one odd page keeps pypdf's text
                _log.debug("table extraction failed on page %d: %s", page_number, exc)
    return layouts
