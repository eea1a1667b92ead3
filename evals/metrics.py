"""Document-level ranking metrics.

Retrieval returns chunks, but a question is answered by *documents* (`gold_doc_ids`), so every metric
first maps the ranked chunks to their doc ids and keeps only the first occurrence of each document,
in order: five chunks of one gold document count once, and do not push other documents out of the
top k in the metric's eyes any more than they do in the answer's context.

Relevance is binary (a document is gold or not). All functions take the ranked doc ids of the
retrieved chunks (duplicates allowed) and the gold doc ids, and raise ValueError for an empty gold
set: unanswerable questions have no ranking quality and must be scored separately by the caller.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def dedupe(ranked_doc_ids: Iterable[str]) -> list[str]:
    """First occurrence of each doc id, order kept."""
    return list(dict.fromkeys(ranked_doc_ids))


def _prepare(ranked_doc_ids: Iterable[str], gold_doc_ids: Iterable[str], k: int) -> tuple[list[str], set[str]]:
    if k <= 0:
        raise ValueError(f"k must be >= 1, got {k}")
    gold = set(gold_doc_ids)
    if not gold:
        raise ValueError("正解文書がありません（回答不能の質問は別に集計してください） / gold_doc_ids is empty")
    return dedupe(ranked_doc_ids)[:k], gold


def ndcg_at_k(ranked_doc_ids: Iterable[str], gold_doc_ids: Iterable[str], k: int = 10) -> float:
    """nDCG@k with binary gains: DCG = Σ rel_i / log2(i + 1) (i from 1), ideal over min(k, |gold|) hits."""
    top, gold = _prepare(ranked_doc_ids, gold_doc_ids, k)
    dcg = sum(1.0 / math.log2(i + 2) for i, doc_id in enumerate(top) if doc_id in gold)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, len(gold))))
    return dcg / ideal


def recall_at_k(ranked_doc_ids: Iterable[str], gold_doc_ids: Iterable[str], k: int = 10) -> float:
    """Share of gold documents found in the top k documents."""
    top, gold = _prepare(ranked_doc_ids, gold_doc_ids, k)
    return len(gold.intersection(top)) / len(gold)


def mrr_at_k(ranked_doc_ids: Iterable[str], gold_doc_ids: Iterable[str], k: int = 10) -> float:
    """1 / rank of the first gold document within the top k; 0 when none is there."""
    top, gold = _prepare(ranked_doc_ids, gold_doc_ids, k)
    for rank, doc_id in enumerate(top, start=1):
        if doc_id in gold:
            return 1.0 / rank
    return 0.0


def hit_at_1(ranked_doc_ids: Iterable[str], gold_doc_ids: Iterable[str]) -> float:
    """1.0 when the first document is gold, else 0.0."""
    top, gold = _prepare(ranked_doc_ids, gold_doc_ids, 1)
    return 1.0 if top and top[0] in gold else 0.0


def ranking_metrics(
    ranked_doc_ids: Iterable[str], gold_doc_ids: Iterable[str], k: int = 10
) -> dict[str, float]:
    """All of the above for one question, keyed as reports print them."""
    ranked = list(ranked_doc_ids)
    gold = list(gold_doc_ids)
    return {
        f"ndcg@{k}": ndcg_at_k(ranked, gold, k),
        f"recall@{k}": recall_at_k(ranked, gold, k),
        f"mrr@{k}": mrr_at_k(ranked, gold, k),
        "hit@1": hit_at_1(ranked, gold),
    }


def percentile(values: Sequence[float] | Iterable[float], p: float) -> float:
    """p-th percentile (0–100) with linear interpolation between closest ranks (numpy's default).

    Position = (n - 1) · p / 100 in the sorted values; e.g. p50 of [1, 2, 3, 4] = 2.5.
    """
    data = sorted(float(v) for v in values)
    if not data:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100:
        raise ValueError(f"p must be within 0..100, got {p}")
    position = (len(data) - 1) * p / 100
    low = math.floor(position)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (position - low)
