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


# -- issue #16: fusion that holds in every town ----------------------------------------------------
from yakuba.retriever.fusion import ChunkInfo, collapse_duplicates, prefer_towns  # noqa: E402
from yakuba.retriever.search import FusionConfig, content_chars  # noqa: E402

NANKOKU = ChunkInfo(doc_id="南国市/提案理由.pdf", municipality="南国市", chars=300)
KIRYU = ChunkInfo(doc_id="桐生市議会/2022-12-22.txt", municipality="桐生市", chars=300)
LAW = ChunkInfo(doc_id="モデル就業規則.pdf", chars=300)


def test_prefer_towns_moves_other_towns_behind() -> None:
    fused = [("k1", 0.9), ("law", 0.8), ("n1", 0.7), ("k2", 0.6), ("n2", 0.5)]
    info = {"k1": KIRYU, "k2": KIRYU, "n1": NANKOKU, "n2": NANKOKU, "law": LAW}
    assert [c for c, _ in prefer_towns(fused, info, ["南国市"])] == ["law", "n1", "n2", "k1", "k2"]
    # no town named, or a town none of the candidates belongs to: untouched
    assert prefer_towns(fused, info, []) == fused
    assert prefer_towns(fused, info, ["日野町"]) == fused
    # a chunk fusion knows nothing about keeps its place
    assert [c for c, _ in prefer_towns([("x", 1.0), *fused], info, ["桐生市"])][:3] == ["x", "k1", "law"]


def test_collapse_duplicates_keeps_the_best_copy() -> None:
    same = ChunkInfo(text_key="t-procedural", chars=7)
    info = {"a": same, "b": ChunkInfo(text_key="t-other"), "c": same, "d": same}
    hits, also_in = collapse_duplicates([("a", 3.0), ("b", 2.0), ("c", 1.0), ("d", 0.5), ("e", 0.1)], info)
    assert hits == [("a", 3.0), ("b", 2.0), ("e", 0.1)]
    assert also_in == {"a": ["c", "d"]}


def test_content_chars_ignores_the_speaker_label() -> None:
    assert content_chars("○議長（北川久人）\n市民生活部長。") == 7
    assert content_chars("◎市民生活部長（鈴木一郎）　お答えいたします。") == 9
    assert content_chars("本町は　防災無線を\n更新する。") == 13


def test_short_chunks_get_no_dense_credit_and_named_towns_win() -> None:
    rankings = {"dense": [("short", 0.95), ("k1", 0.9), ("n1", 0.5)], "bm25": [("n1", 9.0), ("k1", 3.0)]}
    info = {"short": ChunkInfo(chars=7, doc_id="x", doc_type="議会会議録"), "k1": KIRYU, "n1": NANKOKU}
    config = FusionConfig(method="rrf", dense_weight=1.0, rrf_k=60, short_chunk_chars=40, rank_cap=None)
    fused = dict(config.fuse(rankings, info))
    assert "short" not in fused  # its only credit was dense
    assert fused["k1"] == pytest.approx(1 / 62 + 1 / 62) and fused["n1"] == pytest.approx(1 / 63 + 1 / 61)
    unguarded = dict(FusionConfig(method="rrf", dense_weight=1.0, short_chunk_chars=0, rank_cap=None).fuse(rankings, info))
    assert unguarded["short"] == pytest.approx(1 / 61)
    # the question names 南国市: 桐生市's chunk goes behind although it fused higher
    minmax = FusionConfig(method="minmax", dense_weight=3.0)
    assert [c for c, _ in minmax.fuse(rankings, info)][:2] == ["k1", "n1"]
    named = minmax.fuse(rankings, info, query="南国市の補正予算の規模は？")
    assert [c for c, _ in named] == ["n1", "short", "k1"]  # short: score 0, but of no other town
    assert FusionConfig(method="minmax", dense_weight=3.0, prefer_named_town=False).fuse(
        rankings, info, query="南国市の補正予算の規模は？") == minmax.fuse(rankings, info)


