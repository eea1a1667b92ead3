"""What table extraction costs per PDF page (issue #15): the PDF loader with and without pdfplumber.

Loads each PDF twice in this process (pypdf text only, YAKUBA_PDF_TABLES=false; then with ruled
tables cut out, the default), OCR off in both so that only table extraction differs, and prints
milliseconds per page, the ratio, how many pages pdfplumber opened (pages whose content stream
draws enough ruling, see loaders/pdf_tables.has_ruling) and the tables found.

    python benchmarks/pdf_table_cost.py                 # a few real PDFs from ../shared and corpora/
    python benchmarks/pdf_table_cost.py some.pdf other.pdf
"""

from __future__ import annotations

import argparse
import io
import os
import time
from pathlib import Path

from pypdf import PdfReader

from yakuba.core.paths import PROJECT_ROOT, shared_dir
from yakuba.ingest.loaders import load_path
from yakuba.ingest.loaders.pdf_tables import has_ruling

DEFAULT = [
    "議案第７号：令和８年度一般会計予算.pdf",
    "otoineppu/otoineppu_jinko.pdf",
    "mhlw-model-shugyokisoku-001018385.pdf",
    "施政方針.pdf",
]


def _timed(path: Path, tables: bool) -> tuple[float, int]:
    os.environ["YAKUBA_PDF_TABLES"] = "true" if tables else "false"
    started = time.perf_counter()
    [doc] = load_path(path)
    return time.perf_counter() - started, len(doc.tables)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pdfs", nargs="*", type=Path)
    args = parser.parse_args()
    os.environ["YAKUBA_OCR_ENABLED"] = "false"
    root = shared_dir() / "corpora" / "pdfs" if shared_dir() else PROJECT_ROOT / "corpora"
    paths = args.pdfs or [root / name for name in DEFAULT if (root / name).is_file()]
    print(f"{'file':44s} {'pages':>5s} {'ruled':>5s} {'tables':>6s} {'pypdf ms/p':>10s} {'+tables ms/p':>12s} {'ratio':>6s}")
    for path in paths:
        reader = PdfReader(io.BytesIO(path.read_bytes()))
        pages = len(reader.pages)
        ruled = sum(has_ruling(page) for page in reader.pages)
        _timed(path, False)  # warm the imports and the file cache once
        base, _ = _timed(path, False)
        with_tables, found = _timed(path, True)
        print(
            f"{path.name[:44]:44s} {pages:5d} {ruled:5d} {found:6d} {1000 * base / pages:10.1f} "
            f"{1000 * with_tables / pages:12.1f} {with_tables / base:6.2f}"
        )


if __name__ == "__main__":
    main()
