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
"""

from __future__ import annotations

from dataclasses import dataclass

from yakuba.ingest.tables import is_numberish, is_vote_table, label_columns, table_from_markdown, table_unit
from yakuba.retriever.search import Passage
from yakuba.retriever.tokenize import tokenize

# Table passages longer than this many cells are read only up to it (a huge table part is rare and
# every cell costs a tokenisation).
MAX_CELLS = 400


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

    def in_counter(self, counter: str) -> bool:
        """Is the cell a count in `counter` (何人 → 人)? Named so, or a plain number in a table that
        states no other unit: a 職員数 or 就業者 table rarely writes 人 in every cell."""
        if counter in f"{self.names}{self.value}" or self.unit == counter:
            return True
        return self.numeric and self.unit is None and not self.value.rstrip().endswith(("%", "％"))


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
    context = frozenset(tokenize(f"{caption} {passage.title}"))
    header_words = [frozenset(tokenize(column)) for column in table.header]
    cells: list[TableCell] = []
    for row in table.rows:
        label = " ".join(cell for cell in row[:labels] if cell)
        label_words = frozenset(tokenize(label)) if label else frozenset()
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
                    words=label_words | words,
                    context_words=context,
                    numeric=numeric,
                    names=f"{label} {column} {caption}",
                    unit=unit,
                )
            )
    return cells
