"""Hybrid retrieval: dense (Chroma) + BM25 (Japanese tokens), fused, filtered, with citation data."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Literal

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import BaseModel, ConfigDict, Field

from yakuba.core.errors import InvalidInputError
from yakuba.core.settings import Settings
from yakuba.retriever.embeddings import COUNCIL_MODEL
from yakuba.retriever.filters import SearchFilters, chroma_where_is_exact, matches, to_chroma_where
from yakuba.retriever.fusion import weighted_rrf, weighted_score_fusion
from yakuba.retriever.store import TenantStore
from yakuba.retriever.tokenize import query_normalize

Mode = Literal["dense", "bm25", "hybrid"]
MODES: tuple[Mode, ...] = ("dense", "bm25", "hybrid")
MAX_QUERY_CHARS = 1000


class QueryError(InvalidInputError, ValueError):
    """A query the user must fix (empty, unknown mode, k out of range); the message is for staff."""

    code = "invalid_query"


class Passage(BaseModel):
    """A retrieved chunk with everything needed to cite it."""

    chunk_id: str
    doc_id: str
    title: str
    doc_type: str
    text: str
    page: int | None = None
    page_end: int | None = None
    heading: str | None = None
    speaker: str | None = None
    role: str | None = None
    date: str | None = None
    session: str | None = None
    score: float
    dense_score: float | None = None
    bm25_score: float | None = None
    dense_rank: int | None = None
    bm25_rank: int | None = None

    @property
    def citation(self) -> str:
        """「文書名 p.3」 or 「文書名 2022-12-01 議長 山田太郎」."""
        parts = [self.title]
        if self.page:
            parts.append(f"p.{self.page}" + (f"-{self.page_end}" if self.page_end else ""))
        if self.date:
            parts.append(self.date)
        if self.speaker:
            parts.append(" ".join(p for p in (self.role, self.speaker) if p))
        return " ".join(parts)


class SearchResult(BaseModel):
    query: str
    normalized_query: str
    mode: Mode
    passages: list[Passage]
    notices: list[str] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)


# Dense weights per document type that come with a model (tuned per dev set with a 2-fold check,
# training/tune_fusion.py): the council model beats BM25 on minutes (kiryu-r4 0.78 vs 0.74 nDCG@10)
# but not on other text (jsquad-valid 0.88 vs 0.94), where the global dense weight stays.
MODEL_DOC_TYPE_WEIGHTS: dict[str, dict[str, float]] = {COUNCIL_MODEL: {"議会会議録": 3.0}}


_DEFAULTS = Settings.model_fields


class FusionConfig(BaseModel):
    """Fusion weights; the defaults are Settings' (tuned on the dev sets, see README), defined once there."""

    method: Literal["rrf", "minmax"] = _DEFAULTS["fusion_method"].default
    dense_weight: float = _DEFAULTS["fusion_dense_weight"].default
    bm25_weight: float = _DEFAULTS["fusion_bm25_weight"].default
    # The dense weight for chunks of these document types instead of `dense_weight`.
    dense_weight_by_doc_type: dict[str, float] = Field(default_factory=dict)
    rrf_k: int = _DEFAULTS["fusion_rrf_k"].default
    candidates: int = _DEFAULTS["fusion_candidates"].default

    def fuse(
        self, rankings: dict[str, list[tuple[str, float]]], doc_types: Mapping[str, str] | None = None
    ) -> list[tuple[str, float]]:
        """`doc_types` (chunk id → type) lets `dense_weight_by_doc_type` apply; without it every
        dense hit gets `dense_weight`."""
        weights = {"dense": self.dense_weight, "bm25": self.bm25_weight}
        by_type = self.dense_weight_by_doc_type
        id_weights = None
        if by_type and doc_types:  # an override only touches ids the dense list holds
            id_weights = {"dense": {cid: by_type[t] for cid, t in doc_types.items() if t in by_type}}
        if self.method == "minmax":
            return weighted_score_fusion(rankings, weights, "minmax", id_weights=id_weights)
        return weighted_rrf(rankings, weights, k=self.rrf_k, id_weights=id_weights)

    @classmethod
    def from_settings(cls, settings: Settings) -> FusionConfig:
        return cls(
            method=settings.fusion_method,
            dense_weight=settings.fusion_dense_weight,
            bm25_weight=settings.fusion_bm25_weight,
            dense_weight_by_doc_type=(
                MODEL_DOC_TYPE_WEIGHTS.get(settings.embedding_model, {})
                if settings.fusion_dense_weight_by_doc_type is None
                else settings.fusion_dense_weight_by_doc_type
            ),
            rrf_k=settings.fusion_rrf_k,
            candidates=settings.fusion_candidates,
        )


