"""DocumentLibrary: the one documents service of the CLI and the API, on a real store with the small MiniLM."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.helpers import DATA
from yakuba.core.settings import Settings
from yakuba.ingest.pipeline import InputPath, discover
from yakuba.retriever.library import DocumentLibrary, DocumentNotFoundError, IngestCallbacks, safe_filename
from yakuba.retriever.search import open_searcher
from yakuba.retriever.store import StoreError, TenantStore

PLAN = "# 防災計画\n本町は、防災行政無線の更新と避難所の耐震化を令和5年度までに完了する。\n"


@pytest.fixture
def library(settings: Settings, embeddings) -> DocumentLibrary:  # type: ignore[no-untyped-def]
    return DocumentLibrary(settings, "testtown", embeddings=embeddings)


def _bm25_hits(settings: Settings, query: str) -> list[str]:
    searcher = open_searcher(settings, "testtown")
    try:
        return [p.doc_id for p in searcher.search(query, k=5, mode="bm25").passages]
    finally:
        searcher.store.close()


def _upload(library: DocumentLibrary, name: str, data: bytes):  # type: ignore[no-untyped-def]
    [saved] = library.add_uploads([(name, io.BytesIO(data))])
    return saved


def test_ingest_reports_progress_and_skips_unchanged_files(library: DocumentLibrary, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(DATA / "soumu_dx_excerpt.md", folder / "soumu.md")
    (folder / "bad.pdf").write_bytes(b"not a pdf at all")
    items = discover([folder])
    started: list[str] = []
    finished: list[str] = []
    embedded: list[int] = []
    hooks = IngestCallbacks(
        on_file=lambda item: started.append(item.doc_id),
        on_result=lambda result: finished.append(result.status),
        on_chunks_embedded=embedded.append,
    )
    summary = library.ingest(items, callbacks=hooks)
    assert started == ["bad.pdf", "soumu.md"]
    assert finished == ["failed", "added"]
    assert summary.failed == 1 and summary.chunks == sum(embedded) > 0
    [record] = library.list()
    assert record.doc_id == "soumu.md" and record.chunks == summary.chunks
    again = library.ingest(discover([folder / "soumu.md"]))
    assert [r.status for r in again.results] == ["unchanged"]


def test_upload_is_saved_under_a_safe_name_and_searchable(library: DocumentLibrary, settings: Settings) -> None:
    saved = _upload(library, "../../計画/防災計画.MD", PLAN.encode())
    assert (saved.filename, saved.saved_as, saved.result.status) == ("../../計画/防災計画.MD", "防災計画.md", "added")
    assert (library.uploads / "防災計画.md").read_text(encoding="utf-8") == PLAN
    assert [r.doc_id for r in library.list()] == ["防災計画.md"]
    assert _bm25_hits(settings, "避難所の耐震化") == ["防災計画.md"]
    assert safe_filename("C:\\Users\\職員\\会議録.PDF") == "会議録.pdf"


def test_failed_upload_leaves_nothing_and_keeps_the_earlier_file(library: DocumentLibrary) -> None:
    assert _upload(library, "plan.md", PLAN.encode()).result.status == "added"
    broken = _upload(library, "plan.md", (DATA / "binary.txt").read_bytes())
    assert broken.result.status == "failed" and broken.saved_as is None
    assert (library.uploads / "plan.md").read_text(encoding="utf-8") == PLAN
    new_broken = _upload(library, "other.pdf", b"%PDF-1.4 this is not really a pdf")
    assert new_broken.result.status == "failed"
    assert sorted(p.name for p in library.uploads.iterdir() if p.is_file()) == ["plan.md"]
    assert not list((library.uploads / ".incoming").iterdir())
    assert [r.doc_id for r in library.list()] == ["plan.md"]


def test_delete_removes_chunks_record_bm25_rows_and_the_upload(
    library: DocumentLibrary, settings: Settings, tmp_path: Path
) -> None:
    added = _upload(library, "plan.md", PLAN.encode()).result
    outside = tmp_path / "plan-copy.md"  # ingested from the staff's own folder, as `yakuba ingest` does
    outside.write_text(PLAN.replace("防災計画", "防災計画（写し）"), encoding="utf-8")
    library.ingest([InputPath(path=outside, doc_id="copy.md")])
    assert set(_bm25_hits(settings, "避難所の耐震化")) == {"plan.md", "copy.md"}

    assert library.delete("plan.md") == added.chunks
    assert not (library.uploads / "plan.md").exists()
    assert _bm25_hits(settings, "避難所の耐震化") == ["copy.md"]
    store = TenantStore.open(settings, "testtown")
    try:
        assert store.chunk_ids("plan.md") == set() and store.get_document("plan.md") is None
    finally:
        store.close()
    library.delete("copy.md")
    assert outside.is_file(), "only files under the tenant's uploads folder are removed"
    with pytest.raises(DocumentNotFoundError) as caught:
        library.delete("copy.md")
    assert caught.value.code == "document_not_found" and "見つかりません" in caught.value.message


def test_a_jsonl_upload_stays_while_one_of_its_records_is_left(library: DocumentLibrary) -> None:
    saved = _upload(library, "corpus.jsonl", (DATA / "corpus.jsonl").read_bytes())
    ids = [d.doc_id for d in saved.result.documents]
    assert ids == ["plan#1", "minutes#1", "wiki#1"]
    for doc_id in ids[:-1]:
        library.delete(doc_id)
        assert (library.uploads / "corpus.jsonl").is_file()
    library.delete(ids[-1])
    assert not (library.uploads / "corpus.jsonl").exists()
    assert library.list() == []


def test_writes_wait_for_a_writer_in_another_process(library: DocumentLibrary) -> None:
    _upload(library, "plan.md", PLAN.encode())
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import sys; from filelock import FileLock\n"
            f"with FileLock({json.dumps(str(library.lock_path))}):\n"
            "    print('locked', flush=True); sys.stdin.readline()\n"
        )],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        removed: list[int] = []
        writer = threading.Thread(target=lambda: removed.append(library.delete("plan.md")))
        writer.start()
        writer.join(timeout=1.5)
        assert writer.is_alive() and not removed, "the delete must wait for the other process's lock"
        assert [r.doc_id for r in library.list()] == ["plan.md"]  # reading never waits
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=30)
    writer.join(timeout=60)
    assert removed and removed[0] > 0
    assert library.list() == []


def test_reindex_re_embeds_under_a_new_model_setting(settings: Settings, embeddings, library: DocumentLibrary) -> None:  # type: ignore[no-untyped-def]
    added = _upload(library, "plan.md", PLAN.encode()).result
    renamed = settings.model_copy(update={"embedding_model": "yakuba-static-ja"})
    switched = DocumentLibrary(renamed, "testtown", embeddings=embeddings)
    with pytest.raises(StoreError, match="reindex"):
        _upload(switched, "other.md", PLAN.encode())
    totals: list[int | None] = []
    done_in_steps: list[int] = []
    assert switched.reindex(on_start=totals.append, on_chunks=done_in_steps.append) == added.chunks
    assert totals == [added.chunks] and sum(done_in_steps) == added.chunks
    again = _upload(switched, "plan.md", PLAN.encode())
    assert again.result.status == "unchanged", "records carry the new model's signature after a reindex"
    assert _upload(switched, "other.md", "# 別紙\n窓口は午前8時30分に開きます。\n".encode()).result.status == "added"
