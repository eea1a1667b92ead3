"""Small survey fixtures made from the real Toyama file, in the shapes municipal surveys arrive in:
cp932 / EUC-JP CSV, an Excel workbook with a two-row header and two sheets, numeric codes with a code
book, and 0/1 flag columns for a multiple-choice question. pandas reads the real file independently
of the code under test, so the tests can compare counts."""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

import pandas as pd

from tests.helpers import ROOT

TOYAMA = ROOT / "corpora" / "surveys" / "toyama-kanko" / "toyama.csv"
TEST_ROWS = [1, 2, 3]  # the first three answers are test entries (SOURCE.txt)
SATISFACTION = ["交通", "食べ物・料理", "宿泊施設", "観光・体験", "旅行全体"]
SCALE = ["大いに満足", "満足", "普通", "不満", "大いに不満"]
SMALL_COLUMNS = ["性別", "年代", "職種", "満足度（交通）", "満足度（旅行全体）", "訪問目的", "おすすめ度"]


@lru_cache(maxsize=1)
def toyama_frame() -> pd.DataFrame:
    """The real file as pandas reads it (strings, empty → NaN), test rows dropped."""
    frame = pd.read_csv(TOYAMA, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    frame = frame.apply(lambda col: col.str.strip()).replace("", pd.NA)
    return frame.iloc[len(TEST_ROWS):].reset_index(drop=True)


def small_frame(rows: int = 300, columns: list[str] = SMALL_COLUMNS) -> pd.DataFrame:
    return toyama_frame()[columns].head(rows).copy()


def multiple_counts(series: pd.Series) -> dict[str, int]:
    """Respondents choosing each option of a ", "-joined column (stray commas and spaces dropped)."""
    parts = series.dropna().str.split(", ").apply(
        lambda items: sorted({p.strip().strip(",，、").strip() for p in items} - {""})
    )
    return parts.explode().dropna().value_counts().to_dict()


def csv_bytes(frame: pd.DataFrame, encoding: str) -> bytes:
    return frame.to_csv(index=False).encode(encoding)


def xlsx_two_row_header(frame: pd.DataFrame) -> bytes:
    """Sheet 「回答」: 性別・年代 merged down two header rows, 「満足度」 merged across its five items;
    sheet 「説明」: a note, as real workbooks have."""
    from openpyxl import Workbook

    book = Workbook()
    ws = book.active
    ws.title = "回答"
    ws.append(["性別", "年代", "満足度"] + [None] * (len(SATISFACTION) - 1))
    ws.append([None, None] + SATISFACTION)
    ws.merge_cells(start_row=1, start_column=1, end_row=2, end_column=1)
    ws.merge_cells(start_row=1, start_column=2, end_row=2, end_column=2)
    ws.merge_cells(start_row=1, start_column=3, end_row=1, end_column=2 + len(SATISFACTION))
    for row in frame[["性別", "年代"] + [f"満足度（{s}）" for s in SATISFACTION]].itertuples(index=False):
        ws.append([None if pd.isna(v) else v for v in row])
    notes = book.create_sheet("説明")
    notes.append(["富山県観光ウェブアンケートの一部（CC BY）"])
    notes.append(["満足度は5段階"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def coded(frame: pd.DataFrame) -> tuple[bytes, bytes]:
    """年代 and 満足度（旅行全体） as numeric codes, and the code book (設問, コード, ラベル) that maps them back."""
    ages = sorted(frame["年代"].dropna().unique(), key=lambda a: (a != "10代", a))
    books = {"年代": ages, "満足度（旅行全体）": SCALE}
    data = frame[["年代", "満足度（旅行全体）"]].copy()
    rows = []
    for column, labels in books.items():
        codes = {label: str(i) for i, label in enumerate(labels, start=1)}
        data[column] = data[column].map(codes)
        rows += [(column, code, label) for label, code in codes.items()]
    book = pd.DataFrame(rows, columns=["設問", "コード", "ラベル"])
    return data.to_csv(index=False).encode("utf-8"), book.to_csv(index=False).encode("utf-8")


def flags(frame: pd.DataFrame, column: str = "訪問目的") -> tuple[bytes, list[str]]:
    """A ", "-joined multiple-choice column as one 0/1 column per option (「訪問目的_温泉や露天風呂」…)."""
    options = sorted(multiple_counts(frame[column]))
    out = frame[["性別"]].copy()
    chosen = frame[column].dropna().str.split(", ").apply(lambda items: {p.strip().strip(",，、").strip() for p in items})
    for option in options:
        out[f"{column}_{option}"] = [
            "" if pd.isna(value) else "1" if option in chosen[i] else "0" for i, value in frame[column].items()
        ]
    return out.to_csv(index=False).encode("utf-8"), options


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
