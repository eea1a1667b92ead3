"""Markdown drafts → Word (.docx), the format municipal staff edit and file.

Handles what the drafts produce: headings (#, ##, ###), bullet and numbered lists, paragraphs, and
**bold** runs. Japanese text needs the East Asian font set explicitly (w:rFonts/@w:eastAsia);
without it Word falls back to a Latin font's metrics and the line layout is wrong.
"""

from __future__ import annotations

import io
import re

from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml.ns import qn
from docx.shared import Pt

from yakuba.core.text import xml_safe

DEFAULT_FONT = "游明朝"
HEADING_FONT = "游ゴシック"

_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d{1,3}[.)]\s+(.*)$")
_BOLD = re.compile(r"\*\*(.+?)\*\*")


def _set_font(style, font: str) -> None:  # noqa: ANN001 - python-docx style objects are untyped
    style.font.name = font
    rpr = style.element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(rfonts)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        rfonts.set(qn(attr), font)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        if rfonts.get(qn(attr)) is not None:
            del rfonts.attrib[qn(attr)]


def _add_runs(paragraph, text: str) -> None:  # noqa: ANN001
    position = 0
    for match in _BOLD.finditer(text):
        if match.start() > position:
            paragraph.add_run(text[position : match.start()])
        paragraph.add_run(match.group(1)).bold = True
        position = match.end()
    if position < len(text):
        paragraph.add_run(text[position:])


MAX_CORE_TITLE = 255  # python-docx refuses longer document properties; the heading itself keeps the full text


def to_docx(markdown: str, title: str | None = None, *, font: str = DEFAULT_FONT, heading_font: str = HEADING_FONT) -> bytes:
    """Render a draft's Markdown as a .docx document and return its bytes (characters XML cannot hold,
    such as NUL or other control characters pasted from elsewhere, are dropped)."""
    markdown = xml_safe(markdown)
    title = xml_safe(title) if title is not None else None
    document = Document()
    normal = document.styles["Normal"]
    _set_font(normal, font)
    normal.font.size = Pt(10.5)
    for style in document.styles:
        if style.type == WD_STYLE_TYPE.PARAGRAPH and (style.name.startswith("Heading") or style.name == "Title"):
            _set_font(style, heading_font)
    if title:
        document.core_properties.title = title[:MAX_CORE_TITLE]
        document.add_heading(title, level=0)
    paragraph_lines: list[str] = []

    def flush() -> None:
        if paragraph_lines:
            _add_runs(document.add_paragraph(), "".join(line.strip() for line in paragraph_lines))
            paragraph_lines.clear()

    for line in markdown.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            flush()
            continue
        heading = _HEADING.match(line)
        if heading:
            flush()
            level = len(heading.group(1))
            if title is None and level == 1 and not document.core_properties.title:
                document.core_properties.title = heading.group(2).strip()[:MAX_CORE_TITLE]
            document.add_heading(heading.group(2).strip(), level=min(level, 9))
            continue
        bullet = _BULLET.match(line)
        numbered = _NUMBERED.match(line)
        if bullet or numbered:
            flush()
            style = "List Bullet" if bullet else "List Number"
            _add_runs(document.add_paragraph(style=style), (bullet or numbered).group(1).strip())  # type: ignore[union-attr]
            continue
        paragraph_lines.append(line)
    flush()
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
