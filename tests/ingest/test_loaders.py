"""Tests for ingest.loaders: real shippable PDFs and synthetic fixtures in tests/data (regenerate
with tests/data/make_fixtures.py), plus the real local-only files of ../shared when present."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from yakuba.core.paths import shared_dir
from yakuba.core.types import DocType, DocumentLoadError
from yakuba.ingest.clean import MOJIBAKE_LINE_SCORE, clean_pages, mojibake_score
from yakuba.ingest.loaders import SUPPORTED_SUFFIXES, load_path
from yakuba.ingest.ocr import ocr_available

DATA = Path(__file__).resolve().parents[1] / "data"


def _shared_pdfs() -> Path | None:
    root = shared_dir()
    return root / "corpora" / "pdfs" if root and (root / "corpora" / "pdfs").is_dir() else None


SHARED = _shared_pdfs()
_shared_present = pytest.mark.skipif(
    SHARED is None, reason="../shared/corpora/pdfs (local-only real files) not present"
)


def needs_shared(test):  # type: ignore[no-untyped-def]
    """Real municipal PDFs from ../shared: seconds each, so the integration tier."""
    return pytest.mark.integration(_shared_present(test))


def _error(path: Path, **kwargs: object) -> DocumentLoadError:
    with pytest.raises(DocumentLoadError) as info:
        load_path(path, **kwargs)  # type: ignore[arg-type]
    error = info.value
    # Every error names the file in both languages and has Japanese text for staff.
    assert path.name in error.message_ja and path.name in error.message_en
    assert any("\u3040" <= ch <= "\u9fff" for ch in error.message_ja)
    assert str(error) == f"{error.message_ja} / {error.message_en}"
    return error


def test_supported_suffixes():
    assert {".pdf", ".docx", ".md", ".markdown", ".txt", ".html", ".htm", ".jsonl"} == SUPPORTED_SUFFIXES


# --- PDF: real files ---------------------------------------------------------------------------


@pytest.mark.integration
def test_pdf_real_letter_spaced_statement():
    path = DATA / "nankoku-shisei-houshin.pdf"
    [doc] = load_path(path)
    assert doc.doc_id == "nankoku-shisei-houshin.pdf"
    assert doc.title == "nankoku-shisei-houshin"  # no PDF title: the file stem
    assert doc.file_format == "pdf"
    assert doc.source_path == str(path)
    assert doc.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert [p.page for p in doc.pages] == list(range(1, 18))
    assert doc.pages[0].text.startswith("- 1 -\nお は よ う ご ざ い ま す 。")  # raw: cleaning is separate
    assert doc.warnings == []
    assert doc.metadata["page_count"] == 17
    assert "author" not in doc.metadata


def test_pdf_doc_id_override_and_cleaned_text():
    [doc] = load_path(DATA / "nankoku-gian18-shuwa-jourei.pdf", doc_id="nankoku/gian18")
    assert doc.doc_id == "nankoku/gian18"
    lines = [line for page in clean_pages(doc.pages) for line in page.text.split("\n")]
    assert lines[:3] == ["議案第18号", "南国市手話言語条例", "令和4年3月4日提出"]
    assert "(目的)" in lines
    assert lines[lines.index("(目的)") + 1].startswith(
        "第1条 この条例は、手話が言語であるという認識に基づき、"
    )
    assert "(1) ろう者手話を言語として使用して日常生活又は社会生活を営む聴覚障害者をいう。" in lines


def test_pdf_mojibake_real_sample():
    error = _error(DATA / "pdfminer-sample-kampo.pdf")
    assert error.code == "mojibake"
    assert "文字化け" in error.message_ja and "1/1" in error.message_en


# --- PDF: synthetic defects ----------------------------------------------------------------------


def test_pdf_aes_empty_user_password_opens():
    [doc] = load_path(DATA / "aes-empty-password.pdf")
    assert doc.metadata["encrypted"] is True
    assert doc.title == "地域防災計画（テスト）"
    assert [p.page for p in doc.pages] == [1, 2]
    assert "第1条 この計画は、防災に関し必要な事項を定めることにより" in doc.pages[0].text


def test_pdf_real_password_is_refused():
    assert _error(DATA / "password-protected.pdf").code == "encrypted"


def test_pdf_without_text_layer():
    error = _error(DATA / "scanned-only.pdf")
    assert error.code == "no_text_layer"
    assert "OCR" in error.message_ja and "OCR" in error.message_en


def test_pdf_pages_without_text_are_reported():
    [doc] = load_path(DATA / "plan-missing-pages.pdf")
    assert [p.page for p in doc.pages] == [1, 4]
    [warning] = doc.warnings
    assert "テキストのないページがあります: 2-3" in warning
    assert "OCRが必要なページ: 3" in warning and "pages without text: 2-3" in warning


def test_pdf_mostly_mojibake_is_refused():
    error = _error(DATA / "mojibake-newsletter.pdf")
    assert error.code == "mojibake"
    assert "3/4" in error.message_ja


def test_pdf_partial_mojibake_is_removed_with_warnings():
    [doc] = load_path(DATA / "partly-garbled-newsletter.pdf")
    assert [p.page for p in doc.pages] == [1, 3, 4]
    page4 = doc.pages[2].text.split("\n")
    assert page4[0] == "新年度の窓口時間のお知らせ"  # the garbled headline line is gone
    assert all(mojibake_score(p.text) < 0.01 for p in doc.pages)
    assert any("文字化けのため除外したページ: 2" in w for w in doc.warnings)
    assert any("文字化けした部分を除外したページ: 4" in w for w in doc.warnings)


@pytest.mark.parametrize(
    ("name", "code"),
    [("truncated.pdf", "corrupt"), ("not-a-pdf.pdf", "corrupt"), ("zero-bytes.pdf", "empty")],
)
def test_pdf_broken_files(name: str, code: str):
    assert _error(DATA / name).code == code


def test_too_large_and_not_found_and_unsupported(tmp_path: Path):
    assert _error(DATA / "nankoku-gian18-shuwa-jourei.pdf", max_bytes=10_000).code == "too_large"
    assert _error(tmp_path / "missing.pdf").code == "not_found"
    sheet = tmp_path / "予算.xlsx"
    sheet.write_bytes(b"PK\x03\x04")
    error = _error(sheet)
    assert error.code == "unsupported_format"
    assert "PDF" in error.message_ja and ".docx" in error.message_en


def test_unexpected_parser_errors_become_corrupt(monkeypatch: pytest.MonkeyPatch):
    import yakuba.ingest.loaders.pdf as pdf_module

    def explode(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(pdf_module, "extract_pdf", explode)
    error = _error(DATA / "nankoku-gian18-shuwa-jourei.pdf")
    assert error.code == "corrupt" and "RuntimeError: boom" in error.message_en


# --- text and markdown -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "encoding"), [("notice-cp932.txt", "cp932"), ("notice-eucjp.txt", "euc_jp")]
)
def test_text_legacy_encodings(name: str, encoding: str):
    [doc] = load_path(DATA / name)
    assert doc.metadata["encoding"] == encoding
    assert doc.title == Path(name).stem
    [page] = doc.pages
    assert page.page is None
    assert page.text.startswith("南国市 手話言語条例の概要\n\n手話は、音声を使わず、")


def test_text_utf8_with_a_few_bad_bytes_is_kept(tmp_path: Path):
    path = tmp_path / "memo.txt"
    path.write_bytes("窓口の受付時間は午前8時30分からです。".encode() * 200 + b"\xff" + "以上。".encode())
    [doc] = load_path(path)
    assert doc.metadata["encoding"] == "utf-8 (replaced)"
    assert doc.warnings and "UTF-8" in doc.warnings[0]


def test_text_undecodable_and_binary_and_blank(tmp_path: Path):
    assert _error(DATA / "binary.txt").code == "corrupt"
    garbage = tmp_path / "garbage.txt"
    garbage.write_bytes(bytes([0x80, 0xFF, 0xFE, 0x81, 0xFF]) * 50)
    assert _error(garbage).code == "corrupt"
    blank = tmp_path / "blank.md"
    blank.write_text(" \n\n\t\n", encoding="utf-8")
    assert _error(blank).code == "empty"


def test_markdown_front_matter_bom_and_page_markers():
    [doc] = load_path(DATA / "plan-paged-bom.md")
    assert doc.file_format == "md"
    assert doc.title == "第6次総合計画（抜粋）"
    assert doc.metadata["front_matter"]["doc_type"] == "総合計画"
    assert [(p.page, p.text) for p in doc.pages] == [
        (None, "# 第6次総合計画（抜粋）"),
        (12, "## 基本施策1 子育て支援\n子育て世帯への支援を充実します。"),
        (13, "## 基本施策2 防災\n自主防災組織の結成を支援します。"),
    ]


def test_markdown_title_from_first_heading_and_txt_page_markers(tmp_path: Path):
    md = tmp_path / "guide.markdown"
    md.write_text("<!-- 出典: テスト -->\n\n本文の前置き\n\n## 手続の流れ\n本文。\n", encoding="utf-8")
    assert load_path(md)[0].title == "手続の流れ"
    txt = tmp_path / "plan.txt"
    txt.write_text(
        "<!-- page: 3 -->\n三ページ目\n  <!--page:4-->  \n四ページ目\n<!-- page: x -->\n", encoding="utf-8"
    )
    [doc] = load_path(txt)
    assert [(p.page, p.text) for p in doc.pages] == [(3, "三ページ目"), (4, "四ページ目\n<!-- page: x -->")]


# --- docx -----------------------------------------------------------------------------------------


def test_docx_headings_and_tables():
    [doc] = load_path(DATA / "madoguchi-manual.docx")
    assert doc.file_format == "docx"
    assert doc.title == "窓口業務マニュアル"
    [page] = doc.pages
    assert page.page is None
    assert page.text.split("\n") == [
        "# 窓口業務マニュアル",
        "",
        "このマニュアルは、住民課の窓口業務の手順を定めるものです。",
        "",
        "## 1 住民票の写しの交付",
        "",
        "本人確認書類を確認してから交付します。",
    ]
    # The table is its own chunk material (ingest/tables.py), not "cell | cell" lines in the text;
    # its first row is data (「1通300円」), so the table has no header row.
    [table] = doc.tables
    assert table.number == 1 and table.page is None
    assert table.caption == "本人確認書類を確認してから交付します。"
    assert table.header == ["", ""]
    assert table.rows == [["手数料", "1通300円"], ["受付時間", "8時30分から17時15分"]]


def test_docx_defects(tmp_path: Path):
    assert _error(DATA / "legacy-word.docx").code == "unsupported_format"
    broken = tmp_path / "broken.docx"
    broken.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    assert _error(broken).code == "corrupt"


# --- html -----------------------------------------------------------------------------------------


def test_html_content_without_chrome():
    [doc] = load_path(DATA / "gomi-sjis.html")
    assert doc.file_format == "html"
    assert doc.title == "ごみの出し方"
    assert doc.metadata["encoding"] == "cp932"
    text = doc.pages[0].text
    assert text.split("\n") == [
        "# ごみの出し方",
        "",
        "燃やせるごみは、毎週月曜日と木曜日の朝8時30分までに指定の集積所に出してください。",
        "",
        "## 収集日一覧",
        "",
        "- 粗大ごみは予約制です。",
    ]
    [table] = doc.tables
    assert (table.caption, table.header, table.rows) == (
        "収集日一覧",
        ["地区", "燃やせるごみ", "資源ごみ"],
        [["北地区", "月・木", "第2水曜日"]],
    )
    for chrome in ("メニュー", "公式サイト", "くらし", "Copyright", "color"):
        assert chrome not in text


def test_html_without_main_uses_title_and_body(tmp_path: Path):
    page = tmp_path / "news.htm"
    page.write_text(
        "<html><head><title>お知らせ｜やくば村</title></head><body><div>窓口の<b>臨時休業</b>について<br>詳細</div></body></html>",
        encoding="utf-8",
    )
    [doc] = load_path(page)
    assert doc.title == "お知らせ｜やくば村"
    assert doc.pages[0].text == "窓口の臨時休業について\n詳細"


# --- jsonl ----------------------------------------------------------------------------------------


def test_jsonl_records():
    docs = load_path(DATA / "corpus.jsonl", doc_id="ignored")
    assert [d.doc_id for d in docs] == ["plan#1", "minutes#1", "wiki#1"]
    assert [d.doc_type for d in docs] == [DocType.COMPREHENSIVE_PLAN, DocType.COUNCIL_MINUTES, None]
    assert docs[1].metadata == {"doc_type": "council_minutes", "speaker": "山田太郎"}
    assert docs[1].title == "定例会 会議録"
    assert docs[0].pages[0].text == "基本目標1 安心して暮らせるまち"
    assert all(d.file_format == "jsonl" for d in docs)


def test_jsonl_hash_changes_only_for_the_changed_record(tmp_path: Path):
    records = [json.loads(line) for line in (DATA / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    before = {d.doc_id: d.content_hash for d in load_path(DATA / "corpus.jsonl")}
    records[1]["text"] += "（追記）"
    records[2] = dict(reversed(list(records[2].items())))  # key order does not matter
    changed = tmp_path / "corpus.jsonl"
    changed.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False, indent=None) for r in records), encoding="utf-8"
    )
    after = {d.doc_id: d.content_hash for d in load_path(changed)}
    assert after["plan#1"] == before["plan#1"]
    assert after["wiki#1"] == before["wiki#1"]
    assert after["minutes#1"] != before["minutes#1"]


def test_jsonl_errors_name_the_line(tmp_path: Path):
    error = _error(DATA / "corpus-bad-line.jsonl")
    assert error.code == "corrupt" and "3行目" in error.message_ja and "line 3" in error.message_en
    duplicate = tmp_path / "dup.jsonl"
    duplicate.write_text('{"id": "a", "text": "x"}\n\n{"id": "a", "text": "y"}\n', encoding="utf-8")
    error = _error(duplicate)
    assert "lines 1 and 3" in error.message_en
    no_id = tmp_path / "noid.jsonl"
    no_id.write_text('{"title": "x", "text": "y"}\n', encoding="utf-8")
    assert "line 1" in _error(no_id).message_en
    only_blank = tmp_path / "blank.jsonl"
    only_blank.write_text("\n\n \n", encoding="utf-8")
    assert _error(only_blank).code == "empty"


# --- real local-only files (../shared/corpora/pdfs) ------------------------------------------------


@needs_shared
@pytest.mark.parametrize(
    "name",
    [f"文科省_令和6年版_科学技術・イノベーション白書_{n}章.pdf" for n in (1, 2)]
    + ["otoineppu/corona_hinan0928.pdf"],
)
def test_shared_aes_empty_password(name: str):
    [doc] = load_path(SHARED / name)
    assert doc.metadata["encrypted"] is True
    assert doc.pages and not doc.warnings


@needs_shared
def test_shared_scanned_pdf_without_ocr(monkeypatch: pytest.MonkeyPatch):
    # Without the OCR engine (here: switched off) the old message stays.
    monkeypatch.setenv("YAKUBA_OCR_ENABLED", "false")
    assert _error(SHARED / "otoineppu/R4rakuhyousetsujikoboushi.pdf").code == "no_text_layer"


@needs_shared
def test_shared_scanned_pdf_is_ocrd():
    if not ocr_available():
        pytest.skip("tesseract with the jpn model is not installed (make ocr)")
    [doc] = load_path(SHARED / "otoineppu/R4rakuhyousetsujikoboushi.pdf")
    [page] = doc.pages
    assert page.page == 1 and page.ocr_confidence is not None and page.ocr_confidence > 50
    assert "事故を無くすため、次のことに注意するようお願いいたします" in page.text.replace(" ", "")
    assert "eceooeoo" not in page.text  # a dotted frame read as letters is dropped
    assert any("OCR" in w for w in doc.warnings)


@needs_shared
def test_shared_pdf_with_some_textless_pages():
    # The README lists it as a scan, but it has a text layer on all pages except the blank pages
    # 2 and 5 (otoineppu_jinko.pdf is the same case, pages 2 and 4; left out to keep this file fast).
    [doc] = load_path(SHARED / "otoineppu/jishin202003.pdf")
    assert doc.warnings == ["テキストのないページがあります: 2, 5 / pages without text: 2, 5"]
    assert len(doc.pages) == 44


@needs_shared
@pytest.mark.parametrize("name", ["otoineppu/kouhou/2020-04.pdf", "otoineppu/kouhou/2025-11.pdf"])
def test_shared_newsletters_with_broken_fonts(name: str):
    [doc] = load_path(SHARED / name)
    assert any("文字化け" in w for w in doc.warnings)
    for page in doc.pages:
        for line in page.text.split("\n"):
            assert mojibake_score(line) < MOJIBAKE_LINE_SCORE or len(line.strip()) <= 2, line


@needs_shared
def test_shared_good_files_not_flagged():
    [rules] = load_path(SHARED / "mhlw-model-shugyokisoku-001018385.pdf")
    assert rules.title == "モデル就業規則（R4.11版）"
    assert len(rules.pages) == 93 and rules.warnings == []
    [bill] = load_path(SHARED / "議案第18号：手話言語条例.pdf")
    assert bill.warnings == [] and len(bill.pages) == 2
    [news] = load_path(SHARED / "otoineppu/kouhou/2024-06.pdf")
    # All 12 pages kept; only the few lines set in the headline font with a broken map are cut.
    assert [p.page for p in news.pages] == list(range(1, 13))
    assert not any("除外したページ:" in w and "文字化けのため" in w for w in news.warnings)


@needs_shared
def test_shared_stale_pdf_title_replaced_by_file_name():
    [doc] = load_path(SHARED / "議案第２１号：第５次南国市総合計画基本構想の策定について.pdf")
    assert doc.title == "議案第２１号：第５次南国市総合計画基本構想の策定について"


@needs_shared
@pytest.mark.slow
def test_shared_long_budget_pdf_loads_every_page():
    """A 143-page budget PDF loads whole (its speed is measured by benchmarks/ingest_throughput.py)."""
    [doc] = load_path(SHARED / "議案第７号：令和８年度一般会計予算.pdf")
    cleaned = clean_pages(doc.pages)
    assert doc.metadata["page_count"] == 143 and len(cleaned) >= 135
