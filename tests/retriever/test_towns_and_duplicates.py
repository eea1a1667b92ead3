"""A mixed library (issue #16): a question naming a town gets that town's documents first, identical
texts come back as one hit with the other documents as `also_in`, and the town is tagged at ingest."""

from __future__ import annotations

from pathlib import Path

import pytest

from yakuba.core.settings import Settings
from yakuba.ingest.pipeline import Ingestor
from yakuba.retriever.search import FusionConfig, HybridSearcher

NANKOKU = "提案理由\n\n議案第１号は、南国市の補正でございます。規模は、1,192,893千円の増額計上であります。\n"
KIRYU = (
    "令和４年桐生市議会第４回定例会会議録\n\n"
    "○議長（北川久人）\n議案第１号 一般会計補正予算について。一般会計補正予算の歳入歳出補正予算の規模と、"
    "一般会計補正予算の財源を説明願います。歳入歳出補正予算の規模は前年度を上回ります。\n"
)
QUOTE = "地方公共団体は、住民の福祉の増進を図ることを基本として、地域における行政を自主的かつ総合的に実施する役割を広く担う。"


@pytest.fixture
def library(settings: Settings, store, embeddings, tmp_path: Path) -> HybridSearcher:  # type: ignore[no-untyped-def]
    folder = tmp_path / "library"
    (folder / "南国市").mkdir(parents=True)
    (folder / "議会会議録").mkdir()
    (folder / "南国市" / "提案理由_第444回定例会.txt").write_text(NANKOKU, encoding="utf-8")
    (folder / "議会会議録" / "2022-12-22_第3号.txt").write_text(KIRYU, encoding="utf-8")
    (folder / "地方自治法の解説.txt").write_text(f"{QUOTE}\n", encoding="utf-8")
    (folder / "研修資料.txt").write_text(f"{QUOTE}\n", encoding="utf-8")
    results = list(Ingestor(settings, store, embeddings).run([folder]))
    assert all(r.status == "added" for r in results), [r.message_en for r in results]
    return HybridSearcher(store, embeddings, FusionConfig.from_settings(settings))


def test_ingest_tags_each_chunk_with_its_town(library: HybridSearcher) -> None:
    towns = {row.metadata["doc_id"]: row.metadata.get("x_municipality")
             for row in library.store.get_chunks(library.store.bm25.ids())}  # fmt: skip
    assert towns == {
        "南国市/提案理由_第444回定例会.txt": "南国市",  # from the path
        "議会会議録/2022-12-22_第3号.txt": "桐生市",  # from the text: 「桐生市議会」, 「桐生市一般会計」
        "地方自治法の解説.txt": None,
        "研修資料.txt": None,
    }


def test_a_question_naming_a_town_prefers_its_documents(library: HybridSearcher) -> None:
    question = "議案第１号、南国市一般会計補正予算の歳入歳出補正予算の規模はいくらですか？"
    blind = HybridSearcher(library.store, library.embeddings, library.fusion.model_copy(update={"prefer_named_town": False}))
    assert blind.search(question, k=3).passages[0].doc_id.startswith("議会会議録/")  # more 補正予算 words
    passages = library.search(question, k=3).passages
    assert passages[0].doc_id == "南国市/提案理由_第444回定例会.txt" and "1,192,893千円" in passages[0].text
    # a question naming no town ranks as before
    plain = "議案第１号の補正予算の規模はいくらですか"
    assert [p.chunk_id for p in library.search(plain, k=3).passages] == [
        p.chunk_id for p in blind.search(plain, k=3).passages
    ]


def test_identical_texts_come_back_once(library: HybridSearcher) -> None:
    passages = library.search("住民の福祉の増進を図ることを基本として地域における行政を担う役割", k=5).passages
    quoted = [p for p in passages if QUOTE in p.text]
    assert len(quoted) == 1
    assert {quoted[0].doc_id, *quoted[0].also_in} == {"地方自治法の解説.txt", "研修資料.txt"}
    assert len(quoted[0].also_in) == 1
    # single-list modes show the raw list (evaluation, debugging)
    assert sum(QUOTE in p.text for p in library.search(QUOTE, k=5, mode="bm25").passages) == 2


def test_query_coverage_on_the_real_index(library: HybridSearcher) -> None:
    """The coverage rule's yardstick over the real tokenizer and idf, and a search that uses it."""
    from yakuba.retriever.search import query_coverage

    rows = {row.metadata["doc_id"]: row for row in library.store.get_chunks(library.store.bm25.ids())}
    nankoku, law = rows["南国市/提案理由_第444回定例会.txt"], rows["地方自治法の解説.txt"]
    rankings = {"dense": [(law.chunk_id, 0.9)], "bm25": [(nankoku.chunk_id, 5.0)]}
    texts = {nankoku.chunk_id: nankoku.text, law.chunk_id: law.text}
    covered = query_coverage(library.store, "補正予算の規模はいくらですか", rankings, texts)
    assert covered[law.chunk_id] == 0.0 and 0.5 < covered[nankoku.chunk_id] <= 1.0
    fusion = library.fusion.model_copy(update={"method": "interleave", "interleave_coverage_margin": 0.1})
    passages = HybridSearcher(library.store, library.embeddings, fusion).search("一般会計補正予算の規模", k=3).passages
    assert passages and passages[0].bm25_rank == 1  # BM25's top holds the question's words: it leads
