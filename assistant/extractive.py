"""The extractive engine: answers built from the passages' own sentences, each with its citation.

It needs no model, so it is instant, deterministic and always grounded; it is also the fallback when
a model's answer fails the citation checks (issue #5).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from yakuba.assistant.relevance import question_tokens
from yakuba.assistant.text import bigram_recall, compact, split_sentences, truncate
from yakuba.retriever.search import Passage
from yakuba.retriever.tokenize import tokenize

MIN_SENTENCE_CHARS = 8
MAX_SENTENCE_CHARS = 220


@dataclass(frozen=True)
class Selection:
    n: int
    sentence: str
    score: float


_LEADING_MARKS = re.compile(r"^(?:[\s\-–—・*＊•▪■□●◆◇>＞]|\d{1,2}[.)．）]\s|[（(]\d{1,2}[）)])+")
_INLINE_MARKUP = re.compile(r"\*\*|__|`")
# Table-of-contents lines: 「①自治体DXの全体像 …… 5」 (leader dots, then a page number).
_TOC_LINE = re.compile(r"(?:…|‥|・・・|\.\.\.|．．．)\s*[0-9０-９]{1,4}\s*$")


def _is_label(sentence: str) -> bool:
    """Speaker lines such as 「○市長（荒木恵司君）」, Markdown headings and short fragments carry no answer."""
    text = sentence.strip()
    if text.startswith("#") or _TOC_LINE.search(text):
        return True
    return text[:1] in "○◆◎◯〇●" and len(text) < 30 or len(compact(text)) < MIN_SENTENCE_CHARS


def clean_sentence(sentence: str) -> str:
    """Bullets and Markdown emphasis come from the documents' layout, not from what they say."""
    return _INLINE_MARKUP.sub("", _LEADING_MARKS.sub("", sentence.strip())).strip()


def score_sentence(tokens: list[str], question: str, sentence: str) -> float:
    words = set(tokenize(sentence))
    token_cover = sum(1 for t in tokens if t in words) / len(tokens) if tokens else 0.0
    return 0.7 * token_cover + 0.3 * bigram_recall(question, [sentence])


def select_sentences(
    question: str, passages: dict[int, Passage], *, max_sentences: int = 3, max_chars: int = 360
) -> list[Selection]:
    """Best-supported sentences, ranked by overlap with the question and the passage's retrieval rank."""
    tokens = question_tokens(question)
    candidates: list[Selection] = []
    for rank, (n, passage) in enumerate(sorted(passages.items())):
        prior = 1.0 - 0.05 * rank  # retrieval order breaks ties between equally worded sentences
        for raw in split_sentences(passage.text):
            if _is_label(raw):
                continue
            sentence = clean_sentence(raw)
            if len(compact(sentence)) < MIN_SENTENCE_CHARS or sentence.endswith(("、", "，", ",")):
                continue  # a line broken mid-sentence reads as nonsense when quoted alone
            score = score_sentence(tokens, question, sentence) * prior
            if score > 0:
                candidates.append(Selection(n, truncate(sentence, MAX_SENTENCE_CHARS), score))
    candidates.sort(key=lambda s: s.score, reverse=True)
    chosen: list[Selection] = []
    used_chars = 0
    for candidate in candidates:
        if len(chosen) >= max_sentences:
            break
        if chosen and candidate.score < 0.75 * chosen[0].score:
            break
        if any(bigram_recall(candidate.sentence, [c.sentence]) > 0.7 for c in chosen):
            continue  # overlapping chunks repeat sentences
        if chosen and used_chars + len(candidate.sentence) > max_chars:
            continue
        chosen.append(candidate)
        used_chars += len(candidate.sentence)
    return chosen


def _source_phrase(passage: Passage) -> str:
    if passage.speaker:
        who = f"{passage.role or ''}{'（' + passage.speaker + '）' if passage.role else passage.speaker}"
        when = f"{passage.date} の" if passage.date else ""
        return f"{when}{who}の発言によると、"
    page = f"（{passage.page}ページ）" if passage.page else ""
    return f"「{passage.title}」{page}によると、"


def _as_sentence(text: str, n: int) -> str:
    body = text.strip()
    end = body[-1] if body[-1:] in "。！？" else "。"
    if body[-1:] in "。！？":
        body = body[:-1]
    return f"{body}[{n}]{end}"


def compose(question: str, passages: dict[int, Passage], *, max_sentences: int = 3) -> tuple[str, list[int]]:
    """Readable Japanese from the selected sentences: the best first with its source, then 「また、」."""
    chosen = select_sentences(question, passages, max_sentences=max_sentences)
    if not chosen:
        return "", []
    lines: list[str] = []
    # Keep the document's order within one passage so the text reads as it was written.
    first = chosen[0]
    lines.append(_source_phrase(passages[first.n]) + _as_sentence(first.sentence, first.n))
    for selection in chosen[1:]:
        lines.append("また、" + _as_sentence(selection.sentence, selection.n))
    used = list(dict.fromkeys(s.n for s in chosen))
    return "\n".join(lines), used
