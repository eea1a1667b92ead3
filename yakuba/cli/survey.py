"""`yakuba survey analyze FILE`: a survey (CSV / Excel) → tables, cross tables, themes and a まとめ資料 draft."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from yakuba.cli.common import err, fail, fail_error, load_settings
from yakuba.core.errors import YakubaError

console = Console()
survey_app = typer.Typer(help="住民アンケートの集計 / survey analysis.", no_args_is_help=True)


def parse_rows(spec: str) -> list[int]:
    """「1-3,7」 → [1, 2, 3, 7] (data rows, the first answer row = 1)."""
    rows: list[int] = []
    for part in spec.replace("、", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part:
                first, last = (int(x) for x in part.split("-", 1))
                rows.extend(range(first, last + 1))
            else:
                rows.append(int(part))
        except ValueError as exc:
            raise fail(f"行の指定が読めません: {part}（例: 1-3,7） / bad row spec {part!r}") from exc
    return rows


def parse_kinds(specs: list[str]) -> dict[str, str]:
    """「列名=種類」 pairs (the last `=` splits, so a column name may contain one)."""
    kinds: dict[str, str] = {}
    for spec in specs:
        name, sep, kind = spec.rpartition("=")
        if not sep or not name:
            raise fail(f"--kind は「列名=種類」で指定してください: {spec} / use --kind COLUMN=KIND")
        kinds[name.strip()] = kind.strip()
    return kinds


@survey_app.command("analyze")
def analyze_command(
    file: Annotated[Path, typer.Argument(help="アンケートの CSV（UTF-8 / Shift_JIS / EUC-JP）か Excel（.xlsx）")],
    by: Annotated[list[str] | None, typer.Option("--by", help="クロス集計の属性（繰り返し可） / cross by")] = None,
    report: Annotated[Path | None, typer.Option("--report", help="まとめ資料の出力先フォルダ / report folder")] = None,
    sheet: Annotated[str | None, typer.Option("--sheet", help="Excel のシート名 / sheet")] = None,
    kind: Annotated[list[str] | None, typer.Option("--kind", help="列の種類の修正「列名=種類」 / COLUMN=KIND")] = None,
    codebook: Annotated[Path | None, typer.Option("--codebook", help="コードブック（設問・コード・ラベル）")] = None,
    exclude_rows: Annotated[str, typer.Option("--exclude-rows", help="除外する行（例: 1-3） / rows to drop")] = "",
    settings_file: Annotated[
        Path | None, typer.Option("--settings", help="前回の settings.json で再実行 / rerun with saved settings")
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="資料のタイトル / report title")] = None,
    themes: Annotated[bool, typer.Option("--themes/--no-themes", help="自由記述のテーマ分け / free-text themes")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="分析結果を JSON で出力 / print the analysis as JSON")] = False,
) -> None:
    """アンケートを集計（単純集計・クロス集計・自由記述のテーマ・まとめ資料） / analyse a survey file."""
    from pydantic import ValidationError

    from yakuba.assistant.surveys import SurveySettings, analyze

    load_settings()  # the usual configuration checks (YAKUBA_HOME, …)
    if not file.is_file():
        raise fail(f"ファイルがありません: {file} / no such file")
    try:
        saved = SurveySettings.model_validate_json(settings_file.read_text(encoding="utf-8")) if settings_file else None
        base = saved.model_dump() if saved else {}
        overrides = {"by": by, "sheet": sheet, "title": title,
                     "kinds": {**base.get("kinds", {}), **parse_kinds(kind or [])} or None,
                     "exclude_rows": parse_rows(exclude_rows) or None}
        survey_settings = SurveySettings.model_validate(
            {**base, **{k: v for k, v in overrides.items() if v}, "themes": themes}
        )
    except ValidationError as exc:
        raise fail(f"設定が正しくありません / invalid settings: {exc}") from exc
    try:
        result = analyze(
            file.read_bytes(), file.name, survey_settings,
            codebook=(codebook.read_bytes(), codebook.name) if codebook else None,
        )
    except YakubaError as exc:
        raise fail_error(exc) from exc
    analysis = result.analysis
    if report is not None:
        written = result.write(report)
        err.print(f"[green]まとめ資料を書き出しました / report written:[/] {report}（{len(written)} files）")
    if as_json:
        sys.stdout.write(analysis.model_dump_json() + "\n")
        return
    _print_summary(analysis)


def _print_summary(analysis) -> None:  # noqa: ANN001 - SurveyAnalysis
    o = analysis.overview
    console.print(f"[bold]{o.title}[/]  回答者 {o.respondents}人"
                  + (f"（除外 {o.excluded_rows}行）" if o.excluded_rows else "")
                  + (f"  期間 {o.period[0]}〜{o.period[1]}" if o.period else ""))
    kinds = Table("列 / column", "種類 / kind", "回答 / answered", "選択肢の例 / options", title="列の種類 / column kinds")
    for c in analysis.columns:
        changed = "" if c.kind == c.detected else f"（自動: {c.detected}）"
        kinds.add_row(c.name, c.kind + changed, str(c.answered), "、".join(c.options[:5]) or "、".join(c.examples[:2]))
    console.print(kinds)
    console.print("[bold]主な結果 / findings[/]")
    for sentence in analysis.findings:
        console.print(f"- {sentence}", markup=False, highlight=False)
    for warning in analysis.warnings:
        err.print(f"[yellow]注意 / note:[/] {warning}", markup=True, highlight=False)
    err.print(f"[dim]{sum(analysis.seconds.values()):.1f} s {analysis.seconds}[/]")
