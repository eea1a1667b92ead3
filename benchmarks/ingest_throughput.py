"""Ingest throughput of a folder (default: corpora/) into throw-away stores: baseline vs the defaults.

Prints pages/s and chunks/s for load+clean+chunk alone (no embedding), then full ingests in the same
process, each into a fresh home (empty embedding cache):
- baseline: the PyTorch model (`--baseline-model`, default the council e5) with no embedding cache,
  i.e. ingest before issue #16;
- default: the configured defaults (the ONNX export of the same model, passage-vector cache,
  duplicate chunks embedded once);
- `--compare MODEL …`: other models the same way, each into its own fresh home (fp32 vs int8 ONNX
  in one process: `--compare multilingual-e5-small-council-onnx-fp32`);
- the default again into a second tenant of the same home: what a re-ingest or a second tenant with
  the same files costs once the cache knows the texts;
and the no-op re-run. Run: `make bench` or `nice -n 10 .venv/bin/python benchmarks/ingest_throughput.py corpora/南国市`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from yakuba.core.settings import Settings  # noqa: E402
from yakuba.core.types import DocumentLoadError  # noqa: E402
from yakuba.ingest.chunk import chunk_document  # noqa: E402
from yakuba.ingest.clean import clean_pages  # noqa: E402
from yakuba.ingest.loaders import load_path  # noqa: E402
from yakuba.ingest.pipeline import Ingestor, _resolve_doc_type, discover  # noqa: E402
from yakuba.retriever.embeddings import embeddings_from_settings  # noqa: E402
from yakuba.retriever.store import TenantStore  # noqa: E402


def prepare(folder: Path) -> tuple[int, int, int, float]:
    items = discover([folder])
    start = time.perf_counter()
    pages = chunks = 0
    for item in items:
        try:
            documents = load_path(item.path, item.doc_id)
        except DocumentLoadError:
            continue
        for document in documents:
            document = document.model_copy(update={"pages": clean_pages(document.pages)})
            pages += len(document.pages)
            chunks += len(chunk_document(document, _resolve_doc_type(document, None)))
    return len(items), pages, chunks, time.perf_counter() - start


def ingest(settings: Settings, folder: Path, tenant: str) -> tuple[int, int, float, float]:
    """(pages, chunks, seconds, seconds of a no-op re-run); the model is loaded and warmed first."""
    embeddings = embeddings_from_settings(settings)
    embeddings.embed_query("warm-up")
    store = TenantStore.open(settings, tenant)
    start = time.perf_counter()
    results = list(Ingestor(settings, store, embeddings).run([folder]))
    elapsed = time.perf_counter() - start
    start = time.perf_counter()
    list(Ingestor(settings, store, embeddings).run([folder]))
    rerun = time.perf_counter() - start
    store.close()
    return sum(r.pages for r in results), sum(r.chunks for r in results), elapsed, rerun


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, nargs="?", default=Path("corpora"))
    parser.add_argument("--baseline-model", default="multilingual-e5-small-council")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--compare", nargs="*", default=[], help="more models, each into a fresh home")
    args = parser.parse_args()

    files, pages, chunks, prepare_s = prepare(args.folder)
    print(f"files: {files}  pages: {pages}  chunks: {chunks}")
    print(f"load+clean+chunk        : {prepare_s:7.1f} s  {pages / prepare_s:8.1f} pages/s  {chunks / prepare_s:8.1f} chunks/s")
    rows: list[tuple[str, int, int, float]] = []
    with tempfile.TemporaryDirectory() as base, tempfile.TemporaryDirectory() as new:
        if not args.skip_baseline:
            baseline = Settings(home=Path(base), embedding_model=args.baseline_model, embedding_cache=False)
            p, c, s, _ = ingest(baseline, args.folder, "bench")
            rows.append((f"baseline ({args.baseline_model}, no cache)", p, c, s))
        settings = Settings(home=Path(new))
        p, c, s, rerun = ingest(settings, args.folder, "bench")
        rows.append((f"default ({settings.embedding_model}, cache)", p, c, s))
        p, c, s, _ = ingest(settings, args.folder, "bench2")
        rows.append(("default, same texts into a 2nd tenant", p, c, s))
        for model in args.compare:
            with tempfile.TemporaryDirectory() as other:
                p, c, s, _ = ingest(Settings(home=Path(other), embedding_model=model), args.folder, "bench")
                rows.append((f"{model} (cache)", p, c, s))
    for name, p, c, s in rows:
        print(f"{name:45s}: {s:7.1f} s  {p / s:8.2f} pages/s  {c / s:8.1f} chunks/s")
    if not args.skip_baseline:
        print(f"default / baseline chunks/s: {rows[0][3] / rows[1][3]:.2f}x")
        for name, _, _, s in rows[3:]:
            print(f"{name} / baseline chunks/s: {rows[0][3] / s:.2f}x")
    print(f"re-run (no-op)          : {rerun:7.2f} s")


if __name__ == "__main__":
    main()
