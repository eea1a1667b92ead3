"""Side-by-side retrieval benchmark: the naive LangChain RAG retriever vs Yakuba's three modes.

The baseline is what a team would build from the LangChain docs: RecursiveCharacterTextSplitter
(1000/200) + langchain-chroma + the same embedding model, dense search only. Everything runs in
one process on the same dataset, so the ratios are fair. Usage:

    .venv/bin/python benchmarks/retrieval_baseline.py ../shared/datasets/kiryu-r4 [--limit N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from langchain_chroma import Chroma  # noqa: E402
from langchain_core.documents import Document  # noqa: E402
from langchain_text_splitters import RecursiveCharacterTextSplitter  # noqa: E402

from yakuba.core.settings import Settings  # noqa: E402
from yakuba.evals.datasets import load_dataset  # noqa: E402
from yakuba.evals.metrics import dedupe, percentile, ranking_metrics  # noqa: E402
from yakuba.evals.retrieval import run_retrieval_eval  # noqa: E402
from yakuba.retriever.embeddings import embeddings_from_settings  # noqa: E402


def naive_langchain(dataset_dir: Path, settings: Settings, k: int, limit: int | None) -> dict[str, float]:
    dataset = load_dataset(dataset_dir)
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    documents = [
        Document(page_content=d.text, metadata={"doc_id": d.id, "title": d.title}) for d in dataset.documents
    ]
    chunks = splitter.split_documents(documents)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        store = Chroma.from_documents(
            chunks, embeddings_from_settings(settings), persist_directory=folder, collection_name="naive"
        )
        build_s = time.perf_counter() - start
        questions = dataset.answerable_questions()[:limit] if limit else dataset.answerable_questions()
        scores: list[dict[str, float]] = []
        latencies: list[float] = []
        for question in questions:
            start = time.perf_counter()
            hits = store.similarity_search(question.question, k=k * 3)
            latencies.append((time.perf_counter() - start) * 1000)
            ranked = dedupe(h.metadata["doc_id"] for h in hits)[:k]
            scores.append(ranking_metrics(ranked, question.gold_doc_ids, k))
    result = {key: sum(s[key] for s in scores) / len(scores) for key in scores[0]}
    result.update(p50_ms=percentile(latencies, 50), p95_ms=percentile(latencies, 95), build_s=build_s)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    settings = Settings()

    rows: dict[str, dict[str, float]] = {"naive LangChain (dense, 1000/200)": naive_langchain(
        args.dataset, settings, args.k, args.limit)}
    for mode in ("dense", "bm25", "hybrid"):
        report = run_retrieval_eval(args.dataset, settings, mode=mode, k=args.k, limit=args.limit)
        rows[f"yakuba {mode}"] = {**report.metrics, "p50_ms": report.p50_ms, "p95_ms": report.p95_ms}

    base = rows["naive LangChain (dense, 1000/200)"][f"ndcg@{args.k}"]
    print(f"\ndataset: {args.dataset.name}  embedding model: {settings.embedding_model}")
    header = f"| system | nDCG@{args.k} | Recall@{args.k} | MRR@{args.k} | Hit@1 | p50 ms | p95 ms | nDCG vs naive |"
    print(header)
    print("|" + "---|" * 8)
    for name, row in rows.items():
        print(
            f"| {name} | {row[f'ndcg@{args.k}']:.3f} | {row[f'recall@{args.k}']:.3f} | {row[f'mrr@{args.k}']:.3f} "
            f"| {row['hit@1']:.3f} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} | "
            f"{row[f'ndcg@{args.k}'] / base:.2f}x |"
        )


if __name__ == "__main__":
    main()
