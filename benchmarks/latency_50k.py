"""Retrieval latency (dense / BM25 / hybrid / hybrid + filter) on a 50k-chunk tenant.

    .venv/bin/python benchmarks/latency_50k.py [--chunks 50000] [--queries 200] [--home DIR] [--keep]

Target (issue): hybrid retrieval p95 <= 100 ms without a reranker on 50k chunks.

What is built: one tenant of N chunks of *real* Japanese text, written through
`TenantStore.open(settings, tenant)` + `store.add_chunks(ids, chunks, vectors)` (Chroma and the BM25
index filled exactly as ingest fills them), with citation metadata as ingest produces it:
- 議会会議録: speeches of the 桐生市議会 minutes H15–R5 (`training/kiryu-minutes-h15-r5.jsonl.gz`), one
  document per meeting day (doc_id, title, session, ISO date → year, agenda as heading), one speaker
  per chunk (speaker, role), speech bodies packed greedily by whole sentences (。！？ / line ends,
  `ingest.clean.split_sentences`) into chunks of at most 500 characters labelled 「○role（speaker）」
  like `ingest.chunk` labels turns; pieces under 300 characters (short procedural turns such as
  「保健福祉部長。」, and speech tails) are left out, so chunks are 300–500 (mean ≈ 430) characters;
- その他: the JSQuAD Wikipedia passages (`datasets/jsquad-valid/corpus.jsonl`), one document per
  article, chunked by `ingest.chunk.chunk_document` (ingest's sentence-aware chunker, 500/80).
Minutes chunks are sampled evenly over the 20 years, so the date filter keeps the same share at
every N; the JSQuAD chunks are all included (about 1% of 50k).

STAND-IN STORED VECTORS: embedding 50k chunks with multilingual-e5-small takes over an hour on a
2-core machine, so the *stored* vectors are a cheap deterministic stand-in: signed hashed character
bigrams folded into 384 dimensions (a random projection of the bigram counts), L2-normalised. They
have e5-small's dimension, so Chroma's HNSW index and its search cost are those of a real tenant, but
dense *rankings* are meaningless (the query vectors come from e5, another space) — this measures
latency, not quality.

QUERIES are real: the dev-set questions (kiryu-r4 + jsquad-valid), and `HybridSearcher.search`
embeds each one with the real default model (multilingual-e5-small), so query-embedding cost is real.
The embedding time inside each search is measured by a thin timing wrapper around the model's
`embed_query`; "chroma" = dense time minus that (HNSW query + metadata + post-filter), "fusion" =
RRF + hydrating the top k from Chroma (`SearchResult.timings_ms["fusion"]`). A 5k-chunk tenant is
measured in the same process as the reference. Everything lives in a temporary YAKUBA_HOME
(`--home`, removed afterwards unless `--keep`); the user's YAKUBA_HOME is never touched.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from langchain_core.embeddings import Embeddings  # noqa: E402

from yakuba.core.paths import shared_dir  # noqa: E402
from yakuba.core.settings import Settings  # noqa: E402
from yakuba.core.types import Chunk, DocType, LoadedDocument, PageText  # noqa: E402
from yakuba.evals.metrics import percentile  # noqa: E402
from yakuba.ingest.chunk import chunk_document, chunk_ids  # noqa: E402
from yakuba.ingest.clean import split_sentences  # noqa: E402
from yakuba.retriever.embeddings import embeddings_from_settings  # noqa: E402
from yakuba.retriever.filters import SearchFilters  # noqa: E402
from yakuba.retriever.search import FusionConfig, HybridSearcher  # noqa: E402
from yakuba.retriever.store import TenantStore  # noqa: E402

DIM = 384  # multilingual-e5-small / MiniLM
MIN_CHARS, MAX_CHARS = 300, 500
MIN_SPEECH = 280
FILTER = SearchFilters(doc_types=["議会会議録"], date_from=date(2010, 4, 1), date_to=date(2019, 3, 31))
FILTER_LABEL = "hybrid+filter"
ERA = {"平成": 1988, "令和": 2018}


def default_shared() -> Path:
    return shared_dir() or ROOT.parent / "shared"


# -- corpus -----------------------------------------------------------------------------------
def _session_year(session: str) -> int | None:
    match = re.match(r"(平成|令和)(\d+|元)年", session)
    if not match:
        return None
    return ERA[match.group(1)] + (1 if match.group(2) == "元" else int(match.group(2)))


def _clean(body: str) -> str:
    text = unicodedata.normalize("NFKC", body)
    return "\n".join(" ".join(line.split()) for line in text.split("\n") if line.strip())


def _pack(sentences: list[str], budget: int) -> list[str]:
    """Greedy sentence packing into pieces of at most `budget` chars (long sentences are cut)."""
    pieces: list[str] = []
    current = ""
    for sentence in sentences:
        while len(sentence) > budget:  # a run-on sentence (tables, lists): cut it
            if current:
                pieces.append(current)
                current = ""
            pieces.append(sentence[:budget])
            sentence = sentence[budget:]
        if current and len(current) + len(sentence) > budget:
            pieces.append(current)
            current = ""
        current += sentence
    if current:
        pieces.append(current)
    return pieces


def minutes_chunks(path: Path) -> list[tuple[str, Chunk]]:
    """(id, chunk) for every speech piece of MIN_CHARS–MAX_CHARS chars, in document order."""
    docs: dict[str, list[Chunk]] = defaultdict(list)
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row.get("type") not in {"質問", "答弁", "議長"} or not row.get("speaker"):
                continue
            body = _clean(row.get("body") or "")
            if len(body) < MIN_SPEECH:
                continue
            year = _session_year(row["session"])
            day = unicodedata.normalize("NFKC", row.get("day") or "")
            when = re.match(r"(\d{1,2})月(\d{1,2})日\s*(.*)", day)
            if year is None or when is None:
                continue
            iso = f"{year:04d}-{int(when.group(1)):02d}-{int(when.group(2)):02d}"
            doc_id = f"kiryu-{row['slug']}-{row['schedule_id']}"
            role = row.get("role") or None
            label = f"○{role or ''}（{row['speaker']}）"
            for piece in _pack(split_sentences(body), MAX_CHARS - len(label) - 1):
                if len(piece) + len(label) + 1 < MIN_CHARS:
                    continue
                docs[doc_id].append(
                    Chunk(
                        text=f"{label}\n{piece}",
                        doc_id=doc_id,
                        title=f"桐生市議会 {row['session']} 会議録（{iso}）",
                        doc_type=DocType.COUNCIL_MINUTES,
                        chunk_index=len(docs[doc_id]),
                        heading=when.group(3).strip() or None,
                        speaker=row["speaker"],
                        role=role,
                        date=iso,
                        session=row["session"],
                    )
                )
    return [pair for chunks in docs.values() for pair in zip(chunk_ids(chunks), chunks, strict=True)]


def wiki_chunks(path: Path) -> list[tuple[str, Chunk]]:
    articles: dict[str, list[str]] = defaultdict(list)
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            articles[row["title"]].append(row["text"])
    out: list[tuple[str, Chunk]] = []
    for n, (title, paragraphs) in enumerate(articles.items()):
        document = LoadedDocument(
            doc_id=f"wiki-{n:04d}", title=title, file_format="txt",
            pages=[PageText(page=None, text="\n".join(paragraphs))],
        )  # fmt: skip
        chunks = chunk_document(document, DocType.OTHER, size=MAX_CHARS, overlap=80)
        out.extend(zip(chunk_ids(chunks), chunks, strict=True))
    return out


def select(
    minutes: list[tuple[str, Chunk]], wiki: list[tuple[str, Chunk]], n: int
) -> list[tuple[str, Chunk]]:
    """All wiki chunks (at most 10% of n) + minutes sampled evenly, in corpus order."""
    wiki = wiki[: n // 10]
    need = n - len(wiki)
    if need > len(minutes):
        raise SystemExit(f"only {len(minutes) + len(wiki):,} chunks available, asked for {n:,}")
    keep = sorted(random.Random(0).sample(range(len(minutes)), need))
    return [minutes[i] for i in keep] + wiki


# -- stand-in vectors -------------------------------------------------------------------------
def hashed_vectors(texts: Sequence[str]) -> np.ndarray:
    """Signed hashed character bigrams → 384 dims, L2-normalised (deterministic, ~µs per chunk)."""
    codes = [np.frombuffer(t.encode("utf-32-le"), dtype="<u4").astype(np.uint64) for t in texts]
    rows, keys = [], []
    for i, cp in enumerate(codes):
        if len(cp) < 2:
            cp = np.concatenate([cp, np.zeros(2 - len(cp), dtype=np.uint64)])
        keys.append(cp[:-1] * np.uint64(1_000_003) + cp[1:])
        rows.append(np.full(len(cp) - 1, i, dtype=np.int64))
    key = np.concatenate(keys) * np.uint64(0x9E3779B97F4A7C15)  # multiplicative hash (wraps mod 2^64)
    dim = ((key >> np.uint64(40)) % np.uint64(DIM)).astype(np.int64)
    sign = np.where((key >> np.uint64(20)) & np.uint64(1), 1.0, -1.0)
    flat = np.bincount(np.concatenate(rows) * DIM + dim, weights=sign, minlength=len(texts) * DIM)
    vectors = flat.reshape(len(texts), DIM).astype(np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


# -- measuring --------------------------------------------------------------------------------
class TimedEmbeddings(Embeddings):
    """Delegates to the real model and records how long each `embed_query` took."""

    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner
        self.last_ms = 0.0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        start = time.perf_counter()
        vector = self.inner.embed_query(text)
        self.last_ms = (time.perf_counter() - start) * 1000
        return vector


@dataclass
class Samples:
    total: list[float] = field(default_factory=list)  # wall time of `search()`
    # parts: embed / chroma / bm25 / fusion (wall ms), cpu = process CPU ms of the whole search
    parts: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))


def measure(
    searcher: HybridSearcher, timed: TimedEmbeddings, queries: list[str], mode: str,
    filters: SearchFilters | None, k: int,
) -> Samples:  # fmt: skip
    samples = Samples()
    for query in queries[:5]:  # warm-up (first BM25 search builds the matrix; caches)
        searcher.search(query, k=k, mode=mode, filters=filters)  # type: ignore[arg-type]
    for query in queries:
        timed.last_ms = 0.0
        start, cpu = time.perf_counter(), time.process_time()
        result = searcher.search(query, k=k, mode=mode, filters=filters)  # type: ignore[arg-type]
        samples.total.append((time.perf_counter() - start) * 1000)
        samples.parts["cpu"].append((time.process_time() - cpu) * 1000)
        t = result.timings_ms
        if "dense" in t:
            samples.parts["embed"].append(timed.last_ms)
            samples.parts["chroma"].append(t["dense"] - timed.last_ms)
        if "bm25" in t:
            samples.parts["bm25"].append(t["bm25"])
        samples.parts["fusion"].append(t.get("fusion", 0.0))
    return samples


def _fmt(values: list[float]) -> str:
    if not values:
        return f"{'-':>22}"
    return f"{percentile(values, 50):6.1f} {percentile(values, 95):7.1f} {statistics.fmean(values):7.1f}"


def report(label: str, results: dict[str, Samples]) -> None:
    parts = ("embed", "chroma", "bm25", "fusion", "cpu")
    print(f"\n== {label} ==  (ms; each cell p50 / p95 / mean; cpu = process CPU time, all threads)")
    print(f"{'mode':<14} {'total (wall)':>22}" + "".join(f" {p:>22}" for p in parts))
    for mode, samples in results.items():
        print(
            f"{mode:<14} {_fmt(samples.total):>22}"
            + "".join(f" {_fmt(samples.parts.get(p, [])):>22}" for p in parts)
        )


def timed_step(label: str, fn: Callable, *args, **kwargs):  # type: ignore[no-untyped-def,type-arg]
    start, cpu = time.perf_counter(), time.process_time()
    result = fn(*args, **kwargs)
    print(
        f"  {label:<44} {time.perf_counter() - start:8.1f} s wall {time.process_time() - cpu:8.1f} s cpu",
        flush=True,
    )
    return result


def build(settings: Settings, tenant: str, items: list[tuple[str, Chunk]], batch: int) -> TenantStore:
    store = TenantStore.open(settings, tenant)
    store.drop()
    start = time.perf_counter()
    vec_s = 0.0
    for i in range(0, len(items), batch):
        part = items[i : i + batch]
        t0 = time.perf_counter()
        vectors = hashed_vectors([c.text for _, c in part])
        vec_s += time.perf_counter() - t0
        store.add_chunks([cid for cid, _ in part], [c for _, c in part], vectors.tolist())
        done = i + len(part)
        if done % (batch * 5) == 0 or done == len(items):
            print(f"    {done:>7,} / {len(items):,} chunks  {time.perf_counter() - start:7.1f} s", flush=True)
    print(f"  (of which stand-in vectors: {vec_s:.1f} s)")
    return store


def run_size(
    n: int, settings: Settings, timed: TimedEmbeddings, minutes: list[tuple[str, Chunk]],
    wiki: list[tuple[str, Chunk]], queries: list[str], batch: int, k: int,
) -> dict[str, Samples]:  # fmt: skip
    items = select(minutes, wiki, n)
    minutes_n = sum(c.doc_type is DocType.COUNCIL_MINUTES for _, c in items)
    in_filter = sum(
        c.doc_type is DocType.COUNCIL_MINUTES and c.date is not None
        and FILTER.date_from.isoformat() <= c.date <= FILTER.date_to.isoformat()  # type: ignore[union-attr]
        for _, c in items
    )  # fmt: skip
    chars = sum(len(c.text) for _, c in items)
    print(
        f"\n### {len(items):,} chunks ({minutes_n:,} 議会会議録 + {len(items) - minutes_n:,} その他), "
        f"{len({c.doc_id for _, c in items}):,} documents, {chars / len(items):.0f} chars/chunk on average; "
        f"filter keeps {in_filter:,} ({in_filter / len(items):.0%})",
        flush=True,
    )
    start = time.perf_counter()
    store = timed_step(
        f"build: add_chunks in batches of {batch:,}", build, settings, f"bench{n}", items, batch
    )
    timed_step("BM25 matrix (first search)", store.bm25.search, "子育て支援", 10)
    build_s = time.perf_counter() - start
    print(f"  build time {build_s:.1f} s; Chroma count {store.count():,}, BM25 count {len(store.bm25):,}")
    searcher = HybridSearcher(store, timed, FusionConfig.from_settings(settings))
    results: dict[str, Samples] = {}
    for mode in ("dense", "bm25", "hybrid"):
        results[mode] = timed_step(
            f"{len(queries)} queries, {mode}", measure, searcher, timed, queries, mode, None, k
        )
    results[FILTER_LABEL] = timed_step(
        f"{len(queries)} queries, {FILTER_LABEL}", measure, searcher, timed, queries, "hybrid", FILTER, k
    )
    report(f"{n:,} chunks (build {build_s:.0f} s)", results)
    store.close()
    return results


def load_queries(shared: Path, n: int) -> list[str]:
    """Interleave the dev sets' questions (kiryu-r4 first, it has fewer) up to n."""
    sets = []
    for name in ("kiryu-r4", "jsquad-valid"):
        with (shared / "datasets" / name / "questions.jsonl").open(encoding="utf-8") as fh:
            sets.append([json.loads(line)["question"] for line in fh if line.strip()])
    out: list[str] = []
    for pair in zip(*sets, strict=False):
        out.extend(pair)
    out.extend(q for s in sets for q in s[min(map(len, sets)) :])
    return out[:n]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=50_000)
    parser.add_argument(
        "--reference", type=int, default=5_000, help="size of the small reference index (0: skip)"
    )
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--batch", type=int, default=2_000, help="chunks per add_chunks call (1k–5k)")
    parser.add_argument(
        "--home",
        type=Path,
        default=None,
        help="YAKUBA_HOME to build in (default: a temp dir); an existing folder is never removed",
    )
    parser.add_argument("--keep", action="store_true", help="keep --home (or the temp dir) afterwards")
    parser.add_argument("--shared", type=Path, default=default_shared())
    parser.add_argument("--model", default=None, help="query embedding model (default: the configured default)")
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=0,
        help="torch.set_num_threads for the searches (0: torch's default)",
    )
    args = parser.parse_args()

    home = args.home or Path(tempfile.mkdtemp(prefix="yakuba-latency-"))
    created = args.home is None or not args.home.exists()
    # Explicit values win over YAKUBA_* variables and yakuba.toml: embedded Chroma in `home` only.
    args.model = args.model or Settings().embedding_model
    settings = Settings(home=home, chroma_url=None, embedding_model=args.model)
    wall = time.perf_counter()
    try:
        print(
            f"home {home}; query model {args.model} (real); stored vectors: HASHED-BIGRAM STAND-IN, {DIM} dims"
        )
        import torch

        default_threads = torch.get_num_threads()
        print(
            f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}, torch threads {default_threads}"
        )
        minutes = timed_step(
            "read + chunk minutes", minutes_chunks, args.shared / "training" / "kiryu-minutes-h15-r5.jsonl.gz"
        )
        wiki = timed_step(
            "read + chunk JSQuAD", wiki_chunks, args.shared / "datasets" / "jsquad-valid" / "corpus.jsonl"
        )
        print(f"  available: {len(minutes):,} minutes chunks, {len(wiki):,} wiki chunks")
        queries = load_queries(args.shared, args.queries)
        model = timed_step("load query model", embeddings_from_settings, settings)
        timed_step("warm-up embed", model.embed_query, "ウォームアップ")
        timed = TimedEmbeddings(model)
        for threads in sorted({1, default_threads}):
            torch.set_num_threads(threads)
            embed_only, embed_cpu = [], []
            for query in queries:
                start, cpu = time.perf_counter(), time.process_time()
                model.embed_query(query)
                embed_only.append((time.perf_counter() - start) * 1000)
                embed_cpu.append((time.process_time() - cpu) * 1000)
            print(
                f"  embed_query alone, {len(queries)} queries, torch threads {threads}: "
                f"p50 / p95 / mean {_fmt(embed_only)} ms wall, {_fmt(embed_cpu)} ms cpu"
            )
        torch.set_num_threads(args.torch_threads or default_threads)
        print(f"  searches run with torch threads {torch.get_num_threads()}")

        sizes = [n for n in (args.reference, args.chunks) if n > 0]
        all_results = {
            n: run_size(n, settings, timed, minutes, wiki, queries, args.batch, args.k) for n in sizes
        }
        print("\n== summary: p95 ms (target: hybrid <= 100 ms at 50k) ==")
        modes = list(next(iter(all_results.values())))
        print(f"{'chunks':>8} " + " ".join(f"{m:>14}" for m in modes))
        for n, results in all_results.items():
            print(f"{n:>8,} " + " ".join(f"{percentile(results[m].total, 95):14.1f}" for m in modes))
        print(f"\nruntime {time.perf_counter() - wall:.0f} s")
    finally:
        if not args.keep and created:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
