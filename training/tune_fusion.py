"""Tune hybrid fusion on the dev sets, with a 2-fold split so the printed gain is not self-fitted.

Dense and BM25 candidate lists are computed once per question from the cached eval indexes
(`yakuba eval retrieval` builds them), then every fusion setting is scored offline. The pick
maximises the worst-case gain of hybrid over the better single mode across datasets, so that one
setting works on encyclopedic QA and on council minutes alike. Each dev set is one document type
(kiryu-r4 議会会議録, jsquad-valid other text), so the per-dataset section, also 2-fold, is the
evidence for `fusion_dense_weight_by_doc_type`: the weight a document type's chunks get.

    .venv/bin/python -m yakuba.training.tune_fusion ../shared/datasets/jsquad-valid ../shared/datasets/kiryu-r4
"""

from __future__ import annotations

import argparse
import itertools
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from yakuba.core.settings import Settings
from yakuba.evals.datasets import load_dataset
from yakuba.evals.metrics import dedupe, ndcg_at_k
from yakuba.evals.retrieval import open_index
from yakuba.retriever.embeddings import embeddings_from_settings
from yakuba.retriever.search import FusionConfig, HybridSearcher

CANDIDATES = 50
K = 10
GRID = [
    FusionConfig(method=method, dense_weight=w, bm25_weight=1.0, rrf_k=rrf_k, candidates=CANDIDATES)
    for method, w, rrf_k in itertools.chain(
        itertools.product(["rrf"], [0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0], [5, 20, 60]),
        itertools.product(["minmax"], [0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0], [60]),
    )
]


def doc_of(chunk_id: str) -> str:
    return chunk_id.rsplit("::", 1)[0]


def candidate_lists(dataset_dir: Path, settings: Settings):  # type: ignore[no-untyped-def]
    dataset = load_dataset(dataset_dir)
    store, _ = open_index(settings, dataset)
    searcher = HybridSearcher(store, embeddings_from_settings(settings), FusionConfig(candidates=CANDIDATES))
    rows = []
    for question in dataset.answerable_questions():
        dense = searcher.search(question.question, k=CANDIDATES, mode="dense")
        bm25 = searcher.search(question.question, k=CANDIDATES, mode="bm25")
        rows.append(
            (
                question.gold_doc_ids,
                {
                    "dense": [(p.chunk_id, p.score) for p in dense.passages],
                    "bm25": [(p.chunk_id, p.score) for p in bm25.passages],
                },
            )
        )
    return dataset.name, rows


def score(rows, config: FusionConfig | str) -> float:  # type: ignore[no-untyped-def]
    total = 0.0
    for gold, rankings in rows:
        fused = rankings[config] if isinstance(config, str) else config.fuse(rankings)
        total += ndcg_at_k(dedupe(doc_of(c) for c, _ in fused), gold, K)
    return total / len(rows)


def label(config: FusionConfig) -> str:
    return f"{config.method} w_dense={config.dense_weight} k={config.rrf_k}"


def pick(per_dataset: dict[str, list]) -> FusionConfig:  # type: ignore[type-arg]
    def worst_gain(config: FusionConfig) -> float:
        return min(
            score(rows, config) - max(score(rows, "dense"), score(rows, "bm25")) for rows in per_dataset.values()
        )

    return max(GRID, key=worst_gain)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", type=Path, nargs="+")
    args = parser.parse_args()
    settings = Settings()
    data = dict(candidate_lists(path, settings) for path in args.datasets)

    print(f"embedding model: {settings.embedding_model}; nDCG@{K}")
    print("| setting | " + " | ".join(data) + " |")
    print("|---|" + "---|" * len(data))
    for name in ("dense", "bm25"):
        print(f"| {name} only | " + " | ".join(f"{score(rows, name):.4f}" for rows in data.values()) + " |")
    for config in GRID:
        print(f"| {label(config)} | " + " | ".join(f"{score(rows, config):.4f}" for rows in data.values()) + " |")

    # 2-fold check: tune on one half of every dataset's questions, report on the other half.
    print("\n2-fold: tuned on one half, scored on the other (hybrid − best single mode)")
    for fold in (0, 1):
        train = {n: rows[fold::2] for n, rows in data.items()}
        test = {n: rows[1 - fold :: 2] for n, rows in data.items()}
        chosen = pick(train)
        gains = {
            n: score(rows, chosen) - max(score(rows, "dense"), score(rows, "bm25")) for n, rows in test.items()
        }
        print(f"fold {fold}: {label(chosen)} -> " + ", ".join(f"{n} {g:+.4f}" for n, g in gains.items()))
    best = pick(data)
    print(f"\nchosen on all dev questions: {label(best)}")

    # Per document type: each dataset picks its own min-max dense weight (gain over BM25 alone).
    minmax = [c for c in GRID if c.method == "minmax"]
    print("\nper dataset (a weight per document type), min-max: gain over BM25 alone")
    for name, rows in data.items():
        def gain(config: FusionConfig, part: list) -> float:  # type: ignore[type-arg]
            return score(part, config) - score(part, "bm25")

        folds = []
        for fold in (0, 1):
            chosen = max(minmax, key=lambda c: gain(c, rows[fold::2]))
            folds.append(f"fold {fold}: w {chosen.dense_weight} -> {gain(chosen, rows[1 - fold :: 2]):+.4f}")
        chosen = max(minmax, key=lambda c: gain(c, rows))
        print(f"{name}: best w {chosen.dense_weight} ({gain(chosen, rows):+.4f}); " + "; ".join(folds))


if __name__ == "__main__":
    main()
