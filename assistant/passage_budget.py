"""Which retrieved passages the model reads: fewer when one clearly answers (issue #17).

On a 2-core server the local model reads its prompt at ~50-70 tokens/s, and each 300-character
passage is ~250 tokens, so every passage left out saves 3-5 s before the first token. The signals
are the ones the pipeline already has: the passage holding the best evidence sentence (the
extractive selection) and each passage's idf-weighted share of the question's words (relevance).
When the evidence passage holds clearly more of the question than the others, the model reads it
(and at most one other passage that holds about as much); when several passages are close, it
reads them all, as before. Passage numbers are not changed: a shown passage keeps the [n] of the
sources list, so citations and the checks still point at the same passages.

Measured in benchmarks/prompt_budget.py (docs/llm.md has the numbers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# The evidence passage must hold at least this share (idf-weighted) of the question's words.
MIN_DOMINANT_COVERAGE = 0.8
# Another passage within this much of the evidence passage's coverage is a contender for the answer.
CONTENDER_MARGIN = 0.25
# The most passages an adaptive prompt carries; more contenders than that = no clear answer, send all.
MAX_ADAPTIVE_PASSAGES = 2


def prompt_passages(
    numbers: Sequence[int],
    coverage: Mapping[int, float],
    evidence_n: int | None,
    *,
    min_coverage: float = MIN_DOMINANT_COVERAGE,
    margin: float = CONTENDER_MARGIN,
    most: int = MAX_ADAPTIVE_PASSAGES,
) -> list[int]:
    """The passage numbers to put in the prompt, in order: the evidence passage and its close
    contenders when they are few, otherwise every number in `numbers`.

    `coverage` maps a passage number to its share of the question's words (0-1); `evidence_n` is
    the passage of the best evidence sentence (None when nothing was selected).
    """
    everything = sorted(numbers)
    if evidence_n is None or evidence_n not in everything:
        return everything
    best = coverage.get(evidence_n, 0.0)
    if best < min_coverage:
        return everything
    contenders = [n for n in everything if n != evidence_n and coverage.get(n, 0.0) >= best - margin]
    if 1 + len(contenders) > most:
        return everything
    return sorted([evidence_n, *contenders])
