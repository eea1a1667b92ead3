"""`yakuba serve`, `yakuba keys create/list/revoke` and `yakuba audit export`.

Kept apart from yakuba/cli.py (ingest and search) so the API's commands live beside nothing else;
`register(app)` adds them to the main CLI.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from yakuba.cli.common import fail, fail_error, load_settings
from yakuba.core.settings import Settings

keys_app = typer.Typer(help="API キーの発行・一覧・失効 / API keys.", no_args_is_help=True)
audit_app = typer.Typer(help="監査ログ / audit log.", no_args_is_help=True)

console = Console()
err = Console(stderr=True)




def _keys(settings: Settings):  # type: ignore[no-untyped-def]
    from yakuba.api.keys import open_key_store

    settings.ensure_home()
    return open_key_store(settings)


def serve(
    host: Annotated[str | None, typer.Option("--host", help="待ち受けアドレス / bind address")] = None,
    port: Annotated[int | None, typer.Option("--port", help="ポート番号 / port")] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn のログレベル")] = "info",
) -> None:
    """API サーバーを起動 / start the API server (uvicorn)."""
    import uvicorn

    from yakuba.api.app import create_app
    from yakuba.api.logs import configure_logging

    settings = load_settings()
    settings.ensure_home()
    configure_logging(settings)
    app = create_app(settings)  # first: with YAKUBA_DATABASE_URL it brings the shared schema up to date
    if not _keys(settings).list(include_revoked=False):
        err.print(
            "[yellow]有効な API キーがありません。`yakuba keys create --role admin --tenant <テナント>` で"
            "発行してください。[/] / no active API keys yet"
        )
    bind_host = host or settings.api_host
    bind_port = port or settings.api_port
    err.print(f"Yakuba API: http://{bind_host}:{bind_port}  (docs: /docs, engine: {settings.chat_engine})")
    uvicorn.run(app, host=bind_host, port=bind_port, log_level=log_level, log_config=None)


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option("--role", help="staff | pr | admin | evaluator")],
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="テナント（自治体）名 / tenant slug")],
    name: Annotated[str | None, typer.Option("--name", help="用途・利用者のメモ / label")] = None,
) -> None:
    """API キーを発行（キーは最終行に一度だけ表示） / create a key (printed once, on the last line)."""
    from yakuba.api.keys import KeyRequestError

    settings = load_settings()
    try:
        key, token = _keys(settings).create(role, tenant, name)
    except KeyRequestError as exc:
        raise fail_error(exc) from exc
    err.print(
        f"API キーを発行しました: id={key.key_id} role={key.role} tenant={key.tenant}。"
        "キーは二度と表示されません。安全な場所に保管してください。 / key created; it is shown only once."
    )
    sys.stdout.write(token + "\n")


@keys_app.command("list")
def keys_list(
    as_json: Annotated[bool, typer.Option("--json", help="最終行に JSON / JSON on the last line")] = False,
) -> None:
    """発行済みキーの一覧（キー本体は保存していません） / list keys (secrets are not stored)."""
    keys = _keys(load_settings()).list()
    if as_json:
        sys.stdout.write(json.dumps([k.model_dump() for k in keys], ensure_ascii=False) + "\n")
        return
    if not keys:
        console.print("API キーはまだありません / no keys yet")
        return
    table = Table(title=f"API キー / keys ({len(keys)})")
    for column in ("ID", "ロール role", "テナント tenant", "名前 name", "発行 created", "失効 revoked", "最終利用 last used"):
        table.add_column(column, overflow="fold")
    for k in keys:
        table.add_row(k.key_id, k.role, k.tenant, k.name, k.created_at, k.revoked_at or "-", k.last_used_at or "-")
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="キー ID（keys list の ID） / key id")]) -> None:
    """キーを失効 / revoke a key."""
    key = _keys(load_settings()).revoke(key_id.strip())
    if key is None:
        raise fail(f"キーが見つかりません: {key_id} / no such key", code=1)
    console.print(f"失効しました: {key.key_id}（{key.role}, {key.tenant}） / revoked at {key.revoked_at}")


@audit_app.command("export")
def audit_export(
    since: Annotated[str, typer.Option("--since", help="この日時以降 (YYYY-MM-DD, UTC) / from")],
    until: Annotated[str | None, typer.Option("--until", help="この日時より前 / before")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv | jsonl")] = "csv",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="出力ファイル（省略時は標準出力）")] = None,
) -> None:
    """監査ログを CSV / JSON Lines で出力 / export the audit log."""
    from yakuba.api.audit import export, open_audit_log, parse_since

    settings = load_settings()
    if fmt not in ("csv", "jsonl"):
        raise fail(f"--format は csv または jsonl です: {fmt!r}")
    try:
        start = parse_since(since)
        end = parse_since(until) if until else None
    except ValueError as exc:
        raise fail(str(exc)) from exc
    settings.ensure_home()
    rows = open_audit_log(settings).rows(start, end)
    text = export(rows, fmt)  # type: ignore[arg-type]
    if output is None:
        sys.stdout.write(text)
    else:
        # Excel opens UTF-8 CSV correctly only with a BOM.
        output.write_text(text, encoding="utf-8-sig" if fmt == "csv" else "utf-8")
        err.print(f"{len(rows)} 件を書き出しました: {output} / wrote {len(rows)} rows")


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.add_typer(keys_app, name="keys")
    app.add_typer(audit_app, name="audit")
