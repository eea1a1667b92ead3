"""Table cells as extractive answers and as checked facts (issue #15): the row that names the asked
item and the column that names the figure, read back from the chunks the ingest pipeline writes."""

from __future__ import annotations

from tests.helpers import chunk_passage
from yakuba.assistant.extractive import compose, select_sentences
from yakuba.assistant.extractive_tables import asked_words, table_cells
from yakuba.assistant.facts import check_facts
from yakuba.assistant.relevance import question_tokens
from yakuba.core.types import Chunk, DocType, ExtractedTable, LoadedDocument, PageText
from yakuba.ingest.chunk import chunk_document
from yakuba.retriever.search import Passage

HEADER = ["款", "本年度予算額", "前年度予算額", "比較", "本年度予算額の財源内訳 一般財源"]
ROWS = [
    ["1.議会費", "206,337", "207,192", "△855", "206,337"],
    ["3.民生費", "11,737,003", "10,869,559", "867,444", "5,066,558"],
    ["8.土木費", "2,282,347", "3,048,404", "△766,057", "814,621"],
    ["9.消防費", "993,251", "1,001,353", "△8,102", "734,106"],
]
BUDGET = ExtractedTable(number=12, page=21, caption="(歳出) (単位:千円)", header=HEADER, rows=ROWS)
PROSE = "令和8年度の一般会計予算の総額は、前年度に比べて増加しました。土木費は道路の改良に充てます。"


def _passages(chunks: list[Chunk]) -> dict[int, Passage]:
    return {
        n: chunk_passage(c, doc_id="budget.pdf", title="令和8年度一般会計予算", doc_type="予算", score=1.0 - 0.1 * n)
        for n, c in enumerate(chunks, start=1)
    }


def _budget_passages(size: int = 500) -> dict[int, Passage]:
    document = LoadedDocument(
        doc_id="budget.pdf",
        title="令和8年度一般会計予算",
        file_format="pdf",
        pages=[PageText(page=20, text=PROSE)],
        tables=[BUDGET],
    )
    return _passages(chunk_document(document, DocType.OTHER, size=size, overlap=0))


def test_cells_are_read_back_from_the_chunks_markdown() -> None:
    passages = _budget_passages()
    tables = [p for p in passages.values() if p.content in ("table", "table_rows")]
    assert {p.content for p in tables} == {"table", "table_rows"}
    for passage in tables:
        cells = table_cells(passage)
        assert cells is not None
        assert "8.土木費：前年度予算額 3,048,404（単位：千円）" in [c.quote for c in cells]
    assert table_cells(next(p for p in passages.values() if p.content is None)) is None


def test_the_asked_row_and_column_are_quoted() -> None:
    passages = _budget_passages()
    for question, right, wrong in [
        ("土木費の前年度予算額はいくらでしたか？", "3,048,404", "2,282,347"),
        ("土木費の本年度予算額はいくらですか？", "2,282,347", "3,048,404"),
        ("消防費の予算額はいくらですか？", "993,251", "1,001,353"),  # no column named: the first amount
        ("民生費の一般財源はいくらですか？", "5,066,558", "11,737,003"),
    ]:
        chosen = select_sentences(question, passages)
        assert chosen and right in chosen[0].sentence and wrong not in chosen[0].sentence, (question, chosen)
        text, cited = compose(question, passages)
        assert right in text and cited[0] == chosen[0].n
        assert "表12" in text  # the source phrase names the table


def test_a_long_row_is_quoted_from_a_chunk_of_its_own() -> None:
    """Chunks smaller than a row: the row stays whole in one chunk, and its cells are still found."""
    passages = _budget_passages(size=120)
    rows = [p for p in passages.values() if p.content == "table_rows"]
    assert len(rows) == len(ROWS)  # one row per chunk, none cut
    assert all(p.text.count("：") == 1 for p in rows)
    chosen = select_sentences("土木費の前年度予算額はいくらでしたか？", passages)
    assert chosen and "3,048,404" in chosen[0].sentence


def test_fact_check_reads_every_cell_of_a_row_sentence_as_that_rows() -> None:
    """「前年度予算額 3,048,404」 is the third clause of the 土木費 row: it belongs to 土木費 all the same,
    while 民生費's amount does not."""
    question = "土木費の前年度予算額はいくらでしたか？"
    rows_only = {n: p for n, p in _budget_passages().items() if p.content == "table_rows"}
    tokens = question_tokens(question)
    right = check_facts([("土木費の前年度予算額は3,048,404千円です。", [1])], question, rows_only, tokens)
    assert right.checked == 1 and not right.issues
    wrong = check_facts([("土木費の前年度予算額は10,869,559千円です。", [1])], question, rows_only, tokens)
    assert [issue.reason for issue in wrong.issues] == ["wrong_item"]


def test_a_value_from_a_row_that_does_not_name_the_asked_item_is_caught() -> None:
    """The 給与・定員管理 table of a real 一般会計予算 (p.133): staff averages by job. 「市長の給料月額は」 is not
    answered by the 一般行政職 average even though 給料月額 is in the row — the model said so with 308,177円."""
    salaries = ExtractedTable(
        number=3, page=133, caption="ア 職員1人当たりの給与 (単位:円)", header=["区分", "一般行政職", "技能職"],
        rows=[["平均給料月額", "308,177", "264,039"], ["平均給与月額", "330,104", "275,707"]],
    )
    document = LoadedDocument(
        doc_id="budget.pdf", title="令和8年度一般会計予算", file_format="pdf", pages=[], tables=[salaries]
    )
    passages = _passages(chunk_document(document, DocType.OTHER, size=500, overlap=0))

    def issues(question: str, answer: str) -> list[str]:
        report = check_facts([(answer, [1])], question, passages, question_tokens(question), asked_words(question))
        assert report.checked == 1
        return [issue.reason for issue in report.issues]

    assert issues("市長の給料月額はいくらですか？", "市長の給料月額は308,177円です。") == ["wrong_item"]
    assert issues("一般行政職の平均給料月額はいくらですか？", "一般行政職の平均給料月額は308,177円です。") == []
    # without the asked words (callers that do not pass them) the check stays as it was
    question = "市長の給料月額はいくらですか？"
    plain = check_facts([("市長の給料月額は308,177円です。", [1])], question, passages, question_tokens(question))
    assert not plain.issues
    assert not select_sentences(question, passages)  # the extractive engine quotes none of it either
