"""The table row a value question names, when hybrid retrieval leaves it out of the answer's passages.

Retrieval ranks chunks by the question's words as a whole. A budget's 款 summary table names 「民生費」
once, in one row among many, while every detailed 項 table of that 款 repeats it in its caption, so
「民生費の本年度予算額は」 gets four 項 tables and not the row that answers; a 職員数 summary loses to the
pages that talk about the 給与費明細書. So for a question asking for an amount, a count or a rate, the
assistant also reads the table chunks among BM25's first hits cell by cell (`TABLE_POOL`) and brings
in the one whose row label names what is asked and whose cell's names (row label and column header,
with the caption and the document title as context) cover the question (`MIN_CELL_COVERAGE`), unless
a passage already retrieved holds as good a cell. The extractive engine then quotes that cell; the
model sees the table first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from yakuba.assistant.extractive_tables import asked_words, table_cells
from yakuba.assistant.facts import MIN_CELL_COVERAGE, STRICT_KINDS, asks_for
from yakuba.assistant.relevance import question_tokens
from yakuba.retriever.filters import SearchFilters
from yakuba.retriever.search import Passage

# BM25 hits read for table chunks. The 款 summary rows of a 200-page budget rank 7th-31st among BM25's
# hits for 「<款>の本年度予算額は」 (benchmarks/table_questions); parsing a table chunk costs ~1 ms.
TABLE_POOL = 60
# Share of a row label's words the question must use for the row to be the one it names.
LABEL_IN_QUESTION = 0.75


def cell_match(passage: Passage, words: list[str], question_words: frozenset[str]) -> tuple[float, float] | None:
    """How well the passage's best numeric cell answers: (share of the asked `words` its own row label
    and column header name, share with the caption and title too). Only cells whose row label is
    named by the question (`LABEL_IN_QUESTION` of its words are among `question_words`: 「3.民生費」
    for 「民生費の本年度予算額は」, not 「5.会計管理費」 for 「一般会計予算の市税の…」) and whose names cover
    `MIN_CELL_COVERAGE` of the asked words count; None when no cell does."""
    cells = table_cells(passage)
    if not cells or not words:
        return None
    best: tuple[float, float] | None = None
    for cell in cells:
        label = cell.label_words
        if not cell.numeric or not label & set(words):
            continue
        if len(label & question_words) < LABEL_IN_QUESTION * len(label):
            continue
        covered = cell.coverage(words)
        if covered < MIN_CELL_COVERAGE:
            continue
        own = sum(w in cell.words for w in words) / len(words)
        if best is None or (own, covered) > best:
            best = (own, covered)
    return best


def table_row_passage(
    question: str,
    retrieved: Sequence[Passage],
    source: Any,
    *,
    filters: SearchFilters | None = None,
    pool: int = TABLE_POOL,
) -> Passage | None:
    """A table passage to put first among `retrieved` for a value question, or None (not a value
    question, no table names the asked row, or a retrieved passage already holds as good a cell).
    `source` is the searcher; one without `table_passages` (a test double, a remote store) adds nothing."""
    if asks_for(question) not in STRICT_KINDS or not hasattr(source, "table_passages"):
        return None
    words = asked_words(question)
    if not words:
        return None
    question_words = frozenset(question_tokens(question))
    found = [m for p in retrieved if (m := cell_match(p, words, question_words)) is not None]
    have = max(found) if found else None
    best: tuple[tuple[float, float], Passage] | None = None
    for passage in source.table_passages(question, pool, filters):
        match = cell_match(passage, words, question_words)
        if match is not None and (best is None or match > best[0]):
            best = (match, passage)
    if best is None or (have is not None and have >= best[0]):
        return None
    return best[1]
