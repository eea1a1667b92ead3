"""The extractive engine: answers built from the passages' own sentences, each with its citation.

It needs no model, so it is instant, deterministic and always grounded; it is also the evidence shown
before a model's answer and the fallback when that answer fails the checks (issues #5, #17).

Sentences are read with their section (the 「議案第２号：…」 heading they sit under), so a sentence such
as 「歳入歳出補正予算の規模は、934千円の減額計上であります。」 is found for a question naming the 議案,
and it is preferred over the heading itself when the question asks for a value (いくら, いつ, 何%).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from yakuba.assistant.extractive_tables import (
    TableCell,
    asked_words,
    table_cells,
    title_words,
)
from yakuba.assistant.facts import (
    CONTEXT_SENTENCES,
    MIN_CELL_COVERAGE,
    STRICT_KINDS,
    asked_counter,
    asks_for,
    designators,
    holds_kind,
    item_coverage,
    names_another_item,
    subject_title,
)
from yakuba.assistant.injection import is_instruction
from yakuba.assistant.relevance import question_tokens
from yakuba.assistant.text import bigram_recall, compact, split_sentences, truncate
from yakuba.ingest.clean import is_heading
from yakuba.retriever.search import Passage
from yakuba.retriever.tokenize import tokenize

MIN_SENTENCE_CHARS = 8
MAX_SENTENCE_CHARS = 220
# When the question asks for a value, a sentence without one (a heading, a purpose clause) is worth less.
NO_VALUE_FACTOR = 0.4
# A number in another counter than the question's (何人 → 「第37回」) is only a weak sign of the answer.
COUNTER_FACTOR = 0.7
# A date or period answers 「いつ」 only when what names it (the sentence, those just before it, its
# section, the title) holds half of the question's content words; without such a sentence the engine
# abstains. Measured 2026-12-03 (extractive, jsquad-valid 600 with 20% made unanswerable): of 19
# unanswerable 「いつ」 questions 9 → 12 abstained instead of quoting another event's year (1899年 for
# 「フランスの直轄領として併合されたのは」), answer_contains 0.881 → 0.881; benchmarks/realistic_answers: the
# 「新図書館の開館日」 the documents do not give is no longer answered with 学びの期間's dates.
DATE_MIN_COVERAGE = 0.5
# A sentence under another item's designator (議案第２３号 when 第２２号 was asked) is worth less still.
OTHER_ITEM_FACTOR = 0.3
# The section heading's words count for a sentence with this weight (its own words count fully).
SECTION_WEIGHT = 0.8
# A table cell loses up to this share of its score for the words of its column header that the
# question does not use: a header naming a narrower figure (財源内訳 特定財源 国県支出金) is not what was asked.
COLUMN_EXTRA_WEIGHT = 0.3


@dataclass(frozen=True)
class Selection:
    n: int
    sentence: str
    score: float
    section: str | None = None
    holds_value: bool = False  # states the kind of value the question asks for
    in_counter: bool = False  # … in the counter the question asks in (何世帯 → 「5,972世帯」)


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


def score_sentence(
    tokens: list[str], question: str, sentence: str, section_words: set[str] | None = None
) -> float:
    words = set(tokenize(sentence))
    section_words = section_words or set()

    def weight(t: str) -> float:
        return 1.0 if t in words else SECTION_WEIGHT if t in section_words else 0.0

    token_cover = sum(weight(t) for t in tokens) / len(tokens) if tokens else 0.0
    return 0.7 * token_cover + 0.3 * bigram_recall(question, [sentence])


def sectioned_sentences(passage: Passage) -> list[tuple[str, str | None, bool]]:
    """(sentence, the heading it sits under, whether it is that heading) in passage order.

    A chunk that starts mid-section gets its section from the chunk's `heading` metadata."""
    heading = passage.heading
    out: list[tuple[str, str | None, bool]] = []
    for line in passage.text.split("\n"):
        stripped = line.strip()
        if not stripped:
            continue
        if is_heading(stripped):
            heading = stripped.lstrip("#").strip()
            out.append((stripped, None, True))
            continue
        out.extend((sentence, heading, False) for sentence in split_sentences(stripped))
    return out


