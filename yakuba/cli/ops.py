"""Operations of a deployment: `yakuba db upgrade`, `yakuba backup`, `yakuba restore`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from yakuba.cli.common import fail, fail_error, load_settings
from yakuba.core.errors import YakubaError

db_app = typer.Typer(help="共有データベース（PostgreSQL） / the shared database.", no_args_is_help=True)
console = Console()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """スキーマを最新に更新（YAKUBA_DATABASE_URL） / migrate the shared database to the newest schema."""
    from yakuba.core.db import DatabaseURLError, upgrade

    settings = load_settings()
    if not settings.database_url:
        raise fail("YAKUBA_DATABASE_URL が設定されていません（SQLite では不要です） / no database URL set")
    try:
        revision = upgrade(settings.database_url)
    except DatabaseURLError as exc:
        raise fail(str(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - connection errors become one readable line
        raise fail(f"データベースを更新できません / cannot migrate: {exc}") from exc
    console.print(f"スキーマは最新です / schema at revision {revision}")


def backup_command(
    output: Annotated[Path, typer.Argument(help="書き出すアーカイブ（.tar.gz） / archive to write")],
    tenant: Annotated[
        list[str] | None, typer.Option("--tenant", "-t", help="対象テナント（省略時は全て）")
    ] = None,
) -> None:
    """文書・ベクトル・BM25・キー・監査ログを一つのアーカイブに / back up tenants into one archive."""
    from yakuba.cli.backup import create_backup

    settings = load_settings()
    try:
        manifest = create_backup(settings, output, tenant or None)
    except YakubaError as exc:
        raise fail_error(exc) from exc
    for name, counts in manifest.counts.items():
        console.print(f"{name}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    console.print(f"バックアップを書き出しました / wrote {output}")


def restore_command(
    archive: Annotated[Path, typer.Argument(help="yakuba backup のアーカイブ / archive from yakuba backup")],
    tenant: Annotated[
        list[str] | None, typer.Option("--tenant", "-t", help="復元するテナント（省略時は全て）")
    ] = None,
) -> None:
    """アーカイブからテナントを復元（既存の内容は置き換え） / restore tenants, replacing them."""
    from yakuba.cli.backup import restore_backup

    if not archive.is_file():
        raise fail(f"ファイルがありません / no such file: {archive}")
    settings = load_settings()
    try:
        manifest = restore_backup(settings, archive, tenant or None)
    except YakubaError as exc:
        raise fail_error(exc) from exc
    console.print(f"復元しました / restored: {', '.join(tenant or manifest.tenants)}")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
    app.command("backup")(backup_command)
    app.command("restore")(restore_command)
