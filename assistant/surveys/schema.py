"""The survey analysis at its boundaries: the settings a user saves (to rerun an analysis the same
way) and the result every front end shows (CLI, API, UI, reports).

Every number in the result is computed by code from the answers; themes carry the row ids of the
answers they summarise, so a reader can check each one.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

ColumnKind = Literal[
    "id",  # respondent number: never tabulated
    "timestamp",  # answer date/time: gives the survey period
    "attribute",  # 性別, 年代, 居住地…: single choice used to break other questions down
    "single",  # one choice per respondent
    "multiple",  # several choices per respondent (joined in one cell, or 0/1 flag columns)
    "scale",  # ordered choices (満足度, 5段階): kept in their natural order
    "score",  # 0–10 recommendation score (NPS)
    "number",  # amounts, counts: summary statistics
    "text",  # free text: themes
    "empty",  # a named column without any answer
]
KINDS: tuple[str, ...] = ColumnKind.__args__  # type: ignore[attr-defined]
CHOICE_KINDS = frozenset({"attribute", "single", "multiple", "scale"})


class SurveySettings(BaseModel):
    """How to read and analyse a file; saved beside the results (settings.json) so a run can be repeated."""

    sheet: str | None = Field(None, description="Excel のシート名 / xlsx sheet (required when there are several)")
    header_rows: int | None = Field(None, ge=1, le=3, description="見出し行の数（省略時は自動） / header rows (auto)")
    encoding: str | None = Field(None, description="CSV の文字コード（省略時は自動） / CSV encoding (auto)")
    by: list[str] = Field(default_factory=list, description="クロス集計の属性 / attributes to cross by")
    kinds: dict[str, ColumnKind] = Field(default_factory=dict, description="列の種類の修正 / kind overrides")
    order: dict[str, list[str]] = Field(default_factory=dict, description="選択肢の順序 / choice order overrides")
    codebook: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="列 → {コード: ラベル} / column → {code: label}"
    )
    exclude_rows: list[int] = Field(
        default_factory=list, description="除外する行（データの1行目 = 1） / data rows to drop (1-based), e.g. test entries"
    )
    themes: bool = Field(True, description="自由記述をテーマに分ける / group free text into themes")
    max_themes: int = Field(8, ge=2, le=20)
    title: str | None = Field(None, description="資料のタイトル / report title")


class ColumnInfo(BaseModel):
    """One question as detected (or corrected): what the user checks before trusting the tables."""

    name: str
    kind: ColumnKind
    detected: ColumnKind = Field(description="自動判定の結果 / what detection said before overrides")
    answered: int
    options: list[str] = Field(default_factory=list, description="選択肢（順序どおり） / choices in order")
    separator: str | None = Field(None, description="複数回答の区切り / multiple-choice separator")
    flag_columns: list[str] = Field(default_factory=list, description="0/1 フラグ列 / flag columns")
    examples: list[str] = Field(default_factory=list)


class CountRow(BaseModel):
    label: str
    count: int
    pct: float = Field(description="% of respondents who answered the question")


class NPS(BaseModel):
    promoters: int
    passives: int
    detractors: int
    nps: float = Field(description="% promoters (9–10) − % detractors (0–6)")
    mean: float


class NumberSummary(BaseModel):
    mean: float
    median: float
    minimum: float
    maximum: float
    sd: float


class QuestionTable(BaseModel):
    """n, 無回答, counts and % of one question."""

    question: str
    kind: ColumnKind
    n: int = Field(description="answered (有効回答)")
    no_answer: int = Field(description="無回答")
    rows: list[CountRow] = Field(default_factory=list)
    base: Literal["answers", "respondents"] = "answers"
    nps: NPS | None = None
    summary: NumberSummary | None = None


class CrossCell(BaseModel):
    count: int
    pct: float = Field(description="row % (of the group's respondents who answered)")
    residual: float | None = Field(None, description="adjusted standardised residual")
    flag: Literal["high", "low"] | None = Field(None, description="|residual| ≥ 1.96")


class CrossTable(BaseModel):
    """A question broken down by an attribute, with a chi-square test and the cells that stand out."""

    question: str
    by: str
    groups: list[str]
    options: list[str]
    group_n: list[int]
    cells: list[list[CrossCell]]
    chi2: float | None = None
    dof: int | None = None
    p_value: float | None = None
    note: str | None = None


class Quote(BaseModel):
    row_id: str
    text: str


class Theme(BaseModel):
    label: str
    keywords: list[str]
    count: int
    share: float = Field(description="% of the column's themed answers")
    quotes: list[Quote]
    row_ids: list[str]


class ThemeCross(BaseModel):
    by: str
    groups: list[str]
    group_n: list[int]
    counts: list[list[int]] = Field(description="[theme][group]")


class ThemeSet(BaseModel):
    """Themes of one free-text column."""

    question: str
    answers: int
    nothing: int = Field(description="「特になし」 and the like, not themed")
    themes: list[Theme]
    coverage: float = Field(description="% of themed answers in a named theme (not その他)")
    crosses: list[ThemeCross] = Field(default_factory=list)


class Overview(BaseModel):
    """調査概要."""

    title: str
    file: str
    respondents: int
    excluded_rows: int
    columns: int
    period: tuple[str, str] | None = None
    encoding: str | None = None
    sheet: str | None = None


class SurveyAnalysis(BaseModel):
    overview: Overview
    settings: SurveySettings
    columns: list[ColumnInfo]
    tables: list[QuestionTable]
    crosses: list[CrossTable] = Field(default_factory=list)
    themes: list[ThemeSet] = Field(default_factory=list)
    findings: list[str] = Field(default_factory=list, description="主な結果: sentences built from the tables")
    unsupported_numbers: list[str] = Field(
        default_factory=list, description="numbers in the findings that no table contains (should stay empty)"
    )
    warnings: list[str] = Field(default_factory=list)
    seconds: dict[str, float] = Field(default_factory=dict)

    def table(self, question: str) -> QuestionTable:
        return next(t for t in self.tables if t.question == question)