def select_sentences(
    question: str, passages: dict[int, Passage], *, max_sentences: int = 3, max_chars: int = 360
) -> list[Selection]:
    """Best-supported sentences, ranked by overlap with the question (their section's words count
    too), the value the question asks for, and the passage's retrieval rank."""
    tokens = question_tokens(question)
    wanted = asks_for(question)
    counter = asked_counter(question)
    asked_items = designators(question)
    section_words: dict[str, set[str]] = {}
    candidates: list[Selection] = []
    cell_words: list[str] | None = None  # the words a table cell's names must cover, found once
    for rank, (n, passage) in enumerate(sorted(passages.items())):
        prior = 1.0 - 0.05 * rank  # retrieval order breaks ties between equally worded sentences
        cells = table_cells(passage)
        if cells is not None:  # a table: each value cell is a candidate (assistant/extractive_tables.py)
            cell_words = asked_words(question) if cell_words is None else cell_words
            candidates.extend(
                _cell_selections(n, passage, cells, tokens, question, prior, asked_items, cell_words)
            )
            continue
        recent: list[tuple[str | None, str]] = []  # (section, sentence) of the sentences just before
        for raw, section, heading_line in sectioned_sentences(passage):
            before = [text for where, text in recent[-CONTEXT_SENTENCES:] if where == section]
            recent.append((section, raw))
            if _is_label(raw) or is_instruction(raw):
                continue  # an instruction planted in a document is never quoted as an answer
            sentence = clean_sentence(raw)
            if len(compact(sentence)) < MIN_SENTENCE_CHARS or sentence.endswith(("、", "，", ",")):
                continue  # a line broken mid-sentence reads as nonsense when quoted alone
            if section and section not in section_words:
                section_words[section] = set(tokenize(section))
            score = score_sentence(tokens, question, sentence, section_words.get(section or "")) * prior
            holds = bool(wanted) and not heading_line and holds_kind(sentence, wanted, given=question)
            if holds and (wanted in STRICT_KINDS or wanted == "year"):
                # An amount or count (a date: `DATE_MIN_COVERAGE`) answers only when the sentence (with
                # those just before it in its section: 「…追加給付金」を…実施いたしました。」「5,972世帯と
                # なっております。」), its section or the document title name what was asked: 「歳入歳出予算
                # の総額は…」 in 一般会計予算 is no 水道事業会計's total.
                cell_words = asked_words(question) if cell_words is None else cell_words
                named = set(tokenize("\n".join([*before, sentence]))) | section_words.get(section or "", set())
                named |= title_words(passage.title)
                needed = MIN_CELL_COVERAGE if wanted in STRICT_KINDS else DATE_MIN_COVERAGE
                holds = item_coverage(named, cell_words) >= needed
            if wanted and not holds:
                score *= NO_VALUE_FACTOR
            in_counter = holds and bool(counter) and holds_kind(sentence, wanted, counter)
            if holds and counter and not in_counter:
                score *= COUNTER_FACTOR  # a number, but not in what was asked (「1,600発」 for 何人)
            # nearest first: the sentence, its section, the document's title (「令和８年度一般会計予算」)
            other = bool(asked_items) and names_another_item(
                (sentence, section or "", subject_title(passage)), asked_items
            )
            if other:
                score *= OTHER_ITEM_FACTOR
                holds = in_counter = False  # another 議案's or year's amount does not answer this one
            if score > 0:
                candidates.append(
                    Selection(n, truncate(sentence, MAX_SENTENCE_CHARS), score, section, holds, in_counter)
                )
    candidates.sort(key=lambda s: s.score, reverse=True)
    if wanted in STRICT_KINDS or wanted == "year":
        # Only sentences stating an amount/count/rate answer 「いくら」「何人」, and only a date or period
        # that names the item 「いつ」: a heading or a purpose clause about the topic is not an answer,
        # and with none of them there is nothing to quote.
        candidates = [c for c in candidates[: max_sentences * 3] if c.holds_value]
        if any(c.in_counter for c in candidates):  # 「5,972世帯」 beats a table row of plain numbers
            candidates = [c for c in candidates if c.in_counter]
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


