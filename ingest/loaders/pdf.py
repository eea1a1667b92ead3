"""PDF loader (pypdf): one PageText per page, with the defects of real municipal PDFs handled.

- AES-encrypted files with an empty user password (白書 chapters) open; a real password fails
  clearly (`encrypted`).
- Pages without text (scans, blank pages) are reported; image-only pages are OCR'd when tesseract
  is installed (ingest/ocr.py), otherwise a PDF where no page has text is `no_text_layer`.
- Ruled tables are extracted with pdfplumber (loaders/pdf_tables.py) and cut out of the page text.
- Garbage from broken font maps is removed line by line; pages that are mostly garbage are dropped,
  and a document that is mostly garbage is refused (`mojibake`) rather than indexed.

Text is returned as extracted (not cleaned): the pipeline runs `ingest.clean.clean_pages`.
"""

from __future__ import annotations

import io
import logging
import re
from typing import Any

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError
from pypdf.generic import DictionaryObject

from yakuba.core.types import ExtractedTable, PageText
from yakuba.ingest.clean import mojibake_score, normalize, remove_mojibake
from yakuba.ingest.loaders.common import Extracted, load_error, page_list, sensible_title, warning
from yakuba.ingest.loaders.pdf_tables import extract_layouts, has_ruling
from yakuba.ingest.ocr import OcrOptions, OcrResult, ocr_available, ocr_pdf_page

# A page whose mojibake score reaches this, or that loses this share of its characters to mojibake
# removal, is dropped whole: what is left of it (e.g. Latin letters shifted by a broken map,
# "UPJOFQQV", or single garbage glyphs on lines of their own) cannot be trusted either.
PAGE_MOJIBAKE_SHARE = 0.7
# A document is refused when more than this share of its text pages, or of its characters, is garbage.
DOC_MOJIBAKE_SHARE = 0.5
# A metadata title sharing fewer of its character bigrams with the first pages is probably stale
# (copied from another document); a descriptive Japanese file name is then the better title.
TITLE_MIN_OVERLAP = 0.5

_log = logging.getLogger(__name__)


def _has_images(page: Any) -> bool:
    """True when the page draws an image XObject (directly or inside a form): a scanned page."""

    def scan(resources: Any, depth: int) -> bool:
        if not isinstance(resources, DictionaryObject) or depth > 2:
            return False
        xobjects = resources.get("/XObject")
        xobjects = xobjects.get_object() if xobjects is not None else None
        if not isinstance(xobjects, DictionaryObject):
            return False
        for ref in xobjects.values():
            obj = ref.get_object()
            subtype = obj.get("/Subtype")
            if subtype == "/Image":
                return True
            if subtype == "/Form" and scan(obj.get("/Resources"), depth + 1):
                return True
        return False

    try:
        resources = page.get("/Resources")
        return scan(resources.get_object() if resources is not None else None, 0)
    except Exception:  # a broken resource dictionary only affects the wording of a warning
        return False


def _open(data: bytes, name: str) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
    except Exception as exc:  # pypdf raises many kinds of errors on damaged files
        raise load_error("corrupt", name, "PDFとして解析できません", f"cannot parse PDF: {exc}") from exc
    if reader.is_encrypted:
        try:
            result = reader.decrypt("")
        except DependencyError as exc:
            raise load_error(
                "encrypted",
                name,
                "暗号化を解除するライブラリ cryptography がインストールされていません",
                "the 'cryptography' package needed for AES-encrypted PDFs is not installed",
            ) from exc
        except Exception as exc:
            raise load_error(
                "corrupt", name, "暗号化情報が壊れています", f"broken encryption: {exc}"
            ) from exc
        if not result:
            raise load_error(
                "encrypted",
                name,
                "パスワードを解除したPDFを登録してください",
                "remove the password and ingest the file again",
            )
    return reader


def _pdf_title(raw: str | None, pages: list[PageText], stem: str) -> str:
    title = sensible_title(raw)
    if title is None:
        return stem
    head = re.sub(r"\s+", "", normalize("".join(p.text for p in pages[:3])))
    key = re.sub(r"\s+", "", normalize(title))
    bigrams = {key[i : i + 2] for i in range(len(key) - 1)}
    overlap = sum(b in head for b in bigrams) / max(1, len(bigrams))
    stem_is_descriptive = sum(1 for ch in stem if not ch.isascii()) >= 2
    if overlap < TITLE_MIN_OVERLAP and stem_is_descriptive:
        return stem
    return title


