"""`yakuba ask`: a grounded answer in the terminal (the same pipeline the API serves)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console

from yakuba.cli.common import fail, fail_error
from yakuba.core.errors import YakubaError

console = Console()


def ask_command(
    question: Annotated[str, typer.Argument(help="質問 / the question")],
    engine: Annotated[
        str | None, typer.Option("--engine", help="local | extractive | openai（既定は設定値） / answer engine")
    ] = None,
    doc_type: Annotated[
        list[str] | None, typer.Option("--doc-type", help="文書種別で絞り込み（複数可） / filter by doc type")
    ] = None,
    speaker: Annotated[str | None, typer.Option("--speaker", help="発言者（部分一致） / speaker name")] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="開始日 YYYY-MM-DD / from date")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="終了日 YYYY-MM-DD / to date")] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="テナント / tenant")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="最終行に JSON / JSON on the last line")] = False,
) -> None:
    """資料に基づいて質問に回答（出典付き） / answer a question from the documents, with citations."""
    from pydantic import ValidationError

    from yakuba.assistant.answer import AnswerError
    from yakuba.assistant.schemas import AnswerRequest
    from yakuba.assistant.service import Assistant
    from yakuba.core.settings import get_settings, validate_tenant
    from yakuba.retriever.filters import SearchFilters

    settings = get_settings()
    try:
        tenant_name = validate_tenant(tenant or settings.default_tenant)
        filters = SearchFilters(doc_types=doc_type or None, speaker=speaker, date_from=date_from, date_to=date_to)
        request = AnswerRequest(question=question, filters=filters, engine=engine)  # type: ignore[arg-type]
    except (ValueError, ValidationError) as exc:
        raise fail(f"入力が正しくありません / invalid input: {exc}") from exc
    assistant = Assistant.open(settings, tenant_name)
    if assistant.searcher.store.count() == 0:
        raise fail(
            f"テナント {tenant_name} には文書が登録されていません。先に `yakuba ingest` を実行してください / "
            "no documents in this tenant yet",
            code=1,
        )
    final = None
    streamed: list[str] = []
    try:
        for event in assistant.stream(request):
            if event.type == "token" and not as_json:
                streamed.append(event.text or "")
                console.print(event.text, end="", markup=False, highlight=False)
            elif event.type == "answer":
                final = event.answer
    except AnswerError as exc:  # the question: the user's to fix
        raise fail_error(exc) from exc
    except YakubaError as exc:  # the model or the store: the installation's
        raise fail_error(exc, code=1) from exc
    except Exception as exc:  # noqa: BLE001 - anything else still ends with one readable line
        raise fail(str(exc), code=1) from exc
    assert final is not None
    if as_json:
        sys.stdout.write(final.model_dump_json() + "\n")
        return
    console.print()
    if final.answer.strip() != "".join(streamed).strip():  # markers dropped or a fallback replaced it
        console.rule("[bold]回答（確認済み） / checked answer[/]")
        console.print(final.answer, markup=False, highlight=False)
    console.rule("[bold]出典 / sources[/]")
    for citation in final.citations or final.sources:
        console.print(f"[{citation.n}] {citation.label}  (score {citation.score:.3f})", markup=False)
    note = f"engine={final.engine}" + (f" fallback={final.fallback}" if final.fallback else "")
    timings = " ".join(f"{k}={v:.0f}ms" for k, v in final.timings_ms.items())
    console.print(f"[dim]{note} {timings}[/]")
