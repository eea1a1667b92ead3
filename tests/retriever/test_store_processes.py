"""#18 item 6: one view of a tenant's store across processes.

A second, real process (what `yakuba ingest` / `yakuba docs delete` are while `yakuba serve` runs)
writes into the same YAKUBA_HOME through TenantStore; this process's long-lived searcher must see
the change in dense search *and* BM25 on its next query. The writer gets precomputed vectors, so it
does not load an embedding model (the CLI itself would take ~20 s here just to load one).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from yakuba.core.settings import Settings
from yakuba.core.types import Chunk, DocType, DocumentRecord
from yakuba.retriever.search import FusionConfig, HybridSearcher
from yakuba.retriever.store import TenantStore

WRITER = """
import json, sys
from yakuba.core.settings import Settings
from yakuba.core.types import Chunk, DocumentRecord
from yakuba.retriever.store import TenantStore

job = json.loads(open(sys.argv[1], encoding="utf-8").read())
store = TenantStore.open(Settings(), "testtown")
if job["op"] == "add":
    chunks = [Chunk.model_validate(c) for c in job["chunks"]]
    store.add_chunks(job["ids"], chunks, job["vectors"])
    store.put_document(DocumentRecord.model_validate(job["record"]))
else:
    store.delete_document(job["doc_id"])
store.close()
"""

SNOW = "除雪車は大雪の朝、午前5時に出動して通学路から除雪します。"
OTHER = "図書館の開館時間は午前9時から午後7時までです。"


def _run_writer(tmp_path: Path, job: dict) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER, encoding="utf-8")
    spec = tmp_path / "job.json"
    spec.write_text(json.dumps(job, ensure_ascii=False), encoding="utf-8")
    done = subprocess.run([sys.executable, str(script), str(spec)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def _chunk(doc_id: str, text: str) -> Chunk:
    return Chunk(text=text, doc_id=doc_id, title=doc_id, doc_type=DocType.OTHER, chunk_index=0)


def test_the_server_sees_another_process_s_ingest_and_delete_in_dense_and_bm25(
    settings: Settings, embeddings, tmp_path: Path
) -> None:
    # the "server": a long-lived searcher that has already answered a query (its HNSW is loaded)
    store = TenantStore.open(settings, "testtown")
    store.add_chunks(["library::0"], [_chunk("library", OTHER)], embeddings.embed_documents([OTHER]))
    searcher = HybridSearcher(store, embeddings, FusionConfig())

    def found(mode: str) -> set[str]:
        return {p.doc_id for p in searcher.search("除雪車はいつ出動しますか", k=5, mode=mode).passages}

    assert found("dense") == {"library"} and found("bm25") == set()

    chunk = _chunk("snow", SNOW)
    record = DocumentRecord(doc_id="snow", title="除雪計画", doc_type=DocType.OTHER, file_format="md", chunks=1,
                            content_hash="0" * 64)
    _run_writer(tmp_path, {
        "op": "add", "ids": ["snow::0"], "chunks": [chunk.model_dump(mode="json")],
        "vectors": embeddings.embed_documents([SNOW]), "record": record.model_dump(mode="json"),
    })  # fmt: skip
    assert "snow" in found("dense"), "dense search sees the other process's chunk at once"
    assert "snow" in found("bm25")
    assert [d.doc_id for d in store.list_documents()] == ["snow"]

    _run_writer(tmp_path, {"op": "delete", "doc_id": "snow"})
    assert "snow" not in found("dense") and "snow" not in found("bm25")
    assert found("hybrid") == {"library"}

    # this process's own writes never need a reopen (they go through the same client)
    before = store.client
    store.add_chunks(["library::1"], [_chunk("library", "閉館日は月曜日です。")], embeddings.embed_documents(["閉館日"]))
    assert len(searcher.search("閉館日", k=5, mode="dense").passages) == 2
    assert store.client is before
    store.close()
