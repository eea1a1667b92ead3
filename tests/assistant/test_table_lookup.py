"""Table rows a value question names (issue #15): brought in when retrieval ranks them low, and a
table cell or sentence whose names do not cover the question is no answer.

The tables are the shapes of a real 一般会計予算 (南国市 令和8年度, p.19/p.21 and the 項 tables of
p.69), chunked by the ingest pipeline."""

from __future__ import annotations

from tests.helpers import chunk_passage
from yakuba.assistant.extractive import select_sentences
from yakuba.assistant.extractive_tables import asked_words, table_cells
from yakuba.assistant.table_lookup import table_row_passage
from yakuba.core.types import DocType, ExtractedTable, LoadedDocument, PageText
from yakuba.ingest.chunk import chunk_document
from yakuba.retriever.filters import SearchFilters
from yakuba.retriever.search import Passage

TITLE = "議案第７号：令和８年度一般会計予算"
SUMMARY = ExtractedTable(  # 款 summary (p.21): one row per 款
    number=12,
    page=21,
    caption="(歳出) (単位:千円)",
    header=["款", "本年度予算額", "前年度予算額", "比較"],
    rows=[
        ["1.議会費", "206,337", "207,192", "△855"],
        ["2.総務費", "2,581,722", "2,759,606", "△177,884"],
        ["3.民生費", "11,737,003", "10,869,559", "867,444"],
        ["8.土木費", "2,282,347", "3,048,404", "△766,057"],
    ],
)
REVENUE = ExtractedTable(  # 歳入 summary (p.19)
    number=10,
    page=19,
    caption="(歳入) (単位:千円)",
    header=["款", "本年度予算額", "前年度予算額", "比較"],
    rows=[["1.市税", "6,538,777", "6,360,900", "177,877"], ["11.地方交付税", "4,950,000", "4,850,000", "100,000"]],
)
DETAIL = ExtractedTable(  # a 項 table of 民生費 (p.69): names 民生費 in its caption, not in its rows
    number=95,
    page=69,
    caption="款 3. 民生費項 1. 社会福祉費 (単位:千円)",
    header=["目", "本年度", "前年度", "比較", "本年度予算額の財源内訳 一般財源"],
    rows=[
        ["3.障害者福祉費", "1,901,480", "1,820,000", "81,480", "556,921"],
        ["5.会計管理費", "20,613", "20,608", "5", "20,613"],
    ],
)
PROSE = (
    "令和8年度南国市の一般会計の予算は、次に定めるところによる。\n"
    "歳入歳出予算の総額は、歳入歳出それぞれ25,550,000千円と定める。"
)


def _passages(tables: list[ExtractedTable], prose: str = "") -> list[Passage]:
    document = LoadedDocument(
        doc_id="budget.pdf",
        title=TITLE,
        file_format="pdf",
        pages=[PageText(page=5, text=prose)] if prose else [],
        tables=tables,
    )
    chunks = chunk_document(document, DocType.OTHER, size=500, overlap=0)
    return [chunk_passage(c, doc_id="budget.pdf", title=TITLE, doc_type="その他") for c in chunks]


class _Pool:
    """What `HybridSearcher.table_passages` gives: table chunks among BM25's hits (here: all of them)."""

    def __init__(self, passages: list[Passage]) -> None:
        self.passages = [p for p in passages if p.content in ("table", "table_rows")]
        self.calls: list[tuple[str, int, SearchFilters | None]] = []

    def table_passages(self, query: str, n: int, filters: SearchFilters | None = None) -> list[Passage]:
        self.calls.append((query, n, filters))
        return self.passages[:n]


def test_the_summary_row_the_question_names_is_brought_in() -> None:
    """Retrieval gave the 民生費 項 table (民生費 in its caption); the 款 row 「3.民生費」 answers."""
    detail = [p for p in _passages([DETAIL]) if p.content == "table_rows"]
    pool = _Pool(_passages([DETAIL, REVENUE, SUMMARY]))
    question = "令和8年度予算の民生費の本年度予算額はいくらですか？"
    row = table_row_passage(question, detail, pool)
    assert row is not None and row.table == 12 and "3.民生費" in (row.table_markdown or "")
    chosen = select_sentences(question, {1: row, 2: detail[0]})
    assert chosen and "11,737,003" in chosen[0].sentence


