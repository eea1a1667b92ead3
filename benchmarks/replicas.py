"""Search throughput of 1 vs 2 `yakuba serve` replicas sharing one PostgreSQL and one Chroma server.

    .venv/bin/python benchmarks/replicas.py [--chunks 50000] [--seconds 30] [--clients 4]

What is built: one tenant of N chunks of real Japanese text (benchmarks/latency_50k.py's generator:
桐生市議会 minutes + JSQuAD passages from ../shared) written through `TenantStore.open` with
YAKUBA_DATABASE_URL and YAKUBA_CHROMA_URL set, so Chroma's server holds the vectors and PostgreSQL
the BM25 rows, exactly as ingest fills them. STAND-IN STORED VECTORS (hashed character bigrams, 384
dims, see latency_50k.py): dense *rankings* are meaningless, search cost is real. PostgreSQL is a
throwaway cluster (tests/deploy/services.py), Chroma a `chroma run` server, both on this machine.

What is measured: `--clients` concurrent HTTP clients send POST /v1/search (hybrid, k=10, real dev-set
questions, the query embedded by the replica with the configured model) for `--seconds`, against one
replica and then against two (clients alternate replicas, as a round-robin proxy would). Printed:
requests/s, p50/p95/max latency, errors. Every replica first answers a warm-up query (model load,
BM25 matrix build from PostgreSQL: that cost is printed separately).

All processes share this machine's cores: two replicas on 2 cores cannot double throughput; the
numbers give the per-request CPU cost from which docs/deploy.md's capacity table is computed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from benchmarks.latency_50k import (  # noqa: E402
    default_shared,
    hashed_vectors,
    load_queries,
    minutes_chunks,
    select,
    wiki_chunks,
)
from tests.deploy.services import Replica, chroma_server, postgres_cluster, replica_env  # noqa: E402
from yakuba.api.keys import open_key_store  # noqa: E402
from yakuba.core.settings import Settings  # noqa: E402
from yakuba.retriever.store import TenantStore  # noqa: E402

TENANT = "bench"


def build(settings: Settings, n: int, shared: Path, batch: int = 2000) -> None:
    minutes = minutes_chunks(shared / "training" / "kiryu-minutes-h15-r5.jsonl.gz")
    wiki = wiki_chunks(shared / "datasets" / "jsquad-valid" / "corpus.jsonl")
    items = select(minutes, wiki, n)
    store = TenantStore.open(settings, TENANT)
    started = time.perf_counter()
    try:
        for i in range(0, len(items), batch):
            part = items[i : i + batch]
            vectors = hashed_vectors([c.text for _, c in part]).tolist()
            store.add_chunks([cid for cid, _ in part], [c for _, c in part], vectors)
            if (i // batch) % 5 == 4 or i + batch >= len(items):
                print(
                    f"  {i + len(part):>7,} / {len(items):,} chunks  {time.perf_counter() - started:6.1f} s",
                    flush=True,
                )
    finally:
        store.close()


def load(urls: list[str], token: str, queries: list[str], seconds: float, clients: int) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(n: int) -> None:
        nonlocal errors
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            i = n
            while time.monotonic() < stop:
                url = urls[i % len(urls)]
                query = queries[i % len(queries)]
                i += clients
                start = time.perf_counter()
                try:
                    ok = http.post(f"{url}/v1/search", json={"query": query, "k": 10}).status_code == 200
                except httpx.HTTPError:
                    ok = False
                elapsed = (time.perf_counter() - start) * 1000
                with lock:
                    if ok:
                        latencies.append(elapsed)
                    else:
                        errors += 1

    wall = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - wall
    ordered = sorted(latencies)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")  # noqa: E731
    return {
        "requests": len(latencies),
        "rps": len(latencies) / wall,
        "p50": statistics.median(ordered or [0.0]),
        "p95": pick(0.95),
        "max": ordered[-1] if ordered else float("nan"),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=50_000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--model",
        default="multilingual-e5-small-council-onnx-fp32",
        help="query embedding model of the replicas (the default)",
    )
    parser.add_argument("--shared", type=Path, default=default_shared())
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="yakuba-replicas-"))
    print(f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}; work folder {base}")
    with postgres_cluster() as pg, chroma_server(base) as chroma_url:
        database_url = pg.create_database()
        settings = Settings(
            home=base / "builder",
            database_url=database_url,
            chroma_url=chroma_url,
            embedding_model=args.model,
        )
        print(f"building {args.chunks:,} chunks (PostgreSQL BM25 rows + Chroma server, stand-in vectors)")
        build(settings, args.chunks, args.shared)
        token = open_key_store(settings).create("staff", TENANT, name="bench")[1]
        queries = load_queries(args.shared, args.queries)
        replicas = []
        for name in ("r1", "r2"):
            env = replica_env(base / name / "home", database_url, chroma_url)
            env.update({"YAKUBA_EMBEDDING_MODEL": args.model, "YAKUBA_LOG_FORMAT": "text"})
            replica = Replica(name, base / name / "home", env).start(timeout_s=300)
            started = time.perf_counter()
            warm = httpx.post(
                f"{replica.url}/v1/search",
                json={"query": "図書館の開館時間", "k": 10},
                headers={"Authorization": f"Bearer {token}"},
                timeout=600,
            )
            assert warm.status_code == 200, warm.text
            print(
                f"  {name}: first search (model load + BM25 matrix from PostgreSQL) "
                f"{time.perf_counter() - started:.1f} s"
            )
            replicas.append(replica)
        try:
            print(f"\n{args.clients} clients, {args.seconds:.0f} s each, POST /v1/search hybrid k=10")
            print("replicas  requests  req/s   p50 ms   p95 ms   max ms  errors")
            for count in (1, 2):
                result = load([r.url for r in replicas[:count]], token, queries, args.seconds, args.clients)
                print(
                    f"{count:>8}  {result['requests']:>8}  {result['rps']:5.1f}  {result['p50']:7.0f}  "
                    f"{result['p95']:7.0f}  {result['max']:7.0f}  {result['errors']:>6}",
                    flush=True,
                )
        finally:
            for replica in replicas:
                replica.stop()


if __name__ == "__main__":
    main()
