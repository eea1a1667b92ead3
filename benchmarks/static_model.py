"""Static model (`yakuba-static-ja`) vs the default e5 model: encoding speed and retrieval quality.

Speed: passages/s for ~500-character Japanese chunks (made from the dataset's own text), both models
loaded in this process through `SentenceTransformerEmbeddings` (what ingest uses, prompts included).
Quality: dense and hybrid nDCG@10 on the dataset through `run_retrieval_eval`. The e5 index is read
from `--e5-home` (built once, ~10 min on 2 cores); static models are indexed under `--static-home`,
keyed by model path, so retrain into a *new* folder or delete that cache.

    .venv/bin/python benchmarks/static_model.py [--dataset ../shared/datasets/kiryu-r4] \
        [--model yakuba-static-ja] [--model /tmp/other-static-model] [--skip-e5-eval]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from yakuba.core.settings import Settings  # noqa: E402
from yakuba.evals.retrieval import run_retrieval_eval  # noqa: E402
from yakuba.retriever.embeddings import SentenceTransformerEmbeddings  # noqa: E402

E5 = str(Settings.model_fields["embedding_model"].default)  # the reference: the default e5 model


def japanese_chunks(dataset: Path, count: int, size: int = 500) -> list[str]:
    """~`size`-character chunks cut from the concatenated corpus text."""
    texts: list[str] = []
    with (dataset / "corpus.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                texts.append(json.loads(line)["text"])
    text = "".join(texts)
    return [text[i : i + size] for i in range(0, min(len(text), count * size), size)][:count]


def passages_per_second(model: str, chunks: list[str], *, min_seconds: float = 3.0) -> float:
    """Throughput of `embed_documents` (batch 32), after a warm-up call; repeats to last `min_seconds`."""
    embeddings = SentenceTransformerEmbeddings(model)
    embeddings.embed_documents(chunks[:32])
    done = 0
    start = time.perf_counter()
    while True:
        embeddings.embed_documents(chunks)
        done += len(chunks)
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return done / elapsed


def evaluate(dataset: Path, model: str, home: Path) -> dict[str, float]:
    """Dense and hybrid nDCG@10 (and recall@10) of one model."""
    out: dict[str, float] = {}
    for mode in ("dense", "hybrid"):
        report = run_retrieval_eval(dataset, Settings(home=home, embedding_model=model), mode=mode)
        out[f"{mode}_ndcg@10"] = round(report.metrics["ndcg@10"], 4)
        out[f"{mode}_recall@10"] = round(report.metrics.get("recall@10", float("nan")), 4)
        if report.index_build_s is not None:
            out["index_build_s"] = round(report.index_build_s, 1)
    return out


def main() -> None:
    """Run the benchmark and print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=Path("/work/shared/datasets/kiryu-r4"))
    parser.add_argument("--model", action="append", help="static model alias or folder (repeatable)")
    parser.add_argument("--e5-home", type=Path, default=Path("/tmp/yk"))
    parser.add_argument("--static-home", type=Path, default=Path("/tmp/yakuba-static-eval"))
    parser.add_argument("--e5-chunks", type=int, default=96)
    parser.add_argument("--static-chunks", type=int, default=2000)
    parser.add_argument("--skip-e5-eval", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-eval", action="store_true", help="speed only")
    args = parser.parse_args()
    models = args.model or ["yakuba-static-ja"]
    chunks = japanese_chunks(args.dataset, max(args.e5_chunks, args.static_chunks))
    result: dict[str, dict[str, float]] = {}
    if not args.skip_speed:
        e5_rate = passages_per_second(E5, chunks[: args.e5_chunks])
        result[E5] = {"passages_per_s": round(e5_rate, 1)}
        for model in models:
            rate = passages_per_second(model, chunks[: args.static_chunks])
            result[model] = {"passages_per_s": round(rate, 1), "speedup_vs_e5": round(rate / e5_rate, 1)}
    if args.skip_eval:
        models = []
    elif not args.skip_e5_eval:
        result.setdefault(E5, {}).update(evaluate(args.dataset, E5, args.e5_home))
    for model in models:
        result.setdefault(model, {}).update(evaluate(args.dataset, model, args.static_home))
        e5 = result.get(E5, {})
        if "hybrid_ndcg@10" in e5:
            ratio = result[model]["hybrid_ndcg@10"] / e5["hybrid_ndcg@10"]
            result[model]["hybrid_ratio_vs_e5"] = round(ratio, 3)
    print(json.dumps({"dataset": args.dataset.name, "results": result}, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
