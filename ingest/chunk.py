"""Sentence-aware chunking for Japanese documents.

Chunks are built from whole sentences (。！？ and line structure), carry the page they start on and
the heading in force, and overlap by whole sentences. Council minutes are chunked per speaker turn:
a turn that fits is never split, and no chunk ever mixes two speakers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from langchain_text_splitters import RecursiveCharacterTextSplitter

from yakuba.core.types import Chunk, DocType, LoadedDocument
from yakuba.ingest.clean import is_heading, split_sentences
from yakuba.ingest.minutes import MinutesParse, SpeakerTurn, parse_minutes
from yakuba.ingest.tables import table_chunks

# A turn may exceed the target by this factor and still stay whole: splitting a speech loses its context.
TURN_SLACK = 1.6
# Do not cut at a heading while the current chunk is shorter than this share of the target.
MIN_FILL_BEFORE_HEADING = 0.3


@dataclass
class _Unit:
    """A sentence with where it came from."""

    text: str
    page: int | None
    heading: str | None
    is_heading: bool = False
    ends_line: bool = False  # cleaned text keeps meaningful line breaks (list items, table rows)


@dataclass
class _Builder:
    size: int
    overlap: int
    units: list[_Unit] = field(default_factory=list)

    @property
    def length(self) -> int:
        return sum(len(u.text) for u in self.units)

    def overlap_tail(self) -> list[_Unit]:
        """Trailing whole sentences (at most `overlap` chars) carried into the next chunk."""
        tail: list[_Unit] = []
        total = 0
        for unit in reversed(self.units):
            if unit.is_heading or total + len(unit.text) > self.overlap:
                break
            tail.insert(0, unit)
            total += len(unit.text)
        return tail


def _long_sentence_splitter(size: int, overlap: int) -> RecursiveCharacterTextSplitter:
    return RecursiveCharacterTextSplitter(
        chunk_size=size,
        chunk_overlap=min(overlap, size // 4),
        separators=["、", "，", ",", " ", ""],
        keep_separator="end",
        length_function=len,
    )


def _join(units: list[_Unit]) -> str:
    parts: list[str] = []
    for unit in units:
        if parts and not parts[-1].endswith("\n") and _needs_space(parts[-1], unit.text):
            parts.append(" ")
        parts.append(unit.text)
        if unit.is_heading or unit.ends_line:
            parts.append("\n")
    return "".join(parts).strip()


def _needs_space(left: str, right: str) -> bool:
    return bool(left) and bool(right) and left[-1].isascii() and left[-1].isalnum() and right[0].isascii()


def _units_from_pages(document: LoadedDocument, size: int, overlap: int) -> Iterator[_Unit]:
    splitter = _long_sentence_splitter(size, overlap)
    heading: str | None = None
    for page in document.pages:
        for line in page.text.split("\n"):
            line = line.strip()
            if not line:
                continue
            if is_heading(line):
                heading = line.lstrip("#").strip()
                yield _Unit(line, page.page, heading, is_heading=True)
                continue
            pieces = [
                piece
                for sentence in split_sentences(line)
                for piece in (splitter.split_text(sentence) if len(sentence) > size else [sentence])
            ]
            for position, piece in enumerate(pieces):
                yield _Unit(piece, page.page, heading, ends_line=position == len(pieces) - 1)


def _pack(units: Iterable[_Unit], size: int, overlap: int) -> Iterator[list[_Unit]]:
    """Greedy packing of sentences into chunks of about `size` characters."""
    builder = _Builder(size, overlap)
    fresh = 0  # units added since the last emitted chunk (overlap units are not fresh)
    for unit in units:
        current = builder.length
        cut_for_heading = unit.is_heading and fresh and current >= size * MIN_FILL_BEFORE_HEADING
        if fresh and (current + len(unit.text) > size or cut_for_heading):
            yield list(builder.units)
            builder.units = [] if unit.is_heading else builder.overlap_tail()
            fresh = 0
        builder.units.append(unit)
        fresh += 1
    if fresh:
        yield list(builder.units)


def _first_content_unit(units: list[_Unit]) -> _Unit:
    return next((u for u in units if not u.is_heading), units[0])


def chunk_text_document(
    document: LoadedDocument, doc_type: DocType, *, size: int, overlap: int
) -> list[Chunk]:
    chunks: list[Chunk] = []
    packs = list(_pack(_units_from_pages(document, size, overlap), size, overlap))
    # A text that is only headings (a one-line record 「基本目標1 安心して暮らせるまち」) is still content.
    only_headings = all(u.is_heading for units in packs for u in units)
    for units in packs:
        if all(u.is_heading for u in units) and not only_headings:
            continue
        first = _first_content_unit(units)
        pages = [u.page for u in units if u.page is not None]
        chunks.append(
            Chunk(
                text=_join(units),
                doc_id=document.doc_id,
                title=document.title,
                doc_type=doc_type,
                chunk_index=len(chunks),
                page=pages[0] if pages else None,
                page_end=pages[-1] if pages and pages[-1] != pages[0] else None,
                heading=first.heading,
            )
        )
    return chunks


def _turn_label(turn: SpeakerTurn) -> str:
    return f"{turn.marker or '○'}{turn.label}"


def _turn_chunks(turn: SpeakerTurn, size: int, overlap: int) -> list[str]:
    """Whole turn if it fits (with slack), else sentence-packed parts each labelled with the speaker."""
    label = _turn_label(turn)
    body = turn.text.strip()
    if len(label) + 1 + len(body) <= size * TURN_SLACK:
        return [f"{label}\n{body}"]
    splitter = _long_sentence_splitter(size, overlap)
    units = [
        _Unit(piece, None, None)
        for sentence in split_sentences(body)
        for piece in (splitter.split_text(sentence) if len(sentence) > size else [sentence])
    ]
    parts = [_join(group) for group in _pack(units, size - len(label) - 1, overlap)]
    return [f"{label}\n{part}" for part in parts if part]


def chunk_minutes_document(
    document: LoadedDocument, parsed: MinutesParse, *, size: int, overlap: int
) -> list[Chunk]:
    meta = document.metadata
    session = parsed.session or meta.get("session")
    date = parsed.meeting_date or meta.get("date_iso") or meta.get("date")
    page_of_line = _line_pages(document)
    chunks: list[Chunk] = []

    def add(text: str, *, page: int | None, speaker: str | None, role: str | None, heading: str | None) -> None:
        chunks.append(
            Chunk(
                text=text,
                doc_id=document.doc_id,
                title=document.title,
                doc_type=DocType.COUNCIL_MINUTES,
                chunk_index=len(chunks),
                page=page,
                heading=heading,
                speaker=speaker,
                role=role,
                date=date,
                session=session,
            )
        )

    if parsed.preamble.strip():
        preamble_doc = document.model_copy(
            update={"pages": [document.pages[0].model_copy(update={"text": parsed.preamble})]}
        )
        for chunk in chunk_text_document(preamble_doc, DocType.COUNCIL_MINUTES, size=size, overlap=overlap):
            add(chunk.text, page=chunk.page, speaker=None, role=None, heading=chunk.heading)
    for turn in parsed.turns:
        if not turn.text.strip():
            continue
        page = page_of_line.get(turn.line_start)
        for text in _turn_chunks(turn, size, overlap):
            add(text, page=page, speaker=turn.speaker or None, role=turn.role or None, heading=turn.agenda)
    return chunks


def _line_pages(document: LoadedDocument) -> dict[int, int | None]:
    """Map line numbers of the joined text back to pages, for minutes that come as PDFs."""
    mapping: dict[int, int | None] = {}
    line = 0
    for page in document.pages:
        for _ in page.text.split("\n"):
            mapping[line] = page.page
            line += 1
    return mapping


def minutes_text(document: LoadedDocument) -> str:
    return "\n".join(page.text for page in document.pages)


def chunk_document(
    document: LoadedDocument, doc_type: DocType, *, size: int = 500, overlap: int = 80
) -> list[Chunk]:
    """Chunk a cleaned document; minutes go by speaker turn when turns are recognised. Tables
    follow as their own chunks (ingest.tables); text from OCR'd pages is marked as such."""
    chunks: list[Chunk] | None = None
    if doc_type is DocType.COUNCIL_MINUTES:
        parsed = parse_minutes(minutes_text(document))
        if parsed.turns:
            chunks = chunk_minutes_document(document, parsed, size=size, overlap=overlap)
    if chunks is None:
        chunks = chunk_text_document(document, doc_type, size=size, overlap=overlap)
    _mark_ocr(document, chunks)
    return chunks + table_chunks(document, doc_type, size=size, start_index=len(chunks))


def _mark_ocr(document: LoadedDocument, chunks: list[Chunk]) -> None:
    """Chunks that start on an OCR'd page record it (ocr=True, mean word confidence) for the citation."""
    confidence = {p.page: p.ocr_confidence for p in document.pages if p.ocr_confidence is not None}
    if not confidence:
        return
    for chunk in chunks:
        if chunk.page in confidence:
            chunk.extra.update({"ocr": True, "ocr_confidence": round(float(confidence[chunk.page]), 1)})


def chunk_ids(chunks: list[Chunk]) -> list[str]:
    """Stable ids from (document id, chunk content): unchanged chunks keep their id across edits."""
    seen: dict[str, int] = {}
    ids: list[str] = []
    for chunk in chunks:
        key = "\x1f".join(
            str(v) for v in (chunk.text, chunk.page, chunk.heading, chunk.speaker, chunk.role, chunk.date)
        )
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]
        occurrence = seen.get(digest, 0)
        seen[digest] = occurrence + 1
        ids.append(f"{chunk.doc_id}::{digest}" + (f"-{occurrence}" if occurrence else ""))
    return ids
