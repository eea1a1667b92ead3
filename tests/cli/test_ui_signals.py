"""#18 item 12: `yakuba ui` stopped with SIGTERM (a service manager, `kill`) stops its Streamlit child.

Real processes: `python -m yakuba.cli ui` starts real Streamlit on a free port; after SIGTERM the
command must exit, the child must be gone and the port must be free again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import free_port

pytestmark = pytest.mark.server


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.is_file() else []


def _running(pid: int) -> bool:
    """Alive and not a zombie (a container's PID 1 may never reap an orphan)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def test_sigterm_stops_the_streamlit_child(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("YAKUBA_")}
    env.update(YAKUBA_HOME=str(tmp_path / "home"), YAKUBA_CONFIG=str(tmp_path / "none.toml"))
    log = tmp_path / "ui.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "yakuba.cli", "ui", "--port", str(port)], env=env, stdout=out, stderr=out
        )
    health = f"http://127.0.0.1:{port}/_stcore/health"
    children: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while not _healthy(health):
            assert process.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "Streamlit did not start"
            time.sleep(0.5)
        children = _children(process.pid)
        assert children, "Streamlit runs as a child process"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        deadline = time.monotonic() + 15
        while any(_running(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_running(pid) for pid in children), "the Streamlit child outlived `yakuba ui`"
        assert not _healthy(health), "the port is free again"
    finally:
        if process.poll() is None:
            process.kill()
        for pid in children:  # never leave a Streamlit behind, whatever failed
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
