"""The store's read methods: the only way past retriever/store.py to Chroma's chunk collection."""

from __future__ import annotations

import pytest

from yakuba.core.types import Chunk, DocType
from yakuba.retriever.store import TenantStore

TEXTS = {
    "a-0": ("防災行政無線を更新します。", DocType.PLAN),
    "a-1": ("避難所の耐震化を進めます。", DocType.PLAN),
    "b-0": ("学校給食の無償化について質問します。", DocType.COUNCIL_MINUTES),
}


@pytest.fixture
def filled(store: TenantStore, embeddings) -> TenantStore:
    chunks = [
        Chunk(text=text, doc_id=cid.split("-")[0], title=f"文書{cid[0]}", doc_type=doc_type,
              chunk_index=int(cid[-1]), page=1)
        for cid, (text, doc_type) in TEXTS.items()
    ]
    store.add_chunks(list(TEXTS), chunks, embeddings.embed_documents([c.text for c in chunks]))
    return store


def test_get_chunks_returns_text_and_citation_metadata(filled: TenantStore) -> None:
    rows = {row.chunk_id: row for row in filled.get_chunks(["b-0", "a-0", "no-such-chunk"])}
    assert set(rows) == {"a-0", "b-0"}, "unknown ids are left out"
    assert rows["b-0"].text == TEXTS["b-0"][0]
    assert rows["b-0"].metadata["doc_type"] == "議会会議録" and rows["b-0"].metadata["doc_id"] == "b"
    assert filled.get_chunks([]) == []


def test_query_dense_ranks_by_cosine_similarity(filled: TenantStore, embeddings) -> None:
    vector = embeddings.embed_query("防災行政無線を更新します。")
    hits = filled.query_dense(vector, 3)
    assert [h.chunk_id for h in hits][0] == "a-0"
    assert hits[0].similarity == pytest.approx(max(h.similarity for h in hits))
    assert hits[0].similarity > 0.9 and hits[0].metadata is None
    only_minutes = filled.query_dense(vector, 3, {"doc_type": "議会会議録"}, with_metadata=True)
    assert [h.chunk_id for h in only_minutes] == ["b-0"]
    assert only_minutes[0].metadata is not None and only_minutes[0].metadata["doc_id"] == "b"


def test_bm25_is_optional(settings, filled: TenantStore) -> None:
    assert filled.has_bm25
    filled.warm_bm25()
    assert len(filled.bm25) == filled.count() == 3
    dense_only = TenantStore(filled.client, "testtown", embedding_model=filled.embedding_model)
    assert not dense_only.has_bm25
    dense_only.warm_bm25()  # nothing to build, and no error
    assert dense_only.count() == 3
