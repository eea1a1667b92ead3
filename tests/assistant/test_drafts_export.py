"""Markdown → .docx: the file opens with python-docx and keeps headings, lists, bold and the Japanese font."""

from __future__ import annotations

import io

import docx
from docx.oxml.ns import qn

from tests.helpers import DATA
from yakuba.assistant.drafts.export import to_docx
from yakuba.assistant.drafts.minutes import MinutesRequest, draft_minutes


def _open(data: bytes) -> docx.document.Document:
    assert data[:2] == b"PK"  # a zip container
    return docx.Document(io.BytesIO(data))


def test_minutes_export_has_headings_lists_and_east_asian_font() -> None:
    transcript = (DATA / "transcripts" / "bousai_meeting.vtt").read_text(encoding="utf-8")
    draft = draft_minutes(MinutesRequest(transcript=transcript))
    document = _open(to_docx(draft.markdown))
    headings = [(p.style.name, p.text) for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert ("Heading 1", "議事録（案）") in headings
    for title in ("会議名", "日時", "場所", "出席者", "議題", "発言要旨", "決定事項", "今後の対応"):
        assert ("Heading 2", title) in headings
    assert ("Heading 3", "1. 総合防災訓練の実施計画について") in headings
    bullets = [p for p in document.paragraphs if p.style.name == "List Bullet"]
    assert any(p.text.startswith("小林係長：") for p in bullets)
    bold = [r.text for p in bullets for r in p.runs if r.bold]
    assert "小林係長" in bold
    numbered = [p.text for p in document.paragraphs if p.style.name == "List Number"]
    assert numbered[0] == "総合防災訓練の実施計画について"
    rfonts = document.styles["Normal"].element.rPr.find(qn("w:rFonts"))
    assert rfonts.get(qn("w:eastAsia")) == "游明朝"
    assert document.core_properties.title == "議事録（案）"


def test_title_and_paragraph_joining() -> None:
    document = _open(to_docx("本文の一行目\n二行目です。\n\n- **見出し語**：説明\n", title="広報記事案"))
    paragraphs = [(p.style.name, p.text) for p in document.paragraphs]
    assert paragraphs[0] == ("Title", "広報記事案")
    assert ("Normal", "本文の一行目二行目です。") in paragraphs
    assert ("List Bullet", "見出し語：説明") in paragraphs
    assert document.core_properties.title == "広報記事案"
