"""One entry point, `analyze`, that the CLI and the API call: file bytes + settings → tables, cross
tables, themes, findings and charts, and the report files made from them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from yakuba.assistant.surveys import report
from yakuba.assistant.surveys.charts import Chart, all_charts, japanese_font
from yakuba.assistant.surveys.kinds import Question, build_questions, read_codebook, resolve
from yakuba.assistant.surveys.read import read_survey
from yakuba.assistant.surveys.schema import Overview, SurveyAnalysis, SurveySettings
from yakuba.assistant.surveys.tables import cross_table, period, question_table
from yakuba.assistant.surveys.themes import find_themes
from yakuba.core.errors import ErrorKind, InvalidInputError

CROSS_KINDS = frozenset({"attribute", "single", "scale", "multiple", "score"})
BY_KINDS = frozenset({"attribute", "single", "scale"})


@dataclass
class SurveyResult:
    """The analysis and its charts; the report formats are made on demand."""

    analysis: SurveyAnalysis
    charts: list[Chart]

    def markdown(self) -> str:
        return report.to_markdown(self.analysis, self.charts)

    def docx(self) -> bytes:
        return report.to_docx(self.analysis, self.charts)

    def xlsx(self) -> bytes:
        return report.to_xlsx(self.analysis)

    def pptx(self) -> bytes:
        return report.to_pptx(self.analysis, self.charts)

    def write(self, directory: Path) -> list[Path]:
        return report.write_report(self.analysis, self.charts, directory)


def analyze(
    data: bytes,
    filename: str,
    settings: SurveySettings | None = None,
    *,
    codebook: tuple[bytes, str] | None = None,
    max_bytes: int | None = None,
    charts: bool = True,
) -> SurveyResult:
    """Read, detect, tabulate, cross, theme and summarise one survey file (CSV or XLSX)."""
    settings = (settings or SurveySettings()).model_copy(deep=True)
    if max_bytes is not None and len(data) > max_bytes:
        raise InvalidInputError(
            f"ファイルが大きすぎます（{len(data) / 1e6:.1f} MB、上限 {max_bytes / 1e6:.1f} MB） / "
            f"file too large ({len(data)} bytes, limit {max_bytes})",
            code="survey_too_large", kind=ErrorKind.TOO_LARGE,
        )
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = round(now - clock, 2)
        clock = now

    if codebook is not None:
        settings.codebook = {**read_codebook(*codebook), **settings.codebook}
    raw = read_survey(data, filename, sheet=settings.sheet, header_rows=settings.header_rows, encoding=settings.encoding)
    warnings = list(raw.warnings)
    row_numbers = list(range(1, len(raw.rows) + 1))
    total_rows = len(raw.rows)
    if settings.exclude_rows:
        drop = set(settings.exclude_rows)
        outside = sorted(r for r in drop if not 1 <= r <= len(raw.rows))
        if outside:
            warnings.append(f"除外する行 {outside} はありません / rows {outside} do not exist")
        keep = [i for i, r in enumerate(row_numbers) if r not in drop]
        raw.rows = [raw.rows[i] for i in keep]
        row_numbers = [row_numbers[i] for i in keep]
    if not raw.rows:
        raise InvalidInputError("集計する回答がありません / no answers left to analyse", code="survey_no_data")
    lap("read")
    questions = build_questions(raw, settings)
    lap("kinds")
    row_ids = _row_ids(questions, row_numbers)
    empty = [q.name for q in questions if q.kind == "empty"]
    if empty:
        warnings.append(f"回答のない列: {'、'.join(empty)} / columns without answers: {', '.join(empty)}")
    if all(q.kind in {"empty", "id", "timestamp"} for q in questions):
        raise InvalidInputError(
            "集計できる設問がありません（空の列ばかりです） / no column with answers to analyse", code="survey_no_data"
        )
    by = _by_questions(questions, settings)
    settings.by = [q.name for q in by]
    settings.kinds = {q.name: q.kind for q in questions if q.kind != q.detected} | settings.kinds
    tables = [question_table(q) for q in questions if q.kind not in {"id", "empty"}]
    crosses = [cross_table(q, b) for b in by for q in questions if q.kind in CROSS_KINDS and q.name != b.name]
    lap("tables")
    theme_sets = []
    if settings.themes:
        theme_sets = [find_themes(q, row_ids, max_themes=settings.max_themes, by=by)
                      for q in questions if q.kind == "text"]
    lap("themes")
    stamps = next((q for q in questions if q.kind == "timestamp"), None)
    overview = Overview(
        title=settings.title or f"{Path(filename).stem} 集計結果",
        file=Path(filename).name, respondents=len(raw.rows), excluded_rows=total_rows - len(raw.rows),
        columns=len(raw.header), period=period(stamps) if stamps else None, encoding=raw.encoding, sheet=raw.sheet,
    )
    sentences = report.findings(tables, theme_sets, crosses)
    analysis = SurveyAnalysis(overview=overview, settings=settings, columns=[q.info() for q in questions],
                              tables=tables, crosses=crosses, themes=theme_sets, findings=sentences,
                              warnings=warnings)
    analysis.unsupported_numbers = report.check_findings(sentences, report.numbers_markdown(analysis))
    lap("findings")
    drawn: list[Chart] = []
    if charts:
        if japanese_font() is None:
            analysis.warnings.append(
                "日本語フォントがないため、グラフの文字が表示されません（make browser で IPA ゴシックを入れてください） / "
                "no Japanese font: chart labels will not render (install fonts-ipafont-gothic)"
            )
        drawn = all_charts(tables, theme_sets)
        lap("charts")
    analysis.seconds = seconds
    return SurveyResult(analysis, drawn)


def _row_ids(questions: list[Question], row_numbers: list[int]) -> list[str]:
    """The respondent ids the file gives (an id column), else data row numbers (the first answer row = 1)."""
    ids = next((q for q in questions if q.kind == "id"), None)
    if ids is not None and all(v is not None for v in ids.values):
        return [str(v) for v in ids.values]
    return [str(n) for n in row_numbers]


def _by_questions(questions: list[Question], settings: SurveySettings) -> list[Question]:
    names = [q.name for q in questions]
    chosen = []
    for name in settings.by:
        question = questions[names.index(resolve(name, names))]
        if question.kind not in BY_KINDS:
            raise InvalidInputError(
                f"「{question.name}」は選択式の設問ではないため、クロス集計の軸にできません（種類: {question.kind}） / "
                f"cannot cross by {question.name!r}: it is a {question.kind} column, not a single choice",
                code="survey_bad_by",
            )
        if question not in chosen:
            chosen.append(question)
    return chosen
