"""Tables: from a loader's cell grid to a cleaned `ExtractedTable`, and from that to chunks.

Why tables get their own chunks: text extraction turns a 賛否一覧 into member names one character
per line and rows of ○ without column names, and a budget table into label and number fragments.
A table chunk keeps the structure twice over:

* Markdown (header repeated in every part of a long table) for the model and for display;
* one sentence per row, 「<row label>：<column header> <value>、<column header> <value>。」, for BM25
  and the model, which answer row lookups («市民税の本年度予算額は») from a single sentence. Vote
  tables (bills × members, ○/×) become 「議案第N号 <議案名>：<議員名> 反対（×）、…」 per bill.

A row is never split from its label: row sentences are packed into chunks whole (a row longer than
a chunk gets a chunk of its own; only a row longer than `TABLE_SLACK` chunks is cut, between cells,
and every part repeats the label), and Markdown parts are cut between rows, each with the header.
The extractive engine reads the cells back from a chunk's Markdown (`table_from_markdown`) and quotes
the one cell whose row label and column header match the question (assistant/extractive_tables.py).

Pure functions over cell text; the loaders (PDF via pdfplumber, docx, html) build the grids.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from yakuba.core.types import Chunk, DocType, ExtractedTable, LoadedDocument
from yakuba.ingest.clean import join_spaced_cjk, normalize

# Header rows above the first data row are at most this many (multi-row headers: 財源内訳 / 特定財源 / 国県支出金).
MAX_HEADER_ROWS = 3
# A "table" whose cells average more than this many characters is a ruled text box, not a table.
MAX_MEAN_CELL_CHARS = 120
# A Markdown part may exceed the chunk size by this factor before it is split (as speaker turns).
TABLE_SLACK = 1.6

_NUMBERISH = re.compile(r"^[△▲▼\-+−]?\s*[0-9][0-9,.，．]*\s*(%|％|千円|円|人|件|台|戸|世帯|倍|ha|㎡|m)?$")
_WIDE = re.compile(r"[^\x00-\x7f]")
_DIGIT = re.compile(r"[0-9]")
_NUMBER_TOKEN = re.compile(r"[△▲\-]?[0-9][0-9,.]*%?")
_WORD = re.compile(r"[\u3040-\u30ff\u3400-\u9fffA-Za-z]{2,}")
# A body cell spanning rows repeats on each row when short (a label, an amount); a long note
# (説明 beside a whole 款) is written once, or every row sentence would carry it.
SPREAD_MAX_CHARS = 30
# Below this share of filled grid positions a "table" is the gridlines of a chart.
MIN_FILL = 0.35
# 「（単位：千円）」 in a caption or header: the unit of the table's numbers.
_UNIT = re.compile(r"単\s*位\s*[:：]?\s*(?P<unit>[^\s)）]{1,8})")
_LABEL_NUMBER = re.compile(r"[0-9]+\s*(年|年度|月|歳|才|期|次|区|号|番)|第\s*[0-9]+|^[0-9]{1,2}\s*[.)]\s*\D")

_VOTE_VALUES = {
    "○": "賛成（○）",
    "〇": "賛成（○）",
    "◯": "賛成（○）",
    "賛": "賛成（○）",
    "賛成": "賛成（○）",
    "可": "賛成（○）",
    "×": "反対（×）",
    "✕": "反対（×）",
    "╳": "反対（×）",
    "否": "反対（×）",
    "反": "反対（×）",
    "反対": "反対（×）",
    "欠": "欠席",
    "欠席": "欠席",
    "退": "退席",
    "退席": "退席",
    "除斥": "除斥",
    "棄権": "棄権",
    "議長": "議長（表決に加わらず）",
    "-": "表決に加わらず（－）",
    "－": "表決に加わらず（－）",
    "ー": "表決に加わらず（－）",
    "―": "表決に加わらず（－）",
    "/": "表決に加わらず（－）",
}
_BILL = re.compile(r"(議案|議員提出|発議|請願|陳情|報告|諮問|認定|承認|同意|選挙|意見書|決議)")


# ---------------------------------------------------------------------------------------------
# Cells
# ---------------------------------------------------------------------------------------------


def _glue_lines(lines: list[str]) -> str:
    """Lines of one cell: vertical text (one character per line) joins without spaces; wrapped
    Japanese joins directly; anything next to Latin letters or numbers keeps a space."""
    lines = [line.strip() for line in lines if line.strip()]
    if not lines:
        return ""
    if len(lines) >= 2 and all(len(line) == 1 for line in lines):
        return "".join(lines)
    out = lines[0]
    for line in lines[1:]:
        wide_pair = bool(_WIDE.match(out[-1])) and bool(_WIDE.match(line[0]))
        digit_edge = out[-1].isdigit() or line[0].isdigit()
        out += line if wide_pair and not digit_edge else f" {line}"
    return out


def clean_cell(raw: str | None) -> str:
    """NFKC, letter-spacing undone (「金 額」→「金額」), vertical runs and wrapped lines joined."""
    if not raw:
        return ""
    text = normalize(raw)
    # Vertical runs inside a longer cell: "丹\n羽\n孝\n志" is one name whatever surrounds it.
    text = _glue_lines([join_spaced_cjk(line) for line in text.split("\n")])
    return re.sub(r"\s{2,}", " ", text).strip()


def is_numberish(cell: str) -> bool:
    """Amounts, counts and percentages (「6,538,777」「△4,567」「12.5%」「25人」)."""
    return bool(_NUMBERISH.match(cell.replace(" ", "")))


def vote_value(cell: str) -> str | None:
    """「賛成（○）」 for ○ and the other 表決 marks, None for anything that is not a vote mark."""
    return _VOTE_VALUES.get(cell.replace(" ", "")) if cell else None


# ---------------------------------------------------------------------------------------------
# Grid → ExtractedTable
# ---------------------------------------------------------------------------------------------


Origins = dict[tuple[int, int], tuple[int, int]]
"""(row, column) of a covered grid position → (row, column) of the merged cell that covers it."""


def _fill_merged(grid: list[list[str | None]], header_rows: int, origins: Origins | None) -> list[list[str]]:
    """Loaders give None where a merged cell covers a grid position. With `origins` (where each
    covered position's merged cell starts) a header label spreads right over the columns it spans
    and a body value down the rows it spans (款 labels, 説明 spanning rows); a body cell spanning
    columns is written once. Without them: right in header rows, down in body rows."""
    filled: list[list[str]] = [["" if cell is None else cell for cell in row] for row in grid]
    for r, row in enumerate(grid):
        for c, cell in enumerate(row):
            if cell is not None:
                continue
            if origins is not None:
                origin = origins.get((r, c))
                if origin is None:
                    continue
                r0, c0 = origin
                if r < header_rows:
                    filled[r][c] = filled[r0][c0] if c0 < c else ""
                else:
                    value = filled[r0][c0] if c0 == c and r0 >= header_rows else ""
                    filled[r][c] = value if len(value) <= SPREAD_MAX_CHARS else ""
                continue
            if r < header_rows:
                # Under a real header cell, None is that cell spanning down (no new label); under a
                # covered cell (or in the first row) it is the cell on the left spanning right.
                spans_down = r > 0 and grid[r - 1][c] is not None
                filled[r][c] = "" if spans_down or c == 0 else filled[r][c - 1]
            elif r > header_rows and len(filled[r - 1][c]) <= SPREAD_MAX_CHARS:
                filled[r][c] = filled[r - 1][c]
    return filled


def _is_chart(cells: list[list[str]]) -> bool:
    """Gridlines of a chart read as a table: mostly empty positions, axis labels and data labels
    (several numbers in one cell, 「73.2 69.3 67.0」), and no column of row labels."""
    values = [c for row in cells for c in row if c]
    positions = sum(len(row) for row in cells)
    if not values:
        return True
    if len(values) / positions < MIN_FILL:
        return True
    multi_number = sum(len(_NUMBER_TOKEN.findall(c)) >= 2 and not _WORD.search(c) for c in values)
    if multi_number >= 3 and multi_number / len(values) >= 0.25:
        return True
    has_labels = any(any(c and not is_numberish(c) for c in column) for column in zip(*cells, strict=False))
    return not has_labels


def _header_count(grid: list[list[str | None]]) -> int:
    """The first row, plus following rows that start with a merged (None/empty) cell and hold no
    numbers: the lower levels of a multi-row header."""
    count = 1
    while count < min(MAX_HEADER_ROWS, len(grid) - 1):
        row = grid[count]
        first = row[0] if row else None
        if first not in (None, "") or any(cell and is_numberish(clean_cell(cell)) for cell in row):
            break
        count += 1
    return count


def _header_like(row: Sequence[str | None]) -> bool:
    """Column labels are short words; numbers appear only as years, ages or ordinals (令和5年度,
    2020年, 65歳以上, 第1回). 「1通300円」 or 「8時30分から17時15分」 make a row data, not labels."""
    cells = [clean_cell(c) for c in row if c]
    return bool(cells) and all(
        len(c) <= 30 and not is_numberish(c) and (not _DIGIT.search(c) or _LABEL_NUMBER.search(c))
        for c in cells
    )


def _looks_like_data(row: Sequence[str | None]) -> bool:
    cells = [clean_cell(c) for c in row if c]
    return sum(is_numberish(c) or vote_value(c) is not None for c in cells) >= max(1, len(cells) // 2)


def _column_labels(header_grid: list[list[str]]) -> list[str]:
    labels: list[str] = []
    for c in range(len(header_grid[0]) if header_grid else 0):
        parts: list[str] = []
        for row in header_grid:
            cell = row[c]
            if cell and cell not in parts:
                parts.append(cell)
        labels.append(" ".join(parts))
    return labels


def build_table(
    grid: Sequence[Sequence[str | None]],
    *,
    number: int,
    page: int | None = None,
    caption: str | None = None,
    previous: ExtractedTable | None = None,
    ocr_confidence: float | None = None,
    origins: Origins | None = None,
) -> ExtractedTable | None:
    """A cleaned table from a raw cell grid, or None when the grid is not a table worth its own
    chunk (one column, one row, a ruled box of prose, the gridlines of a chart). `origins` says
    where the merged cell covering each None position starts (see `_fill_merged`).

    A grid whose first row is already data and that has as many columns as `previous` continues
    that table (a budget table running on over the next ruling or page) and takes its header.
    """
    width = max((len(row) for row in grid), default=0)
    padded = [list(row) + [None] * (width - len(row)) for row in grid]
    kept_rows = [r for r, row in enumerate(padded) if any(cell for cell in row)]
    if width < 2 or len(kept_rows) < 2:
        return None
    first = padded[kept_rows[0]]
    continued = previous is not None and len(previous.header) == width and _looks_like_data(first)
    header_rows = 0 if continued or not _header_like(first) else _header_count([padded[r] for r in kept_rows])
    header_end = kept_rows[header_rows] if header_rows < len(kept_rows) else len(padded)
    resolved = _fill_merged(padded, header_end, origins)
    cells = [[clean_cell(cell) for cell in resolved[r]] for r in kept_rows]
    filled_text = [c for row in cells for c in row if c]
    if len(filled_text) < 3:
        return None
    keep = [c for c in range(width) if any(row[c] for row in cells)]
    cells = [[row[c] for c in keep] for row in cells]
    if len(keep) < 2:
        return None
    if sum(len(c) for c in filled_text) / len(filled_text) > MAX_MEAN_CELL_CHARS or _is_chart(cells):
        return None
    if continued and previous is not None and len(keep) == width:
        header = list(previous.header)
        caption = caption or previous.caption
    else:
        header = _column_labels(cells[:header_rows]) if header_rows else [""] * len(keep)
    body = [row for row in cells[header_rows:] if any(row)]
    if not body:
        return None
    return ExtractedTable(
        number=number, page=page, caption=caption, header=header, rows=body, ocr_confidence=ocr_confidence
    )


# ---------------------------------------------------------------------------------------------
# ExtractedTable → text
# ---------------------------------------------------------------------------------------------


def _md_cell(cell: str) -> str:
    return cell.replace("|", "｜").replace("\n", " ") or " "


def _md_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(_md_cell(c) for c in cells) + " |"


def markdown_parts(table: ExtractedTable, max_chars: int, title: str | None = None) -> list[str]:
    """The table as Markdown, split between rows so that each part stays near `max_chars` and
    every part repeats the title line (`title`, then the caption) and the header row."""
    first = " ".join(part for part in (title, table.caption) if part)
    head_lines = [first] if first else []
    head_lines += [_md_row(table.header), "|" + "---|" * len(table.header)]
    head = "\n".join(head_lines)
    parts: list[str] = []
    current: list[str] = []
    size = len(head)
    for row in table.rows:
        line = _md_row(row)
        if current and size + len(line) + 1 > max_chars:
            parts.append("\n".join([head, *current]))
            current, size = [], len(head)
        current.append(line)
        size += len(line) + 1
    if current:
        parts.append("\n".join([head, *current]))
    return parts


def label_columns(table: ExtractedTable) -> int:
    """Leading columns that name the row rather than hold values: the first column, and the next
    ones while the column before groups rows (its values repeat: 款 → 項, 人口 → 年少人口 → 0~4歳)
    or, in a vote table, while they hold no vote marks (議案番号 + 件名)."""
    vote = is_vote_table(table)
    count = 1
    for c in range(1, len(table.header) - 1):
        values = [row[c] for row in table.rows if row[c]]
        if not values or any(is_numberish(v) or vote_value(v) is not None for v in values):
            break
        before = {row[c - 1] for row in table.rows if row[c - 1]}
        if not vote and len(before) == len(table.rows):  # every row its own value: not a grouping
            break
        count += 1
    return count


def is_vote_table(table: ExtractedTable) -> bool:
    """A 賛否一覧 / 表決結果: most value cells are vote marks (○ × 欠 …)."""
    values = [cell for row in table.rows for cell in row[1:] if cell]
    votes = sum(vote_value(cell) is not None for cell in values)
    return bool(values) and votes >= 0.6 * len(values) and votes >= 2


def _vote_sentences(table: ExtractedTable) -> list[str]:
    """One sentence per bill: 「議案第5号 …条例：山田太郎 賛成（○）、鈴木一郎 反対（×）。」.
    Bills are the rows unless the column headers are the bills (a table transposed)."""
    labels = label_columns(table)
    columns_are_bills = (
        sum(bool(_BILL.search(h)) for h in table.header[labels:]) > (len(table.header) - labels) / 2
    )
    votes: dict[str, list[str]] = {}
    for row in table.rows:
        row_label = " ".join(c for c in row[:labels] if c)
        for column, cell in zip(table.header[labels:], row[labels:], strict=False):
            value = vote_value(cell)
            if value is None or not column:
                continue
            bill, member = (column, row_label) if columns_are_bills else (row_label, column)
            votes.setdefault(bill, []).append(f"{member} {value}")
    return [f"{bill}：{'、'.join(items)}。" for bill, items in votes.items() if bill]


def _sentences_of_row(row: Sequence[str], header: Sequence[str], labels: int, max_chars: int) -> list[str]:
    """「<row label>：<column> <value>、<column> <value>。」: the whole row in one sentence. Only a row
    longer than `max_chars` is cut, between cells, and every part starts with the row label."""
    row_label = " ".join(c for c in row[:labels] if c)
    pairs = [(column, cell) for column, cell in zip(header[labels:], row[labels:], strict=False) if cell]
    if not pairs:
        return [f"{row_label}。"] if row_label else []
    items = [f"{column} {cell}".rstrip("。") if column else cell.rstrip("。") for column, cell in pairs]
    lead = f"{row_label}：" if row_label else ""
    sentences: list[str] = []
    current: list[str] = []
    for item in items:
        if current and len(lead) + len("、".join([*current, item])) + 1 > max_chars:
            sentences.append(f"{lead}{'、'.join(current)}。")
            current = []
        current.append(item)
    sentences.append(f"{lead}{'、'.join(current)}。")
    return sentences


def row_sentences(table: ExtractedTable, max_chars: int = 10**6) -> list[str]:
    """One sentence per row: 「<row label>：<column header> <value>、<column header> <value>。」."""
    return [sentence for _, sentences in _row_groups(table, max_chars) for sentence in sentences]


def _row_groups(table: ExtractedTable, max_chars: int) -> list[tuple[list[str], list[str]]]:
    """Each body row with the sentences made from it (vote tables: one group for the whole table)."""
    if is_vote_table(table):
        return [(table.rows[0], _vote_sentences(table))]
    labels = label_columns(table)
    return [(row, _sentences_of_row(row, table.header, labels, max_chars)) for row in table.rows]


def table_unit(table: ExtractedTable) -> str | None:
    """The unit the caption or header states for the numbers (「（単位：千円）」 → 千円), if any."""
    for text in (table.caption or "", *table.header):
        match = _UNIT.search(text)
        if match:
            return match.group("unit")
    return None


def table_from_markdown(markdown: str) -> ExtractedTable | None:
    """The table back from a chunk's Markdown (`markdown_parts`): lines before the header row are its
    caption, then the header, the separator and the body rows. None for text that is no such table."""
    lines = [line.strip() for line in markdown.split("\n") if line.strip()]
    start = next((i for i, line in enumerate(lines) if line.startswith("|")), None)
    if start is None or start + 1 >= len(lines) or not lines[start + 1].startswith("|-"):
        return None
    caption = " ".join(lines[:start]).lstrip("#").strip() or None

    def cells(line: str) -> list[str]:
        inner = line[2:-2] if line.startswith("| ") and line.endswith(" |") else line.strip("|")
        return [cell.strip() for cell in inner.split(" | ")]

    header = cells(lines[start])
    rows = [cells(line) for line in lines[start + 2 :] if line.startswith("|")]
    rows = [row + [""] * (len(header) - len(row)) for row in rows if len(row) <= len(header)]
    if len(header) < 2 or not rows:
        return None
    return ExtractedTable(number=0, caption=caption, header=header, rows=rows)


# ---------------------------------------------------------------------------------------------
# Chunks
# ---------------------------------------------------------------------------------------------


def _title_line(table: ExtractedTable, document_title: str | None) -> str:
    """「## <document> 表12（p.21） <caption>」: a table's rows mean little without what it is part of.
    A Markdown heading, so that the extractive engine reads it as the rows' section (its words
    support them) instead of quoting it as an answer."""
    where = f"（p.{table.page}）" if table.page else ""
    line = f"表{table.number}{where}" + (f" {table.caption}" if table.caption else "")
    return f"## {document_title} {line}" if document_title else f"## {line}"


def table_texts(
    table: ExtractedTable, size: int, document_title: str | None = None
) -> list[tuple[str, str, str]]:
    """(text, kind, markdown) triples: kind "table" for Markdown parts (markdown = the text),
    "table_rows" for packed row sentences, whose markdown shows the rows they were made from, so
    that a citation of a row sentence can still show its table (and the extractive engine read its
    cells). Rows are packed whole: a chunk is cut only between rows."""
    title = _title_line(table, document_title)
    head = f"## {document_title} 表{table.number}" if document_title else None
    limit = int(size * TABLE_SLACK)
    texts = [(part, "table", part) for part in markdown_parts(table, limit, head)]
    vote = is_vote_table(table)
    current: list[str] = []
    rows: list[list[str]] = []
    length = len(title)

    def flush() -> None:
        view = table if vote else table.model_copy(update={"rows": rows})  # vote sentences span all rows
        texts.append(("\n".join([title, *current]), "table_rows", markdown_parts(view, 10**9)[0]))

    for row, sentences in _row_groups(table, limit - len(title) - 1):
        whole = sum(len(sentence) + 1 for sentence in sentences)
        if current and length + whole > size:  # the next row does not fit: cut before it, never inside
            flush()
            current, rows, length = [], [], len(title)
        rows.append(row)
        for sentence in sentences:
            # Vote sentences are one per bill, and a row too long for one chunk comes in parts that
            # each repeat its label: those may be cut between sentences.
            if current and length + len(sentence) + 1 > size and (vote or len(sentences) > 1):
                flush()
                current, rows, length = [], [row], len(title)
            current.append(sentence)
            length += len(sentence) + 1
    if current:
        flush()
    return texts


def table_chunks(document: LoadedDocument, doc_type: DocType, *, size: int, start_index: int) -> list[Chunk]:
    """Chunks for every table of the document, numbered on from `start_index`; each carries its
    table number and page (and OCR confidence) in `extra` for the citation."""
    chunks: list[Chunk] = []
    for table in document.tables:
        # Without the document title: measured on benchmarks/table_questions, the title's words (令和8年度,
        # 一般会計予算) pulled every table into every question and the engine quoted the title line.
        for text, kind, markdown in table_texts(table, size):
            extra: dict[str, object] = {"table": table.number, "content": kind}
            if kind == "table_rows":
                extra["table_markdown"] = markdown
            if table.ocr_confidence is not None:
                extra.update({"ocr": True, "ocr_confidence": round(table.ocr_confidence, 1)})
            chunks.append(
                Chunk(
                    text=text,
                    doc_id=document.doc_id,
                    title=document.title,
                    doc_type=doc_type,
                    chunk_index=start_index + len(chunks),
                    page=table.page,
                    heading=table.caption,
                    extra=extra,
                )
            )
    return chunks
