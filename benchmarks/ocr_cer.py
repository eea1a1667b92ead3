"""OCR character error rate on real municipal pages, and the time an OCR'd page costs (issue #15).

Real text PDFs from ../shared/corpora/pdfs (and corpora/) are rasterised (pypdfium2, the renderer
the OCR path uses), read back with tesseract (ingest/ocr.py) and compared with their own text
layer: CER = edit distance / reference length, both sides NFKC-normalised with all whitespace
removed (the letter-spaced 南国市 text layers then compare fairly). Target: CER <= 10%.

Then the same pages are saved as one image-only PDF (as a scanner would) and loaded through the
PDF loader, which OCRs every page: that is the ingest time per OCR'd page.

    python benchmarks/ocr_cer.py              # 8 pages at 300 dpi
    python benchmarks/ocr_cer.py --dpi 200
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

from pypdf import PdfReader

from yakuba.core.paths import PROJECT_ROOT, shared_dir
from yakuba.ingest.ocr import OcrOptions, ocr_available, ocr_image, render_page

# (file under ../shared/corpora/pdfs, 1-based page, kind). "text": horizontal, single-column body
# text of different producers (モデル就業規則 by 厚労省; letter-spaced statements and a bill by 南国市):
# the CER target is over these. "figure": a 白書 page with a figure, its labels and a side tab, reported
# apart: there the text layer's reading order and OCR's differ, so CER measures order, not reading.
PAGES: list[tuple[str, int, str]] = [
    ("mhlw-model-shugyokisoku-001018385.pdf", 5, "text"),
    ("mhlw-model-shugyokisoku-001018385.pdf", 12, "text"),
    ("施政方針.pdf", 2, "text"),
    ("施政方針.pdf", 5, "text"),
    ("市政報告（444回）.pdf", 3, "text"),
    ("提案理由（444回）.pdf", 2, "text"),
    ("議案第18号：手話言語条例.pdf", 1, "text"),
    ("文科省_令和6年版_科学技術・イノベーション白書_1章.pdf", 3, "figure"),
]
TARGET_CER = 0.10


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _distance(a: str, b: str) -> int:
    try:
        from rapidfuzz.distance import Levenshtein

        return int(Levenshtein.distance(a, b))
    except ImportError:  # plain dynamic programming (slower, same number)
        previous = list(range(len(b) + 1))
        for i, ca in enumerate(a, start=1):
            current = [i]
            for j, cb in enumerate(b, start=1):
                current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
            previous = current
        return previous[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dpi", type=int, default=300)
    parser.add_argument("--psm", type=int, default=None, help="tesseract page segmentation mode (default: OcrOptions)")
    parser.add_argument("--pdfs", type=Path, default=None, help="default: ../shared/corpora/pdfs")
    args = parser.parse_args()
    if not ocr_available():
        sys.exit("tesseract with the jpn model is not installed (make ocr)")
    root = args.pdfs or (shared_dir() / "corpora" / "pdfs" if shared_dir() else PROJECT_ROOT / "corpora")
    options = OcrOptions(dpi=args.dpi, **({"psm": args.psm} if args.psm else {}))

    rows = []
    images = []
    total_errors = total_chars = 0
    for name, number, kind in PAGES:
        path = root / name
        if not path.is_file():
            print(f"skip (missing): {path}")
            continue
        data = path.read_bytes()
        reference = _squash(PdfReader(io.BytesIO(data)).pages[number - 1].extract_text() or "")
        started = time.perf_counter()
        image = render_page(data, number, args.dpi)
        rendered = time.perf_counter()
        result = ocr_image(image, options)
        done = time.perf_counter()
        errors = _distance(_squash(result.text), reference)
        if kind == "text":
            total_errors += errors
            total_chars += len(reference)
        images.append(image)
        rows.append((f"{name} p.{number} ({kind})", len(reference), errors / max(1, len(reference)),
                     result.confidence, rendered - started, done - rendered, kind))
    text_rows = [r for r in rows if r[6] == "text"]
    if len(text_rows) < 5:
        sys.exit(f"only {len(text_rows)} text pages found under {root}: need at least 5")

    print(f"OCR (tesseract {options.language}, psm {options.psm}, {args.dpi} dpi) vs the PDF text layer")
    print(f"{'page':58s} {'chars':>6s} {'CER':>7s} {'conf':>5s} {'render s':>9s} {'ocr s':>6s}")
    for label, chars, cer, conf, render_s, ocr_s, _ in rows:
        print(f"{label[:58]:58s} {chars:6d} {cer:7.2%} {conf:5.1f} {render_s:9.2f} {ocr_s:6.2f}")
    overall = total_errors / max(1, total_chars)
    mean_page = sum(r[2] for r in text_rows) / len(text_rows)
    per_page = sum(r[4] + r[5] for r in rows) / len(rows)
    print(f"CER over the {len(text_rows)} text pages (chars weighted) {overall:.2%}, mean per page {mean_page:.2%} "
          f"(target <= {TARGET_CER:.0%}): {'OK' if overall <= TARGET_CER else 'ABOVE TARGET'}")
    for label, _, cer, *_ in (r for r in rows if r[6] != "text"):
        print(f"  apart: {label} CER {cer:.2%} (figure labels: reading order differs from the text layer)")
    print(f"render + OCR per page: {per_page:.2f} s")

    # The loader path: an image-only PDF of the same pages, every page OCR'd by extract_pdf.
    from yakuba.ingest.loaders import load_path

    with tempfile.TemporaryDirectory() as tmp:
        scan = Path(tmp) / "scan.pdf"
        first, *rest = images
        first.save(scan, format="PDF", resolution=args.dpi, save_all=True, append_images=rest)
        started = time.perf_counter()
        [doc] = load_path(scan)
        elapsed = time.perf_counter() - started
    ocr_pages = [p for p in doc.pages if p.ocr_confidence is not None]
    print(f"image-only PDF of {len(images)} pages through the loader: {elapsed:.1f} s, "
          f"{elapsed / len(images):.2f} s per OCR'd page ({len(ocr_pages)} pages with text)")


if __name__ == "__main__":
    main()
