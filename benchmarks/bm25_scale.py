"""BM25Index at tenant scale: indexing, rebuild and search latency at N chunks (default 50,000).

    .venv/bin/python benchmarks/bm25_scale.py [--chunks 50000] [--datasets ../shared/datasets]

Chunks are 400-character windows over the dev corpora (council minutes + Wikipedia, ~1.3M chars),
taken at shifting offsets until N distinct chunks exist (so 50k chunks repeat the text ~15 times:
the vocabulary is that of the dev corpora, smaller than a real 20M-character tenant's), with
synthetic filter metadata (doc type, date, speaker). Queries are the dev sets' questions.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from yakuba.core.paths import shared_dir  # noqa: E402
from yakuba.evals.datasets import load_dataset  # noqa: E402
from yakuba.evals.metrics import percentile  # noqa: E402
from yakuba.retriever.bm25 import BM25Index  # noqa: E402
from yakuba.retriever.filters import SearchFilters  # noqa: E402


def make_chunks(texts: list[str], n: int, size: int = 400) -> list[str]:
    """`size`-character windows over the concatenated corpus; each pass starts at a new offset."""
    stream = "\n".join(texts)
    chunks: list[str] = []
    offset = 0
    while len(chunks) < n:
        for start in range(offset, len(stream) - size, size):
            chunks.append(stream[start : start + size])
            if len(chunks) == n:
                break
        offset = (offset + 97) % size
    return chunks


def timed(label: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Wall time, and this process's CPU time (closer to the unloaded figure on a busy machine)."""
    start, cpu = time.perf_counter(), time.process_time()
    result = fn(*args, **kwargs)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"{label:<52} {wall:8.2f} s wall {cpu:8.2f} s cpu", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = (shared_dir() or ROOT) / "datasets"
    parser.add_argument("--datasets", type=Path, default=default)
    parser.add_argument("--chunks", type=int, default=50_000)
    parser.add_argument("--phrases", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()

    datasets = [load_dataset(p) for p in sorted(args.datasets.iterdir()) if (p / "questions.jsonl").is_file()]
    texts = [d.text for ds in datasets for d in ds.documents if d.text]
    questions = [q.question for ds in datasets for q in ds.questions]
    chunks = make_chunks(texts, args.chunks)
    rng = random.Random(0)
    speakers = ["飯島英規", "北川久人", "石渡宏明", "荒木恵司", None]
    metadatas = [
        {
            "doc_id": f"doc{i // 20}",
            "doc_type": rng.choice(["議会会議録", "議会会議録", "総合計画", "計画", "その他"]),
            "date": f"{rng.randrange(2018, 2025)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
            "speaker": rng.choice(speakers),
        }
        for i in range(len(chunks))
    ]
    ids = [f"doc{i // 20}::{i}" for i in range(len(chunks))]
    chars = sum(map(len, chunks))
    print(f"{len(chunks):,} chunks, {chars:,} chars, {len(questions)} queries, phrases={args.phrases}")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bm25"
        index = BM25Index(path, phrases=args.phrases)
        timed("add (tokenize + SQLite), batches of 1,000", lambda: [
            index.add(ids[i : i + 1000], chunks[i : i + 1000], metadatas[i : i + 1000])
            for i in range(0, len(ids), 1000)
        ])  # fmt: skip
        timed("first search: build matrix", index.search, "子育て支援", 10)
        timed("  (background: write + fsync snapshot)", index.flush)
        timed("add 1 chunk", index.add, ["new::0"], ["新しい公民館の利用案内"], [{"doc_id": "new"}])
        timed("next search: lazy rebuild after the change", index.search, "子育て支援", 10)
        index.flush()
        fresh = BM25Index(path, phrases=args.phrases)
        timed("new process: load snapshot + first search", fresh.search, "子育て支援", 10)
        fresh.close()
        index_b = BM25Index(path, phrases=args.phrases, snapshot=False)
        timed("new process without snapshot: rebuild + search", index_b.search, "子育て支援", 10)
        index_b.close()

        filters = SearchFilters(doc_types=["議会会議録"], date_from="2020-04-01", date_to="2023-03-31", speaker="飯島")
        for label, flt in (("no filter", None), ("doc_type + date range + speaker", filters)):
            latencies = []
            for question in questions:
                start = time.perf_counter()
                index.search(question, 10, flt)
                latencies.append((time.perf_counter() - start) * 1000)
            print(
                f"search, {label:<32} p50 {percentile(latencies, 50):6.2f} ms   p95 {percentile(latencies, 95):6.2f} ms"
                f"   max {max(latencies):6.2f} ms   mean {statistics.fmean(latencies):6.2f} ms"
            )
        sizes = {p.name: p.stat().st_size / 1e6 for p in path.iterdir() if p.is_file()}
        print("files (MB):", ", ".join(f"{name} {size:.1f}" for name, size in sorted(sizes.items())))
        index.close()


if __name__ == "__main__":
    main()
