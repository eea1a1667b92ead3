"""Fusion of ranked lists, checked against hand-computed values."""

from __future__ import annotations

import math

import pytest

from yakuba.retriever.fusion import weighted_rrf, weighted_score_fusion

DENSE = [("x", 0.9), ("y", 0.8), ("z", 0.1)]
BM25 = [("y", 12.0), ("w", 3.0)]


def test_weighted_rrf_hand_computed() -> None:
    fused = weighted_rrf({"dense": DENSE, "bm25": BM25}, {"dense": 1.0, "bm25": 2.0}, k=60)
    expected = {
        "x": 1 / 61,  # dense rank 1                 = 0.016393
        "y": 1 / 62 + 2 / 61,  # dense rank 2, bm25 rank 1 = 0.016129 + 0.032787 = 0.048916
        "z": 1 / 63,  # dense rank 3                 = 0.015873
        "w": 2 / 62,  # bm25 rank 2                  = 0.032258
    }
    assert [doc for doc, _ in fused] == ["y", "w", "x", "z"]
    for doc, score in fused:
        assert score == pytest.approx(expected[doc])


def test_weighted_rrf_small_k_and_defaults() -> None:
    # k=0: plain reciprocal rank; a list missing from weights weighs 1
    fused = dict(weighted_rrf({"a": [("p", 1), ("q", 1)], "b": [("q", 5)]}, {}, k=0))
    assert fused == {"q": pytest.approx(1 / 2 + 1 / 1), "p": pytest.approx(1.0)}


def test_weighted_rrf_zero_weight_duplicates_ties() -> None:
    # zero weight: the list is ignored entirely (its ids do not appear)
    assert weighted_rrf({"a": DENSE, "b": BM25}, {"b": 0.0}) == weighted_rrf({"a": DENSE}, {})
    # an id repeated in one list counts once, at its best rank
    fused = dict(weighted_rrf({"a": [("p", 3), ("p", 2), ("q", 1)]}, {}, k=0))
    assert fused == {"p": 1.0, "q": pytest.approx(1 / 3)}
    # equal scores: first appearance wins (lists in order given)
    tie = weighted_rrf({"a": [("m", 1)], "b": [("n", 1)]}, {})
    assert [doc for doc, _ in tie] == ["m", "n"]


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError):
        weighted_rrf({"a": DENSE}, {"a": -1})
    with pytest.raises(ValueError):
        weighted_rrf({"a": DENSE}, {}, k=-1)
    with pytest.raises(ValueError):
        weighted_score_fusion({"a": DENSE}, {}, normalization="rank")  # type: ignore[arg-type]
    assert weighted_rrf({}, {}) == [] and weighted_score_fusion({"a": []}, {}) == []


def test_score_fusion_minmax_hand_computed() -> None:
    # dense min-max: x (0.9-0.1)/0.8 = 1, y 0.7/0.8 = 0.875, z 0
    # bm25 min-max:  y 1, w 0;  missing = the list's minimum (0)
    fused = weighted_score_fusion({"dense": DENSE, "bm25": BM25}, {"dense": 1.0, "bm25": 0.5})
    expected = {"x": 1.0, "y": 0.875 + 0.5 * 1.0, "z": 0.0, "w": 0.0}
    assert [doc for doc, _ in fused] == ["y", "x", "z", "w"]  # z before w: first appearance
    for doc, score in fused:
        assert score == pytest.approx(expected[doc])


def test_score_fusion_zscore_hand_computed() -> None:
    # dense: mean 0.6, population std sqrt(((0.3)^2 + (0.2)^2 + (0.5)^2) / 3) = sqrt(0.38 / 3) = 0.355903
    #   z: x 0.3/0.355903 = 0.842927, y 0.561951, z -1.404879
    # bm25: mean 7.5, std 4.5 → y +1, w -1
    # missing ids take the list's minimum z: x, z get -1 from bm25; w gets -1.404879 from dense
    std = math.sqrt(0.38 / 3)
    zx, zy, zz = 0.3 / std, 0.2 / std, -0.5 / std
    fused = dict(weighted_score_fusion({"dense": DENSE, "bm25": BM25}, {}, normalization="zscore"))
    assert fused["y"] == pytest.approx(zy + 1)  # 1.561951
    assert fused["x"] == pytest.approx(zx - 1)  # -0.157073
    assert fused["z"] == pytest.approx(zz - 1)  # -2.404879
    assert fused["w"] == pytest.approx(zz - 1)  # -1 + -1.404879


def test_score_fusion_constant_list() -> None:
    # all equal scores: min-max gives 1 to each (no information, no division by zero)
    fused = dict(weighted_score_fusion({"a": [("p", 2.0), ("q", 2.0)]}, {}))
    assert fused == {"p": 1.0, "q": 1.0}
    fused_z = dict(weighted_score_fusion({"a": [("p", 2.0), ("q", 2.0)]}, {}, normalization="zscore"))
    assert fused_z == {"p": 0.0, "q": 0.0}


def test_id_weights_override_a_lists_weight_per_id() -> None:
    # min-max: dense x=1.0, y=0.875, z=0; bm25 y=1.0, w=0. Dense weight 0.5, but 2.0 for "z" and "x".
    fused = dict(weighted_score_fusion({"dense": DENSE, "bm25": BM25}, {"dense": 0.5, "bm25": 1.0},
                                       id_weights={"dense": {"x": 2.0, "z": 2.0}}))
    assert fused == {
        "x": pytest.approx(2.0 * 1.0),  # overridden: 2.0 instead of 0.5
        "y": pytest.approx(0.5 * 0.875 + 1.0),  # list weight
        "z": pytest.approx(0.0),  # overridden, but its normalised score is 0
        "w": pytest.approx(0.0),
    }
    rrf = dict(weighted_rrf({"dense": DENSE, "bm25": BM25}, {"dense": 0.0}, k=60, id_weights={"dense": {"x": 3.0}}))
    # a zero-weight list still counts for the ids it overrides
    assert rrf["x"] == pytest.approx(3 / 61) and rrf["y"] == pytest.approx(1 / 61)
    assert "z" not in dict(weighted_rrf({"dense": DENSE}, {"dense": 0.0}, id_weights={"dense": {"x": 1.0}}))
    with pytest.raises(ValueError, match="0以上"):
        weighted_score_fusion({"dense": DENSE}, {}, id_weights={"dense": {"x": -1.0}})


def test_fusion_defaults_are_the_settings_defaults(settings) -> None:
    """A searcher built without settings fuses exactly like the configured one (one set of defaults)."""
    from yakuba.retriever.search import FusionConfig

    assert FusionConfig() == FusionConfig.from_settings(settings)
