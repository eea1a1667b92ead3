"""What every `yakuba` sub-command module shares: how errors are shown and settings are loaded."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from yakuba.core.errors import YakubaError
from yakuba.core.settings import Settings, get_settings

err = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a Japanese-first error and return the Exit to raise (no traceback for users)."""
    err.print(f"[bold red]エラー:[/] {message}")
    return typer.Exit(code)


def fail_error(error: YakubaError, code: int = 2) -> typer.Exit:
    """`fail` for any error of the layers below: its "ja / en" message, then its machine code (dim),
    which an operator can look up; one format for every command."""
    err.print(f"[bold red]エラー:[/] {escape(error.message)}\n[dim]({error.code})[/]")
    return typer.Exit(code)


def load_settings() -> Settings:
    try:
        return get_settings()
    except Exception as exc:  # noqa: BLE001 - invalid env/toml becomes a readable message
        raise fail(f"設定が正しくありません / invalid settings: {exc}") from exc
