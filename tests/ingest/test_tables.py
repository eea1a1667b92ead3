"""Tables as their own chunks (issue #15): grids from real layouts → cleaned tables → Markdown and
row sentences; vote tables; docx and html tables; a real ruled table in a corpus PDF."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import ROOT
from yakuba.core.types import DocType, ExtractedTable, LoadedDocument, PageText
from yakuba.ingest.chunk import chunk_document
from yakuba.ingest.clean import clean_pages
from yakuba.ingest.loaders import load_path
from yakuba.ingest.tables import (
    TABLE_SLACK,
    build_table,
    clean_cell,
    is_vote_table,
    markdown_parts,
    row_sentences,
    table_from_markdown,
    table_texts,
    table_unit,
)

# The grid pdfplumber returns for the 歳出 summary of a municipal budget (議案第7号 p.21): a
# three-row header with merged cells (None), letter-spaced labels, △ for minus.
BUDGET_GRID: list[list[str | None]] = [
    ["款", "本年度予算額", "前年度予算額", "比 較", "本 年 度 予 算 額 の 財 源 内 訳", None, None, None],
    [None, None, None, None, "特 定 財 源", None, None, "一般財源"],
    [None, None, None, None, "国県支出金", "地 方 債", "そ の 他", None],
    ["1.議会費", "206,337", "207,192", "△855", "", "", "", "206,337"],
    ["2.総務費", "2,581,722", "2,759,606", "△177,884", "153,375", "24,600", "635,261", "1,768,486"],
]

# A 賛否一覧: members' names set vertically (one character per line) in the header row.
VOTE_GRID: list[list[str | None]] = [
    ["議案番号", "件名", "丹\n羽\n孝\n志", "山\n田\n太\n郎", "佐\n藤\n花\n子"],
    ["議案第1号", "やくば町税条例の一部を改正する条例", "○", "×", "○"],
    ["議案第2号", "令和6年度やくば町一般会計予算", "○", "×", "欠"],
]


def test_clean_cell_joins_vertical_spaced_and_wrapped_text() -> None:
    assert clean_cell("丹\n羽\n孝\n志") == "丹羽孝志"
    assert clean_cell("金 額") == "金額"
    assert (
        clean_cell("(但し、利率見直し方式で借り入れる政\n府資金)")
        == "(但し、利率見直し方式で借り入れる政府資金)"
    )
    assert clean_cell("均等割 68,310\n所得割 2,244,502") == "均等割 68,310 所得割 2,244,502"
    assert clean_cell("６，５３８，７７７") == "6,538,777"
    assert clean_cell(None) == ""


def test_multi_row_header_with_merged_cells() -> None:
    table = build_table(BUDGET_GRID, number=12, page=21, caption="(歳出) (単位:千円)")
    assert table is not None
    assert table.header == [
        "款",
        "本年度予算額",
        "前年度予算額",
        "比較",
        "本年度予算額の財源内訳 特定財源 国県支出金",
        "本年度予算額の財源内訳 特定財源 地方債",
        "本年度予算額の財源内訳 特定財源 その他",
        "本年度予算額の財源内訳 一般財源",
    ]
    assert table.rows[0] == ["1.議会費", "206,337", "207,192", "△855", "", "", "", "206,337"]
    first = row_sentences(table)[0]
    assert first.startswith("1.議会費：本年度予算額 206,337、前年度予算額 207,192、比較 △855")
    assert "一般財源 206,337" in first and "国県支出金" not in first  # empty cells say nothing
    # A long row stays one sentence: its label and every cell together.
    assert row_sentences(table)[1] == (
        "2.総務費：本年度予算額 2,581,722、前年度予算額 2,759,606、比較 △177,884、"
        "本年度予算額の財源内訳 特定財源 国県支出金 153,375、本年度予算額の財源内訳 特定財源 地方債 24,600、"
        "本年度予算額の財源内訳 特定財源 その他 635,261、本年度予算額の財源内訳 一般財源 1,768,486。"
    )


def test_continuation_takes_the_previous_header() -> None:
    first = build_table([["款", "金額"], ["1.市税", "6,538,777"]], number=1, page=8)
    rest = build_table(
        [["2.地方譲与税", "243,215"], ["3.利子割交付金", "5,800"]], number=2, page=9, previous=first
    )
    assert rest is not None and rest.header == ["款", "金額"]
    assert rest.rows == [["2.地方譲与税", "243,215"], ["3.利子割交付金", "5,800"]]
    assert row_sentences(rest)[0] == "2.地方譲与税：金額 243,215。"


@pytest.mark.parametrize(
    "grid",
    [
        [["第1条 この条例は…"], ["第2条 …"]],  # one column: a ruled text box
        [["見出し", None]],  # one row
        [["あ" * 200, "い" * 200], ["う" * 200, "え" * 200]],  # prose in a frame
    ],
)
def test_grids_that_are_not_tables(grid: list[list[str | None]]) -> None:
    assert build_table(grid, number=1) is None


def test_vote_table_sentences_name_bill_member_and_vote() -> None:
    table = build_table(VOTE_GRID, number=1, page=3, caption="議員別賛否一覧")
    assert table is not None and is_vote_table(table)
    assert table.header[2:] == ["丹羽孝志", "山田太郎", "佐藤花子"]
    sentences = row_sentences(table)
    assert sentences == [
        "議案第1号 やくば町税条例の一部を改正する条例：丹羽孝志 賛成（○）、山田太郎 反対（×）、佐藤花子 賛成（○）。",
        "議案第2号 令和6年度やくば町一般会計予算：丹羽孝志 賛成（○）、山田太郎 反対（×）、佐藤花子 欠席。",
    ]
    budget = build_table(BUDGET_GRID, number=1)
    assert budget is not None and not is_vote_table(budget)


def test_transposed_vote_table() -> None:
    grid: list[list[str | None]] = [
        ["議員名", "議案第1号", "議案第2号"],
        ["山田太郎", "×", "○"],
        ["佐藤花子", "○", "○"],
    ]
    table = build_table(grid, number=1)
    assert table is not None
    assert row_sentences(table) == [
        "議案第1号：山田太郎 反対（×）、佐藤花子 賛成（○）。",
        "議案第2号：山田太郎 賛成（○）、佐藤花子 賛成（○）。",
    ]


def test_long_table_parts_repeat_caption_and_header() -> None:
    rows = [[f"{i}.項目{i}", f"{i * 1000:,}"] for i in range(1, 61)]
    table = ExtractedTable(number=4, page=10, caption="(単位:千円)", header=["款", "金額"], rows=rows)
    parts = markdown_parts(table, 300)
    assert len(parts) > 3
    for part in parts:
        assert part.startswith("(単位:千円)\n| 款 | 金額 |\n|---|---|\n")
        assert len(part) <= 300
    body = [line for part in parts for line in part.split("\n")[3:]]
    assert body == [f"| {r[0]} | {r[1]} |" for r in rows]  # every row once, in order
    kinds = [kind for _, kind, _ in table_texts(table, 300)]
    assert (
        kinds.count("table") == len(markdown_parts(table, int(300 * TABLE_SLACK))) and "table_rows" in kinds
    )
    for text, kind, markdown in table_texts(table, 300):
        if kind == "table_rows":
            assert text.startswith("## 表4（p.10） (単位:千円)\n")
            # The Markdown a citation of these sentences shows: the header and exactly their rows.
            labels = [line.split("：")[0] for line in text.split("\n")[1:]]
            assert markdown.split("\n")[1:3] == ["| 款 | 金額 |", "|---|---|"]
            assert [line.split(" | ")[0].lstrip("| ") for line in markdown.split("\n")[3:]] == labels
        else:
            assert markdown == text


def test_chunks_carry_table_number_page_and_kind() -> None:
    table = build_table(VOTE_GRID, number=1, page=3, caption="議員別賛否一覧")
    assert table is not None
    document = LoadedDocument(
        doc_id="votes.pdf",
        title="賛否一覧",
        file_format="pdf",
        pages=[PageText(page=1, text="令和6年第1回定例会の議決結果です。")],
        tables=[table],
    )
    chunks = chunk_document(document, DocType.COUNCIL_MINUTES, size=500, overlap=80)
    text_chunks = [c for c in chunks if "table" not in c.extra]
    table_chunks = [c for c in chunks if "table" in c.extra]
    assert len(text_chunks) == 1 and [c.chunk_index for c in chunks] == list(range(len(chunks)))
    assert {(c.page, c.extra["table"], c.extra["content"]) for c in table_chunks} == {
        (3, 1, "table"),
        (3, 1, "table_rows"),
    }
    rows_chunk = next(c for c in table_chunks if c.extra["content"] == "table_rows")
    assert "山田太郎 反対（×）" in rows_chunk.text
    assert "| 議案第1号 | やくば町税条例の一部を改正する条例 | ○ | × | ○ |" in str(
        rows_chunk.extra["table_markdown"]
    )


def test_ocr_pages_mark_their_chunks() -> None:
    document = LoadedDocument(
        doc_id="scan.pdf",
        title="scan",
        file_format="pdf",
        pages=[
            PageText(page=1, text="本文は文字情報のあるページです。"),
            PageText(page=2, text="このページは画像から読み取りました。", ocr_confidence=87.26),
        ],
    )
    cleaned = document.model_copy(update={"pages": clean_pages(document.pages)})
    assert [p.ocr_confidence for p in cleaned.pages] == [None, 87.26]
    chunks = chunk_document(cleaned, DocType.OTHER, size=20, overlap=0)
    assert [(c.page, c.extra.get("ocr_confidence")) for c in chunks] == [(1, None), (2, 87.3)]


def test_docx_vote_table_and_layout_grid(tmp_path: Path) -> None:
    from docx import Document

    doc = Document()
    doc.add_paragraph("令和6年第1回定例会 議決結果")
    table = doc.add_table(rows=3, cols=4)
    for r, values in enumerate(
        [
            ["議案番号", "件名", "山田太郎", "佐藤花子"],
            ["議案第1号", "町税条例", "○", "×"],
            ["議案第2号", "予算", "○", "○"],
        ]
    ):
        for c, value in enumerate(values):
            table.cell(r, c).text = value
    merged = doc.add_table(rows=1, cols=1)  # a one-cell frame: stays text
    merged.cell(0, 0).text = "お問い合わせ 総務課"
    path = tmp_path / "votes.docx"
    doc.save(path)
    [loaded] = load_path(path)
    [vote] = loaded.tables
    assert vote.caption == "令和6年第1回定例会 議決結果" and vote.header == [
        "議案番号",
        "件名",
        "山田太郎",
        "佐藤花子",
    ]
    assert "議案第1号 町税条例：山田太郎 賛成（○）、佐藤花子 反対（×）。" in row_sentences(vote)
    assert "お問い合わせ 総務課" in loaded.pages[0].text and "議案第1号" not in loaded.pages[0].text


def test_html_rowspan_and_colspan(tmp_path: Path) -> None:
    page = tmp_path / "staff.html"
    page.write_text(
        "<html><body><h2>職員数の推移</h2><table>"
        "<tr><th rowspan=2>区分</th><th colspan=2>職員数（人）</th></tr>"
        "<tr><th>令和5年</th><th>令和6年</th></tr>"
        "<tr><td>一般行政</td><td>120</td><td>118</td></tr>"
        "<tr><td>教育</td><td>35</td><td>36</td></tr>"
        "</table><p>以上です。</p></body></html>",
        encoding="utf-8",
    )
    [doc] = load_path(page)
    [table] = doc.tables
    assert table.caption == "職員数の推移"
    assert table.header == ["区分", "職員数(人) 令和5年", "職員数(人) 令和6年"]
    assert row_sentences(table) == [
        "一般行政：職員数(人) 令和5年 120、職員数(人) 令和6年 118。",
        "教育：職員数(人) 令和5年 35、職員数(人) 令和6年 36。",
    ]
    assert "120" not in doc.pages[0].text


LIBRARY_BILL = ROOT / "corpora" / "南国市" / "議案第12号_南国市立図書館設置条例_全部改正.pdf"


def test_real_pdf_table_is_cut_out_of_the_page_text() -> None:
    """A ruled 名称/位置 table in a real ordinance bill (pdfplumber): its own table, not fragments."""
    [doc] = load_path(LIBRARY_BILL)
    [table] = doc.tables
    assert (table.number, table.page) == (1, 1)
    assert table.header == ["名称", "位置"]
    assert table.rows == [["南国市立図書館", "南国市駅前町三丁目1番2号"]]
    assert table.caption and "名称及び位置" in table.caption
    page_one = next(p for p in doc.pages if p.page == 1).text.replace(" ", "")
    assert "駅前町三丁目" not in page_one  # the cells are no longer duplicated in the text
    assert "図書館の名称及び位置は" in page_one  # the text around the table stays


def test_rows_are_never_split_from_their_label() -> None:
    """Row chunks are cut only between rows; a row too long for any chunk comes in parts that each
    start with its label; the Markdown behind every row chunk holds exactly its rows."""
    header = ["区分", *[f"令和{y}年度 決算額" for y in range(1, 9)]]
    rows = [[f"{i}.項目{i}", *[f"{i * 1000 + y:,}" for y in range(1, 9)]] for i in range(1, 7)]
    table = ExtractedTable(number=3, page=5, caption="(単位:千円)", header=header, rows=rows)
    texts = table_texts(table, 200)
    row_chunks = [(text, markdown) for text, kind, markdown in texts if kind == "table_rows"]
    seen: list[str] = []
    for text, markdown in row_chunks:
        lines = text.split("\n")[1:]
        assert all(line.split("：")[0] in {r[0] for r in rows} for line in lines)  # every line has its label
        seen += [line.split("：")[0] for line in lines]
        assert {line.split("：")[0] for line in lines} == {
            line.split(" | ")[0].lstrip("| ") for line in markdown.split("\n")[3:]
        }
    assert list(dict.fromkeys(seen)) == [r[0] for r in rows]
    # A row longer than the limit (8 cells of ~16 chars against 80) comes in labelled parts, all cells kept.
    parts = [s for s in row_sentences(table, 80) if s.startswith("1.項目1：")]
    assert len(parts) >= 2 and all(len(p) <= 80 for p in parts)
    assert sum(p.count("決算額") for p in parts) == 8
    # Small enough rows are one sentence each, packed whole.
    assert len(row_sentences(table)) == len(rows)


def test_markdown_round_trip_and_unit() -> None:
    table = build_table(BUDGET_GRID, number=12, page=21, caption="(歳出) (単位:千円)")
    assert table is not None
    [part] = markdown_parts(table, 10_000)
    back = table_from_markdown(part)
    assert back is not None
    assert (back.caption, back.header, back.rows) == (table.caption, table.header, table.rows)
    assert table_unit(table) == "千円"
    assert table_from_markdown("本文だけのテキストです。") is None


class _Band:
    """The lines pdfplumber reads in the band above a table (the part of a page `_caption` crops)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.width = 595.0

    def crop(self, bbox, strict: bool = False) -> _Band:  # type: ignore[no-untyped-def]
        return self

    def extract_text(self) -> str:
        return self.text


@pytest.mark.parametrize(
    ("band", "caption"),
    [
        ("― 10 ― 一般会計\n第 ３ 表 地 方 債\n（単位：千円）", "第 3 表地方債 (単位:千円)"),  # 予算書 p.16
        ("ア 職員１人当たりの給与\n（単位：円）\nイ 初任給\n（単位：円）", "イ初任給 (単位:円)"),  # p.133
        ("２．一般職\n款 1.市 税 項 1.市民税 （単位：千円）", "款 1.市税項 1.市民税 (単位:千円)"),  # one line: kept
        ("本市の人口は平成22年以降も減少を続けており、年少人口と生産年齢人口の減少が特に大きくなっています。\n（単位：人）", "(単位:人)"),
    ],
)
def test_a_unit_line_is_not_the_caption_the_line_above_it_is(band: str, caption: str) -> None:
    """「（単位：千円）」 alone above a table is its unit; the title sits on the line above (初任給,
    第３表 地方債) and is what a question names. A long line above is body text, not a title."""
    from yakuba.ingest.loaders.pdf_tables import _caption

    assert _caption(_Band(band), (50.0, 120.0, 500.0, 400.0)) == caption
