"""End-to-end answer latency through the HTTP API: what a client of `yakuba serve` waits for.

Starts the real app under uvicorn on loopback and asks a few questions about the bundled 南国市
documents over `POST /v1/chat` with `stream: true`, timing on the client side:
- ttft: until the first `token` event (the first text staff see),
- total: until `data: [DONE]`.
One extra question warms up first (model load, BM25 build); then every question is asked once per
run. Repeating a question reuses llama.cpp's prompt cache (a much shorter time to first token), so
for the local engine `--runs 1` is the realistic setting.

    .venv/bin/python benchmarks/api_latency.py --engine extractive
    .venv/bin/python benchmarks/api_latency.py --engine local --runs 1
    .venv/bin/python benchmarks/api_latency.py --home .yakuba --tenant default   # an existing deployment
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import uvicorn  # noqa: E402

from yakuba.api.app import create_app  # noqa: E402
from yakuba.core.settings import Settings  # noqa: E402

WARM_UP = "南国市の図書館について教えてください。"
QUESTIONS = [
    "南国市立図書館の位置はどこですか？",
    "南国市手話言語条例の目的は何ですか？",
    "図書館の指定管理者はどのような業務を行いますか？",
    "市は手話の普及のためにどのような施策を推進しますか？",
    "火星探査機の打ち上げ予定日はいつですか？",  # unanswerable: the abstention path
]
DOCUMENTS = [ROOT / "corpora" / "南国市" / "議案第12号_南国市立図書館設置条例_全部改正.pdf",
             ROOT / "corpora" / "南国市" / "議案第18号_南国市手話言語条例.pdf"]


def build_home(home: Path, settings: Settings, tenant: str) -> None:
    from yakuba.ingest.pipeline import Ingestor, InputPath
    from yakuba.retriever.embeddings import embeddings_from_settings
    from yakuba.retriever.store import TenantStore

    store = TenantStore.open(settings, tenant)
    try:
        ingestor = Ingestor(settings, store, embeddings_from_settings(settings))
        for path in DOCUMENTS:
            ingestor.ingest_file(InputPath(path=path, doc_id=path.name))
    finally:
        store.close()


def ask(client: httpx.Client, headers: dict[str, str], question: str) -> dict[str, float | bool | str]:
    start = time.perf_counter()
    ttft = None
    final: dict = {}
    with client.stream("POST", "/v1/chat", headers=headers, json={"question": question, "stream": True}) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            payload = line[len("data: "):]
            if payload == "[DONE]":
                break
            event = json.loads(payload)
            if event["type"] == "token" and ttft is None:
                ttft = time.perf_counter() - start
            elif event["type"] == "answer":
                final = event["answer"]
    total = time.perf_counter() - start
    return {"ttft_ms": (ttft or total) * 1000, "total_ms": total * 1000, "abstained": final.get("abstained", True),
            "engine": final.get("engine", "?"), "fallback": final.get("fallback") or ""}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=("extractive", "local", "openai"), default="extractive")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--home", type=Path, help="an existing YAKUBA_HOME (default: a temporary one)")
    parser.add_argument("--tenant", default="bench")
    parser.add_argument("--embedding-model", default=None, help="default: the YAKUBA_EMBEDDING_MODEL setting")
    args = parser.parse_args()

    temporary = None
    if args.home is None:
        temporary = tempfile.TemporaryDirectory(prefix="yakuba-api-bench-")
        home = Path(temporary.name)
    else:
        home = args.home
    overrides: dict[str, object] = {"home": home, "chat_engine": args.engine}
    if args.embedding_model:
        overrides["embedding_model"] = args.embedding_model
    settings = Settings(**overrides)  # type: ignore[arg-type]
    if args.home is None:
        build_home(home, settings, args.tenant)

    app = create_app(settings)
    _, token = app.state.keys.create("staff", args.tenant, name="benchmark")
    headers = {"Authorization": f"Bearer {token}"}
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    print(f"engine={args.engine} embedding={settings.embedding_model} cpu={platform.processor() or platform.machine()} "
          f"cores={os.cpu_count()} runs={args.runs}")
    rows = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
        warm = ask(client, headers, WARM_UP)
        print(f"warm-up (loads models): {warm['total_ms']:.0f} ms")
        results: dict[str, list[dict]] = {q: [] for q in QUESTIONS}
        for _ in range(args.runs):
            for question in QUESTIONS:
                results[question].append(ask(client, headers, question))
        for question, runs in results.items():
            ttft = statistics.median(r["ttft_ms"] for r in runs)
            total = statistics.median(r["total_ms"] for r in runs)
            rows.append((ttft, total))
            print(f"{question[:28]:<30} ttft {ttft:8.0f} ms  total {total:8.0f} ms"
                  f"  abstained={runs[-1]['abstained']} engine={runs[-1]['engine']} {runs[-1]['fallback']}")
    print(f"median over questions: ttft {statistics.median(r[0] for r in rows):.0f} ms, "
          f"total {statistics.median(r[1] for r in rows):.0f} ms")
    server.should_exit = True
    thread.join(timeout=10)
    if temporary is not None:
        temporary.cleanup()


if __name__ == "__main__":
    main()
