"""The limits one file's parse runs under, and the staff-facing errors when one is hit.

`load_path` checks the archive before parsing (ingest/loaders/archive.py), then runs the parser in
a worker process (ingest/sandbox.py) with a wall-clock and memory limit; the PDF page limit is
checked inside the worker, so that counting the pages of a hostile file is limited too.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from yakuba.core.settings import Settings
from yakuba.core.types import DocumentLoadError
from yakuba.ingest.loaders.archive import ArchiveLimits
from yakuba.ingest.loaders.common import load_error
from yakuba.ingest.sandbox import SandboxError


@dataclass(frozen=True)
class ParseLimits:
    """Per-file limits (YAKUBA_PARSE_TIMEOUT_S, YAKUBA_PARSE_MEMORY_MB, YAKUBA_MAX_PAGES, the archive
    limits); `isolate=False` parses in-process with the page and archive checks only."""

    timeout_s: float | None = 300.0
    memory_mb: int | None = 2048
    max_pages: int | None = 3000
    archive: ArchiveLimits = field(default_factory=ArchiveLimits)
    isolate: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> ParseLimits:
        return cls(
            timeout_s=settings.parse_timeout_s,
            memory_mb=settings.parse_memory_mb,
            max_pages=settings.max_pages,
            archive=ArchiveLimits(
                max_expanded_bytes=int(settings.archive_max_expanded_mb * 1024 * 1024),
                max_ratio=settings.archive_max_ratio,
            ),
            isolate=settings.parse_isolation,
        )


def pdf_page_count(data: bytes) -> int | None:
    """Pages of a PDF from its page tree (no page is parsed); None when pypdf cannot tell, in which
    case the PDF loader reports what is wrong with the file."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            reader.decrypt("")
        return len(reader.pages)
    except Exception:  # noqa: BLE001 - damaged or truly encrypted: the loader words that error
        return None


def check_pages(kind: str, data: bytes, name: str, max_pages: int | None) -> None:
    """`too_many_pages` for a PDF over the page limit (other formats have no pages)."""
    if kind != "pdf" or not max_pages:
        return
    pages = pdf_page_count(data)
    if pages is not None and pages > max_pages:
        raise load_error(
            "too_many_pages",
            name,
            f"{pages:,} ページ、上限 {max_pages:,} ページ。分割して登録するか YAKUBA_MAX_PAGES を変更してください",
            f"{pages:,} pages, limit {max_pages:,}; split the file or raise YAKUBA_MAX_PAGES",
        )


def sandbox_error(error: SandboxError, name: str, limits: ParseLimits) -> DocumentLoadError:
    """A worker that ran out of time or memory, or died, as the error staff see for that file."""
    if error.reason == "timeout":
        return load_error(
            "parse_timeout",
            name,
            f"{limits.timeout_s:g} 秒以内に読み込めませんでした。YAKUBA_PARSE_TIMEOUT_S で上限を変更できます",
            f"not parsed within {limits.timeout_s:g} s (YAKUBA_PARSE_TIMEOUT_S)",
        )
    if error.reason == "memory":
        return load_error(
            "parse_memory",
            name,
            f"読み込みに {limits.memory_mb:,} MB を超えるメモリが必要です。YAKUBA_PARSE_MEMORY_MB で上限を変更できます",
            f"parsing needs more than {limits.memory_mb:,} MB (YAKUBA_PARSE_MEMORY_MB)",
        )
    return load_error(
        "parse_crashed",
        name,
        f"読み込み処理が異常終了しました（{error.detail}）。メモリ上限 {limits.memory_mb:,} MB を超えた可能性があります",
        f"the parser died ({error.detail}); it may have exceeded {limits.memory_mb:,} MB",
    )
