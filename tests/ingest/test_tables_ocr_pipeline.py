"""Issue #15 end to end: a real PDF with a ruled table and a real page turned into an image-only scan
are ingested into the real store, found by search and cited with table number / OCR and page."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from tests.helpers import ROOT
from yakuba.assistant.citations import to_citation
from yakuba.core.settings import Settings
from yakuba.ingest.ocr import ocr_available, render_page
from yakuba.ingest.pipeline import Ingestor
from yakuba.retriever.search import HybridSearcher
from yakuba.retriever.store import TenantStore

LIBRARY_BILL = ROOT / "corpora" / "南国市" / "議案第12号_南国市立図書館設置条例_全部改正.pdf"
WORK_RULES = ROOT / "corpora" / "厚生労働省" / "モデル就業規則_令和4年11月版.pdf"


def _half_scanned_pdf(target: Path) -> None:
    """Pages 4 and 5 of the real モデル就業規則; page 5 rasterised at 200 dpi and put back as an
    image only (as a scanner would), so the document's page 2 has no text layer."""
    data = WORK_RULES.read_bytes()
    image = render_page(data, 5, dpi=200)
    scan = io.BytesIO()
    image.save(scan, format="PDF", resolution=200)
    writer = PdfWriter()
    writer.add_page(PdfReader(io.BytesIO(data)).pages[3])
    writer.add_page(PdfReader(io.BytesIO(scan.getvalue())).pages[0])
    with target.open("wb") as handle:
        writer.write(handle)


def test_table_and_ocr_page_are_searchable_and_cited(
    tmp_path: Path, settings: Settings, store: TenantStore, embeddings
) -> None:
    if not ocr_available():
        pytest.skip("tesseract with the jpn model is not installed (make ocr)")
    scanned = tmp_path / "就業規則_一部スキャン.pdf"
    _half_scanned_pdf(scanned)
    results = list(Ingestor(settings, store, embeddings).run([LIBRARY_BILL, scanned]))
    assert [r.status for r in results] == ["added", "added"], [r.message_ja for r in results]
    assert any("OCRで読み取ったページ: 2" in w for w in results[1].warnings)

    searcher = HybridSearcher(store, embeddings)
    # The OCR'd page: found by words that exist only in its image, cited with page 2 and OCR.
    hits = searcher.search("パートタイム労働者や有期雇用労働者の過半数を代表する者の意見", k=3, mode="bm25").passages
    top = hits[0]
    assert (top.doc_id, top.page) == (scanned.name, 2)
    assert top.ocr_confidence is not None and top.ocr_confidence > 60
    citation = to_citation(1, top)
    assert citation.page == 2 and citation.ocr_confidence == top.ocr_confidence
    assert "p.2" in citation.label and "(OCR)" in citation.label

    # The table: a row lookup finds the row sentence; the Markdown chunk is cited as a table.
    hits = searcher.search("南国市立図書館の位置", k=5, mode="bm25").passages
    tables = [p for p in hits if p.table is not None]
    assert tables and all((p.doc_id, p.page, p.table) == (LIBRARY_BILL.name, 1, 1) for p in tables)
    assert {p.content for p in tables} == {"table", "table_rows"}
    for passage in tables:  # the Markdown chunk and the row sentences both show the table
        citation = to_citation(1, passage)
        assert citation.table == 1 and "表1" in citation.label and "p.1" in citation.label
        assert "| 南国市立図書館 | 南国市駅前町三丁目1番2号 |" in (citation.table_markdown or "")
