"""Ingest through the real pipeline, Chroma and the packaged embedding model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import DATA
from yakuba.core.settings import Settings
from yakuba.core.types import DocType
from yakuba.ingest.pipeline import Ingestor, IngestTarget, discover
from yakuba.retriever.store import TenantStore, make_client

EXCERPT = DATA / "soumu_dx_excerpt.md"


class CountingEmbeddings:
    """Wraps the real model to count how many texts were embedded (i.e. written)."""

    def __init__(self, inner, fail_after_calls: int | None = None) -> None:
        self.inner = inner
        self.texts = 0
        self.calls = 0
        self.fail_after_calls = fail_after_calls

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if self.fail_after_calls is not None and self.calls >= self.fail_after_calls:
            raise KeyboardInterrupt  # what Ctrl-C looks like mid-ingest
        self.calls += 1
        self.texts += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


@pytest.fixture
def docs_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(EXCERPT, folder / "soumu.md")
    (folder / "memo.txt").write_text(
        "当別町では、総合計画に基づきDXを推進しています。\n職員の業務負担を減らすため、生成AIを活用します。\n",
        encoding="utf-8",
    )
    return folder


def _state(store: TenantStore) -> dict[str, tuple[str, dict]]:
    got = store._chunk_collection.get(include=["documents", "metadatas"])
    return {i: (d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)}


def _metadatas(store: TenantStore, doc_id: str) -> list[dict]:
    return [row.metadata for row in store.get_chunks(sorted(store.chunk_ids(doc_id)))]


def _ingest(settings: Settings, store: TenantStore, embeddings, paths: list[Path]):
    return list(Ingestor(settings, store, embeddings).run(paths))


def test_ingest_then_reingest_writes_nothing(settings, store, embeddings, docs_dir: Path) -> None:
    counting = CountingEmbeddings(embeddings)
    results = _ingest(settings, store, counting, [docs_dir])
    assert [r.status for r in results] == ["added", "added"]
    records = {r.doc_id: r for r in store.list_documents()}
    assert set(records) == {"soumu.md", "memo.txt"}
    assert records["soumu.md"].chunks > 5
    assert store.count() == sum(r.chunks for r in records.values())
    before = _state(store)
    embedded = counting.texts

    again = _ingest(settings, store, counting, [docs_dir])
    assert [r.status for r in again] == ["unchanged", "unchanged"]
    assert counting.texts == embedded, "an unchanged file must not be embedded again"
    assert _state(store) == before


def test_changed_file_replaces_exactly_its_old_chunks(settings, store, embeddings, docs_dir: Path) -> None:
    _ingest(settings, store, embeddings, [docs_dir])
    memo_before = {k: v for k, v in _state(store).items() if v[1]["doc_id"] == "memo.txt"}
    soumu_before = store.chunk_ids("soumu.md")

    path = docs_dir / "soumu.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "\n\n## 追記\n\n令和9年度から全庁で文書検索AIを導入する予定です。\n", encoding="utf-8")
    counting = CountingEmbeddings(embeddings)
    results = {r.documents[0].doc_id: r for r in _ingest(settings, store, counting, [docs_dir])}
    assert results["soumu.md"].status == "updated"
    assert results["memo.txt"].status == "unchanged"
    soumu_after = store.chunk_ids("soumu.md")
    # Only the tail changed: most chunk ids survive, only new ones were embedded.
    assert len(soumu_before & soumu_after) >= len(soumu_before) - 2
    assert 0 < counting.texts <= 3
    assert len(soumu_after) == store.get_document("soumu.md").chunks
    assert any("文書検索AI" in row.text for row in store.get_chunks(sorted(soumu_after)))
    assert set(store.bm25.ids()) == set(_state(store))
    assert store.bm25.search("文書検索AI", 1)[0][0] in soumu_after - soumu_before
    memo_after = {k: v for k, v in _state(store).items() if v[1]["doc_id"] == "memo.txt"}
    assert memo_after == memo_before


def test_delete_removes_all_chunks(settings, store, embeddings, docs_dir: Path) -> None:
    _ingest(settings, store, embeddings, [docs_dir])
    removed = store.delete_document("soumu.md")
    assert removed > 5
    assert store.chunk_ids("soumu.md") == set()
    assert store.get_document("soumu.md") is None
    assert [r.doc_id for r in store.list_documents()] == ["memo.txt"]
    assert store.bm25.doc_ids() == ["memo.txt"]


def test_bm25_is_rebuilt_when_out_of_step(settings, store, embeddings, docs_dir: Path) -> None:
    _ingest(settings, store, embeddings, [docs_dir])
    store.bm25.clear()
    assert store.sync_bm25() is True
    assert set(store.bm25.ids()) == set(_state(store))
    assert store.sync_bm25() is False


def test_reingest_with_another_doc_type_updates(settings, store, embeddings, docs_dir: Path) -> None:
    _ingest(settings, store, embeddings, [docs_dir / "memo.txt"])
    relabelled = list(Ingestor(settings, store, embeddings, doc_type=DocType.DX_GUIDEBOOK).run([docs_dir / "memo.txt"]))
    assert relabelled[0].status == "updated"
    assert store.get_document("memo.txt").doc_type is DocType.DX_GUIDEBOOK


def test_interrupted_ingest_recovers_to_clean_state(settings, embeddings, docs_dir: Path, tmp_path) -> None:
    client = make_client(settings)
    store = TenantStore(client, "interrupted", embedding_model=settings.embedding_model,
                        bm25_root=settings.bm25_path)
    big = docs_dir / "soumu.md"
    big.write_text(big.read_text(encoding="utf-8") * 3, encoding="utf-8")
    interrupted = Ingestor(settings, store, CountingEmbeddings(embeddings, fail_after_calls=1))
    with pytest.raises(KeyboardInterrupt):
        for item in discover([docs_dir]):
            interrupted.ingest_file(item)
    assert store.get_document("soumu.md") is None or store.get_document("memo.txt") is None

    _ingest(settings, store, embeddings, [docs_dir])
    clean = TenantStore(client, "clean", embedding_model=settings.embedding_model, bm25_root=settings.bm25_path)
    _ingest(settings, clean, embeddings, [docs_dir])
    strip = lambda records: sorted((r.doc_id, r.chunks, r.content_hash) for r in records)  # noqa: E731
    assert strip(store.list_documents()) == strip(clean.list_documents())
    assert set(_state(store)) == set(_state(clean))
    assert store.count() == clean.count()
    store.sync_bm25()
    assert set(store.bm25.ids()) == set(clean.bm25.ids()) == set(_state(clean))


def test_failed_file_changes_nothing(settings, store, embeddings, docs_dir: Path) -> None:
    _ingest(settings, store, embeddings, [docs_dir])
    before = _state(store)
    (docs_dir / "broken.pdf").write_bytes(b"%PDF-1.7\n this is not really a pdf")
    (docs_dir / "empty.txt").write_bytes(b"")
    results = {Path(r.path).name: r for r in _ingest(settings, store, embeddings, [docs_dir])}
    assert results["broken.pdf"].status == "failed"
    assert results["broken.pdf"].error_code == "corrupt"
    assert results["empty.txt"].status == "failed"
    assert results["empty.txt"].message_ja
    assert results["soumu.md"].status == "unchanged"
    assert _state(store) == before


def test_doc_type_forced_and_detected(settings, store, embeddings, docs_dir: Path) -> None:
    forced = Ingestor(settings, store, embeddings, doc_type=DocType.PLAN)
    list(forced.run([docs_dir / "memo.txt"]))
    assert store.get_document("memo.txt").doc_type is DocType.PLAN
    assert {m["doc_type"] for m in _metadatas(store, "memo.txt")} == {"計画"}


def test_chunk_metadata_keeps_pages_and_headings(settings, store, embeddings, docs_dir: Path) -> None:
    _ingest(settings, store, embeddings, [docs_dir])
    metas = _metadatas(store, "soumu.md")
    assert all(m["title"] for m in metas)
    assert any(m.get("heading") for m in metas)
    assert sorted(m["chunk_index"] for m in metas) == list(range(len(metas)))


def test_ignore_file_and_hidden_files_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# 見出し\n本文です。", encoding="utf-8")
    (tmp_path / "MANIFEST.md").write_text("# manifest", encoding="utf-8")
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "x.txt").write_text("tool", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("x", encoding="utf-8")
    (tmp_path / "notes.xyz").write_text("x", encoding="utf-8")
    (tmp_path / ".yakubaignore").write_text("MANIFEST.md\ntools/\n", encoding="utf-8")
    assert [i.doc_id for i in discover([tmp_path])] == ["a.md"]


def test_changing_the_model_is_refused_until_reindexed(settings, store, embeddings, docs_dir: Path) -> None:
    from yakuba.retriever.embeddings import SentenceTransformerEmbeddings
    from yakuba.retriever.store import StoreError

    _ingest(settings, store, embeddings, [docs_dir / "memo.txt"])
    ids_before = set(_state(store))
    other = TenantStore(store.client, "testtown", embedding_model="multilingual-e5-small",
                        bm25_root=settings.bm25_path)
    with pytest.raises(StoreError, match="yakuba reindex"):
        other.count()
    e5 = SentenceTransformerEmbeddings("multilingual-e5-small")
    assert other.reindex(e5) == len(ids_before)
    assert set(_state(other)) == ids_before
    query = e5.embed_query("生成AIの活用")
    assert other.query_dense(query, 1)[0].similarity > 0.7, "vectors now come from the new model"
    assert (other._chunk_collection.metadata or {})["embedding_model"] == "multilingual-e5-small"


def test_the_store_is_an_ingest_target_and_names_the_model(settings, store, embeddings) -> None:
    """Ingest names the store methods it needs instead of importing the retriever; the signature that
    decides "unchanged" comes from the model identity the store was opened with."""
    assert isinstance(store, IngestTarget)
    assert Ingestor(settings, store, embeddings).signature == Ingestor(
        settings, store, embeddings, embedding_model=settings.embedding_model
    ).signature
    assert Ingestor(settings, store, embeddings, embedding_model="other-model").signature != (
        Ingestor(settings, store, embeddings).signature
    )
    anonymous = TenantStore(store.client, "anonymous", bm25_root=settings.bm25_path)
    with pytest.raises(ValueError, match="embedding model"):
        Ingestor(settings, anonymous, embeddings)