def _passage(chunk_id: str, text: str, meta: dict, score: float) -> Passage:
    return Passage(
        chunk_id=chunk_id,
        doc_id=str(meta.get("doc_id", "")),
        title=str(meta.get("title", "")),
        doc_type=str(meta.get("doc_type", "")),
        text=text,
        page=meta.get("page"),
        page_end=meta.get("page_end"),
        heading=meta.get("heading"),
        speaker=meta.get("speaker"),
        role=meta.get("role"),
        date=meta.get("date"),
        session=meta.get("session"),
        score=score,
    )


class HybridSearcher:
    """Runs one query against one tenant's store in any of the three modes."""

    def __init__(self, store: TenantStore, embeddings: Embeddings, fusion: FusionConfig | None = None) -> None:
        self.store = store
        self.embeddings = embeddings
        self.fusion = fusion or FusionConfig()

    # -- corpus statistics the assistant weighs questions with (relevance.assess) ---------------
    @property
    def has_bm25(self) -> bool:
        return self.store.has_bm25

    def idf(self, terms: Sequence[str]) -> dict[str, float]:
        """BM25 idf per term: how telling each of the question's words is in this tenant's corpus."""
        return self.store.bm25.idf(terms)

    def documents_mentioning(self, term: str, doc_ids: Sequence[str]) -> set[str]:
        """Which of `doc_ids` contain `term` anywhere (a place named outside the retrieved passage)."""
        return self.store.bm25.documents_mentioning(term, doc_ids)

    # -- retrieval -------------------------------------------------------------------------------
    def _dense(self, query: str, n: int, filters: SearchFilters | None) -> list[tuple[str, float]]:
        total = self.store.count()
        if total == 0:
            return []
        vector = self.embeddings.embed_query(query)
        allowed = self.store.bm25.matching_ids(filters) if filters and not filters.is_empty() else None
        if allowed is None:
            return [(hit.chunk_id, hit.similarity) for hit in self.store.query_dense(vector, min(total, n))]
        if not allowed:
            return []
        # Chroma's `where` scans all metadata (~0.4 s at 50k chunks); a wide nearest-neighbour fetch
        # post-filtered by the BM25 index's in-memory columns is ~10x cheaper. Narrow filters that
        # leave too few survivors fall back to `where`.
        fetch = min(total, max(n * 10, 500))
        found = self.store.query_dense(vector, fetch)
        hits = [(hit.chunk_id, hit.similarity) for hit in found if hit.chunk_id in allowed]
        if len(hits) >= n or fetch >= total or len(hits) >= len(allowed):
            return hits[:n]
        return self._dense_where(vector, n, filters, total)

    def _dense_where(
        self, vector: list[float], n: int, filters: SearchFilters, total: int
    ) -> list[tuple[str, float]]:
        speakers = self.store.bm25.speakers() if filters.speaker else None
        where = to_chroma_where(filters, known_speakers=speakers)
        exact = chroma_where_is_exact(filters, with_known_speakers=speakers is not None)
        fetch = min(total, n if exact else n * 4)
        found = self.store.query_dense(vector, fetch, where, with_metadata=not exact)
        hits = [(h.chunk_id, h.similarity) for h in found if exact or matches(filters, h.metadata or {})]
        return hits[:n]

    def search(
        self, query: str, *, k: int = 10, mode: Mode = "hybrid", filters: SearchFilters | None = None
    ) -> SearchResult:
        notices: list[str] = []
        if mode not in MODES:
            raise QueryError(f"検索モードは dense / bm25 / hybrid のいずれかです: {mode!r} / unknown mode")
        text = (query or "").strip()
        if not text:
            raise QueryError("検索語を入力してください / the query is empty")
        if len(text) > MAX_QUERY_CHARS:
            text = text[:MAX_QUERY_CHARS]
            notices.append(
                f"質問が長すぎるため先頭 {MAX_QUERY_CHARS} 文字で検索しました / query truncated to {MAX_QUERY_CHARS} chars"
            )
        if k < 1 or k > 200:
            raise QueryError("k は 1〜200 で指定してください / k must be between 1 and 200")
        normalized = query_normalize(text) or text
        timings: dict[str, float] = {}
        n = max(k, self.fusion.candidates)
        rankings: dict[str, list[tuple[str, float]]] = {}
        if mode in ("dense", "hybrid"):
            start = time.perf_counter()
            # Stock models read whole questions best; models tuned on topics read the content.
            content = getattr(self.embeddings, "query_form", "question") == "content"
            rankings["dense"] = self._dense(normalized if content else text, n, filters)
            timings["dense"] = (time.perf_counter() - start) * 1000
        if mode in ("bm25", "hybrid"):
            start = time.perf_counter()
            rankings["bm25"] = self.store.bm25.search(normalized, n, filters)  # boilerplate only adds noise
            timings["bm25"] = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        if mode == "hybrid":
            doc_types = None
            if self.fusion.dense_weight_by_doc_type:
                doc_types = self.store.bm25.doc_types(cid for cid, _ in rankings["dense"])
            fused = self.fusion.fuse(rankings, doc_types)[:k]
        else:
            fused = rankings[mode][:k]
        passages = self._hydrate(fused, rankings)
        timings["fusion"] = (time.perf_counter() - start) * 1000
        timings["total"] = sum(timings.values())
        return SearchResult(
            query=query, normalized_query=normalized, mode=mode, passages=passages, notices=notices,
            timings_ms=timings,
        )

    def _hydrate(
        self, fused: list[tuple[str, float]], rankings: dict[str, list[tuple[str, float]]]
    ) -> list[Passage]:
        if not fused:
            return []
        ids = [chunk_id for chunk_id, _ in fused]
        by_id = {row.chunk_id: (row.text, row.metadata) for row in self.store.get_chunks(ids)}
        position = {name: {cid: (rank + 1, score) for rank, (cid, score) in enumerate(hits)}
                    for name, hits in rankings.items()}
        passages = []
        for chunk_id, score in fused:
            if chunk_id not in by_id:
                continue  # index briefly out of sync with Chroma; never cite what is not stored
            text, meta = by_id[chunk_id]
            passage = _passage(chunk_id, text, meta, score)
            if chunk_id in position.get("dense", {}):
                passage.dense_rank, passage.dense_score = position["dense"][chunk_id]
            if chunk_id in position.get("bm25", {}):
                passage.bm25_rank, passage.bm25_score = position["bm25"][chunk_id]
            passages.append(passage)
        return passages


class YakubaRetriever(BaseRetriever):
    """LangChain adapter so chains and agents can use Yakuba's retrieval."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    searcher: HybridSearcher
    k: int = 6
    mode: Mode = "hybrid"
    filters: SearchFilters | None = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        result = self.searcher.search(query, k=self.k, mode=self.mode, filters=self.filters)
        return [
            Document(page_content=p.text, metadata=p.model_dump(exclude={"text"}) | {"citation": p.citation})
            for p in result.passages
        ]


def open_searcher(settings: Settings, tenant: str) -> HybridSearcher:
    """Store + BM25 (brought in step with Chroma) + embeddings, as configured."""
    from yakuba.retriever.embeddings import embeddings_from_settings

    store = TenantStore.open(settings, tenant)
    store.sync_bm25()
    set_query_threads(settings.query_threads)
    return HybridSearcher(store, embeddings_from_settings(settings), FusionConfig.from_settings(settings))


def set_query_threads(threads: int) -> None:
    """Serving queries: one torch thread embeds a query faster than two on a busy 2-core machine
    (measured p95 54 ms vs 1.4 s under load, benchmarks/latency_50k.py). 0 keeps torch's default."""
    if threads > 0:
        import torch

        torch.set_num_threads(threads)
