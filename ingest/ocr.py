"""OCR for PDF pages without a text layer: render with pypdfium2, read with tesseract (offline).

Why tesseract: Debian ships it with Japanese models (tesseract-ocr-jpn, -jpn-vert), it runs on
CPU without downloads, and on rasterised municipal pages it reads horizontal text at a few percent
character error rate (benchmarks/ocr_cer.py). `make run`/`make test` install it (Makefile `ocr`);
without it, scanned pages keep the old "run OCR first" message.

A page is read as horizontal text first; when that reads poorly and the vertical model is
installed, it is read again as vertical text (縦書き) and the better-scoring reading wins. The
result keeps tesseract's mean word confidence, which the chunk and the citation carry.
"""

from __future__ import annotations

import functools
import logging
import re
import shutil
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

# Below this mean confidence a horizontal reading is retried with the vertical model.
VERTICAL_RETRY_BELOW = 60.0
# OCR lines whose mean word confidence is below this are dropped as noise (frames, photos, stamps).
MIN_LINE_CONFIDENCE = 45.0
_WIDE = re.compile(r"[^\x00-\x7f]")

_log = logging.getLogger(__name__)


class OcrOptions(BaseModel):
    """How scanned pages are read; `from_settings` takes them from YAKUBA_OCR_* settings."""

    enabled: bool = True
    max_pages: int = Field(30, ge=0, description="Pages OCR'd per document at most (about 5 s each)")
    dpi: int = Field(300, ge=72, le=600)
    language: str = "jpn"
    vertical_language: str = "jpn_vert"
    psm: int = Field(6, description="tesseract page segmentation mode for horizontal text (see ocr_image)")

    @classmethod
    def from_settings(cls) -> OcrOptions:
        from yakuba.core.settings import Settings

        settings = Settings()
        return cls(enabled=settings.ocr_enabled, max_pages=settings.ocr_max_pages)


@dataclass
class OcrResult:
    text: str
    confidence: float  # mean word confidence, 0–100
    vertical: bool = False


@functools.lru_cache(maxsize=1)
def available_languages() -> frozenset[str]:
    """Installed tesseract languages; empty when tesseract or pytesseract is missing."""
    if shutil.which("tesseract") is None:
        return frozenset()
    try:
        import pytesseract

        return frozenset(pytesseract.get_languages(config=""))
    except Exception as exc:  # a broken install reads as "no OCR"
        _log.debug("tesseract unusable: %s", exc)
        return frozenset()


def ocr_available(options: OcrOptions | None = None) -> bool:
    options = options or OcrOptions()
    return options.enabled and options.language in available_languages()


def render_page(data: bytes, page_number: int, dpi: int = 300, password: str = "") -> Any:
    """A grayscale PIL image of one 1-based page."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data, password=password or None)
    try:
        page = pdf[page_number - 1]
        image = page.render(scale=dpi / 72).to_pil().convert("L")
        page.close()
        return image
    finally:
        pdf.close()


def _join_words(words: list[str]) -> str:
    """tesseract separates Japanese characters by spaces: keep a space only between Latin words."""
    out = ""
    for word in words:
        if out and not (_WIDE.match(out[-1]) or _WIDE.match(word[0])):
            out += " "
        out += word
    return out


def _read(image: Any, language: str, psm: int) -> OcrResult:
    import pytesseract

    data = pytesseract.image_to_data(
        image, lang=language, config=f"--psm {psm}", output_type=pytesseract.Output.DICT
    )
    lines: dict[tuple[int, int, int], list[tuple[str, float]]] = {}
    for i, word in enumerate(data["text"]):
        word = (word or "").strip()
        conf = float(data["conf"][i])
        if not word or conf < 0:
            continue
        key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
        lines.setdefault(key, []).append((word, conf))
    kept: list[str] = []
    confidences: list[float] = []
    for _, words in sorted(lines.items()):
        line_conf = [conf for _, conf in words]
        text = _join_words([word for word, _ in words])
        # Borders, stamps and photos read as strings of Latin letters or as low-confidence noise.
        if sum(line_conf) / len(line_conf) < MIN_LINE_CONFIDENCE or _is_noise(text):
            continue
        kept.append(text)
        confidences.extend(line_conf)
    mean = sum(confidences) / len(confidences) if confidences else 0.0
    return OcrResult(text="\n".join(kept), confidence=mean)


def _is_noise(line: str) -> bool:
    """A line of Latin letters without spaces or Japanese (「eceooeooeoee…」 from a dotted frame)."""
    letters = sum(ch.isascii() and ch.isalpha() for ch in line)
    wide = sum(bool(_WIDE.match(ch)) for ch in line)
    return letters >= 8 and wide <= letters // 4 and " " not in line.strip()


def ocr_image(image: Any, options: OcrOptions | None = None) -> OcrResult:
    """Text of a page image; horizontal first, vertical when that reads poorly."""
    options = options or OcrOptions()
    result = _read(image, options.language, options.psm)
    if result.confidence < VERTICAL_RETRY_BELOW and options.vertical_language in available_languages():
        vertical = _read(image, options.vertical_language, 5)
        if vertical.confidence > result.confidence and len(vertical.text) >= len(result.text) // 2:
            return OcrResult(vertical.text, vertical.confidence, vertical=True)
    return result


def ocr_pdf_page(data: bytes, page_number: int, options: OcrOptions | None = None) -> OcrResult:
    options = options or OcrOptions()
    return ocr_image(render_page(data, page_number, options.dpi), options)
