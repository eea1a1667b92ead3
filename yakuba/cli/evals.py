"""`yakuba eval answers` and `yakuba eval compare` (registered on yakuba.cli's `eval` sub-typer).

Heavy imports (models, Chroma, matplotlib) happen inside the commands so `yakuba --help` stays fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from yakuba.cli.common import err, fail, fail_error, load_settings
from yakuba.core.errors import YakubaError

ENGINES = ("local", "extractive", "openai")
SUPPORT_METHODS = ("tokens", "bigrams")

console = Console()


def eval_answers(
    dataset_dir: Annotated[Path, typer.Argument(help="データセットのフォルダ / dataset folder")],
    limit: Annotated[int | None, typer.Option("--limit", help="先頭 N 問だけ / first N questions")] = None,
    sample: Annotated[
        int | None,
        typer.Option("--sample", help="N 問を無作為抽出（--seed で再現） / N questions drawn at random (seeded)"),
    ] = None,
    mode: Annotated[str, typer.Option("--mode", help="検索モード dense | bm25 | hybrid")] = "hybrid",
    engine: Annotated[
        str | None, typer.Option("--engine", help="local | extractive | openai（既定: 設定の chat_engine）")
    ] = None,
    unanswerable_share: Annotated[
        float,
        typer.Option("--unanswerable-share", help="正解文書を消して回答不能にする割合 / share made unanswerable"),
    ] = 0.2,
    seed: Annotated[int, typer.Option("--seed", help="回答不能にする質問を選ぶ乱数の種 / selection seed")] = 0,
    judge: Annotated[
        str | None,
        typer.Option("--judge", help="根拠判定に LLM を使う（local | openai） / LLM judge for groundedness"),
    ] = None,
    support: Annotated[
        str, typer.Option("--support", help="語彙的な根拠判定 tokens | bigrams / lexical support units")
    ] = "tokens",
    support_threshold: Annotated[
        float, typer.Option("--support-threshold", help="根拠ありとみなす再現率 / recall needed for support")
    ] = 0.5,
    as_json: Annotated[bool, typer.Option("--json", help="最終行に JSON / JSON on the last line")] = False,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="レポートの保存先（例: $YAKUBA_HOME/reports/NAME） / report folder"),
    ] = None,
) -> None:
    """回答の品質を測定（正解・引用・根拠・回答保留・応答時間） / measure answer quality on a dataset."""
    from yakuba.evals.answers import check_selection, run_answers_eval
    from yakuba.evals.datasets import DatasetError
    from yakuba.retriever.search import MODES

    settings = load_settings()
    if mode not in MODES:
        raise fail(f"--mode は dense / bm25 / hybrid のいずれかです: {mode!r}")
    if engine is not None and engine not in ENGINES:
        raise fail(f"--engine は local / extractive / openai のいずれかです: {engine!r}")
    if judge is not None and judge not in ("local", "openai"):
        raise fail(f"--judge は local / openai のいずれかです: {judge!r}")
    if support not in SUPPORT_METHODS:
        raise fail(f"--support は tokens / bigrams のいずれかです: {support!r}")
    if not 0 <= unanswerable_share <= 1:
        raise fail("--unanswerable-share は 0〜1 で指定してください / share must be 0-1")
    if not 0 < support_threshold <= 1:
        raise fail("--support-threshold は 0 より大きく 1 以下です / threshold must be in (0, 1]")
    try:
        check_selection(limit, sample)
    except ValueError as exc:
        raise fail(str(exc)) from exc
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=True)
    try:
        with progress:
            task = progress.add_task("回答評価 / answering", total=None)
            result = run_answers_eval(
                dataset_dir, settings, engine=engine, mode=mode, limit=limit, sample=sample,  # type: ignore[arg-type]
                unanswerable_share=unanswerable_share, seed=seed, judge_engine=judge, support_method=support,
                support_threshold=support_threshold,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    except DatasetError as exc:
        raise fail_error(exc) from exc
    except YakubaError as exc:  # the model, the store or the settings
        raise fail_error(exc, code=1) from exc
    except Exception as exc:  # noqa: BLE001 - anything else still ends with one readable line
        raise fail(f"{type(exc).__name__}: {exc}", code=1) from exc
    if report is not None:
        from yakuba.evals.report import write_report

        written = write_report(result, report)
        err.print(f"レポートを保存しました / report written: {written['html']}")
    summary = result.summary()
    if result.n_errors:
        err.print(f"[yellow]{result.n_errors} 問でエラーが発生しました（レポートの error 欄） / "
                  f"{result.n_errors} questions failed[/]")
    if as_json:
        sys.stdout.write(json.dumps(summary, ensure_ascii=False) + "\n")
        return
    table = Table(title=f"回答評価 / answers: {result.dataset} ({result.config.engine}, {result.config.mode})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        table.add_row(key, "–" if value is None else str(value))
    console.print(table)


def eval_compare(
    report_a: Annotated[Path, typer.Argument(help="比較元レポート（フォルダか report.json） / baseline report")],
    report_b: Annotated[Path, typer.Argument(help="比較先レポート / candidate report")],
    out: Annotated[
        Path | None, typer.Option("--out", help="compare.md / compare.json の保存先 / output folder")
    ] = None,
    n_boot: Annotated[int, typer.Option("--n-boot", help="ブートストラップ回数 / bootstrap resamples")] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="乱数の種 / bootstrap seed")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="最終行に JSON / JSON on the last line")] = False,
) -> None:
    """2つの回答評価レポートを比較（差と 95% 信頼区間） / compare two answer reports with paired bootstrap CIs."""
    from yakuba.evals.compare import HEADER, rows, run_compare
    from yakuba.evals.report import ReportError

    if not 100 <= n_boot <= 1_000_000:
        raise fail("--n-boot は 100〜1000000 で指定してください / n-boot must be 100-1000000")
    try:
        comparison, written = run_compare(report_a, report_b, out_dir=out, n_boot=n_boot, seed=seed)
    except ReportError as exc:
        raise fail_error(exc) from exc
    except ValueError as exc:
        raise fail(str(exc)) from exc
    for warning in comparison.warnings:
        err.print(f"[yellow]! {warning}[/]")
    if as_json:
        sys.stdout.write(comparison.model_dump_json() + "\n")
        return
    table = Table(title=f"比較 / comparison: {comparison.matched} matched questions (B − A)", box=box.SIMPLE_HEAD,
                  padding=(0, 1), pad_edge=False)
    for column in HEADER:
        table.add_column(column, justify="left" if column in ("metric", "95% CI", "verdict") else "right",
                         no_wrap=True)
    for row in rows(comparison):
        table.add_row(*row)
    # The table needs ~90 columns; a narrower console (pipes default to 80) would cut the numbers.
    (console if console.width >= 96 else Console(width=96)).print(table)
    if written:
        console.print(f"保存しました / written: {written['md']}, {written['json']}")


DRAFT_TASKS = ("verbatim", "summary", "pr")


def eval_drafts(
    verbatim: Annotated[int, typer.Option("--verbatim", help="逐語整文の件数（6発言ずつ） / verbatim windows")] = 24,
    summary_days: Annotated[int, typer.Option("--summary-days", help="要点筆記の一般質問日数 / summary days")] = 4,
    articles: Annotated[
        int | None, typer.Option("--articles", help="広報記事の件数（既定: すべて） / newsletter articles")
    ] = None,
    local_sample: Annotated[
        int,
        typer.Option("--local-sample", help="ローカルモデルで下書きする各タスクの件数（0 で抽出のみ） / local cases"),
    ] = 2,
    task: Annotated[
        list[str] | None, typer.Option("--task", help="verbatim | summary | pr（複数可、既定: すべて）")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="生の文字起こしを作る乱数の種 / generator seed")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="最終行に JSON / JSON on the last line")] = False,
    report: Annotated[
        Path | None, typer.Option("--report", help="レポートの保存先フォルダ / report folder (report.md, report.json)")
    ] = None,
) -> None:
    """議事録・広報記事の下書きを実データで評価（CER・話者・項目・事実） / drafting benchmark on real texts."""
    from yakuba.evals.drafts import LABELS, TASKS, run_drafts_eval, write_report

    tasks = tuple(task or DRAFT_TASKS)
    if unknown := [t for t in tasks if t not in DRAFT_TASKS]:
        raise fail(f"--task は verbatim / summary / pr のいずれかです: {', '.join(unknown)}")
    if min(verbatim, summary_days, local_sample, articles if articles is not None else 0) < 0:
        raise fail("件数は 0 以上で指定してください / counts must be 0 or more")
    settings = load_settings()
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=err, transient=True)
    try:
        with progress:
            bars: dict[str, int] = {}

            def tick(name: str, done: int, total: int) -> None:
                if name not in bars:
                    bars[name] = progress.add_task(name, total=total)
                progress.update(bars[name], completed=done, total=total)

            result = run_drafts_eval(
                settings, verbatim_cases=verbatim, summary_days=summary_days, articles=articles,
                local_sample=local_sample, seed=seed, tasks=tasks, progress=tick,
            )  # fmt: skip
    except YakubaError as exc:
        raise fail_error(exc, code=1) from exc
    if report is not None:
        written = write_report(result, report)
        err.print(f"レポートを保存しました / report written: {written['md']}")
    if local_sample and result.local_status != "ok":
        err.print(f"[yellow]ローカルモデルを使えないため抽出のみ / local model unavailable: {result.local_status}[/]")
    aggregates = result.aggregates()
    if as_json:
        sys.stdout.write(json.dumps(aggregates, ensure_ascii=False) + "\n")
        return
    for name, engines in aggregates.items():
        table = Table(title=f"{TASKS[name]} / {name}", box=box.SIMPLE_HEAD)
        table.add_column("metric")
        for engine in engines:
            table.add_column(engine, justify="right")
        for metric in next(iter(engines.values())):
            values = [engines[e].get(metric) for e in engines]
            table.add_row(LABELS.get(metric, metric), *("—" if v is None else f"{v:.3f}" if isinstance(v, float)
                                                       else str(v) for v in values))
        console.print(table)
    if result.calibration:
        table = Table(title="追加候補の関連度しきい値 / suggestion threshold (same article = on topic)",
                      box=box.SIMPLE_HEAD)
        for column in ("threshold", "on topic", "off topic", "precision", "recall"):
            table.add_column(column, justify="right")
        for row in result.calibration:
            table.add_row(str(row.threshold), str(row.on_topic), str(row.off_topic),
                          *("—" if v is None else f"{v:.3f}" for v in (row.precision, row.recall)))
        console.print(table)
