"""Ingest throughput of a folder (default: corpora/) into a throw-away store.

Prints pages/s and chunks/s for the whole pipeline, and separately for load+clean+chunk
(no embedding), so the cost of the embedding model is visible. Run: `make bench`.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path, nargs="?", default=Path("corpora"))
    args = parser.parse_args()
    items = discover([args.folder])

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
    prepare_s = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home))
        embeddings = embeddings_from_settings(settings)
        embeddings.embed_documents(["warm-up"])
        store = TenantStore.open(settings, "bench")
        start = time.perf_counter()
        results = list(Ingestor(settings, store, embeddings).run([args.folder]))
        full_s = time.perf_counter() - start
        total_pages = sum(r.pages for r in results)
        total_chunks = sum(r.chunks for r in results)
        start = time.perf_counter()
        list(Ingestor(settings, store, embeddings).run([args.folder]))
        rerun_s = time.perf_counter() - start

    print(f"files: {len(items)}  pages: {total_pages}  chunks: {total_chunks}  model: {settings.embedding_model}")
    print(f"load+clean+chunk : {prepare_s:7.1f} s  {pages / prepare_s:8.1f} pages/s  {chunks / prepare_s:8.1f} chunks/s")
    print(f"full ingest      : {full_s:7.1f} s  {total_pages / full_s:8.1f} pages/s  {total_chunks / full_s:8.1f} chunks/s")
    print(f"re-run (no-op)   : {rerun_s:7.1f} s  ({full_s / max(rerun_s, 1e-9):.0f}x faster than the first run)")


if __name__ == "__main__":
    main()
