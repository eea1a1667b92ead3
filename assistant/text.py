"""Small Japanese text utilities the assistant needs for checking and composing answers."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from yakuba.core.text import split_sentences as shared_split_sentences

_SPACE = re.compile(r"\s+")
_PUNCT = re.compile(r"[\s、。，．,.!！?？・「」『』（）()\[\]［］【】〔〕“”\"'：:；;…‥ー―-]+")


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


_CLOSED_INSIDE = re.compile(r"[。！？!?][」』）)】〕\]]+$")
_OPENING = tuple("「『（(【〔[")


def split_sentences(text: str) -> list[str]:
    """Sentences end at 。！？ or a line break (PDF lists and minutes keep meaning per line);
    runs of spaces inside a sentence are folded to one.

    A 。 inside brackets ends no sentence when the text goes on after the bracket: an ordinance's
    「…手話の普及（以下「手話の普及等」という。）に関し、…目的とする。」 is one sentence, and
    cutting it after 「という。）」 leaves an answer that stops mid-thought. (Ingest keeps the shared
    splitter: chunk boundaries, and so stored chunks, do not move.)"""
    sentences: list[str] = []
    for line in text.split("\n"):
        pieces = shared_split_sentences(line)
        for i, piece in enumerate(pieces):
            if i and _CLOSED_INSIDE.search(pieces[i - 1]) and not piece.startswith(_OPENING):
                sentences[-1] += piece
            else:
                sentences.append(piece)
    return [_SPACE.sub(" ", sentence) for sentence in sentences]


def compact(text: str) -> str:
    """NFKC, no whitespace or punctuation: the form lexical comparisons use."""
    return _PUNCT.sub("", nfkc(text))


def char_bigrams(text: str) -> set[str]:
    value = compact(text)
    if len(value) < 2:
        return {value} if value else set()
    return {value[i : i + 2] for i in range(len(value) - 1)}


def bigram_recall(sentence: str, sources: Iterable[str]) -> float:
    """Share of the sentence's character bigrams found in the sources (0 when it has none).

    Character bigrams need no tokenizer and survive the small rewordings a model makes when it
    paraphrases a passage, which is why support checks use them.
    """
    grams = char_bigrams(sentence)
    if not grams:
        return 0.0
    pool: set[str] = set()
    for source in sources:
        pool |= char_bigrams(source)
    return len(grams & pool) / len(grams)


def truncate(text: str, limit: int) -> str:
    """Cut at a sentence end when one is near the limit, else at the limit with an ellipsis."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    cut = max(head.rfind("。"), head.rfind("！"), head.rfind("？"), head.rfind("\n"))
    if cut >= limit * 0.6:
        return head[: cut + 1].rstrip()
    return head.rstrip() + "…"


_SENTENCE_END = re.compile(r"[。！？!?][」』）)]*(?:\s*\[\d+\])*")


def complete_sentences(text: str) -> str:
    """`text` without an unfinished last sentence (a generation cut at its token limit ends mid-word:
    「…手話の普及に関す」); unchanged when it ends a sentence or has no complete one to fall back to."""
    stripped = text.rstrip()
    ends = list(_SENTENCE_END.finditer(stripped))
    if not ends or ends[-1].end() == len(stripped):
        return stripped
    return stripped[: ends[-1].end()]
