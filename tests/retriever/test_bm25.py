"""BM25Index: incremental updates, persistence, crash safety, filters, ranking."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import bm25s
import numpy as np
import pytest

from yakuba.core.settings import Settings
from yakuba.retriever.bm25 import BM25Index, bm25_matrix
from yakuba.retriever.filters import SearchFilters, matches
from yakuba.retriever.tokenize import JapaneseTokenizer

ROOT = Path(__file__).resolve().parents[2]

# Real passages: 桐生市議会 会議録 (kiryu-r4) and JSQuAD Wikipedia paragraphs (jsquad-valid).
PASSAGES = {
    "solar::0": (
        "太陽光発電所の設置に伴い、近隣家屋の壁の内部やトイレ部分に冷気による異常な損傷が見られるとの"
        "相談が市民から寄せられております。市として被害の実態を調査すべきではないでしょうか。",
        {"doc_id": "solar", "doc_type": "議会会議録", "speaker": "飯島英規", "role": "議員", "date": "2022-03-01"},
    ),
    "fire::0": (
        "菱町地内で発生した林野火災では、消防本部と消防団が延べ三日間にわたり消火活動を行いました。"
        "今後は山林火災に備えた資機材の整備と広域応援体制の強化に取り組んでまいります。",
        {"doc_id": "fire", "doc_type": "議会会議録", "speaker": "消防長", "role": "消防長", "date": "2022-03-02"},
    ),
    "vaccine::0": (
        "５歳から11歳までの子どもへの新型コロナワクチン接種について、保護者の判断を尊重し、"
        "副反応に関する情報提供を丁寧に行ってまいります。",
        {"doc_id": "vaccine", "doc_type": "議会会議録", "speaker": "北川　久人", "role": "議長", "date": "2022-06-10"},
    ),
    "tsuyu::0": (
        "梅雨（つゆ、ばいう）は、北海道と小笠原諸島を除く日本、朝鮮半島南部、中国の南部から長江流域に"
        "かけての沿海部、および台湾など、東アジアの広範囲においてみられる特有の気象現象である。",
        {"doc_id": "tsuyu", "doc_type": "その他"},
    ),
    "plan::0": (
        "第六次総合計画では、デジタル技術を活用した行政サービスの向上と、子育て世代が住み続けたいと"
        "思えるまちづくりを基本目標に掲げています。",
        {"doc_id": "plan", "doc_type": "総合計画", "date": "2021-04-01"},
    ),
}


def fill(index: BM25Index) -> None:
    ids = list(PASSAGES)
    index.add(ids, [PASSAGES[i][0] for i in ids], [PASSAGES[i][1] for i in ids])


@pytest.fixture
def index(tmp_path: Path) -> BM25Index:
    with BM25Index(tmp_path / "bm25") as idx:
        fill(idx)
        yield idx


def top(index: BM25Index, query: str, k: int = 5, filters: SearchFilters | None = None) -> list[str]:
    return [chunk_id for chunk_id, _ in index.search(query, k, filters)]


def test_ranking_sanity_on_real_text(index: BM25Index) -> None:
    assert top(index, "太陽光発電所による近隣家屋への被害について、議会でどのような質問と答弁がありましたか。")[0] == (
        "solar::0"
    )
    assert top(index, "林野火災の消防活動")[0] == "fire::0"
    assert top(index, "子どものワクチン接種の副反応")[0] == "vaccine::0"
    assert top(index, "梅雨がみられない地域はどこか")[0] == "tsuyu::0"
    assert top(index, "総合計画の基本目標を教えてください")[0] == "plan::0"
    hits = index.search("消防", 10)
    assert [h[0] for h in hits] == ["fire::0"]  # only chunks with a positive score
    assert all(score > 0 for _, score in hits)


def test_scores_sorted_and_k_respected(index: BM25Index) -> None:
    hits = index.search("市民 子ども 計画 火災 梅雨", 3)
    assert len(hits) == 3
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert index.search("市民", 0) == []


def test_no_terms_or_unknown_terms(index: BM25Index) -> None:
    assert index.search("", 5) == []
    assert index.search("。、？", 5) == []
    assert index.search("ポケモン", 5) == []


def test_len_ids_doc_ids_speakers_tokens(index: BM25Index) -> None:
    assert len(index) == 5
    assert index.ids() == sorted(PASSAGES)
    assert index.doc_ids() == sorted(m["doc_id"] for _, m in PASSAGES.values())
    assert index.speakers() == sorted(["飯島英規", "消防長", "北川　久人"])
    assert "林野" in (index.tokens("fire::0") or [])
    assert index.tokens("nope") is None


def test_upsert_replaces_text_and_metadata(index: BM25Index) -> None:
    index.search("梅雨", 5)  # build, so the next search must notice the change
    index.add(["tsuyu::0"], ["秋雨前線は九月から十月にかけて停滞する。"], [{"doc_id": "tsuyu", "doc_type": "計画"}])
    assert len(index) == 5
    assert "tsuyu::0" not in top(index, "梅雨")
    assert top(index, "秋雨前線") == ["tsuyu::0"]
    assert top(index, "秋雨前線", filters=SearchFilters(doc_types=["計画"])) == ["tsuyu::0"]
    # an id repeated within one call: the last one wins
    index.add(["dup", "dup"], ["りんごの収穫", "みかんの収穫"], [{}, {}])
    assert top(index, "みかん") == ["dup"] and top(index, "りんご") == []


def test_remove_and_remove_document(index: BM25Index) -> None:
    index.search("火災", 5)
    assert index.remove(["fire::0", "not-there"]) == 1
    assert top(index, "林野火災") == []
    assert len(index) == 4
    index.add(["solar::1"], ["太陽光パネルの反射光"], [{"doc_id": "solar"}])
    assert index.remove_document("solar") == 2
    assert top(index, "太陽光") == []
    assert index.remove([]) == 0 and index.remove_document("nothing") == 0
    index.clear()
    assert len(index) == 0 and index.search("梅雨", 5) == []


def test_add_checks_lengths(index: BM25Index) -> None:
    with pytest.raises(ValueError, match="same length"):
        index.add(["a", "b"], ["x"], [{}, {}])
    index.add([], [], [])
    index.add(["nometa::0"], ["メタデータのない文章"])  # doc_id from the id's prefix
    assert "nometa" in index.doc_ids()


def test_persists_across_instances_and_loads_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bm25"
    with BM25Index(path) as first:
        fill(first)
        expected = first.search("林野火災の消防活動", 5)
    assert (path / "matrix.npz").is_file()
    monkeypatch.setattr(BM25Index, "_build", lambda self, generation: pytest.fail("should load the snapshot"))
    with BM25Index(path) as second:
        assert len(second) == 5
        assert second.search("林野火災の消防活動", 5) == expected
        assert second.search("梅雨", 5, SearchFilters(doc_types=["その他"]))[0][0] == "tsuyu::0"


def test_two_instances_see_each_others_writes(tmp_path: Path) -> None:
    path = tmp_path / "bm25"
    with BM25Index(path) as writer, BM25Index(path) as reader:
        fill(writer)
        assert top(reader, "梅雨") == ["tsuyu::0"]
        writer.remove(["tsuyu::0"])
        assert top(reader, "梅雨") == []  # generation changed: the reader rebuilt
        writer.add(["new"], ["梅雨前線が停滞"], [{}])
        assert top(reader, "梅雨") == ["new"]


def test_stale_or_damaged_snapshot_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "bm25"
    with BM25Index(path) as idx:
        fill(idx)
        idx.search("梅雨", 5)
    (path / "matrix.npz").write_bytes(b"not a zip file")
    (path / ".matrix-left-by-a-crash.npz.tmp").write_bytes(b"partial")
    with BM25Index(path) as idx:
        assert top(idx, "梅雨") == ["tsuyu::0"]
    with BM25Index(path, snapshot=False) as idx:  # snapshot of another generation
        idx.add(["x"], ["梅雨明け"], [{}])
    with BM25Index(path) as idx:
        assert set(top(idx, "梅雨")) == {"tsuyu::0", "x"}


def test_snapshot_of_a_deleted_database_is_not_reused(tmp_path: Path) -> None:
    path = tmp_path / "bm25"
    with BM25Index(path) as idx:
        idx.add(["a"], ["梅雨前線"], [{}])
        idx.search("梅雨", 5)
    for name in os.listdir(path):
        if name.startswith("tokens.sqlite3"):
            os.unlink(path / name)
    with BM25Index(path) as idx:  # same ids and generation as before, different text
        idx.add(["a"], ["台風の進路"], [{}])
        assert top(idx, "台風") == ["a"] and top(idx, "梅雨") == []


def test_killed_process_leaves_previous_index(tmp_path: Path) -> None:
    """SIGKILL in the middle of rebuild_from: the old chunks are all still there and searchable."""
    path = tmp_path / "bm25"
    with BM25Index(path) as idx:
        fill(idx)
        idx.search("梅雨", 5)
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        from yakuba.retriever.bm25 import BM25Index
        idx = BM25Index({str(path)!r})
        def chunks():
            for i in range(1000):
                if i == 700:
                    os.kill(os.getpid(), signal.SIGKILL)
                yield (f"new-{{i}}", "新しい文書の本文です", {{"doc_id": "new"}})
        idx.rebuild_from(chunks(), batch_size=100)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert result.returncode != 0, result.stderr.decode()
    with BM25Index(path) as idx:
        assert idx.ids() == sorted(PASSAGES)
        assert top(idx, "梅雨") == ["tsuyu::0"]
        assert top(idx, "新しい文書") == []


def test_rebuild_from_replaces_everything(index: BM25Index) -> None:
    count = index.rebuild_from(
        [("a::0", "図書館の開館時間", {"doc_id": "a"}), ("b::0", "図書館の蔵書検索", None)], batch_size=1
    )
    assert count == 2 and len(index) == 2
    assert set(top(index, "図書館")) == {"a::0", "b::0"}
    assert top(index, "梅雨") == []


def test_other_tokenizer_empties_index(tmp_path: Path) -> None:
    path = tmp_path / "bm25"
    with BM25Index(path) as idx:
        fill(idx)
    with BM25Index(path, tokenizer=JapaneseTokenizer("C")) as idx:
        assert len(idx) == 0  # caller sees len != store.count() and runs rebuild_from
    with BM25Index(path, tokenizer=JapaneseTokenizer("C")) as idx:
        idx.add(["a"], ["梅雨前線"], [{}])
    with BM25Index(path, tokenizer=JapaneseTokenizer("C")) as idx:
        assert len(idx) == 1


def test_for_tenant_uses_settings(settings: Settings) -> None:
    with BM25Index.for_tenant("Testtown", settings) as idx:
        assert idx.path == settings.bm25_path / "testtown"
    with pytest.raises(ValueError):
        BM25Index.for_tenant("bad tenant!", settings)


# -- filters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (SearchFilters(doc_types=["議会会議録"]), {"solar::0", "fire::0", "vaccine::0"}),
        (SearchFilters(doc_types=["総合計画", "その他"]), {"plan::0", "tsuyu::0"}),
        (SearchFilters(speaker="飯島"), {"solar::0"}),
        (SearchFilters(speaker="北川久人"), {"vaccine::0"}),  # stored with a full-width space
        (SearchFilters(role="消防長"), {"fire::0"}),
        (SearchFilters(date_from="2022-03-01", date_to="2022-03-02"), {"solar::0", "fire::0"}),  # inclusive
        (SearchFilters(date_from="2022-03-02"), {"fire::0", "vaccine::0"}),
        (SearchFilters(date_to="2021-12-31"), {"plan::0"}),
        (SearchFilters(years=[2021]), {"plan::0"}),
        (SearchFilters(doc_ids=["tsuyu", "plan"]), {"tsuyu::0", "plan::0"}),
        (SearchFilters(doc_types=["議会会議録"], speaker="飯島", date_from="2022-04-01"), set()),
        (SearchFilters(doc_types=["計画"]), set()),
    ],
)
def test_filters(index: BM25Index, filters: SearchFilters, expected: set[str]) -> None:
    # a query that touches every passage
    query = "市民 市 太陽光 火災 消防 ワクチン 子ども 梅雨 日本 総合計画 まちづくり 行う"
    assert set(top(index, query, 10, filters)) == expected


def test_filter_applies_before_top_k(tmp_path: Path) -> None:
    """Many better-scoring chunks outside the filter must not crowd out the one inside it."""
    with BM25Index(tmp_path / "bm25") as idx:
        ids = [f"noise{i}" for i in range(50)] + ["wanted"]
        texts = ["図書館 図書館 図書館 の案内"] * 50 + ["図書館のある公民館の利用案内と駐車場の説明"]
        metas = [{"doc_type": "その他"}] * 50 + [{"doc_type": "計画"}]
        idx.add(ids, texts, metas)
        assert "wanted" not in top(idx, "図書館", 5)
        assert top(idx, "図書館", 1, SearchFilters(doc_types=["計画"])) == ["wanted"]


def test_vectorised_filters_agree_with_matches(tmp_path: Path) -> None:
    rng = random.Random(7)
    speakers = ["飯島英規", "飯島　太郎", "北川久人", None]
    metas = [
        {
            "doc_id": f"d{rng.randrange(5)}",
            "doc_type": rng.choice(["議会会議録", "計画", "その他", None]),
            "speaker": rng.choice(speakers),
            "role": rng.choice(["議員", "市長", None]),
            "date": rng.choice([None, f"202{rng.randrange(4)}-0{rng.randrange(1, 10)}-1{rng.randrange(10)}"]),
        }
        for _ in range(300)
    ]
    filter_sets = [
        SearchFilters(doc_types=["計画", "その他"]),
        SearchFilters(speaker="飯島"),
        SearchFilters(speaker="飯島太郎", role="議員"),
        SearchFilters(years=[2021, 2023]),
        SearchFilters(date_from="2021-05-10", date_to="2022-03-15"),
        SearchFilters(doc_ids=["d1", "d3"], date_to="2022-12-31"),
        SearchFilters(doc_types=["議会会議録"], years=[2020], speaker="北川"),
    ]
    with BM25Index(tmp_path / "bm25") as idx:
        ids = [f"c{i}" for i in range(len(metas))]
        idx.add(ids, ["共通の語"] * len(metas), metas)
        for filters in filter_sets:
            expected = {i for i, m in zip(ids, metas, strict=True) if matches(filters, m)}
            assert set(top(idx, "共通", 1000, filters)) == expected, filters


# -- the matrix --------------------------------------------------------------------------------


def test_matrix_matches_bm25s() -> None:
    rng = random.Random(1)
    docs = [[rng.randrange(40) for _ in range(rng.randrange(0, 25))] for _ in range(120)]
    terms = np.asarray([t for d in docs for t in d])
    doc_of = np.repeat(np.arange(len(docs)), [len(d) for d in docs])
    ours = bm25_matrix(terms, doc_of, len(docs), 40, k1=1.2, b=0.75)
    reference = bm25s.BM25(k1=1.2, b=0.75)
    reference.index((docs, {i: i for i in range(40)}), show_progress=False, create_empty_token=False)
    np.testing.assert_array_equal(ours["indptr"], reference.scores["indptr"])
    np.testing.assert_array_equal(ours["indices"], reference.scores["indices"])
    np.testing.assert_allclose(ours["data"], reference.scores["data"], rtol=1e-5)


def test_phrases_reward_adjacent_words(tmp_path: Path) -> None:
    texts = ["地域の公共交通の見直し", "公共施設の交通安全"]
    with BM25Index(tmp_path / "on") as on, BM25Index(tmp_path / "off", phrases=False) as off:
        for idx in (on, off):
            idx.add(["together", "apart"], texts, [{}, {}])
        scores_on = dict(on.search("公共交通", 2))
        scores_off = dict(off.search("公共交通", 2))
    assert scores_off["together"] == pytest.approx(scores_off["apart"], rel=0.2)
    assert scores_on["together"] > 1.5 * scores_on["apart"]


def test_no_temp_files_left(index: BM25Index) -> None:
    index.search("梅雨", 5)
    index.add(["z"], ["梅雨寒"], [{}])
    index.search("梅雨", 5)
    index.flush()  # the snapshot is written in the background
    assert not [p for p in os.listdir(index.path) if p.endswith(".tmp")]
    assert (index.path / "matrix.npz").is_file()