def test_top_z_measures_how_far_the_best_stands_out() -> None:
    from yakuba.retriever.fusion import top_z

    assert top_z([("a", 10.0), ("b", 1.0), ("c", 1.0), ("d", 1.0)]) == pytest.approx((10 - 3.25) / math.sqrt(15.1875))
    assert top_z([("a", 1.0), ("b", 1.0), ("c", 1.0)]) == 0.0  # flat: no confidence
    assert top_z([("a", 5.0), ("b", 1.0)]) == 0.0  # too short to tell


def test_confident_interleave_alternates_the_lists_most_confident_first() -> None:
    from yakuba.retriever.fusion import confident_interleave

    peaked = [("p1", 10.0), ("p2", 1.0), ("p3", 1.0), ("p4", 1.0)]  # top_z ≈ 1.73
    flat = [("f1", 3.0), ("p2", 2.9), ("f3", 2.8), ("f4", 2.7)]  # top_z ≈ 1.34
    fused = confident_interleave({"dense": flat, "bm25": peaked})
    assert [c for c, _ in fused] == ["p1", "f1", "p2", "p3", "f3", "p4", "f4"]  # repeats skipped
    assert [s for _, s in fused] == [pytest.approx(1 / n) for n in range(1, 8)]
    # a head start for dense lets it lead; an id with weight 0 takes no part
    led = confident_interleave({"dense": flat, "bm25": peaked}, {"dense": 1.0}, id_weights={"dense": {"f1": 0.0}})
    assert [c for c, _ in led][:3] == ["p2", "p1", "f3"]
    assert confident_interleave({}) == [] and confident_interleave({"dense": []}) == []


def test_interleave_config_applies_the_short_chunk_rule_and_towns() -> None:
    rankings = {"dense": [("short", 0.95), ("k1", 0.9), ("n1", 0.5)], "bm25": [("n1", 9.0), ("k1", 3.0), ("x", 1.0)]}
    info = {"short": ChunkInfo(chars=7, doc_type="議会会議録"), "k1": KIRYU, "n1": NANKOKU}
    config = FusionConfig(method="interleave", interleave_dense_bias=5.0)
    assert [c for c, _ in config.fuse(rankings, info)] == ["k1", "n1", "x"]  # dense leads, without "short"
    assert [c for c, _ in config.fuse(rankings, info, query="南国市の予算")] == ["n1", "x", "k1"]
    muted = FusionConfig(method="interleave", dense_weight=0.0).fuse(rankings, info)
    assert [c for c, _ in muted] == ["n1", "k1", "x"]  # a list with weight 0 takes no part


def test_the_list_whose_top_covers_more_of_the_question_leads() -> None:
    from yakuba.retriever.fusion import confident_interleave

    dense = [("d1", 10.0), ("d2", 1.0), ("b1", 1.0), ("d4", 1.0)]  # peaked: dense leads on confidence
    bm25 = [("b1", 3.0), ("b2", 2.9), ("b3", 2.8)]
    lists = {"dense": dense, "bm25": bm25}
    covered = {"d1": 0.4, "b1": 0.9}
    assert [c for c, _ in confident_interleave(lists, coverage=covered, coverage_margin=0.1)][:2] == ["b1", "d1"]
    # within the margin, or unmeasured, or no margin set: confidence decides as before
    assert [c for c, _ in confident_interleave(lists, coverage=covered, coverage_margin=0.6)][:2] == ["d1", "b1"]
    assert [c for c, _ in confident_interleave(lists, coverage={"b1": 0.9}, coverage_margin=0.1)][:2] == ["d1", "b1"]
    assert [c for c, _ in confident_interleave(lists, coverage=covered)][:2] == ["d1", "b1"]
    # the same rule lets dense lead when *its* top holds the question's words
    flat_dense = [("d1", 1.0), ("d2", 1.0), ("d3", 1.0)]
    assert confident_interleave({"dense": flat_dense, "bm25": bm25})[0][0] == "b1"
    assert confident_interleave({"dense": flat_dense, "bm25": bm25}, coverage={"d1": 1.0, "b1": 0.5},
                                coverage_margin=0.1)[0][0] == "d1"  # fmt: skip


