"""Is anything retrieved actually about the question? The abstention decision.

Fused retrieval scores are relative to each query (min-max fusion puts the best hit at 1.0 whatever
it is), so they cannot say "nothing relevant". What can: how much of the question's content words a
passage contains (lexical coverage over Sudachi tokens, each word weighted by its BM25 idf so that
rare, telling words count most), which is absolute. The threshold is calibrated by benchmarks/calibrate_abstention.py on questions whose
gold documents were removed from the index (see README for the numbers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import BaseModel

from retriever.search import Passage
from retriever.tokenize import query_normalize, tokenize

# Calibrated on both dev sets with gold documents removed (benchmarks/calibrate_abstention.py, e5,
# top 5 passages). Balanced accuracy (answer rate / abstain rate): jsquad-valid 0.837 (0.950 / 0.723),
# kiryu-r4 0.617 (0.765 / 0.470). 0.75 maximises the mean (0.868 / 0.617) but answers only 44% of
# kiryu's answerable questions; on council minutes removing a member's speeches leaves the answers to
# them, so "should abstain" there is partly wrong and we favour answering.
DEFAULT_MIN_COVERAGE = 0.6


class Relevance(BaseModel):
    coverage: float
    best_index: int | None
    question_tokens: list[str]

    def answerable(self, threshold: float) -> bool:
        return self.best_index is not None and self.coverage >= threshold


# Interrogatives name what is asked for, so a passage that answers never contains them (何曜 → 月曜).
_INTERROGATIVES = frozenset({"いつ", "どこ", "誰", "だれ", "いくら", "幾ら", "いくつ", "幾つ", "どれ", "どちら", "どう", "なぜ", "何故"})


def _is_interrogative(token: str) -> bool:
    return token in _INTERROGATIVES or token.startswith("何") or token.startswith("幾")


def question_tokens(question: str) -> list[str]:
    """Content tokens of the question without its boilerplate (「について議会でどのような…」)."""
    normalized = query_normalize(question) or question
    return [t for t in dict.fromkeys(tokenize(normalized)) if not _is_interrogative(t)]


def coverage(tokens: Sequence[str], passage_text: str, weights: dict[str, float] | None = None) -> float:
    """Share of the question's words (weighted by idf when given) that the passage contains."""
    if not tokens:
        return 0.0
    present = set(tokenize(passage_text))
    weight = (lambda t: weights.get(t, 1.0)) if weights else (lambda t: 1.0)
    total = sum(weight(t) for t in tokens)
    return sum(weight(t) for t in tokens if t in present) / total if total else 0.0


def assess(
    question: str, passages: Sequence[Passage], idf: Callable[[Sequence[str]], dict[str, float]] | None = None
) -> Relevance:
    tokens = question_tokens(question)
    weights = idf(tokens) if idf is not None and tokens else None
    best, best_index = 0.0, None
    for index, passage in enumerate(passages):
        value = coverage(tokens, passage.text, weights)
        if value > best:
            best, best_index = value, index
    return Relevance(coverage=round(best, 4), best_index=best_index, question_tokens=tokens)
