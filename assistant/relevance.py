"""Is anything retrieved actually about the question? The abstention decision.

Fused retrieval scores are relative to each query (min-max fusion puts the best hit at 1.0 whatever
it is), so they cannot say "nothing relevant". What can: how much of the question's content words a
passage contains (lexical coverage over Sudachi tokens, each word weighted by its BM25 idf so that
rare, telling words count most), which is absolute. The threshold is calibrated by benchmarks/calibrate_abstention.py on questions whose
gold documents were removed from the index (see README for the numbers).

Two refinements, calibrated on a 令和3年 council question set (training/council_question_set.py) and
checked on the dev sets:
- A bracketed qualifier (「水沼診療所について（進捗状況、再開時期、スタッフ体制）」) lists details that a
  member's speech spreads over several passages; a passage that holds the whole topic outside the
  brackets is relevant even if it holds few of the details.
- A question about what members asked (「…どのような質問と答弁が…」) over council minutes needs a
  relevant passage spoken by a member: an official's answer alone does not say what was asked.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet

from pydantic import BaseModel, Field
from sudachipy import SplitMode

from yakuba.core.types import QUESTIONER_ROLES
from yakuba.retriever.search import Passage
from yakuba.retriever.tokenize import _dictionary as _place_dictionary
from yakuba.retriever.tokenize import query_normalize, tokenize

# Calibrated on both dev sets with gold documents removed (benchmarks/calibrate_abstention.py, e5,
# top 5 passages, with the place-name rule). Balanced accuracy (answer rate / abstain rate):
# jsquad-valid 0.833 (0.948 / 0.718), kiryu-r4 0.613 (0.757 / 0.470). 0.65-0.75 score a little higher
# on one set each but answer far fewer of kiryu's answerable questions (0.67 / 0.41); on council
# minutes removing a member's speeches leaves the answers to them, so "should abstain" there is partly
# wrong and we favour answering.
DEFAULT_MIN_COVERAGE = 0.6
# A passage holding this share (idf-weighted) of the topic outside a bracketed qualifier is relevant.
# Chosen on kiryu-r3 (benchmarks/calibrate_abstention.py --head): 0.9 and 1.0 tie; 0.6-0.8 answer more
# of the questions whose sources were removed.
HEAD_MIN_COVERAGE = 0.9

_OPEN, _CLOSE = "（(", "）)"
# 「議会で…質問」, 「一般質問」, 「質疑」: about what members asked, not 「よくある質問」 in an FAQ.
_ASKS_MEMBER_QUESTION = re.compile("一般質問|代表質問|緊急質問|質疑|(議会|議員|委員会).*質問|質問.*(議会|議員|委員会)")


class Relevance(BaseModel):
    coverage: float
    best_index: int | None
    question_tokens: list[str]
    missing_places: list[str] = []
    passage_coverage: list[float] = []
    head_coverage: list[float] | None = Field(None, description="per passage; None = no bracketed qualifier")
    by_member: list[bool] | None = Field(
        None, description="per passage, spoken by a council member (議員, 委員); None = the rule does not apply"
    )

    def relevant_indexes(self, threshold: float, head_threshold: float = HEAD_MIN_COVERAGE) -> list[int]:
        heads = self.head_coverage or [0.0] * len(self.passage_coverage)
        return [i for i, (full, head) in enumerate(zip(self.passage_coverage, heads, strict=True))
                if full >= threshold or head >= head_threshold]

    def abstain_reason(
        self, threshold: float, head_threshold: float = HEAD_MIN_COVERAGE, member_rule: bool = True
    ) -> str | None:
        """Why nothing retrieved answers the question, or None when something does.

        low_relevance: no passage holds enough of the question's words (or of its topic outside the
        brackets); place_not_found: a place the question names appears nowhere (a question about
        当別町 must not be answered from 日野町's plan); member_question_not_found: the question asks
        what members asked, and only officials' passages are about it.
        """
        relevant = self.relevant_indexes(threshold, head_threshold)
        if not relevant:
            return "low_relevance"
        if self.missing_places:
            return "place_not_found"
        if member_rule and self.by_member is not None and not any(self.by_member[i] for i in relevant):
            return "member_question_not_found"
        return None


def split_qualifier(question: str) -> tuple[str, str] | None:
    """(the question outside brackets, the bracketed text), or None when nothing is bracketed.

    Brackets nest and mix widths (「…(県内の事例)…」); a detail cut off mid-bracket leaves them
    unbalanced, and then everything between the first opening and the last closing bracket counts
    as the qualifier.
    """
    if not any(c in _OPEN for c in question) or not any(c in _CLOSE for c in question):
        return None
    depth, head, inner = 0, [], []
    for char in question:
        if char in _OPEN:
            depth += 1
            inner.append(" ")
        elif char in _CLOSE:
            depth -= 1
            if depth < 0:
                break
            inner.append(" ")
        else:
            (inner if depth else head).append(char)
    if depth == 0:
        return "".join(head), "".join(inner)
    first = min(i for i, c in enumerate(question) if c in _OPEN)
    last = max(i for i, c in enumerate(question) if c in _CLOSE)
    if last < first:
        return None
    return question[:first] + question[last + 1 :], question[first + 1 : last]


def asks_member_question(question: str) -> bool:
    """「…議会でどのような質問と答弁が…」, 「一般質問で…」: what members asked is part of the answer."""
    return bool(_ASKS_MEMBER_QUESTION.search(question))


def place_names(question: str) -> list[str]:
    """Place names (Sudachi 固有名詞・地名, whole words) in the question, NFKC."""
    dictionary = _place_dictionary()
    tokenizer = dictionary.tokenizer(mode=SplitMode.C)
    names = []
    for morpheme in tokenizer.tokenize(unicodedata.normalize("NFKC", question)):
        pos = morpheme.part_of_speech()
        if pos[1] == "固有名詞" and pos[2] == "地名" and len(morpheme.surface()) >= 2:
            names.append(morpheme.surface())
    return list(dict.fromkeys(names))


def _stem(name: str) -> str:
    return name[:-1] if len(name) >= 3 and name[-1] in "都道府県市区町村" else name


# (place token, doc ids) -> doc ids that mention it somewhere; answered by the BM25 index.
MentionLookup = Callable[[str, Sequence[str]], set[str]]
# question tokens -> idf per token (BM25's): rare, telling words weigh most in coverage.
IdfLookup = Callable[[Sequence[str]], dict[str, float]]


def _place_found(name: str, texts: Sequence[str], doc_ids: Sequence[str], mentions: MentionLookup | None) -> bool:
    """Named in a passage, its title, or elsewhere in a retrieved passage's document."""
    stem = _stem(name)
    if any(stem in text for text in texts):
        return True
    if mentions is None:
        return False
    terms = tokenize(stem)
    return bool(terms) and bool(mentions(terms[0], doc_ids))


# Interrogatives name what is asked for, so a passage that answers never contains them (何曜 → 月曜).
_INTERROGATIVES = frozenset({"いつ", "どこ", "誰", "だれ", "いくら", "幾ら", "いくつ", "幾つ", "どれ", "どちら", "どう", "なぜ", "何故"})


def _is_interrogative(token: str) -> bool:
    return token in _INTERROGATIVES or token.startswith("何") or token.startswith("幾")


def question_tokens(question: str) -> list[str]:
    """Content tokens of the question without its boilerplate (「について議会でどのような…」)."""
    normalized = query_normalize(question) or question
    return [t for t in dict.fromkeys(tokenize(normalized)) if not _is_interrogative(t)]


def coverage(tokens: Sequence[str], present: AbstractSet[str], weights: dict[str, float] | None = None) -> float:
    """Share of the question's words (weighted by idf when given) among a passage's tokens."""
    if not tokens:
        return 0.0
    weight = (lambda t: weights.get(t, 1.0)) if weights else (lambda t: 1.0)
    total = sum(weight(t) for t in tokens)
    return sum(weight(t) for t in tokens if t in present) / total if total else 0.0


def assess(
    question: str,
    passages: Sequence[Passage],
    idf: IdfLookup | None = None,
    mentions: MentionLookup | None = None,
) -> Relevance:
    places = place_names(question)
    # Place names are checked on their own below: documents say 本町/本市 where questions name the town.
    place_tokens = {t for name in places for t in tokenize(name)}
    tokens = [t for t in question_tokens(question) if t not in place_tokens]
    weights = idf(tokens) if idf is not None and tokens else None
    # Sudachi is the slow part: each passage is tokenised once, for both coverages below.
    passage_tokens = [set(tokenize(passage.text)) for passage in passages]
    per_passage = [coverage(tokens, present, weights) for present in passage_tokens]
    best_index = max(range(len(per_passage)), key=lambda i: (per_passage[i], -i)) if any(per_passage) else None
    head_coverage = None
    split = split_qualifier(question)
    if split is not None:
        head_tokens = [t for t in question_tokens(split[0]) if t not in place_tokens]
        if head_tokens and len(head_tokens) < len(tokens):
            head_weights = idf(head_tokens) if idf is not None else None
            head_coverage = [round(coverage(head_tokens, present, head_weights), 4) for present in passage_tokens]
    by_member = None
    if asks_member_question(question) and any(p.role for p in passages):
        by_member = [p.role in QUESTIONER_ROLES for p in passages]
    texts = [unicodedata.normalize("NFKC", p.text + " " + p.title) for p in passages]
    doc_ids = list(dict.fromkeys(p.doc_id for p in passages))
    missing = [name for name in places if not _place_found(name, texts, doc_ids, mentions)]
    return Relevance(
        coverage=round(per_passage[best_index], 4) if best_index is not None else 0.0,
        best_index=best_index,
        question_tokens=tokens,
        missing_places=missing,
        passage_coverage=[round(c, 4) for c in per_passage],
        head_coverage=head_coverage,
        by_member=by_member,
    )