def test_a_question_naming_a_year_is_led_by_the_list_whose_top_document_names_it() -> None:
    from yakuba.core.wareki import years_named
    from yakuba.retriever.search import _info
    from yakuba.retriever.store import ChunkRow

    assert years_named("南国市が令和４年度に創設する補助制度") == {2022}
    assert years_named("平成元年、令和元年度、令和六年版、2019年") == {1989, 2019, 2024}
    assert years_named("第444回定例会の議案第１号") == frozenset()  # 回 and 号 are not years
    # a document's years: its title or file name, and its date's year
    rows = [
        ChunkRow(chunk_id="plan", text="自転車の購入補助を創設します。", metadata={"doc_id": "南国市/令和4年度_施政方針.pdf"}),
        ChunkRow(chunk_id="law", text="手話は言語である。", metadata={"doc_id": "南国市/手話言語条例.pdf", "title": "条例"}),
        ChunkRow(chunk_id="day", text="○議長", metadata={"doc_id": "議会会議録/2022-12-22_第3号.txt", "year": 2022}),
    ]
    info = _info(rows)
    assert (info["plan"].years, info["law"].years, info["day"].years) == ((2022,), (), (2022,))

    dense = [("law", 10.0), ("x1", 1.0), ("plan", 1.0), ("x2", 1.0)]  # peaked: dense leads on confidence
    bm25 = [("plan", 3.0), ("day", 2.9), ("x3", 2.8)]
    config = FusionConfig(method="interleave")
    asked = "南国市が令和４年度に創設する自転車の補助制度は？"
    assert [c for c, _ in config.fuse({"dense": dense, "bm25": bm25}, info, query=asked)][:2] == ["plan", "law"]
    # no year asked, the rule off, or every top naming the year (one year's minutes): confidence decides
    assert config.fuse({"dense": dense, "bm25": bm25}, info, query="自転車の補助制度は？")[0][0] == "law"
    off = config.model_copy(update={"prefer_named_year": False})
    assert off.fuse({"dense": dense, "bm25": bm25}, info, query=asked)[0][0] == "law"
    both = [("day", 10.0), ("x1", 1.0), ("x2", 1.0), ("x4", 1.0)]
    assert config.fuse({"dense": both, "bm25": bm25}, info, query=asked)[0][0] == "day"
    # a year no top names changes nothing either
    assert config.fuse({"dense": dense, "bm25": bm25}, info, query="令和元年度の補助制度は？")[0][0] == "law"


def test_coverage_is_the_idf_share_of_the_question_in_a_chunk() -> None:
    from yakuba.retriever.search import query_coverage

    class FakeBM25:
        class tokenizer:  # noqa: N801 - stands in for an attribute
            @staticmethod
            def tokenize(text: str) -> list[str]:
                return text.split()

        @staticmethod
        def idf(terms: list[str]) -> dict[str, float]:
            return {"自転車": 3.0, "補助": 1.0, "南国市": 0.0}

    class FakeStore:
        has_bm25 = True
        bm25 = FakeBM25()

    texts = {"a": "自転車 の 補助 を 創設", "b": "南国市 の 補助", "c": "自転車"}
    rankings = {"dense": [("b", 0.9), ("x", 0.8)], "bm25": [("a", 5.0), ("c", 4.0)]}
    got = query_coverage(FakeStore(), "南国市 自転車 補助", rankings, texts)  # type: ignore[arg-type]
    assert got == {"a": pytest.approx(1.0), "b": pytest.approx(0.25), "c": pytest.approx(0.75)}  # x: no text
    FakeStore.has_bm25 = False
    assert query_coverage(FakeStore(), "自転車", rankings, texts) == {}  # type: ignore[arg-type]


