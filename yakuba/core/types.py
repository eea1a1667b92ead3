"""Types shared across ingest, retriever and the CLI.

They sit in `yakuba` (not in ingest/ or retriever/) so that both sides of the store can use them
without importing each other.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from yakuba.core.errors import InvalidInputError


class DocType(StrEnum):
    """The document types a municipality's staff filter by (issue #2)."""

    COMPREHENSIVE_PLAN = "総合計画"
    COUNCIL_MINUTES = "議会会議録"
    DX_GUIDEBOOK = "DX・ガイドブック"
    PLAN = "計画"
    OTHER = "その他"

    @classmethod
    def parse(cls, value: str) -> DocType:
        """Accept the Japanese label or a few ASCII aliases (for shells and JSON)."""
        aliases = {
            "comprehensive_plan": cls.COMPREHENSIVE_PLAN,
            "council_minutes": cls.COUNCIL_MINUTES,
            "minutes": cls.COUNCIL_MINUTES,
            "dx": cls.DX_GUIDEBOOK,
            "dx_guidebook": cls.DX_GUIDEBOOK,
            "guidebook": cls.DX_GUIDEBOOK,
            "plan": cls.PLAN,
            "other": cls.OTHER,
        }
        text = value.strip()
        for member in cls:
            if text == member.value:
                return member
        if text.lower() in aliases:
            return aliases[text.lower()]
        raise ValueError(
            f"不明な文書種別です: {value!r}（指定できる値: {', '.join(m.value for m in cls)}） / "
            f"unknown doc type {value!r}"
        )


# The role every council member's speech gets in the minutes parser (seat numbers 「13番」 included), so
# that the assistant can tell a member's question from an official's answer.
MEMBER_ROLE = "議員"
# Speakers who ask the questions: members in the plenary (議員) and in committee minutes (委員; the
# chair is 委員長, a different role).
QUESTIONER_ROLES = frozenset({MEMBER_ROLE, "委員"})


class PageText(BaseModel):
    """Text of one page (PDF) or one section of a document without pages."""

    page: int | None = Field(None, description="1-based page number; None for formats without pages")
    text: str
    ocr_confidence: float | None = Field(
        None, description="Mean OCR word confidence (0-100) when the text came from OCR; None otherwise"
    )


class ExtractedTable(BaseModel):
    """A table as a loader found it (PDF ruling, docx, html): cleaned cells, one header per column.

    Kept apart from the page text so that the chunker can write it as its own chunks (Markdown
    plus one sentence per row) instead of the label and number fragments text extraction gives.
    """

    number: int = Field(description="1-based position of the table in the document")
    page: int | None = None
    caption: str | None = Field(None, description="The line just above the table (its title), if any")
    header: list[str] = Field(description="One label per column (multi-row headers joined)")
    rows: list[list[str]] = Field(description="Body rows, each as long as `header`")
    ocr_confidence: float | None = None


class LoadedDocument(BaseModel):
    """What a loader returns: raw text per page plus what it knows about the file."""

    doc_id: str
    title: str
    source_path: str | None = None
    file_format: str
    doc_type: DocType | None = None
    pages: list[PageText]
    tables: list[ExtractedTable] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    content_hash: str = ""


class Chunk(BaseModel):
    """One retrievable passage with everything a citation needs."""

    text: str
    doc_id: str
    title: str
    doc_type: DocType
    chunk_index: int
    page: int | None = None
    page_end: int | None = None
    heading: str | None = None
    speaker: str | None = None
    role: str | None = None
    date: str | None = None
    session: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class DocumentLoadError(InvalidInputError):
    """A file that cannot be ingested; `code` says why (`corrupt`, `encrypted`, `too_large`, …)."""

    code = "load_failed"


class DocumentRecord(BaseModel):
    """What `yakuba docs list` shows and what re-ingest compares against (one per stored document).

    Here, not in retriever/store.py, because ingest writes it and sits below the retriever.
    """

    doc_id: str
    title: str
    doc_type: DocType
    file_format: str
    source_path: str | None = None
    pages: int = 0
    chunks: int = 0
    content_hash: str
    ingest_signature: str = ""
    ingested_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    warnings: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
