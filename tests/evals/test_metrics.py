"""Document-level ranking metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from yakuba.evals.metrics import (
    dedupe,
    hit_at_1,
    mrr_at_k,
    ndcg_at_k,
    percentile,
    ranking_metrics,
    recall_at_k,
)

# doc ids of retrieved chunks, best first: a appears twice, so documents are a, b, c, d, e
CHUNKS = ["a", "b", "a", "c", "d", "e"]


def test_dedupe_keeps_first_occurrence_order() -> None:
    assert dedupe(CHUNKS) == ["a", "b", "c", "d", "e"]
    assert dedupe([]) == []


def test_ndcg_hand_computed() -> None:
    # gold {b, d}: hits at document ranks 2 and 4
    # DCG  = 1/log2(3) + 1/log2(5) = 0.630930 + 0.430677 = 1.061606
    # IDCG = 1/log2(2) + 1/log2(3) = 1 + 0.630930 = 1.630930
    # nDCG = 0.650920
    assert ndcg_at_k(CHUNKS, ["b", "d"], 10) == pytest.approx(1.061606 / 1.630930, abs=1e-6)
    # k=3 keeps documents a, b, c: DCG = 0.630930; IDCG over min(3, 2) = 2 hits = 1.630930
    assert ndcg_at_k(CHUNKS, ["b", "d"], 3) == pytest.approx(0.630930 / 1.630930, abs=1e-6)
    # k=1 < |gold|: IDCG over 1 hit = 1; first doc is a (not gold) → 0
    assert ndcg_at_k(CHUNKS, ["b", "d"], 1) == 0.0
    assert ndcg_at_k(CHUNKS, ["a"], 1) == 1.0
    assert ndcg_at_k(["x", "a"], ["a"], 10) == pytest.approx(1 / math.log2(3))


def test_duplicate_chunks_do_not_count_twice() -> None:
    # without dedupe the second 'a' would add 1/log2(4) and exceed the ideal
    assert ndcg_at_k(["a", "a", "a"], ["a"], 3) == 1.0
    # duplicates do not take a rank: c is the 3rd document, not the 4th chunk
    assert mrr_at_k(CHUNKS, ["c"], 3) == pytest.approx(1 / 3)


def test_recall_hand_computed() -> None:
    # gold {b, d, z}: b and d within the top 10 documents → 2/3
    assert recall_at_k(CHUNKS, ["b", "d", "z"], 10) == pytest.approx(2 / 3)
    # top 3 documents a, b, c: only b → 1/3
    assert recall_at_k(CHUNKS, ["b", "d", "z"], 3) == pytest.approx(1 / 3)
    assert recall_at_k(CHUNKS, {"a"}, 1) == 1.0


def test_mrr_and_hit_at_1() -> None:
    assert mrr_at_k(CHUNKS, ["d"], 10) == pytest.approx(1 / 4)  # 4th document
    assert mrr_at_k(CHUNKS, ["d"], 3) == 0.0  # not within k
    assert mrr_at_k(CHUNKS, ["e", "b"], 10) == pytest.approx(1 / 2)  # first gold found counts
    assert hit_at_1(CHUNKS, ["a"]) == 1.0
    assert hit_at_1(CHUNKS, ["b"]) == 0.0
    assert hit_at_1([], ["b"]) == 0.0


def test_ranking_metrics_bundle() -> None:
    row = ranking_metrics(CHUNKS, ["b", "d"], k=10)
    assert row == {
        "ndcg@10": pytest.approx(0.650920, abs=1e-6),
        "recall@10": 1.0,
        "mrr@10": 0.5,
        "hit@1": 0.0,
    }


def test_empty_gold_or_bad_k_raise() -> None:
    with pytest.raises(ValueError, match="gold"):
        ndcg_at_k(CHUNKS, [], 10)
    with pytest.raises(ValueError):
        recall_at_k(CHUNKS, ["a"], 0)


def test_percentile_hand_computed() -> None:
    # sorted [1, 2, 3, 4]: position (n-1)·p/100
    assert percentile([4, 1, 3, 2], 50) == 2.5  # position 1.5 → 2 + 0.5·(3-2)
    assert percentile([4, 1, 3, 2], 0) == 1.0
    assert percentile([4, 1, 3, 2], 100) == 4.0
    assert percentile([10, 20, 30, 40, 50], 95) == pytest.approx(48.0)  # position 3.8 → 40 + 0.8·10
    assert percentile([7], 99) == 7.0
    values = [0.3, 12.0, 5.5, 7.25, 1.0, 3.3]
    for p in (5, 25, 50, 90, 99):
        assert percentile(values, p) == pytest.approx(float(np.percentile(values, p)))
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1], 101)
