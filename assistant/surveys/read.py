"""Survey files → a header and rows of strings.

Municipal surveys arrive as CSV from web forms (UTF-8, often with a BOM), CSV saved by Excel on
Windows (cp932), older systems' EUC-JP, and Excel workbooks with headers over two rows (a merged group
cell such as 「満足度」 above 「交通」「食べ物」…). Everything becomes text here; kinds are decided
later (kinds.py), so reading never guesses what a value means.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from yakuba.core.errors import InvalidInputError
from yakuba.core.text import xml_safe
from yakuba.core.types import DocumentLoadError
from yakuba.ingest.loaders.archive import check_archive

ENCODINGS = ("utf-8-sig", "cp932", "euc_jp")
_NUMBERISH = re.compile(r"^[\s\d.,:/\-+年月日時分秒]*$")
_HALFWIDTH_KANA = re.compile(r"[\uff61-\uff9f]")
_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@dataclass
class RawSurvey:
    """A rectangular table of strings (None = empty cell) with the names the header gave."""

    header: list[str]
    rows: list[list[str | None]]
    encoding: str | None = None
    sheet: str | None = None
    header_rows: int = 1
    warnings: list[str] = field(default_factory=list)


def read_survey(
    data: bytes,
    filename: str,
    *,
    sheet: str | None = None,
    header_rows: int | None = None,
    encoding: str | None = None,
) -> RawSurvey:
    """Read a CSV or XLSX file's bytes; a clear InvalidInputError for anything unusable."""
    if not data:
        raise InvalidInputError("ファイルが空です / the file is empty", code="survey_empty_file")
    suffix = Path(filename or "").suffix.lower()
    if suffix in {".xlsx", ".xlsm"} or (data[:2] == b"PK" and suffix not in {".csv", ".txt", ".tsv"}):
        grid, sheet_name = _xlsx_grid(data, sheet)
        enc = None
    elif suffix in {".csv", ".txt", ".tsv", ""}:
        text, enc = decode(data, encoding)
        grid = _csv_grid(text)
        sheet_name = None
    else:
        raise InvalidInputError(
            f"対応していない形式です（{suffix}）。CSV か Excel（.xlsx）を指定してください / "
            f"unsupported file type {suffix!r}: use CSV or .xlsx",
            code="survey_unsupported_type",
        )
    return _to_survey(grid, header_rows, encoding=enc, sheet=sheet_name)


