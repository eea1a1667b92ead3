"""Hybrid retrieval: dense (Chroma) + BM25 (Japanese tokens), fused, filtered, with citation data."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import BaseModel, ConfigDict, Field

from yakuba.core.errors import InvalidInputError
from yakuba.core.settings import Settings
from yakuba.core.types import DocType
from yakuba.core.wareki import years_named
from yakuba.ingest.municipality import municipalities_in
from yakuba.retriever.embeddings import COUNCIL_MODEL, onnx_alias
from yakuba.retriever.filters import SearchFilters, chroma_where_is_exact, matches, to_chroma_where
from yakuba.retriever.fusion import (
    ChunkInfo,
    cap_ranks,
    collapse_duplicates,
    confident_interleave,
    credited,
    lead_with_named_year,
    prefer_towns,
    weighted_rrf,
    weighted_score_fusion,
)
from yakuba.retriever.store import ChunkRow, TenantStore
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
    table: int | None = Field(None, description="Table number in the document when the chunk is a table")
    content: str | None = Field(None, description='"table" (Markdown), "table_rows" (row sentences) or None (text)')
    ocr_confidence: float | None = Field(None, description="Mean OCR confidence when the text came from OCR")
    table_markdown: str | None = Field(
        None, description="The table (part) as Markdown: the text itself for a table chunk, the rows behind "
        "the sentences of a row-sentence chunk"
    )
    score: float
    dense_score: float | None = None
    bm25_score: float | None = None
    dense_rank: int | None = None
    bm25_rank: int | None = None
    also_in: list[str] = Field(
        default_factory=list, description="Other documents holding the same text (duplicates collapsed into this hit)"
    )

    @property
    def citation(self) -> str:
        """「文書名 p.3」 or 「文書名 2022-12-01 議長 山田太郎」."""
        parts = [self.title]
        if self.page:
            parts.append(f"p.{self.page}" + (f"-{self.page_end}" if self.page_end else ""))
        if self.table:
            parts.append(f"表{self.table}")
        if self.ocr_confidence is not None:
            parts.append("(OCR)")
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


# Dense weights per document type that come with a model. The council model beats BM25 on minutes, so
# minutes chunks trust it 3× more (×0.25 elsewhere). Alone that weight did not transfer (issue #16: on
# 一括質問-style minutes hybrid fell below BM25, in a mixed library another city's minutes came first);
# with fusion_rank_cap (neither list's best hits sink far) and the town preference it holds on every
# validation set, and it is what lifts kiryu-r4 above both lists (README's fusion table).
# Keyed by the built model's alias; its ONNX exports (`-onnx-fp32`, `-onnx-int8`) share its weights.
MODEL_DOC_TYPE_WEIGHTS: dict[str, dict[str, float]] = {COUNCIL_MODEL: {DocType.COUNCIL_MINUTES.value: 3.0}}


def model_doc_type_weights(model: str) -> dict[str, float]:
    alias = onnx_alias(model)
    return MODEL_DOC_TYPE_WEIGHTS.get(alias[0] if alias else model, {})


_DEFAULTS = Settings.model_fields
MINUTES = DocType.COUNCIL_MINUTES.value
_SPEAKER_LABEL = re.compile(r"^\s*[○◯◎◆◇]\S{0,30}?[）)]\s*")


def content_chars(text: str) -> int:
    """Length without whitespace and without a leading speaker label (「○議長（北川久人）」)."""
    return len("".join(_SPEAKER_LABEL.sub("", text, count=1).split()))


def text_key(text: str) -> str:
    """Equal for texts equal up to whitespace: the duplicate test of `collapse_duplicates`."""
    return hashlib.blake2b("".join(text.split()).encode("utf-8"), digest_size=12).hexdigest()


def chunk_info(store: TenantStore, ids: Sequence[str]) -> dict[str, ChunkInfo]:
    """What fusion weighs candidates by, read from the store in one call (tune_fusion uses it too)."""
    return _info(store.get_chunks(list(ids)))


COVERAGE_DEPTH = 2  # hits per list whose query coverage is measured (a short minutes line may drop the 1st)


def query_coverage(store: TenantStore, query: str, rankings: Mapping[str, Sequence[tuple[str, float]]],
                   texts: Mapping[str, str]) -> dict[str, float]:  # fmt: skip
    """Chunk id → share of the question's idf mass whose words the chunk contains, for the first
    COVERAGE_DEPTH hits of each list: one yardstick for dense's and BM25's top hits (the question's
    words as BM25 tokenises them, weighted by this tenant's idf: 「南国市」 in a one-town library
    counts little, 「自転車」 much). Empty without a BM25 index or for a question of no known word."""
    if not store.has_bm25:
        return {}
    tokenizer = store.bm25.tokenizer
    terms = list(dict.fromkeys(tokenizer.tokenize(query_normalize(query) or query)))  # as BM25 reads it
    idf = store.bm25.idf(terms)
    total = sum(idf.get(term, 0.0) for term in terms)
    if total <= 0:
        return {}
    ids = {cid for hits in rankings.values() for cid, _ in hits[:COVERAGE_DEPTH] if cid in texts}
    coverage = {}
    for cid in ids:
        words = set(tokenizer.tokenize(texts[cid]))
        coverage[cid] = sum(idf.get(term, 0.0) for term in terms if term in words) / total
    return coverage


def _info(rows: Sequence[ChunkRow]) -> dict[str, ChunkInfo]:
    return {
        row.chunk_id: ChunkInfo(
            doc_id=str(row.metadata.get("doc_id", "")), doc_type=str(row.metadata.get("doc_type", "")),
            chars=content_chars(row.text), municipality=row.metadata.get("x_municipality") or None,
            text_key=text_key(row.text), years=_document_years(row.metadata),
        )
        for row in rows
    }  # fmt: skip


def _document_years(metadata: Mapping[str, Any]) -> tuple[int, ...]:
    """The years a chunk's document names: its date's year and any year in its title or file name."""
    years = set(years_named(f"{metadata.get('title') or ''} {metadata.get('doc_id') or ''}"))
    if isinstance(metadata.get("year"), int):
        years.add(int(metadata["year"]))
    return tuple(sorted(years))


def _names_asked_year(query: str | None, infos: Mapping[str, ChunkInfo]) -> dict[str, bool] | None:
    asked = years_named(query or "")
    if not asked:
        return None
    return {cid: bool(asked.intersection(item.years)) for cid, item in infos.items()}


class FusionConfig(BaseModel):
    """Fusion settings; the defaults are Settings' (chosen across five styles of data, see README)."""

    method: Literal["rrf", "minmax", "zscore", "interleave"] = _DEFAULTS["fusion_method"].default
    dense_weight: float = _DEFAULTS["fusion_dense_weight"].default
    bm25_weight: float = _DEFAULTS["fusion_bm25_weight"].default
    # The dense weight for chunks of these document types instead of `dense_weight`.
    dense_weight_by_doc_type: dict[str, float] = Field(default_factory=dict)
    rrf_k: int = _DEFAULTS["fusion_rrf_k"].default
    candidates: int = _DEFAULTS["fusion_candidates"].default
    # Minutes chunks with less content than this (「○議長（…）\n市民生活部長。」) get no dense credit: the
    # dense model finds every short procedural line similar to every short question; 0 turns it off.
    # Other documents keep theirs: a short FAQ line (「開館時間は午前9時から…」) may be the whole answer.
    short_chunk_chars: int = _DEFAULTS["fusion_short_chunk_chars"].default
    # interleave: dense's head start (in standard deviations of fusion.top_z) for the first place.
    interleave_dense_bias: float = _DEFAULTS["fusion_interleave_dense_bias"].default
    # interleave: the list whose top hit holds more of the question's telling words (idf-weighted
    # share, query_coverage) by more than this leads; None: confidence alone decides.
    interleave_coverage_margin: float | None = _DEFAULTS["fusion_interleave_coverage_margin"].default
    # A question naming a town puts other towns' chunks behind the rest (fusion.prefer_towns).
    prefer_named_town: bool = True
    # A question naming a year (令和4年度) lets the list whose top hit's document names that year lead
    # (interleave: fusion.confident_interleave's `names_asked_year`; score fusion: lead_with_named_year).
    prefer_named_year: bool = True
    # rrf/minmax/zscore: each list's j-th hit is placed no lower than rank_cap × j (fusion.cap_ranks);
    # None: the fused scores alone decide.
    rank_cap: int | None = Field(_DEFAULTS["fusion_rank_cap"].default, ge=1)

    def fuse(
        self,
        rankings: dict[str, list[tuple[str, float]]],
        info: Mapping[str, ChunkInfo] | Mapping[str, str] | None = None,
        *,
        query: str | None = None,
    ) -> list[tuple[str, float]]:
        """`info` (chunk id → ChunkInfo, or just its document type) lets the per-type weights, the
        short-chunk rule and the town preference apply; `query` is needed for the last."""
        infos = {cid: ChunkInfo(doc_type=v) if isinstance(v, str) else v for cid, v in (info or {}).items()}
        weights = {"dense": self.dense_weight, "bm25": self.bm25_weight}
        by_type = self.dense_weight_by_doc_type
        dense: dict[str, float] = {}
        for cid, item in infos.items():
            if item.doc_type in by_type:
                dense[cid] = by_type[item.doc_type]
            if item.doc_type == MINUTES and 0 < item.chars < self.short_chunk_chars:
                dense[cid] = 0.0
        id_weights = {"dense": dense} if dense else None
        if self.method == "interleave":
            active = {name: hits for name, hits in rankings.items() if weights.get(name, 1.0) > 0}
            fused = confident_interleave(
                active, {"dense": self.interleave_dense_bias}, id_weights=id_weights,
                coverage={cid: item.coverage for cid, item in infos.items() if item.coverage is not None},
                coverage_margin=self.interleave_coverage_margin,
                names_asked_year=_names_asked_year(query, infos) if self.prefer_named_year else None,
            )  # fmt: skip
        elif self.method == "rrf":
            fused = weighted_rrf(rankings, weights, k=self.rrf_k, id_weights=id_weights)
        else:
            fused = weighted_score_fusion(rankings, weights, self.method, id_weights=id_weights)
        if self.method != "interleave":
            named = _names_asked_year(query, infos) if self.prefer_named_year else None
            if self.rank_cap is not None or named:
                active = credited(rankings, id_weights, weights)  # what the cap and the year rule count as hits
                if self.rank_cap is not None:
                    fused = cap_ranks(fused, active, self.rank_cap)
                if named:
                    fused = lead_with_named_year(fused, active, named)
        if self.prefer_named_town and query and infos:
            fused = prefer_towns(fused, infos, municipalities_in(query))
        return fused

    @classmethod
    def from_settings(cls, settings: Settings) -> FusionConfig:
        return cls(
            method=settings.fusion_method,
            dense_weight=settings.fusion_dense_weight,
            bm25_weight=settings.fusion_bm25_weight,
            dense_weight_by_doc_type=(
                model_doc_type_weights(settings.embedding_model)
                if settings.fusion_dense_weight_by_doc_type is None
                else settings.fusion_dense_weight_by_doc_type
            ),
            rrf_k=settings.fusion_rrf_k,
            candidates=settings.fusion_candidates,
            short_chunk_chars=settings.fusion_short_chunk_chars,
            prefer_named_town=settings.fusion_prefer_named_town,
            prefer_named_year=settings.fusion_prefer_named_year,
            rank_cap=settings.fusion_rank_cap,
            interleave_dense_bias=settings.fusion_interleave_dense_bias,
            interleave_coverage_margin=settings.fusion_interleave_coverage_margin,
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
        table=meta.get("x_table"),
        content=meta.get("x_content"),
        ocr_confidence=meta.get("x_ocr_confidence"),
        table_markdown=meta.get("x_table_markdown") or (text if meta.get("x_content") == "table" else None),
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

    def table_passages(self, query: str, n: int, filters: SearchFilters | None = None) -> list[Passage]:
        """The table chunks among BM25's top `n` for `query`, best first: where the assistant looks
        for the row a value question names (assistant/table_lookup.py). A budget's 款 summary row
        「3.民生費：本年度予算額 11,737,003、…」 shares 民生費 with the question once, while every
        detailed 項 table of that 款 repeats it; BM25 still has it among its first few dozen hits."""
        if not self.store.has_bm25 or not (query or "").strip():
            return []
        hits = self.store.bm25.search(query_normalize(query) or query, n, filters)
        rows = {row.chunk_id: row for row in self.store.get_chunks([cid for cid, _ in hits])}
        return [
            _passage(cid, rows[cid].text, rows[cid].metadata, score)
            for cid, score in hits
            if cid in rows and rows[cid].metadata.get("x_content") in ("table", "table_rows")
        ]

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
        rows: dict[str, ChunkRow] | None = None
        also_in: dict[str, list[str]] = {}
        if mode == "hybrid":
            # One store read for every candidate: fusion weighs them by length, type and town, and
            # the same rows become the passages.
            candidates = list(dict.fromkeys(cid for hits in rankings.values() for cid, _ in hits))
            rows = {row.chunk_id: row for row in self.store.get_chunks(candidates)}
            info = _info(list(rows.values()))
            if self.fusion.method == "interleave" and self.fusion.interleave_coverage_margin is not None:
                texts = {cid: row.text for cid, row in rows.items()}
                for cid, share in query_coverage(self.store, normalized, rankings, texts).items():
                    info[cid].coverage = share
            fused, also_in = collapse_duplicates(self.fusion.fuse(rankings, info, query=text), info)
            fused = fused[:k]
        else:
            fused = rankings[mode][:k]
        passages = self._hydrate(fused, rankings, rows, also_in)
        timings["fusion"] = (time.perf_counter() - start) * 1000
        timings["total"] = sum(timings.values())
        return SearchResult(
            query=query, normalized_query=normalized, mode=mode, passages=passages, notices=notices,
            timings_ms=timings,
        )

    def _hydrate(
        self,
        fused: list[tuple[str, float]],
        rankings: dict[str, list[tuple[str, float]]],
        rows: Mapping[str, ChunkRow] | None = None,
        also_in: Mapping[str, list[str]] | None = None,
    ) -> list[Passage]:
        if not fused:
            return []
        ids = [chunk_id for chunk_id, _ in fused]
        if rows is None:
            rows = {row.chunk_id: row for row in self.store.get_chunks(ids)}
        by_id = {cid: (row.text, row.metadata) for cid, row in rows.items()}
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
            copies = [rows[c].metadata.get("doc_id") for c in (also_in or {}).get(chunk_id, []) if c in rows]
            passage.also_in = [d for d in dict.fromkeys(copies) if d and d != passage.doc_id]
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
