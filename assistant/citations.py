"""`[n]` citation markers: parse them, drop the ones that point nowhere, check their support.

Every engine's text goes through the same checks, so a model that invents a source number or
cites a passage that does not say what it wrote is caught the same way (issue #5).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from yakuba.assistant.schemas import Citation
from yakuba.assistant.text import bigram_recall, char_bigrams, compact, split_sentences, truncate
from yakuba.retriever.search import Passage

# [1] ［1］ 【1】 and lists such as [1, 2] / [1][2]; digits may be full-width before NFKC.
MARKER = re.compile(r"[\[［【]\s*([0-9０-９]{1,2}(?:\s*[,，、]\s*[0-9０-９]{1,2})*)\s*[\]］】]")
# A sentence counts as supported when this share of its character bigrams is in the passages it cites.
SUPPORT_THRESHOLD = 0.5


def _numbers(group: str) -> list[int]:
    import unicodedata

    return [int(unicodedata.normalize("NFKC", n)) for n in re.split(r"\s*[,，、]\s*", group.strip())]


def cited_numbers(text: str) -> list[int]:
    """Marker numbers in order of first appearance."""
    seen: list[int] = []
    for match in MARKER.finditer(text):
        for number in _numbers(match.group(1)):
            if number not in seen:
                seen.append(number)
    return seen


def clean_markers(text: str, valid: set[int]) -> tuple[str, list[int]]:
    """Rewrite markers as `[n]`, keeping only numbers in `valid`; returns the text and dropped numbers."""
    dropped: list[int] = []

    def rewrite(match: re.Match[str]) -> str:
        kept = []
        for number in _numbers(match.group(1)):
            if number in valid:
                kept.append(number)
            elif number not in dropped:
                dropped.append(number)
        return "".join(f"[{n}]" for n in dict.fromkeys(kept))

    return MARKER.sub(rewrite, text), dropped


def strip_markers(text: str) -> str:
    return MARKER.sub("", text)


@dataclass
class SupportReport:
    """How well an answer's sentences are backed by the passages they cite."""

    sentences: int = 0
    cited: int = 0
    supported: int = 0
    unsupported: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.supported / self.sentences if self.sentences else 0.0


def check_support(text: str, passages: dict[int, Passage], threshold: float = SUPPORT_THRESHOLD) -> SupportReport:
    """Per sentence: does the passage it cites (or, uncited, any passage) contain its words?"""
    report = SupportReport()
    for sentence in split_sentences(text):
        body = strip_markers(sentence)
        if len(compact(body)) < 4:
            continue  # headings, bullets, "以上です" and similar carry no claim
        report.sentences += 1
        numbers = [n for n in cited_numbers(sentence) if n in passages]
        if numbers:
            report.cited += 1
        sources = [passages[n].text for n in numbers] or [p.text for p in passages.values()]
        if numbers and bigram_recall(body, sources) >= threshold:
            report.supported += 1
        else:
            report.unsupported.append(body)
    return report


def _with_marker(sentence: str, number: int) -> str:
    stripped = sentence.rstrip()
    end = stripped[-1] if stripped and stripped[-1] in "。！？" else ""
    body = stripped[: len(stripped) - len(end)] if end else stripped
    return f"{body}[{number}]{end}" + sentence[len(stripped) :]


def _rewrite_sentences(text: str, rewrite: Callable[[str], str]) -> str:
    """Apply `rewrite` to every sentence piece (split after 。！？, per line), keeping everything else as is."""
    return "\n".join(
        "".join(rewrite(piece) for piece in re.split(r"(?<=[。！？])", line)) for line in text.split("\n")
    )


def attach_missing_markers(text: str, passages: dict[int, Passage], threshold: float = SUPPORT_THRESHOLD) -> str:
    """Add `[n]` to uncited sentences that one passage clearly supports (small models forget markers)."""

    def attach(piece: str) -> str:
        if not piece.strip() or cited_numbers(piece) or len(compact(piece)) < 4:
            return piece
        best, best_recall = None, 0.0
        for number, passage in passages.items():
            recall = bigram_recall(piece, [passage.text])
            if recall > best_recall:
                best, best_recall = number, recall
        return _with_marker(piece, best) if best is not None and best_recall >= threshold else piece

    return _rewrite_sentences(text, attach)


# Share of a sentence's new content (bigrams not already in the question) the evidence passage must hold.
EVIDENCE_THRESHOLD = 0.6


def anchor_evidence(
    text: str, question: str, evidence: int, passages: dict[int, Passage], threshold: float = EVIDENCE_THRESHOLD
) -> str:
    """Also cite the evidence passage (the one whose sentence best matches the question) where it says
    what a cited sentence adds to the question.

    A small model often cites *a* passage that mentions its answer (the article's lead, say) rather than
    the one that answers the question; the passage that matches the question and also contains the
    answer is the citation a reader needs to verify it. Sentences already citing it are left alone.
    """
    if evidence not in passages:
        return text
    source = char_bigrams(passages[evidence].text)
    asked = char_bigrams(question)

    def anchor(piece: str) -> str:
        numbers = cited_numbers(piece)
        if not numbers or evidence in numbers:
            return piece
        new = char_bigrams(strip_markers(piece)) - asked
        return _with_marker(piece, evidence) if new and len(new & source) / len(new) >= threshold else piece

    return _rewrite_sentences(text, anchor)


# A table's Markdown is shown whole (a cut table is unreadable); chunking keeps it near this size.
TABLE_EXCERPT_CHARS = 4000


def to_citation(n: int, passage: Passage, excerpt_chars: int = 300) -> Citation:
    is_table = passage.content == "table"  # the Markdown itself: shown whole, a cut table is unreadable
    return Citation(
        n=n,
        doc_id=passage.doc_id,
        title=passage.title,
        page=passage.page,
        excerpt=truncate(passage.text, TABLE_EXCERPT_CHARS if is_table else excerpt_chars),
        table=passage.table,
        table_markdown=passage.table_markdown,
        ocr_confidence=passage.ocr_confidence,
        score=round(float(passage.score), 6),
        chunk_id=passage.chunk_id,
        doc_type=passage.doc_type or None,
        speaker=passage.speaker,
        role=passage.role,
        date=passage.date,
        label=passage.citation,
    )


def claim_pieces(text: str) -> list[tuple[str, list[int]]]:
    """(sentence without markers, the numbers it cites) for every sentence piece that says something."""
    pieces: list[tuple[str, list[int]]] = []
    for line in text.split("\n"):
        for piece in re.split(r"(?<=[。！？])", line):
            body = strip_markers(piece).strip()
            if len(compact(body)) >= 4:
                pieces.append((body, cited_numbers(piece)))
    return pieces


def drop_sentences(text: str, failing: set[str]) -> str:
    """`text` without the sentence pieces whose marker-free text is in `failing` (lines kept otherwise)."""
    lines = []
    for line in text.split("\n"):
        kept = [p for p in re.split(r"(?<=[。！？])", line) if strip_markers(p).strip() not in failing]
        joined = "".join(kept)
        if joined.strip() or not line.strip():
            lines.append(joined.rstrip() if joined.strip() else joined)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
