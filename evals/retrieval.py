"""Retrieval benchmark: ingest a dataset into an isolated store, run its questions, score documents.

The index is cached under YAKUBA_HOME/eval-cache keyed by corpus hash + ingest signature
(embedding model, chunking), so running another mode does not embed the corpus again. The
user's own store is never touched.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock
from pydantic import BaseModel, Field

from yakuba.core.settings import Settings
from yakuba.evals.datasets import Dataset, corpus_hash, load_dataset
from yakuba.evals.metrics import dedupe, percentile, ranking_metrics
from yakuba.ingest.pipeline import Ingestor, ingest_signature
from yakuba.retriever.embeddings import embeddings_from_settings, model_identity
from yakuba.retriever.search import FusionConfig, HybridSearcher, Mode, set_query_threads
from yakuba.retriever.store import TenantStore

EVAL_TENANT = "eval"
READY_MARKER = "READY.json"
# Chunks fetched per question so that k distinct documents remain after de-duplication.
CHUNKS_PER_DOC = 3


class QuestionResult(BaseModel):
    id: str
    question: str
    gold_doc_ids: list[str]
    ranked_doc_ids: list[str]
    metrics: dict[str, float]
    latency_ms: float


class RetrievalReport(BaseModel):
    dataset: str
    mode: Mode
    k: int
    n_questions: int
    metrics: dict[str, float]
    p50_ms: float
    p95_ms: float
    embedding_model: str
    index_build_s: float | None = None
    questions: list[QuestionResult] = Field(default_factory=list)

    def summary(self) -> dict[str, float | int | str]:
        """The JSON contract of `yakuba eval retrieval --json`."""
        return {
            **{key: round(value, 4) for key, value in self.metrics.items()},
            "n_questions": self.n_questions,
            "p50_ms": round(self.p50_ms, 2),
            "p95_ms": round(self.p95_ms, 2),
            "mode": self.mode,
            "dataset": self.dataset,
            "embedding_model": self.embedding_model,
        }


def index_dir(settings: Settings, dataset: Dataset) -> Path:
    signature = ingest_signature(settings, model_identity(settings.embedding_model))
    key = f"{dataset.name}-{corpus_hash(dataset)[:12]}-{signature}"
    return settings.home / "eval-cache" / key


def _corpus_source(dataset: Dataset) -> Path:
    return dataset.path / ("corpus.jsonl" if dataset.corpus_format == "jsonl" else "docs")


def open_index(
    settings: Settings, dataset: Dataset, *, progress: Callable[[int], None] | None = None
) -> tuple[TenantStore, float | None]:
    """The dataset's isolated store, built on first use; returns (store, build seconds or None).

    Two evaluations of one dataset may start at once (two shells, a benchmark beside `yakuba eval`):
    the builder holds a lock beside the folder, so the other waits for the index instead of taking
    the half-built folder for an interrupted run and deleting it under the builder's feet."""
    folder = index_dir(settings, dataset)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        return _open_or_build(settings, dataset, folder, progress)


def _open_or_build(
    settings: Settings, dataset: Dataset, folder: Path, progress: Callable[[int], None] | None
) -> tuple[TenantStore, float | None]:
    isolated = settings.model_copy(update={"home": folder, "chroma_url": None})
    if (folder / READY_MARKER).is_file():
        store = TenantStore.open(isolated, EVAL_TENANT)
        store.sync_bm25()
        return store, None
    if folder.exists():
        shutil.rmtree(folder)  # a half-built index from an interrupted run
    folder.mkdir(parents=True)
    store = TenantStore.open(isolated, EVAL_TENANT)
    start = time.perf_counter()
    ingestor = Ingestor(isolated, store, embeddings_from_settings(settings), on_chunks_embedded=progress)
    results = list(ingestor.run([_corpus_source(dataset)]))
    failed = [r for r in results if r.status == "failed"]
    if failed:
        raise RuntimeError(
            "データセットの取り込みに失敗しました / dataset ingest failed: "
            + "; ".join(f"{r.path}: {r.message_en}" for r in failed[:5])
        )
    store.warm_bm25()
    elapsed = time.perf_counter() - start
    (folder / READY_MARKER).write_text(
        json.dumps({"chunks": store.count(), "build_s": elapsed, "model": settings.embedding_model}),
        encoding="utf-8",
    )
    return store, elapsed


def run_retrieval_eval(
    dataset_dir: Path | str,
    settings: Settings,
    *,
    mode: Mode = "hybrid",
    k: int = 10,
    limit: int | None = None,
    fusion: FusionConfig | None = None,
    progress: Callable[[int], None] | None = None,
) -> RetrievalReport:
    dataset = load_dataset(dataset_dir)
    store, build_s = open_index(settings, dataset, progress=progress)
    set_query_threads(settings.query_threads)  # after the (multi-threaded) index build
    searcher = HybridSearcher(store, embeddings_from_settings(settings), fusion or FusionConfig.from_settings(settings))
    questions = dataset.answerable_questions()
    if limit is not None:
        questions = questions[:limit]
    if not questions:
        raise ValueError("評価できる質問がありません / the dataset has no answerable questions")
    searcher.search(questions[0].question, k=1, mode=mode)  # warm-up: model load, BM25 snapshot
    results: list[QuestionResult] = []
    for question in questions:
        start = time.perf_counter()
        found = searcher.search(question.question, k=min(200, k * CHUNKS_PER_DOC), mode=mode)
        latency = (time.perf_counter() - start) * 1000
        ranked = dedupe(p.doc_id for p in found.passages)[:k]
        results.append(
            QuestionResult(
                id=question.id,
                question=question.question,
                gold_doc_ids=question.gold_doc_ids,
                ranked_doc_ids=ranked,
                metrics=ranking_metrics(ranked, question.gold_doc_ids, k),
                latency_ms=latency,
            )
        )
        if progress:
            progress(0)
    keys = results[0].metrics.keys()
    metrics = {key: sum(r.metrics[key] for r in results) / len(results) for key in keys}
    latencies = [r.latency_ms for r in results]
    store.close()
    return RetrievalReport(
        dataset=dataset.name,
        mode=mode,
        k=k,
        n_questions=len(results),
        metrics=metrics,
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        embedding_model=settings.embedding_model,
        index_build_s=build_s,
        questions=results,
    )
