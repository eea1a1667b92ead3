"""The survey analysis on the real Toyama file: every count against an independent pandas computation."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency

from tests.assistant.surveys_support import (
    SATISFACTION,
    SCALE,
    TEST_ROWS,
    TOYAMA,
    multiple_counts,
    toyama_frame,
)
from yakuba.assistant.surveys import SurveySettings, analyze
from yakuba.assistant.surveys.schema import SurveyAnalysis


@pytest.fixture(scope="module")
def toyama() -> SurveyAnalysis:
    settings = SurveySettings(by=["年代", "性別"], exclude_rows=TEST_ROWS, themes=False)
    return analyze(TOYAMA.read_bytes(), TOYAMA.name, settings, charts=False).analysis


def test_overview_reads_the_whole_file(toyama: SurveyAnalysis) -> None:
    o = toyama.overview
    assert (o.respondents, o.excluded_rows, o.columns, o.encoding) == (3336, 3, 52, "utf-8-sig")
    assert o.period == ("2025-04-25", "2025-10-31")
    assert toyama.unsupported_numbers == []


def test_column_kinds_are_detected(toyama: SurveyAnalysis) -> None:
    kinds = {c.name: c.kind for c in toyama.columns}
    assert kinds["アンケート回答日"] == "timestamp"
    assert {kinds[a] for a in ("性別", "年代", "職種", "居住都道府県", "回答場所")} == {"attribute"}
    assert {kinds[f"満足度（{s}）"] for s in SATISFACTION} == {"scale"}
    assert kinds["おすすめ度"] == "score"
    for name in ("訪問目的", "交通手段（来県）", "情報源（デジタル）", "海の幸（食べた）", "訪問場所"):
        assert kinds[name] == "multiple", name
    for name in ("満足度理由", "不便に感じたこと・困ったこと", "自由意見", "最も幸せを感じた食べ物"):
        assert kinds[name] == "text", name
    assert kinds["同行者"] == kinds["宿泊数（全行程）"] == kinds["再訪意向"] == "single"


def test_every_choice_question_matches_pandas(toyama: SurveyAnalysis) -> None:
    frame = toyama_frame()
    assert len(frame) == toyama.overview.respondents
    checked = 0
    for position, column in enumerate(toyama.columns):
        series = frame.iloc[:, position]
        if column.kind not in {"attribute", "single", "scale", "multiple", "score"}:
            continue
        table = toyama.table(column.name)
        assert table.n == series.notna().sum(), column.name
        assert table.no_answer == series.isna().sum(), column.name
        expected = multiple_counts(series) if column.kind == "multiple" else series.value_counts().to_dict()
        got = {r.label: r.count for r in table.rows if r.count}
        assert got == {str(k): v for k, v in expected.items()}, column.name
        for row in table.rows:
            assert row.pct == round(100 * row.count / table.n, 1)
        checked += 1
    assert checked >= 40


def test_scales_and_numbered_choices_keep_their_order(toyama: SurveyAnalysis) -> None:
    for item in SATISFACTION:
        assert [r.label for r in toyama.table(f"満足度（{item}）").rows] == SCALE
    ages = ["10歳未満", "10代", "20代", "30代", "40代", "50代", "60代", "70代", "80歳以上"]
    assert [r.label for r in toyama.table("年代").rows] == [a for a in ages if a in set(toyama_frame()["年代"])]
    assert [r.label for r in toyama.table("宿泊数（全行程）").rows] == ["日帰り", "1泊", "2泊", "3泊", "4泊以上"]
    assert [r.label for r in toyama.table("世帯年収").rows][0].startswith("1:")
    spending = [r.label for r in toyama.table("消費金額（飲食費）").rows]
    assert spending.index("1,000円未満") < spending.index("1,000円以上3,000円未満") < spending.index("100,000円以上")
    visits = [r.label for r in toyama.table("来県回数").rows]
    assert visits[0] == "１回目" and visits[-1] == "１０回目以上"


def test_nps_matches_pandas(toyama: SurveyAnalysis) -> None:
    scores = toyama_frame()["おすすめ度"].dropna().astype(int)
    nps = toyama.table("おすすめ度").nps
    assert nps is not None
    assert (nps.promoters, nps.detractors) == ((scores >= 9).sum(), (scores <= 6).sum())
    expected = round(round(100 * (scores >= 9).mean(), 1) - round(100 * (scores <= 6).mean(), 1), 1)
    assert nps.nps == expected
    assert nps.mean == round(scores.mean(), 2)


def test_cross_table_chi_square_matches_scipy_on_a_pandas_crosstab(toyama: SurveyAnalysis) -> None:
    frame = toyama_frame()
    cross = next(c for c in toyama.crosses if c.question == "満足度（旅行全体）" and c.by == "年代")
    table = pd.crosstab(frame["年代"], frame["満足度（旅行全体）"])
    table = table.loc[cross.groups, [o for o in cross.options if o in table.columns]]
    counts = [[cell.count for cell, o in zip(row, cross.options, strict=True) if o in table.columns]
              for row in cross.cells]
    assert counts == table.to_numpy().tolist()
    chi2, p, dof, expected = chi2_contingency(table.to_numpy(), correction=False)
    assert cross.chi2 == pytest.approx(chi2) and cross.dof == dof and cross.p_value == pytest.approx(p)
    observed = table.to_numpy()
    n = observed.sum()
    r = observed.sum(axis=1, keepdims=True) / n
    c = observed.sum(axis=0, keepdims=True) / n
    adjusted = (observed - expected) / np.sqrt(expected * (1 - r) * (1 - c))
    got = np.array([[cell.residual for cell in row] for row in cross.cells])
    assert np.allclose(got[:, : adjusted.shape[1]], adjusted, atol=0.006)
    flagged = {(g, o) for g, row in zip(cross.groups, cross.cells, strict=True)
               for o, cell in zip(cross.options, row, strict=True) if cell.flag}
    assert flagged == {(cross.groups[i], cross.options[j]) for i, j in zip(*np.where(np.abs(adjusted) >= 1.96),
                                                                           strict=True)}


def test_multiple_choice_cross_counts_respondents_per_group(toyama: SurveyAnalysis) -> None:
    frame = toyama_frame()
    cross = next(c for c in toyama.crosses if c.question == "訪問目的" and c.by == "性別")
    women = frame[frame["性別"] == "女性"]["訪問目的"]
    i = cross.groups.index("女性")
    expected = multiple_counts(women)
    assert cross.group_n[i] == women.notna().sum()
    for option, cell in zip(cross.options, cross.cells[i], strict=True):
        assert cell.count == expected.get(option, 0), option
    assert cross.chi2 is None and cross.note


@pytest.mark.slow
def test_whole_toyama_report_opens_with_its_charts(tmp_path: Path) -> None:
    result = analyze(TOYAMA.read_bytes(), TOYAMA.name, SurveySettings(by=["年代"], exclude_rows=TEST_ROWS))
    written = result.write(tmp_path)
    assert len(result.charts) >= 40 and len(result.analysis.themes) >= 5
    with zipfile.ZipFile(io.BytesIO((tmp_path / "report.docx").read_bytes())) as docx:
        assert len([n for n in docx.namelist() if n.startswith("word/media/")]) == len(result.charts)
    assert sum(p.suffix == ".png" for p in written) == len(result.charts)
