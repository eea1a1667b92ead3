"""Calibrate the abstention threshold (assistant.relevance) on questions with and without their sources.

For every answerable question of a dataset, retrieval runs twice over the same isolated index:
as is (the assistant should answer) and with the question's gold documents taken out of the results
(as if they had never been ingested: the assistant should abstain). The relevance signal is the
lexical coverage of the question's content words by the best retrieved passage, plus the rule that
every place name in the question appears in a retrieved passage. The script prints
accuracy per threshold for each dataset and a cross-dataset check (threshold chosen on one set,
measured on the other), so the default is not tuned to one set alone. `--head` adds the grid of the
two council-question refinements (topic outside brackets, member's speech; see assistant.relevance)
at the default coverage threshold; "eval" is the accuracy `yakuba eval answers` would report with its
default 20 % of questions made unanswerable. The thresholds were chosen on a 令和3年 set that no
model was trained on (training/council_question_set.py r3 /tmp/kiryu-r3). Usage:

    .venv/bin/python benchmarks/calibrate_abstention.py /tmp/kiryu-r3 ../shared/datasets/kiryu-r4 \
        ../shared/datasets/jsquad-valid [--head] [--limit N]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from yakuba.assistant.relevance import DEFAULT_MIN_COVERAGE, Relevance, assess  # noqa: E402
from yakuba.core.settings import Settings  # noqa: E402
from yakuba.evals.datasets import load_dataset  # noqa: E402
from yakuba.evals.retrieval import open_index  # noqa: E402
from yakuba.retriever.embeddings import embeddings_from_settings  # noqa: E402
from yakuba.retriever.search import FusionConfig, HybridSearcher  # noqa: E402

THRESHOLDS = [round(0.05 * i, 2) for i in range(1, 20)]
HEAD_THRESHOLDS = [0.6, 0.7, 0.8, 0.9, 1.0, 1.01]  # 1.01: the topic rule off
EVAL_UNANSWERABLE_SHARE = 0.2


def signals(dataset_dir: Path, settings: Settings, k: int, depth: int, limit: int | None) -> list[tuple[Relevance, Relevance]]:
    """(relevance with gold documents, relevance without them) per answerable question."""
    dataset = load_dataset(dataset_dir)
    store, _ = open_index(settings, dataset)
    searcher = HybridSearcher(store, embeddings_from_settings(settings), FusionConfig.from_settings(settings))
    pairs = []
    questions = dataset.answerable_questions()[: limit or None]
    for question in questions:
        passages = searcher.search(question.question, k=depth).passages
        gold = set(question.gold_doc_ids)
        with_gold = assess(question.question, passages[:k], searcher.idf, searcher.documents_mentioning)
        without = [p for p in passages if p.doc_id not in gold][:k]
        pairs.append((with_gold, assess(question.question, without, searcher.idf, searcher.documents_mentioning)))
    return pairs


def accuracy(
    pairs: list[tuple[Relevance, Relevance]], threshold: float, head: float = 1.01, member: bool = False
) -> tuple[float, float, float]:
    """(answer rate with sources, abstain rate without, balanced accuracy) under one rule."""
    answered = sum(1 for a, _ in pairs if a.abstain_reason(threshold, head, member) is None) / len(pairs)
    abstained = sum(1 for _, b in pairs if b.abstain_reason(threshold, head, member) is not None) / len(pairs)
    return answered, abstained, (answered + abstained) / 2


def eval_accuracy(answered: float, abstained: float) -> float:
    return (1 - EVAL_UNANSWERABLE_SHARE) * answered + EVAL_UNANSWERABLE_SHARE * abstained


def head_grid(results: dict[str, list[tuple[Relevance, Relevance]]], threshold: float) -> None:
    print(f"\ncouncil-question refinements at t={threshold:.2f} (answer / abstain / balanced / eval):")
    for member in (False, True):
        for head in HEAD_THRESHOLDS:
            label = f"topic {'off ' if head > 1 else f'{head:.2f}'} member {'on ' if member else 'off'}"
            cells = []
            for name, pairs in results.items():
                answered, abstained, balanced = accuracy(pairs, threshold, head, member)
                cells.append(f"{name} {answered:.3f}/{abstained:.3f}/{balanced:.3f}/{eval_accuracy(answered, abstained):.3f}")
            print(f"  {label}  " + "  ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("datasets", nargs="+", type=Path)
    parser.add_argument("--k", type=int, default=5, help="passages the assistant looks at")
    parser.add_argument("--depth", type=int, default=60, help="retrieval depth before removing gold documents")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--head", action="store_true", help="also print the council-question refinements' grid")
    args = parser.parse_args()
    settings = Settings()
    results = {path.name: signals(path, settings, args.k, args.depth, args.limit) for path in args.datasets}
    best: dict[str, float] = {}
    for name, pairs in results.items():
        print(f"\n{name}: {len(pairs)} questions (answer rate / abstain rate / balanced accuracy)")
        rows = [(t, *accuracy(pairs, t)) for t in THRESHOLDS]
        for t, answered, abstained, balanced in rows:
            print(f"  t={t:.2f}  answer {answered:.3f}  abstain {abstained:.3f}  balanced {balanced:.3f}")
        best[name] = max(rows, key=lambda r: r[3])[0]
        print(f"  best threshold on {name}: {best[name]:.2f}")
    if len(results) > 1:
        print("\ncross-check (threshold chosen on one set, measured on the others):")
        for chosen_on, threshold in best.items():
            for name, pairs in results.items():
                if name != chosen_on:
                    print(f"  t={threshold:.2f} from {chosen_on} → {name}: balanced {accuracy(pairs, threshold)[2]:.3f}")
        pooled = [pair for pairs in results.values() for pair in pairs]
        by_mean = max(THRESHOLDS, key=lambda t: sum(accuracy(p, t)[2] for p in results.values()))
        print(f"\nthreshold maximising the mean balanced accuracy over sets: {by_mean:.2f}; pooled balanced "
              f"accuracy {accuracy(pooled, by_mean)[2]:.3f}")
    if args.head:
        head_grid(results, DEFAULT_MIN_COVERAGE)


if __name__ == "__main__":
    main()