def decode(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """Text and the encoding used: the one given, else the candidate that reads as the most Japanese.

    EUC-JP bytes usually also decode as cp932 (into half-width katakana noise), so the first encoding
    that does not fail is not enough: candidates are scored by real Japanese characters.
    """
    if encoding:
        try:
            return data.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            raise InvalidInputError(
                f"文字コード {encoding} として読めません / cannot decode the file as {encoding}: {exc}",
                code="survey_encoding",
            ) from exc
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's 「Unicode テキスト」 export
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass
    candidates: list[tuple[int, str, str]] = []
    for enc in ENCODINGS:
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        if enc == "utf-8-sig":  # valid UTF-8 is never an accident for Japanese text
            return text, "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
        score = len(_JAPANESE.findall(text)) - 3 * len(_HALFWIDTH_KANA.findall(text))
        if "\x00" not in text and score > 0:  # bytes that merely decode (binary, Latin-1) are not Japanese text
            candidates.append((score, enc, text))
    if not candidates:
        raise InvalidInputError(
            "文字コードを判別できません（UTF-8・Shift_JIS（cp932）・EUC-JP の日本語のテキストではありません） / "
            "cannot decode the file: not Japanese text in UTF-8, Shift_JIS (cp932) or EUC-JP",
            code="survey_encoding",
        )
    score, enc, text = max(candidates, key=lambda c: c[0])
    return text, enc


def _csv_grid(text: str) -> list[list[str | None]]:
    sample = text[:20_000]
    delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return [[_cell(v) for v in row] for row in reader]
    except csv.Error as exc:
        raise InvalidInputError(f"CSV を読めません / malformed CSV: {exc}", code="survey_bad_csv") from exc


def _cell(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime):
        text = value.isoformat(sep=" ", timespec="minutes" if value.second == 0 else "seconds")
        return text.removesuffix(" 00:00")
    if isinstance(value, dt.date):
        return value.isoformat()
    text = xml_safe(str(value)).strip()  # control characters would break every report format
    return text or None


def _xlsx_grid(data: bytes, sheet: str | None) -> tuple[list[list[str | None]], str]:
    from openpyxl import load_workbook

    try:  # an .xlsx is a zip: refuse a bomb from its directory before openpyxl expands anything
        check_archive(data, "Excel")
    except DocumentLoadError as exc:
        raise InvalidInputError(exc.message_ja, exc.message_en, code="archive_bomb") from exc
    try:
        book = load_workbook(io.BytesIO(data), data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InvalidInputError(
            f"Excel ファイルを開けません / cannot open the Excel file: {exc}", code="survey_bad_xlsx"
        ) from exc
    used = [ws.title for ws in book.worksheets if ws.max_row > 1 or ws.max_column > 1]
    if sheet is None:
        if len(used) > 1:
            raise InvalidInputError(
                f"シートが複数あります（{'、'.join(used)}）。集計するシートを選んでください / "
                f"the workbook has several sheets ({', '.join(used)}): choose one",
                code="survey_choose_sheet",
                detail={"sheets": used},
            )
        sheet = used[0] if used else book.worksheets[0].title
    if sheet not in book.sheetnames:
        raise InvalidInputError(
            f"シート「{sheet}」がありません（{'、'.join(book.sheetnames)}） / no sheet {sheet!r}",
            code="survey_no_sheet",
            detail={"sheets": book.sheetnames},
        )
    ws = book[sheet]
    grid = [[_cell(v) for v in row] for row in ws.iter_rows(values_only=True)]
    # A merged cell holds its value only at the top-left: copy it over the range, so a group header
    # merged across columns (or a name merged down the header rows) reaches every column.
    for merged in ws.merged_cells.ranges:
        value = grid[merged.min_row - 1][merged.min_col - 1] if merged.min_row <= len(grid) else None
        for r in range(merged.min_row - 1, min(merged.max_row, len(grid))):
            for c in range(merged.min_col - 1, merged.max_col):
                if c < len(grid[r]):
                    grid[r][c] = value
    return grid, sheet


def _to_survey(
    grid: list[list[str | None]], header_rows: int | None, *, encoding: str | None, sheet: str | None
) -> RawSurvey:
    grid = [row for row in grid if any(v is not None for v in row)]
    if not grid:
        raise InvalidInputError("データがありません / the file has no data", code="survey_no_data")
    width = max(len(row) for row in grid)
    grid = [row + [None] * (width - len(row)) for row in grid]
    if header_rows is None:
        header_rows = _detect_header_rows(grid)
    if len(grid) <= header_rows:
        raise InvalidInputError(
            "見出し行のほかに回答の行がありません / no answer rows below the header", code="survey_no_data"
        )
    header = _join_header(grid[:header_rows])
    _check_header(header)
    rows = grid[header_rows:]
    warnings: list[str] = []
    keep = [j for j in range(width) if header[j] or any(row[j] is not None for row in rows)]
    for j in keep:
        if not header[j]:
            header[j] = f"列{j + 1}"
            warnings.append(f"列{j + 1} に見出しがありません / column {j + 1} has no header")
    header = _unique([header[j] for j in keep])
    rows = [[row[j] for j in keep] for row in rows]
    return RawSurvey(header, rows, encoding=encoding, sheet=sheet, header_rows=header_rows, warnings=warnings)


def _detect_header_rows(grid: list[list[str | None]]) -> int:
    """2 when the first row is a group row: a gap under which the second row names a column.

    A data row would have numbers or dates; a sub-header row is text only and fills those gaps.
    """
    if len(grid) < 3:
        return 1
    first, second = grid[0], grid[1]
    last = max((j for j, v in enumerate(first) if v is not None), default=-1)
    gaps = [j for j in range(last + 1) if first[j] is None and second[j] is not None]
    if first[0] is None and second[0] is not None:
        gaps.append(0)
    repeated = any(first[j] is not None and first[j] == first[j + 1] for j in range(len(first) - 1))
    if not gaps and not repeated:
        return 1
    texts = [v for v in second if v is not None]
    if not texts or any(_NUMBERISH.match(v) for v in texts):
        return 1
    return 2


def _join_header(rows: list[list[str | None]]) -> list[str]:
    """One name per column: 「満足度」 over 「交通」 → 「満足度（交通）」; a name merged down stays one name."""
    if len(rows) == 1:
        return [_name(v) for v in rows[0]]
    top = list(rows[0])
    group: str | None = None
    for j, value in enumerate(top):  # CSV has no merge information: a gap continues the group on its left
        if value is not None:
            group = value
        elif group is not None and any(r[j] is not None for r in rows[1:]):
            top[j] = group
    names = []
    for j, head in enumerate(top):
        parts: list[str] = []
        for value in [head] + [r[j] for r in rows[1:]]:
            if value is not None and _name(value) not in parts:
                parts.append(_name(value))
        names.append(parts[0] + "".join(f"（{p}）" for p in parts[1:]) if parts else "")
    return names


def _name(value: str | None) -> str:
    return " ".join(value.split()) if value else ""


def _check_header(header: list[str]) -> None:
    named = [h for h in header if h]
    looks_like_data = [h for h in named if _NUMBERISH.match(h)]
    if not named or len(looks_like_data) > len(named) / 2:
        raise InvalidInputError(
            "1行目が見出しに見えません（数値や日付ばかりです）。1行目に設問名を入れてください / "
            "the first row does not look like a header (mostly numbers or dates): put question names in row 1",
            code="survey_no_header",
        )


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out
