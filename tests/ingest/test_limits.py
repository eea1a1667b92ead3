"""Parse limits (#15 "Limits", #18 item 7): zip bombs, time, memory and pages, each a clear error for
that file only, through the real loaders and worker process (and the real pipeline and store)."""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

import pytest

from tests.helpers import DATA
from yakuba.core.settings import Settings
from yakuba.core.types import DocumentLoadError
from yakuba.ingest.loaders import ParseLimits, load_path
from yakuba.ingest.loaders.archive import ArchiveLimits, check_archive
from yakuba.ingest.pipeline import Ingestor
from yakuba.ingest.sandbox import SandboxError, run_limited

PDF = DATA / "nankoku-gian18-shuwa-jourei.pdf"  # a real 議案 PDF of a few pages


def _docx(text: str = "防災訓練を実施します。") -> bytes:
    from docx import Document

    document = Document()
    document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _bomb(padding_mb: int = 30) -> bytes:
    """A valid .docx whose document.xml carries `padding_mb` MB of blanks: ~30 KB on disk."""
    original = zipfile.ZipFile(io.BytesIO(_docx()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        for item in original.infolist():
            data = original.read(item.filename)
            if item.filename == "word/document.xml":
                head, _, tail = data.decode("utf-8").rpartition("</w:body>")
                data = (head + "<!--" + " " * (padding_mb * 1024 * 1024) + "--></w:body>" + tail).encode()
            bomb.writestr(item.filename, data)
    return out.getvalue()


def test_a_zip_bomb_docx_is_refused_in_japanese_before_any_parsing(tmp_path: Path) -> None:
    path = tmp_path / "爆弾.docx"
    path.write_bytes(_bomb())
    assert path.stat().st_size < 100_000
    start = time.perf_counter()
    with pytest.raises(DocumentLoadError) as caught:
        load_path(path, limits=ParseLimits())
    assert time.perf_counter() - start < 5, "refused from the zip directory, not after expanding"
    assert caught.value.code == "archive_bomb"
    assert "爆弾.docx" in caught.value.message_ja and "圧縮率" in caught.value.message_ja
    # the same check applies without the worker (load_path's default)
    with pytest.raises(DocumentLoadError, match="zip"):
        load_path(path)


def test_the_total_expansion_limit_applies_to_ordinary_ratios() -> None:
    data = _docx("あ" * 2000)
    check_archive(data, "ok.docx")  # a normal document passes
    with pytest.raises(DocumentLoadError) as caught:
        check_archive(data, "big.docx", ArchiveLimits(max_expanded_bytes=1000))
    assert caught.value.code == "archive_bomb" and "上限" in caught.value.message_ja
    check_archive(b"not a zip", "x.docx")  # left to the loader, which explains a .doc better


def test_a_normal_docx_still_loads_through_the_worker(tmp_path: Path) -> None:
    path = tmp_path / "通知.docx"
    path.write_bytes(_docx())
    [document] = load_path(path, limits=ParseLimits())
    assert "防災訓練" in document.pages[0].text


def test_a_parse_over_time_is_stopped_with_a_clear_message(tmp_path: Path) -> None:
    pdf = PDF
    with pytest.raises(DocumentLoadError) as caught:
        load_path(pdf, limits=ParseLimits(timeout_s=0.001))
    assert caught.value.code == "parse_timeout"
    assert "秒以内に読み込めませんでした" in caught.value.message_ja
    assert "YAKUBA_PARSE_TIMEOUT_S" in caught.value.message_ja


def test_a_pdf_over_the_page_limit_is_refused(tmp_path: Path) -> None:
    pdf = PDF
    with pytest.raises(DocumentLoadError) as caught:
        load_path(pdf, limits=ParseLimits(max_pages=1))
    assert caught.value.code == "too_many_pages" and "上限 1 ページ" in caught.value.message_ja
    assert load_path(pdf, limits=ParseLimits(max_pages=100))[0].pages


def _allocate(megabytes: int) -> int:
    return len(bytearray(megabytes * 1024 * 1024))


def _sleep(seconds: float) -> str:
    time.sleep(seconds)
    return "woke"


def _fail() -> None:
    raise DocumentLoadError("壊れています", "broken", code="corrupt")


def test_the_worker_enforces_memory_and_time_and_passes_errors_back() -> None:
    assert run_limited(_allocate, 8, timeout_s=30, memory_mb=256) == 8 * 1024 * 1024
    with pytest.raises(SandboxError) as memory:
        run_limited(_allocate, 1024, timeout_s=30, memory_mb=128)
    assert memory.value.reason == "memory"
    start = time.perf_counter()
    with pytest.raises(SandboxError) as slow:
        run_limited(_sleep, 30, timeout_s=0.3, memory_mb=None)
    assert slow.value.reason == "timeout" and time.perf_counter() - start < 5, "the child is killed"
    with pytest.raises(DocumentLoadError) as raised:
        run_limited(_fail, timeout_s=30, memory_mb=None)
    assert raised.value.code == "corrupt" and raised.value.message_ja == "壊れています"


def test_a_bad_file_fails_alone_and_nothing_of_it_is_stored(
    settings: Settings, store, embeddings, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "bomb.docx").write_bytes(_bomb())
    (folder / "pagenumber.txt").write_text("- 1 -\n", encoding="utf-8")  # nothing left after cleaning
    (folder / "memo.md").write_bytes((DATA / "soumu_dx_excerpt.md").read_bytes())
    results = {Path(r.path).name: r for r in Ingestor(settings, store, embeddings).run([folder])}
    assert results["bomb.docx"].status == "failed" and results["bomb.docx"].error_code == "archive_bomb"
    assert results["pagenumber.txt"].status == "failed" and results["pagenumber.txt"].error_code == "empty"
    assert results["memo.md"].status == "added" and results["memo.md"].chunks > 0
    assert [r.doc_id for r in store.list_documents()] == ["memo.md"], "no 0-chunk 'Word Document' record"


def test_an_empty_record_is_skipped_and_the_rest_of_its_jsonl_corpus_ingests(
    settings: Settings, store, embeddings, tmp_path: Path
) -> None:
    """Real council JSONL holds records that clean to nothing (a lone page number): the file still ingests."""
    corpus = tmp_path / "minutes.jsonl"
    records = [
        {"id": "r-1", "title": "会議録 1", "text": "- 1 -"},
        {"id": "r-2", "title": "会議録 2", "text": (DATA / "soumu_dx_excerpt.md").read_text(encoding="utf-8")},
    ]
    corpus.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    [result] = Ingestor(settings, store, embeddings).run([corpus])
    assert result.status == "added", result
    assert [d.chunks > 0 for d in result.documents] == [True]
    assert len(store.list_documents()) == 1
