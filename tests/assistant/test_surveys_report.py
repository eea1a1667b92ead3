"""Free-text themes traceable to their answers, and the まとめ資料 files (md / docx / xlsx / pptx) with charts."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.assistant.surveys_support import TOYAMA, csv_bytes, small_frame
from yakuba.assistant.pii import mask_pii
from yakuba.assistant.surveys import SurveySettings, analyze
from yakuba.assistant.surveys.kinds import build_questions
from yakuba.assistant.surveys.read import read_survey
from yakuba.assistant.surveys.themes import THEME_MODEL, embed, find_themes, is_nothing

QUESTION = "不便に感じたこと・困ったこと"


@pytest.fixture(scope="module")
def raw_frame() -> pd.DataFrame:
    """The file as written (row id n = the n-th answer row), read by pandas."""
    return pd.read_csv(TOYAMA, encoding="utf-8-sig", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def theme_set():  # noqa: ANN201 - ThemeSet
    raw = read_survey(TOYAMA.read_bytes(), TOYAMA.name)
    questions = {q.name: q for q in build_questions(raw, SurveySettings())}
    ids = [str(i + 1) for i in range(len(raw.rows))]
    return find_themes(questions[QUESTION], ids, by=[questions["年代"]]), questions


def test_themes_cover_every_answer_once_and_quotes_point_at_their_rows(theme_set, raw_frame) -> None:
    themes, _ = theme_set
    answers = raw_frame[QUESTION].str.strip()
    answered = answers[answers != ""]
    assert themes.answers == len(answered)
    assert themes.nothing == sum(is_nothing(a) for a in answered) > 500  # 「なし」「特になし」… counted apart
    assert sum(t.count for t in themes.themes) == themes.answers - themes.nothing
    ids = [r for t in themes.themes for r in t.row_ids]
    assert len(ids) == len(set(ids))
    assert 4 <= len(themes.themes) <= 9 and len({t.label for t in themes.themes}) == len(themes.themes)
    for theme in themes.themes:
        assert len(theme.quotes) == 3
        for quote in theme.quotes:
            assert quote.row_id in theme.row_ids
            assert mask_pii(answers.iloc[int(quote.row_id) - 1]).text.strip() == quote.text
    labels = " ".join(t.label + " " + " ".join(t.keywords) for t in themes.themes)
    assert "駐車場" in labels and ("本数" in labels or "交通" in labels)  # what visitors really complain about


def test_theme_cross_counts_add_up_by_attribute(theme_set, raw_frame) -> None:
    themes, questions = theme_set
    cross = themes.crosses[0]
    assert cross.by == "年代"
    for theme, counts in zip(themes.themes, cross.counts, strict=True):
        ages = raw_frame["年代"].iloc[[int(r) - 1 for r in theme.row_ids]]
        assert counts == [int((ages == g).sum()) for g in cross.groups]


def test_themes_are_deterministic(theme_set) -> None:
    themes, questions = theme_set
    ids = [str(i + 1) for i in range(len(questions[QUESTION].values))]
    assert find_themes(questions[QUESTION], ids, by=[questions["年代"]]) == themes


def test_personal_data_is_masked_before_themes_and_quotes() -> None:
    answers = ["駐車場が狭くて困った", "駐車場が少ない", "駐車場が満車だった", "電車の本数が少ない",
               "バスの本数が少ない", "電車が少ない。連絡は 090-1234-5678 まで", "駐車場が遠い test@example.jp",
               "バスが来ない", "特になし", "なし"]
    data = "\n".join(["ID,意見"] + [f"{i},{a}" for i, a in enumerate(answers, start=101)]).encode("utf-8")
    analysis = analyze(data, "pii.csv", charts=False).analysis
    theme_set = analysis.themes[0]
    text = " ".join(q.text for t in theme_set.themes for q in t.quotes)
    assert "090-1234-5678" not in text and "test@example.jp" not in text
    assert theme_set.nothing == 2
    assert {r for t in theme_set.themes for r in t.row_ids} <= {str(i) for i in range(101, 109)}  # the file's IDs


@pytest.mark.integration
def test_report_files_open_and_contain_the_charts(tmp_path: Path) -> None:
    from docx import Document
    from openpyxl import load_workbook
    from pptx import Presentation

    columns = ["性別", "年代", "満足度（交通）", "満足度（旅行全体）", "おすすめ度", "自由意見"]
    data = csv_bytes(small_frame(300, columns), "utf-8")
    result = analyze(data, "toyama-small.csv", SurveySettings(by=["年代"], title="富山県観光アンケート（抜粋）"))
    written = {p.name for p in result.write(tmp_path)}
    assert {"report.md", "report.docx", "report.xlsx", "report.pptx", "analysis.json", "settings.json"} <= written
    pngs = sorted((tmp_path / "charts").glob("*.png"))
    assert len(pngs) == len(result.charts) >= 5 and all(p.read_bytes()[:4] == b"\x89PNG" for p in pngs)
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "## 調査概要" in markdown and "## 主な結果" in markdown and "(charts/" in markdown
    assert all(f"charts/{p.name}" in markdown for p in pngs)
    document = Document(str(tmp_path / "report.docx"))
    assert len(document.inline_shapes) == len(result.charts)
    assert any("主な結果" in p.text for p in document.paragraphs)
    book = load_workbook(tmp_path / "report.xlsx")
    assert book.sheetnames[0] == "概要" and "年代" in book.sheetnames and "テーマ_自由意見" in book.sheetnames
    sheet = book["満足度（旅行全体）"]
    assert [sheet.cell(row=r, column=1).value for r in range(4, 9)] == ["大いに満足", "満足", "普通", "不満", "大いに不満"]
    deck = Presentation(str(tmp_path / "report.pptx"))
    assert len(deck.slides) == len(result.charts) + 1
    pictures = sum(1 for slide in deck.slides for shape in slide.shapes if shape.shape_type == 13)
    assert pictures == len(result.charts)
    with zipfile.ZipFile(io.BytesIO((tmp_path / "report.docx").read_bytes())) as docx:
        assert len([n for n in docx.namelist() if n.startswith("word/media/")]) == len(result.charts)
    assert result.analysis.unsupported_numbers == []


@pytest.mark.slow
def test_static_vectors_equal_sentence_transformers() -> None:
    from yakuba.retriever.embeddings import SentenceTransformerEmbeddings

    texts = ["駐車場が少ない", "電車の本数が少ない", "食べ物が美味しかった", "x"]
    reference = np.asarray(SentenceTransformerEmbeddings(THEME_MODEL).embed_documents(texts))
    assert np.allclose(embed(texts), reference, atol=1e-5)