def test_a_label_the_question_does_not_name_is_not_taken() -> None:
    """「5.会計管理費」 shares 会計 with 「一般会計予算」 but is not what is asked; 「1.市税」 is."""
    pool = _Pool(_passages([DETAIL, REVENUE]))
    row = table_row_passage("南国市の令和8年度一般会計予算で、市税の本年度予算額はいくらですか？", [], pool)
    assert row is not None and row.table == 10


def test_nothing_is_added_when_not_needed() -> None:
    pool = _Pool(_passages([DETAIL, REVENUE, SUMMARY]))
    summary = [p for p in _passages([SUMMARY]) if p.content == "table_rows"]
    # not a value question; a value question whose row is already retrieved; a row no table names
    assert table_row_passage("民生費について教えてください", [], pool) is None
    assert table_row_passage("土木費の前年度予算額はいくらでしたか？", summary, pool) is None
    assert table_row_passage("衛生費の前年度予算額はいくらでしたか？", [], pool) is None
    assert table_row_passage("土木費の前年度予算額はいくらでしたか？", [], object()) is None  # no table source


def test_filters_reach_the_table_pool() -> None:
    pool = _Pool(_passages([SUMMARY]))
    only = SearchFilters(doc_ids=["budget.pdf"])
    assert table_row_passage("土木費の前年度予算額はいくらでしたか？", [], pool, filters=only) is not None
    assert pool.calls and pool.calls[0][2] is only


def test_a_cell_that_does_not_name_the_asked_item_is_no_answer() -> None:
    """水道事業会計 is named nowhere in the general account's table: no cell of it answers, while the
    same table answers for its own rows."""
    passages = dict(enumerate(_passages([SUMMARY]), start=1))
    assert select_sentences("令和8年度南国市水道事業会計予算の総額はいくらですか？", passages) == []
    chosen = select_sentences("令和8年度の土木費の本年度予算額はいくらですか？", passages)
    assert chosen and "2,282,347" in chosen[0].sentence
    words = asked_words("令和8年度南国市水道事業会計予算の総額はいくらですか？")
    assert "水道" in words and "総額" not in words and "南国" not in words
    best = max(c.coverage(words) for p in passages.values() for c in table_cells(p) or [])
    assert best < 0.75


def test_a_sentence_that_does_not_name_the_asked_item_is_no_answer() -> None:
    """The same rule for text: the general account's total does not answer for the water account."""
    passages = dict(enumerate(_passages([], PROSE), start=1))
    chosen = select_sentences("令和8年度一般会計予算の総額はいくらですか？", passages)
    assert chosen and "25,550,000" in chosen[0].sentence
    assert select_sentences("令和8年度水道事業会計予算の総額はいくらですか？", passages) == []


def test_the_item_may_be_named_in_the_sentences_just_before() -> None:
    """A 市政報告 names the 給付金 and gives its count two sentences later (a line break mid-sentence)."""
    text = (
        "福祉\n"
        "「令和6年度南国市電力・ガス・食料品等価格高騰緊急支援追加給付金」を、本年度に繰り越して実施いたしました。"
        "7月31日で申請を締め切り、有効な申請に対して給付を全て完了いたしました。給付の総数については\n"
        "5,972世帯となっております。"
    )
    passage = Passage(chunk_id="r#1", doc_id="r.pdf", title="市政報告", doc_type="その他", text=text, score=1.0)
    question = "電力・ガス・食料品等価格高騰緊急支援追加給付金の給付の総数は何世帯ですか？"
    chosen = select_sentences(question, {1: passage})
    assert chosen and "5,972世帯" in chosen[0].sentence
    other = passage.model_copy(update={"text": text.replace("電力・ガス・食料品等価格高騰緊急支援追加", "子育て応援")})
    assert select_sentences(question, {1: other}) == []
