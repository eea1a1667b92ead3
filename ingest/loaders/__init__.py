"""File loaders: turn a file into `LoadedDocument`s, or fail with a `DocumentLoadError` staff can read.

`load_path` checks what every format shares (existence, size, emptiness), dispatches by suffix and
turns any unexpected parser exception into `corrupt`, so that callers never see a raw traceback.
Loaders return text as extracted; `ingest.clean.clean_pages` is the pipeline's next step.

Error codes: not_found, unreadable, unsupported_format, too_large, empty, corrupt, encrypted,
no_text_layer, mojibake; and the limits' (ingest/loaders/limits.py): archive_bomb, too_many_pages,
parse_timeout, parse_memory, parse_crashed.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
from pathlib import Path

from yakuba.core.types import DocumentLoadError, LoadedDocument
from yakuba.ingest.loaders.archive import ZIP_FORMATS, check_archive
from yakuba.ingest.loaders.common import Extracted, load_error
from yakuba.ingest.loaders.limits import ParseLimits, check_pages, sandbox_error
from yakuba.ingest.sandbox import SandboxError, run_limited

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    {".pdf", ".docx", ".md", ".markdown", ".txt", ".html", ".htm", ".jsonl"}
)
DEFAULT_MAX_BYTES = 50 * 1024 * 1024

_FORMATS = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".md": "md",
    ".markdown": "md",
    ".txt": "txt",
    ".html": "html",
    ".htm": "html",
    ".jsonl": "jsonl",
}
# Formats staff are likely to try, with what to do instead.
_CONVERT_HINTS = {
    ".doc": ("Word で .docx として保存し直してください", "save it as .docx"),
    ".rtf": ("Word で .docx として保存し直してください", "save it as .docx"),
    ".jtd": ("一太郎で .docx または PDF として保存し直してください", "save it from Ichitaro as .docx or PDF"),
    ".xls": ("表は PDF または CSV を .txt として保存してください", "export tables as PDF"),
    ".xlsx": ("表は PDF として保存してください", "export tables as PDF"),
    ".ppt": ("PDF として保存してください", "export it as PDF"),
    ".pptx": ("PDF として保存してください", "export it as PDF"),
}

_LOADER_MODULES = {
    "pdf": "yakuba.ingest.loaders.pdf",
    "docx": "yakuba.ingest.loaders.docx",
    "html": "yakuba.ingest.loaders.html",
}

_log = logging.getLogger(__name__)


def _unsupported(path: Path) -> DocumentLoadError:
    suffix = path.suffix.lower()
    supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
    hint_ja, hint_en = _CONVERT_HINTS.get(suffix, ("", ""))
    detail_ja = f"「{suffix or '拡張子なし'}」。対応形式: {supported}" + (f"。{hint_ja}" if hint_ja else "")
    detail_en = f"{suffix or 'no suffix'!r}; supported: {supported}" + (f"; {hint_en}" if hint_en else "")
    return load_error("unsupported_format", path.name, detail_ja, detail_en)


def _read(path: Path, max_bytes: int) -> bytes:
    name = path.name
    try:
        if not path.is_file():
            raise load_error("not_found", name, str(path), str(path))
        size = path.stat().st_size
    except OSError as exc:
        raise load_error("unreadable", name, str(exc), str(exc)) from exc
    if size > max_bytes:
        limit = f"{max_bytes / 1024 / 1024:.0f} MB"
        raise load_error(
            "too_large",
            name,
            f"{size / 1024 / 1024:.1f} MB、上限 {limit}",
            f"{size / 1024 / 1024:.1f} MB, limit {limit}",
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise load_error("unreadable", name, str(exc), str(exc)) from exc
    if not data.strip():
        raise load_error("empty", name, "0バイトまたは空白のみ", "zero bytes or whitespace only")
    return data


def _extract(kind: str, data: bytes, path: Path) -> Extracted:
    name, stem = path.name, path.stem
    if kind == "pdf":
        from yakuba.ingest.loaders.pdf import extract_pdf

        return extract_pdf(data, name, stem)
    if kind == "docx":
        from yakuba.ingest.loaders.docx import extract_docx

        return extract_docx(data, name, stem)
    if kind == "html":
        from yakuba.ingest.loaders.html import extract_html

        return extract_html(data, name, stem)
    from yakuba.ingest.loaders.text import extract_text_file

    return extract_text_file(data, name, stem, markdown=kind == "md")


def _extract_within(kind: str, data: bytes, path: Path, max_pages: int | None) -> Extracted:
    """What runs in the parse worker: the page limit, then the format's loader."""
    check_pages(kind, data, path.name, max_pages)
    return _extract(kind, data, path)


def _extract_limited(kind: str, data: bytes, path: Path, limits: ParseLimits) -> Extracted:
    if kind in ZIP_FORMATS:
        check_archive(data, path.name, limits.archive)
    if not limits.isolate:
        return _extract_within(kind, data, path, limits.max_pages)
    importlib.import_module(_LOADER_MODULES.get(kind, "yakuba.ingest.loaders.text"))  # once, not per child
    try:
        return run_limited(
            _extract_within, kind, data, path, limits.max_pages, timeout_s=limits.timeout_s, memory_mb=limits.memory_mb
        )
    except SandboxError as error:
        _log.warning("parse of %s stopped: %s", path, error)
        raise sandbox_error(error, path.name, limits) from error


def load_path(
    path: Path | str,
    doc_id: str | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    limits: ParseLimits | None = None,
) -> list[LoadedDocument]:
    """Load one file. Returns one document, or one per record for JSONL corpora.

    `doc_id` defaults to the file name (JSONL: each record's "id"; a given doc_id is ignored there).
    `content_hash` is the sha256 of the file bytes (JSONL: of each record's canonical JSON).
    `limits` bound the parse (time, memory, pages, archive expansion); by default the parse runs
    in-process with only the page and archive checks (the ingest pipeline passes the settings').
    Raises `DocumentLoadError` with a machine `code` and Japanese/English messages naming the file.
    """
    path = Path(path)
    kind = _FORMATS.get(path.suffix.lower())
    if kind is None:
        raise _unsupported(path)
    data = _read(path, max_bytes)
    try:
        if kind == "jsonl":
            from yakuba.ingest.loaders.jsonl import load_jsonl

            return load_jsonl(data, path.name, str(path))
        extracted = _extract_limited(kind, data, path, limits or ParseLimits(isolate=False))
    except DocumentLoadError:
        raise
    except Exception as exc:  # a parser bug or a file nobody anticipated: report, never a traceback
        _log.warning("unexpected error loading %s", path, exc_info=True)
        raise load_error(
            "corrupt", path.name, f"{type(exc).__name__}: {exc}", f"{type(exc).__name__}: {exc}"
        ) from exc
    if not any(page.text.strip() for page in extracted.pages) and not extracted.tables:
        raise load_error("empty", path.name)
    return [
        LoadedDocument(
            doc_id=doc_id or path.name,
            title=extracted.title or path.stem,
            source_path=str(path),
            file_format=kind,
            pages=extracted.pages,
            tables=extracted.tables,
            metadata=extracted.metadata,
            warnings=extracted.warnings,
            content_hash=hashlib.sha256(data).hexdigest(),
        )
    ]


__all__ = ["DEFAULT_MAX_BYTES", "SUPPORTED_SUFFIXES", "DocumentLoadError", "ParseLimits", "load_path"]