def test_cap_ranks_keeps_each_lists_best_hits_within_reach() -> None:
    from yakuba.retriever.fusion import cap_ranks

    dense = [(f"d{i}", 1.0 - i / 10) for i in range(1, 7)]
    bm25 = [(f"b{i}", 10.0 - i) for i in range(1, 4)]
    fused = weighted_score_fusion({"dense": dense, "bm25": bm25}, {"dense": 3.0, "bm25": 1.0})
    assert [c for c, _ in fused][:5] == ["d1", "d2", "d3", "d4", "b1"]  # dense outvotes BM25
    capped = [c for c, _ in cap_ranks(fused, {"dense": dense, "bm25": bm25}, 3)]
    # BM25's j-th hit by position 3j: b1 by 3, b2 by 6, b3 by 9; dense keeps the other places in order
    assert capped == ["d1", "d2", "b1", "d3", "d4", "b2", "d5", "d6", "b3"]
    assert [s for _, s in cap_ranks(fused, {"dense": dense, "bm25": bm25}, 3)][:3] == [1.0, 0.5, pytest.approx(1 / 3)]
    # two lists' hits due at one place: both still make it (earliest deadline first, with look-ahead)
    a, b = [("a1", 1.0), ("a2", 0.5)], [("b1", 1.0), ("b2", 0.5)]
    order = [c for c, _ in cap_ranks([("x", 9.0), ("y", 8.0), ("a1", 1.0), ("b1", 1.0)], {"a": a, "b": b}, 2)]
    assert set(order[:2]) == {"a1", "b1"} and set(order[2:4]) == {"a2", "b2"} and order[4:] == ["x", "y"]
    # an id both lists rank is due at its better place; a cap of 1 is the list order itself
    assert [c for c, _ in cap_ranks([("x", 1.0), ("a1", 0.5)], {"a": [("a1", 1.0)]}, 1)] == ["a1", "x"]
    with pytest.raises(ValueError, match="every"):
        cap_ranks(fused, {"dense": dense}, 0)


def test_score_fusion_uses_the_cap_and_the_year_rule() -> None:
    info = {
        "plan": ChunkInfo(doc_id="南国市/令和4年度_施政方針.pdf", years=(2022,), chars=300),
        "law": ChunkInfo(doc_id="南国市/手話言語条例.pdf", chars=300),
        **{f"m{i}": ChunkInfo(doc_id=f"桐生市議会/{i}.txt", doc_type="議会会議録", chars=300) for i in range(5)},
    }
    dense = [(f"m{i}", 0.9 - i / 100) for i in range(5)] + [("law", 0.5)]
    bm25 = [("law", 9.0), ("plan", 8.0), ("m0", 1.0)]
    config = FusionConfig(method="minmax", dense_weight=0.25, dense_weight_by_doc_type={"議会会議録": 3.0},
                          prefer_named_town=False, rank_cap=3)
    ranked = [c for c, _ in config.fuse({"dense": dense, "bm25": bm25}, info, query="手話言語条例の目的は？")]
    assert ranked.index("law") <= 2 and ranked.index("plan") <= 5  # the minutes' weight cannot bury BM25's tops
    uncapped = config.model_copy(update={"rank_cap": None})
    assert [c for c, _ in uncapped.fuse({"dense": dense, "bm25": bm25}, info, query="手話言語条例の目的は？")
            ].index("plan") > 5  # fmt: skip
    asked = "令和４年度に創設する補助制度は？"
    assert config.fuse({"dense": dense, "bm25": [("plan", 9.0), ("law", 8.0)]}, info, query=asked)[0][0] == "plan"
    off = config.model_copy(update={"prefer_named_year": False})
    assert off.fuse({"dense": dense, "bm25": [("plan", 9.0), ("law", 8.0)]}, info, query=asked)[0][0] == "m0"
