"""`yakuba ui` (the Streamlit staff UI) and `yakuba up` (API + UI together, what `make run` starts).

`up` runs both as child processes so either can be restarted alone later, and stops both on Ctrl-C.
When no key is configured it creates a local admin key for the UI once, keeps it under YAKUBA_HOME
(mode 0600) and hands it to the UI through YAKUBA_API_KEY, never on a command line.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console

from yakuba.cli.common import fail, load_settings
from yakuba.core.settings import Settings, validate_tenant

console = Console()
err = Console(stderr=True)

# The Streamlit script, wherever the package is installed (a checkout maps yakuba.ui to ui/).
APP_PATH = Path(importlib.util.find_spec("yakuba.ui").origin).parent / "app.py"  # type: ignore[arg-type]
UI_KEY_FILE = "ui-api-key"
UI_KEY_NAME = "yakuba-ui (yakuba up)"
STARTUP_TIMEOUT_S = 300.0  # first start loads the embedding model and, for the local engine, the LLM

HostOption = Annotated[str | None, typer.Option("--host", help="待ち受けアドレス / bind address (default: settings.api_host)")]




def streamlit_command(settings: Settings, *, host: str, port: int) -> list[str]:
    """The `streamlit run` line: headless, no telemetry, no file watcher (it is an installed app)."""
    upload_mb = max(200, math.ceil(settings.max_upload_mb))  # the API enforces the real limit in Japanese
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_PATH),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--server.maxUploadSize",
        str(upload_mb),
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",
        "--theme.base",
        "light",
        "--logger.level",
        "warning",
    ]


def _url_host(host: str) -> str:
    """Where a browser on this machine reaches a server bound to `host`."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def port_is_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def ensure_ui_key(settings: Settings, tenant: str) -> str:
    """The UI's key: the stored one while it is still valid for `tenant`, else a new admin key (0600 file)."""
    from yakuba.api.keys import open_key_store

    path = settings.home / UI_KEY_FILE
    store = open_key_store(settings)
    if path.is_file():
        token = path.read_text(encoding="utf-8").strip()
        key = store.verify(token) if token else None
        if key is not None and key.tenant == tenant:
            return token
    key, token = store.create(role="admin", tenant=tenant, name=UI_KEY_NAME)
    settings.home.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    os.replace(temporary, path)
    console.print(f"画面用の API キーを作成しました（管理者・テナント {tenant}、キーID {key.key_id}）: {path}")
    return token


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout_s: float) -> bool:
    """Poll `url` until it answers 200, the process dies, or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


def stop(processes: list[subprocess.Popen[bytes]], timeout_s: float = 10.0) -> None:
    """SIGTERM (uvicorn and streamlit shut down cleanly on it), then SIGKILL whatever is left."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop_on_signals() -> None:
    """Ctrl-C and a service manager's SIGTERM both stop the two servers (never leave them orphaned).

    SIGINT is set explicitly because a shell starting `up` in the background makes it ignored.
    """
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _raise_interrupt)


def ui_command(
    host: HostOption = None,
    port: Annotated[int | None, typer.Option("--port", help="画面のポート / UI port (default: settings.ui_port)")] = None,
) -> None:
    """職員向け画面（Streamlit）を起動 / start the staff UI (talks to settings.api_url)."""
    settings = load_settings()
    command = streamlit_command(settings, host=host or settings.api_host, port=port or settings.ui_port)
    console.print(f"画面 / UI: http://{_url_host(host or settings.api_host)}:{port or settings.ui_port}")
    console.print(f"接続先 API / API: {settings.api_url}")
    if settings.api_key is None:
        console.print("[yellow]YAKUBA_API_KEY が未設定です。画面の「接続設定」でキーを入力してください。[/]")
    # Ctrl-C and SIGTERM (a service manager, `kill`) stop Streamlit too, as `yakuba up` does: a plain
    # subprocess.call would leave it running, orphaned and holding the port, on SIGTERM.
    processes: list[subprocess.Popen[bytes]] = []
    _stop_on_signals()
    try:
        processes.append(subprocess.Popen(command))
        code = processes[0].wait()
    except KeyboardInterrupt:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
        stop(processes)
        code = 0
    raise typer.Exit(code)


def up_command(
    host: HostOption = None,
    api_port: Annotated[int | None, typer.Option("--api-port", help="API のポート / API port")] = None,
    ui_port: Annotated[int | None, typer.Option("--ui-port", help="画面のポート / UI port")] = None,
    tenant: Annotated[
        str | None, typer.Option("--tenant", "-t", help="画面用キーのテナント / tenant of the UI's key")
    ] = None,
) -> None:
    """API と職員向け画面をまとめて起動（Ctrl-C で両方停止） / start the API and the staff UI together."""
    settings = load_settings()
    settings.ensure_home()
    host = host or settings.api_host
    api_port = api_port or settings.api_port
    ui_port = ui_port or settings.ui_port
    try:
        tenant = validate_tenant(tenant) if tenant else settings.default_tenant
    except ValueError as exc:
        raise fail(str(exc)) from exc
    for name, port in (("API", api_port), ("画面 / UI", ui_port)):
        if not port_is_free(host, port):
            raise fail(
                f"{name} のポート {port} は使用中です。別のポートを指定してください"
                f"（--api-port / --ui-port、または YAKUBA_API_PORT / YAKUBA_UI_PORT） / port {port} is in use"
            )
    key = settings.api_key.get_secret_value() if settings.api_key else ensure_ui_key(settings, tenant)
    api_url = f"http://{_url_host(host)}:{api_port}"
    ui_url = f"http://{_url_host(host)}:{ui_port}"

    processes: list[subprocess.Popen[bytes]] = []
    _stop_on_signals()
    try:
        console.print("API を起動しています…（初回はモデルの読み込みに時間がかかります）")
        api = subprocess.Popen(
            # Access logs would bury the URLs below: requests are counted in /metrics and the audit log.
            [sys.executable, "-m", "yakuba.cli", "serve", "--host", host, "--port", str(api_port),
             "--log-level", "warning"]
        )  # fmt: skip
        processes.append(api)
        if not wait_until_up(f"{api_url}/healthz", api, STARTUP_TIMEOUT_S):
            stop(processes)
            raise fail("API を起動できませんでした（上のメッセージを確認してください） / the API did not start", 1)
        env = {**os.environ, "YAKUBA_API_URL": api_url, "YAKUBA_API_KEY": key}
        ui = subprocess.Popen(streamlit_command(settings, host=host, port=ui_port), env=env)
        processes.append(ui)
        if not wait_until_up(f"{ui_url}/_stcore/health", ui, 120.0):
            stop(processes)
            raise fail("画面を起動できませんでした（上のメッセージを確認してください） / the UI did not start", 1)
        console.rule("[bold green]Yakuba が起動しました / Yakuba is running")
        console.print(f"  職員向け画面 / staff UI : [bold]{ui_url}[/]  ← ブラウザで開いてください")
        console.print(f"  API                    : {api_url}  （仕様: {api_url}/docs）")
        console.print("  停止するには Ctrl-C / press Ctrl-C to stop")
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        ended = next(p for p in processes if p.poll() is not None)
        name = "API" if ended is api else "画面 / UI"
        err.print(f"[bold red]{name} が終了しました（終了コード {ended.returncode}）。もう一方も停止します。[/]")
        stop(processes)
        raise typer.Exit(ended.returncode or 1)
    except KeyboardInterrupt:
        for signum in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not orphan the servers
            signal.signal(signum, signal.SIG_IGN)
        console.print("\n停止しています… / stopping…")
        stop(processes)
        console.print("停止しました / stopped")
