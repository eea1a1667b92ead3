"""The scale-out path: YAKUBA_CHROMA_URL points at a real `chroma run` server started here."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import chromadb
import httpx
import pytest

from tests.helpers import DATA, free_port
from yakuba.core.settings import Settings
from yakuba.ingest.pipeline import Ingestor
from yakuba.retriever.store import StoreError, TenantStore, list_tenants, make_client

pytestmark = pytest.mark.server



@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory):
    port = free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    chroma = Path(sys.executable).with_name("chroma")
    log = (data / "server.log").open("w")
    process = subprocess.Popen(
        [str(chroma), "run", "--path", str(data / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail("chroma server did not start: " + (data / "server.log").read_text()[-2000:])
    yield url
    process.terminate()
    process.wait(timeout=20)
    log.close()


def test_ingest_and_list_through_chroma_server(chroma_server, settings, embeddings, monkeypatch) -> None:
    monkeypatch.setenv("YAKUBA_CHROMA_URL", chroma_server)
    remote = Settings()
    client = make_client(remote)
    store = TenantStore(client, "remote", embedding_model=remote.embedding_model, bm25_root=remote.bm25_path)
    results = list(Ingestor(remote, store, embeddings).run([DATA / "soumu_dx_excerpt.md"]))
    assert results[0].status == "added"
    assert "remote" in list_tenants(client)
    assert store.get_document("soumu_dx_excerpt.md").chunks == store.count() > 0
    assert store.query_dense(embeddings.embed_query("DX"), 3)
    # The chunks are on the server: a client of its own, knowing nothing of Yakuba, sees them.
    host, port = chroma_server.removeprefix("http://").split(":")
    independent = chromadb.HttpClient(host=host, port=int(port))
    assert independent.get_collection("yakuba__remote").count() == store.count()
    # Nothing was written to the embedded store under YAKUBA_HOME.
    assert not remote.chroma_path.exists()
    assert set(store.bm25.ids()) == store.chunk_ids("soumu_dx_excerpt.md")
    again = list(Ingestor(remote, store, embeddings).run([DATA / "soumu_dx_excerpt.md"]))
    assert again[0].status == "unchanged"


def test_bad_chroma_url_is_a_clear_error(settings, monkeypatch) -> None:
    monkeypatch.setenv("YAKUBA_CHROMA_URL", "localhost-without-scheme")
    with pytest.raises(StoreError, match="YAKUBA_CHROMA_URL"):
        make_client(Settings())


def test_unreachable_chroma_server_is_a_clear_error(settings, monkeypatch) -> None:
    monkeypatch.setenv("YAKUBA_CHROMA_URL", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StoreError, match="Chroma サーバー"):
        make_client(Settings())
