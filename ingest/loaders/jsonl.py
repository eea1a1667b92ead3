"""JSONL corpus loader (eval dataset format v1): one document per line.

Each line is `{"id", "title", "text", "metadata"}`; the record's id is its doc_id and its hash is
taken over the record alone, so re-ingesting a corpus where one record changed re-embeds only that
document.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from yakuba.core.types import DocType, LoadedDocument
from yakuba.ingest.loaders.common import load_error, split_page_markers, warning
from yakuba.ingest.loaders.text import decode_text

# Labels seen in corpora that DocType.parse does not know itself.
_DOC_TYPE_ALIASES: dict[str, DocType] = {
    "council-minutes": DocType.COUNCIL_MINUTES,
    "meeting_minutes": DocType.COUNCIL_MINUTES,
    "会議録": DocType.COUNCIL_MINUTES,
    "議事録": DocType.COUNCIL_MINUTES,
    "comprehensive-plan": DocType.COMPREHENSIVE_PLAN,
    "general_plan": DocType.COMPREHENSIVE_PLAN,
    "dx-guidebook": DocType.DX_GUIDEBOOK,
    "guideline": DocType.DX_GUIDEBOOK,
    "ガイドブック": DocType.DX_GUIDEBOOK,
}


def parse_doc_type(value: Any) -> DocType | None:
    """DocType for a metadata value, or None when it names no known type (e.g. "wikipedia")."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return DocType.parse(value)
    except ValueError:
        return _DOC_TYPE_ALIASES.get(value.strip().lower()) or _DOC_TYPE_ALIASES.get(value.strip())


def canonical_hash(record: dict[str, Any]) -> str:
    """sha256 of the record's canonical JSON (sorted keys, no whitespace, UTF-8)."""
    canonical = json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def load_jsonl(data: bytes, name: str, source_path: str | None) -> list[LoadedDocument]:
    """All records of a JSONL corpus; a malformed line is an error naming its line number."""
    text, _, _ = decode_text(data, name)
    documents: list[LoadedDocument] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise load_error(
                "corrupt",
                name,
                f"{number}行目がJSONとして正しくありません: {exc.msg}",
                f"line {number} is not valid JSON: {exc.msg}",
            ) from exc
        if not isinstance(record, dict):
            raise load_error(
                "corrupt",
                name,
                f"{number}行目がオブジェクトではありません",
                f"line {number} is not a JSON object",
            )
        doc_id = record.get("id")
        if not isinstance(doc_id, str | int) or isinstance(doc_id, bool) or not str(doc_id).strip():
            raise load_error("corrupt", name, f"{number}行目に id がありません", f'line {number} has no "id"')
        doc_id = str(doc_id)
        if doc_id in seen:
            raise load_error(
                "corrupt",
                name,
                f"id {doc_id!r} が{seen[doc_id]}行目と{number}行目で重複しています",
                f"id {doc_id!r} appears on lines {seen[doc_id]} and {number}",
            )
        seen[doc_id] = number
        body = record.get("text", "")
        if not isinstance(body, str):
            raise load_error(
                "corrupt",
                name,
                f"{number}行目の text が文字列ではありません",
                f'line {number}: "text" is not a string',
            )
        metadata = record.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise load_error(
                "corrupt",
                name,
                f"{number}行目の metadata がオブジェクトではありません",
                f'line {number}: "metadata" is not an object',
            )
        title = record.get("title")
        title = str(title).strip() if title is not None and str(title).strip() else doc_id
        warnings: list[str] = []
        pages = split_page_markers(body)
        if not pages:
            warnings.append(warning(f"{number}行目の本文が空です", f"line {number} has empty text"))
        documents.append(
            LoadedDocument(
                doc_id=doc_id,
                title=title,
                source_path=source_path,
                file_format="jsonl",
                doc_type=parse_doc_type(metadata.get("doc_type")),
                pages=pages,
                metadata=dict(metadata),
                warnings=warnings,
                content_hash=canonical_hash(record),
            )
        )
    if not documents:
        raise load_error("empty", name, "レコードがありません", "no records")
    return documents