def _metadata(reader: PdfReader) -> dict[str, Any]:
    try:
        info = reader.metadata
    except Exception:
        return {}
    if not info:
        return {}
    out: dict[str, Any] = {}
    # Not the author: it is usually a staff member's login name, which has no place in an index.
    for key, attr in (("pdf_title", "title"), ("creator", "creator"), ("producer", "producer")):
        try:
            value = getattr(info, attr)
        except Exception:
            continue
        if isinstance(value, str) and value.strip():
            out[key] = value.strip()
    return out


def extract_pdf(data: bytes, name: str, stem: str, *, ocr: OcrOptions | None = None) -> Extracted:
    """Text per page of a PDF given as bytes; `name` is used in messages, `stem` as fallback title.

    Ruled tables come back separately (`Extracted.tables`) and are cut out of their page's text;
    image-only pages are OCR'd when tesseract is installed (`ocr`: default from the settings)."""
    reader = _open(data, name)
    try:
        page_objects = list(reader.pages)
    except FileNotDecryptedError as exc:
        raise load_error("encrypted", name) from exc
    except Exception as exc:
        raise load_error(
            "corrupt", name, "ページ構造を読めません", f"cannot read the page tree: {exc}"
        ) from exc
    if not page_objects:
        raise load_error("empty", name, "ページがありません", "the PDF has no pages")

    raw: list[str] = []
    failed: list[int] = []
    for number, page in enumerate(page_objects, start=1):
        try:
            raw.append(page.extract_text() or "")
        except Exception as exc:  # one damaged content stream must not lose the whole document
            _log.debug("page %d of %s failed: %s", number, name, exc)
            failed.append(number)
            raw.append("")
    if len(failed) == len(page_objects):
        raise load_error("corrupt", name, "どのページも読み取れません", "no page could be read")

    warnings: list[str] = []
    if failed:
        pages_str = page_list(failed)
        warnings.append(
            warning(
                f"読み取れないページがあります: {pages_str}", f"pages that could not be read: {pages_str}"
            )
        )

    text_pages = [n for n, text in enumerate(raw, start=1) if text.strip()]
    empty = [n for n in range(1, len(raw) + 1) if n not in set(text_pages) and n not in failed]
    scanned = [n for n in empty if _has_images(page_objects[n - 1])]
    ocr_pages = _ocr_pages(data, scanned, ocr, warnings)
    if not text_pages and not ocr_pages:
        raise load_error("no_text_layer", name, f"全{len(raw)}ページ", f"all {len(raw)} pages")
    empty = [n for n in empty if n not in ocr_pages]
    if empty:
        still_scanned = [n for n in scanned if n not in ocr_pages]
        ja = f"テキストのないページがあります: {page_list(empty)}"
        en = f"pages without text: {page_list(empty)}"
        if still_scanned:
            ja += f"（うち画像のみでOCRが必要なページ: {page_list(still_scanned)}）"
            en += f" (image-only pages that need OCR: {page_list(still_scanned)})"
        warnings.append(warning(ja, en))

    pages: list[PageText] = []
    garbled_pages: list[int] = []
    touched_pages: list[int] = []
    removed_total = 0
    chars_total = 0
    for number in text_pages:
        text = raw[number - 1]
        size = sum(1 for ch in text if not ch.isspace())
        chars_total += size
        kept, removed = remove_mojibake(text)
        if removed >= PAGE_MOJIBAKE_SHARE * size or mojibake_score(text) >= PAGE_MOJIBAKE_SHARE:
            garbled_pages.append(number)
            removed_total += size
            continue
        removed_total += removed
        if removed:
            touched_pages.append(number)
        if kept.strip():
            pages.append(PageText(page=number, text=kept))

    if text_pages and (
        not pages
        or len(garbled_pages) > DOC_MOJIBAKE_SHARE * len(text_pages)
        or removed_total > DOC_MOJIBAKE_SHARE * chars_total
    ):
        share = removed_total / max(1, chars_total)
        raise load_error(
            "mojibake",
            name,
            f"文字化けしたページ {len(garbled_pages)}/{len(text_pages)}、文字化けの割合 {share:.0%}",
            f"{len(garbled_pages)}/{len(text_pages)} pages garbled, {share:.0%} of the characters",
        )
    if garbled_pages:
        warnings.append(
            warning(
                f"文字化けのため除外したページ: {page_list(garbled_pages)}",
                f"pages dropped as mojibake (broken font maps): {page_list(garbled_pages)}",
            )
        )
    if touched_pages:
        warnings.append(
            warning(
                f"文字化けした部分を除外したページ: {page_list(touched_pages)}",
                f"garbled lines removed on pages: {page_list(touched_pages)}",
            )
        )

    metadata = _metadata(reader)
    metadata["page_count"] = len(page_objects)
    if reader.is_encrypted:
        metadata["encrypted"] = True
    title = _pdf_title(metadata.get("pdf_title"), pages or _as_pages(ocr_pages), stem)
    tables: list[ExtractedTable] = []
    if tables_enabled():
        pages, tables = _with_tables(data, pages, page_objects)
    pages = sorted([*pages, *_as_pages(ocr_pages)], key=lambda p: p.page or 0)
    if ocr_pages:
        metadata["ocr_pages"] = len(ocr_pages)
    if tables:
        metadata["tables"] = len(tables)
    return Extracted(pages=pages, title=title, metadata=metadata, warnings=warnings, tables=tables)


