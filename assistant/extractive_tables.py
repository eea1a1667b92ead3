"""Table cells as extractive answers: the row whose label names the asked item, the column the question asks.

A row sentence such as 「8.土木費：本年度予算額 2,282,347、前年度予算額 3,048,404、比較 △766,057…」
holds every figure of its row; quoted whole it answers 「土木費の前年度予算額は」 with seven numbers,
and the item-level fact check cannot tell which one was meant. So the extractive engine reads a
table passage's cells back from its Markdown (`Passage.table_markdown`, written at ingest by
ingest/tables.py) and offers each non-empty value cell as a candidate of its own, quoted as
「<row label>：<column header> <value>（単位：千円）」. Candidates are scored like sentences (the
question's words in the row label and the column header count fully, those of the caption and of
the document title as context), so the row that names the item and the column that names the
figure win together. Vote tables (○/×) keep their per-bill sentences.

A cell is an answer only when what names it covers the question (`cell_coverage`): a budget table's
「歳出合計：本年度予算額」 holds an amount, but it does not answer 「水道事業会計予算の総額は」 — 水道事業
is named nowhere in the row, the column, the caption or the document title.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from yakuba.assistant.facts import asked_counter, item_coverage
from yakuba.assistant.relevance import place_names, question_tokens
from yakuba.ingest.tables import is_numberish, is_vote_table, label_columns, table_from_markdown, table_unit
from yakuba.retriever.search import Passage
from yakuba.retriever.tokenize import tokenize

# Table passages longer than this many cells are read only up to it (a huge table part is rare and
# every cell costs a tokenisation).
MAX_CELLS = 400
# Words that say what kind of figure is asked (「…の総額は」「約何人」), not which one: the column header
# names the figure its own way (本年度予算額, 職員数), so they need not be covered by a cell's names.
VALUE_WORDS = frozenset({"額", "金額", "総額", "数", "総数", "人数", "件数", "率", "割合", "値", "約", "およそ"})


@dataclass(frozen=True)
class TableCell:
    """One value cell of a table passage, with what names it."""

    quote: str  # 「8.土木費：前年度予算額 3,048,404（単位：千円）」
    value: str
    column: str
    words: frozenset[str]  # tokens of the row label and the column header
    context_words: frozenset[str]  # tokens of the caption (and the document title)
    numeric: bool
    names: str  # row label + column header + caption: where a counter (人, 世帯) or designator may sit
    unit: str | None = None  # 「（単位：千円）」 of the table
    label_words: frozenset[str] = frozenset()  # tokens of the row label without its list number (3.民生費 → 民生, 費)

    def coverage(self, words: list[str]) -> float:
        """Share of `words` (`asked_words`) that the row label, column header, caption or title name."""
        return item_coverage(self.words | self.context_words, words)

    def in_counter(self, counter: str) -> bool:
        """Is the cell a count in `counter` (何人 → 人)? Named so, or a plain number in a table that
        states no other unit: a 職員数 or 就業者 table rarely writes 人 in every cell."""
        if counter in f"{self.names}{self.value}" or self.unit == counter:
            return True
        return self.numeric and self.unit is None and not self.value.rstrip().endswith(("%", "％"))


# 「3.民生費」「(2) 個人」: the number lists the row, it does not name it.
_LIST_NUMBER = re.compile(r"^\s*(?:\d{1,3}\s*[.．)）]|[（(]\d{1,3}[）)])\s*")


@lru_cache(maxsize=8192)
def _words(text: str) -> frozenset[str]:
    """Tokens of a label, header or caption: they repeat in every chunk of a table (and in both its
    Markdown and row-sentence chunks), and tokenising is most of the cost of reading cells."""
    return frozenset(tokenize(text))


def title_words(title: str) -> frozenset[str]:
    return _words(title)


def asked_words(question: str) -> list[str]:
    """The question's content words a cell's names must cover: without interrogatives, value-kind
    words (`VALUE_WORDS`), the counter asked in (何人 → 人: checked on its own) and place names."""
    skip = {t for name in place_names(question) for t in tokenize(name)} | set(VALUE_WORDS)
    counter = asked_counter(question)
    if counter:
        skip.add(counter)
    return [t for t in question_tokens(question) if t not in skip]


def table_cells(passage: Passage) -> list[TableCell] | None:
    """The value cells of a table passage; None when the passage is not a table the engine can read
    cell by cell (text, a vote table, Markdown that does not parse)."""
    if passage.content not in ("table", "table_rows") or not passage.table_markdown:
        return None
    table = table_from_markdown(passage.table_markdown)
    if table is None or is_vote_table(table):
        return None
    labels = min(label_columns(table), len(table.header) - 1)
    unit = table_unit(table)
    caption = table.caption or ""
    context = _words(f"{caption} {passage.title}")
    header_words = [_words(column) for column in table.header]
    cells: list[TableCell] = []
    for row in table.rows:
        label = " ".join(cell for cell in row[:labels] if cell)
        full_label = _words(label) if label else frozenset()
        label_words = _words(_LIST_NUMBER.sub("", label)) if label else frozenset()
        for column, value, words in zip(
            table.header[labels:], row[labels:], header_words[labels:], strict=False
        ):
            if not value or len(cells) >= MAX_CELLS:
                continue
            numeric = is_numberish(value)
            shown = f"{column} {value}".strip() if column else value
            suffix = f"（単位：{unit}）" if unit and numeric else ""
            cells.append(
                TableCell(
                    quote=f"{label}：{shown}{suffix}" if label else f"{shown}{suffix}",
                    value=value,
                    column=column,
                    words=full_label | words,
                    context_words=context,
                    numeric=numeric,
                    names=f"{label} {column} {caption}",
                    unit=unit,
                    label_words=label_words,
                )
            )
    return cells