def _cell_selections(
    n: int,
    passage: Passage,
    cells: list[TableCell],
    tokens: list[str],
    question: str,
    prior: float,
    asked_items: dict[str, set[int]],
    words: list[str],
) -> list[Selection]:
    """Table cells scored as sentences: the row label's and column header's words count fully, the
    caption's and document title's as the section's. A numeric cell states an amount or a count (the
    unit sits in the caption or header); one under another item's designator (2045年 when 2040年 was
    asked) is worth less and answers nothing, and so is one whose names do not cover the question's
    `words` (`MIN_CELL_COVERAGE`): a loose cell is no answer, and without one the engine abstains."""
    wanted = asks_for(question)
    counter = asked_counter(question)
    section = f"表{passage.table} {passage.heading}" if passage.table and passage.heading else passage.heading
    out: list[Selection] = []
    for cell in cells:
        if not tokens:
            break
        cover = sum(
            1.0 if t in cell.words else SECTION_WEIGHT if t in cell.context_words else 0.0 for t in tokens
        )
        score = (0.7 * cover / len(tokens) + 0.3 * bigram_recall(question, [cell.quote])) * prior
        if cell.column:  # 「本年度」 beats 「本年度予算額の財源内訳 特定財源 国県支出金」 for 本年度予算額
            score *= 1 - COLUMN_EXTRA_WEIGHT * (1 - bigram_recall(cell.column, [question]))
        holds = bool(wanted) and (
            (cell.numeric and wanted in STRICT_KINDS) or holds_kind(f"{cell.value}{cell.quote}", wanted)
        )
        if holds and cell.coverage(words) < MIN_CELL_COVERAGE:
            holds = False  # 「歳出合計：本年度予算額」 does not answer 「水道事業会計予算の総額は」
        if wanted and not holds:
            score *= NO_VALUE_FACTOR
        in_counter = holds and counter is not None and cell.in_counter(counter)
        if holds and counter and not in_counter:
            score *= COUNTER_FACTOR
        if asked_items and names_another_item((cell.names, passage.title), asked_items):
            score *= OTHER_ITEM_FACTOR
            holds = in_counter = False
        if score > 0:
            out.append(
                Selection(n, truncate(cell.quote, MAX_SENTENCE_CHARS), score, section, holds, in_counter)
            )
    return out


def _source_phrase(passage: Passage, section: str | None = None) -> str:
    if passage.speaker:
        who = f"{passage.role or ''}{'（' + passage.speaker + '）' if passage.role else passage.speaker}"
        when = f"{passage.date} の" if passage.date else ""
        return f"{when}{who}の発言によると、"
    page = f"（{passage.page}ページ）" if passage.page else ""
    where = (
        f"の「{truncate(section, 60)}」" if section and compact(section) not in compact(passage.title) else ""
    )
    return f"「{passage.title}」{page}{where}によると、"


def _as_sentence(text: str, n: int) -> str:
    body = text.strip()
    end = body[-1] if body[-1:] in "。！？" else "。"
    if body[-1:] in "。！？":
        body = body[:-1]
    return f"{body}[{n}]{end}"


def compose(question: str, passages: dict[int, Passage], *, max_sentences: int = 3) -> tuple[str, list[int]]:
    """Readable Japanese from the selected sentences: the best first with its source, then 「また、」."""
    chosen = select_sentences(question, passages, max_sentences=max_sentences)
    return compose_selected(chosen, passages), list(dict.fromkeys(s.n for s in chosen))


def compose_selected(chosen: list[Selection], passages: dict[int, Passage]) -> str:
    """The text of `compose` for sentences already selected (the evidence reuses its selection)."""
    if not chosen:
        return ""
    lines: list[str] = []
    # Keep the document's order within one passage so the text reads as it was written.
    first = chosen[0]
    section = (
        first.section if first.section and compact(first.section) not in compact(first.sentence) else None
    )
    lines.append(_source_phrase(passages[first.n], section) + _as_sentence(first.sentence, first.n))
    for selection in chosen[1:]:
        lines.append("また、" + _as_sentence(selection.sentence, selection.n))
    return "\n".join(lines)