def tables_enabled() -> bool:
    """YAKUBA_PDF_TABLES (settings.pdf_tables), read where the parse runs (it may be a worker)."""
    from yakuba.core.settings import Settings

    return Settings().pdf_tables


def _as_pages(ocr_pages: dict[int, OcrResult]) -> list[PageText]:
    return [
        PageText(page=n, text=result.text, ocr_confidence=round(result.confidence, 1))
        for n, result in sorted(ocr_pages.items())
        if result.text.strip()
    ]


def _ocr_pages(data: bytes, scanned: list[int], options: OcrOptions | None, warnings: list[str]) -> dict[int, OcrResult]:
    """OCR the image-only pages (up to the page limit) when tesseract is installed."""
    if not scanned:
        return {}
    options = options or OcrOptions.from_settings()
    if not ocr_available(options):
        return {}
    chosen = scanned[: options.max_pages]
    results: dict[int, OcrResult] = {}
    for number in chosen:
        try:
            result = ocr_pdf_page(data, number, options)
        except Exception as exc:  # a page that cannot be rendered stays a page without text
            _log.warning("OCR failed on page %d: %s", number, exc)
            continue
        if result.text.strip():
            results[number] = result
    if results:
        mean = sum(r.confidence for r in results.values()) / len(results)
        done = page_list(list(results))
        warnings.append(
            warning(
                f"OCRで読み取ったページ: {done}（平均信頼度 {mean:.0f}）",
                f"pages read by OCR: {done} (mean confidence {mean:.0f})",
            )
        )
    if len(scanned) > len(chosen):
        rest = page_list(scanned[len(chosen) :])
        warnings.append(
            warning(
                f"OCRの上限（{options.max_pages}ページ）を超えたため読み取っていないページ: {rest}",
                f"pages not OCR'd (limit of {options.max_pages} pages): {rest}",
            )
        )
    return results


def _with_tables(data: bytes, pages: list[PageText], page_objects: list[Any]) -> tuple[list[PageText], list[ExtractedTable]]:
    """Ruled tables become `ExtractedTable`s and leave the page text (see loaders/pdf_tables.py)."""
    candidates = [p.page for p in pages if p.page is not None and has_ruling(page_objects[p.page - 1])]
    layouts = extract_layouts(data, candidates)
    tables: list[ExtractedTable] = []
    kept: list[PageText] = []
    for page in pages:
        layout = layouts.get(page.page) if page.page is not None else None
        if layout is None or layout.text_outside is None:
            kept.append(page)
            continue
        good = [t for t in layout.tables if mojibake_score(" ".join(" ".join(r) for r in t.rows)) < PAGE_MOJIBAKE_SHARE]
        if len(good) < len(layout.tables):  # garbled cells: keep the page as pypdf read it
            kept.append(page)
            continue
        tables.extend(good)
        text, _ = remove_mojibake(layout.text_outside)
        if text.strip():
            kept.append(page.model_copy(update={"text": text}))
    return kept, tables
