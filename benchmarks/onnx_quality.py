"""Retrieval quality of embedding models side by side: nDCG@10 dense / BM25 / hybrid per dataset, one run.

The question of issue #16: does the int8 ONNX export of the default model keep nDCG@10 within 0.005
of the full-precision model on both dev sets? The fp32 ONNX export gives the PyTorch model's vectors
(cos >= 0.9999 to torch, checked at export, and the same model identity), so fp32 vs int8 here is
PyTorch vs int8. Every model's eval index is built (or taken from YAKUBA_HOME/eval-cache) by the same
ingest as `yakuba eval retrieval`, and every score in the table comes from the same code
(`training.tune_fusion`: top-50 chunk lists per question, document-level nDCG@10, the default
fusion) in this one process; also printed: the cosine between the models' passage vectors on real
chunks of the first dataset.

    nice -n 19 .venv/bin/python benchmarks/onnx_quality.py ../shared/datasets/jsquad-valid \\
        ../shared/datasets/kiryu-r4 --cache /tmp/fusion-lists
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from yakuba.core.settings import Settings  # noqa: E402
from yakuba.evals.datasets import load_dataset  # noqa: E402
from yakuba.retriever.embeddings import embeddings_from_settings  # noqa: E402
from yakuba.retriever.search import FusionConfig  # noqa: E402
from yakuba.training.tune_fusion import candidate_lists, score  # noqa: E402

MODELS = ("multilingual-e5-small-council-onnx-fp32", "multilingual-e5-small-council-onnx-int8")
BAR = 0.005


def passage_cosines(dataset: Path, models: list[str], n: int) -> list[float]:
    """Cosine of each model's passage vectors to the first model's, on the first `n` corpus texts."""
    import numpy as np

    texts = [doc.text[:1500] for doc in load_dataset(dataset).documents][:n]
    vectors = [
        np.asarray(embeddings_from_settings(Settings(embedding_model=m), cache=False).embed_documents(texts))
        for m in models
    ]
    return [float((vectors[0] * other).sum(axis=1).min()) for other in vectors[1:]]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("datasets", type=Path, nargs="+")
    parser.add_argument("--models", nargs="+", default=list(MODELS), help="first = the reference")
    parser.add_argument("--cache", type=Path, default=None, help="folder for the candidate lists (JSON)")
    parser.add_argument("--cosine-texts", type=int, default=64, help="0 skips the vector comparison")
    args = parser.parse_args()
    fusion = FusionConfig()
    scores: dict[tuple[str, str], dict[str, float]] = {}
    for model in args.models:
        settings = Settings(embedding_model=model)
        for path in args.datasets:
            name, rows = candidate_lists(path, settings, args.cache)
            scores[(model, name)] = {m: score(rows, m) for m in ("dense", "bm25")} | {
                "hybrid": score(rows, fusion)
            }
            print(f"{model} {name}: " + " ".join(f"{m} {v:.4f}" for m, v in scores[(model, name)].items()),
                  flush=True)  # fmt: skip
    names = list(dict.fromkeys(name for _, name in scores))
    print(f"\nnDCG@10 (document level), default fusion; Δ = model − {args.models[0]}")
    print("| model | " + " | ".join(f"{n} dense / BM25 / hybrid" for n in names) + " |")
    print("|---|" + "---|" * len(names))
    for model in args.models:
        cells = []
        for name in names:
            row, ref = scores[(model, name)], scores[(args.models[0], name)]
            delta = "" if model == args.models[0] else (
                f" (Δ {row['dense'] - ref['dense']:+.4f} / {row['hybrid'] - ref['hybrid']:+.4f})")  # fmt: skip
            cells.append(f"{row['dense']:.4f} / {row['bm25']:.4f} / {row['hybrid']:.4f}{delta}")
        print(f"| {model} | " + " | ".join(cells) + " |")
    for model in args.models[1:]:
        worst = min(min(scores[(model, n)][m] - scores[(args.models[0], n)][m] for m in ("dense", "hybrid"))
                    for n in names)  # fmt: skip
        verdict = "within" if worst >= -BAR else "NOT within"
        print(f"{model}: worst Δ {worst:+.4f} → {verdict} {BAR} of {args.models[0]} on every set")
    if args.cosine_texts and len(args.models) > 1:
        cosines = passage_cosines(args.datasets[0], args.models, args.cosine_texts)
        for model, cos in zip(args.models[1:], cosines, strict=True):
            print(
                f"min cosine to {args.models[0]} on {args.cosine_texts} passages of {names[0]}: {model} {cos:.4f}"
            )


if __name__ == "__main__":
    main()
