"""Which retrieved passages the model reads: fewer when one clearly answers (issue #17).

On a 2-core server the local model reads its prompt at ~50-70 tokens/s, and each 300-character
passage is ~250 tokens, so every passage left out saves 3-5 s before the first token. The signals
are the ones the pipeline already has: the passage holding the best evidence sentence (the
extractive selection) and each passage's idf-weighted share of the question's words (relevance).
When the evidence passage holds clearly more of the question than the others, the model reads it
(and at most one other passage that holds about as much); when several passages are close, it
reads them all, as before. Passage numbers are not changed: a shown passage keeps the [n] of the
sources list, so citations and the checks still point at the same passages.

The passages can also share one character budget (`prompt_windows`, `YAKUBA_ANSWER_PROMPT_CHARS`):
at most `prompt_chars` characters of passage text however many passages a prompt holds, each
focused window an equal share, never less than `MIN_WINDOW_CHARS` (a window must hold a sentence and
its context); when the budget cannot give every passage that, the passages ranked lowest are left
out, the evidence passage never. It is off by default: 600 characters cut council prompts by a third
but cost kiryu-r4 citation recall −0.118 [−0.238, −0.013] and saved no total time (docs/llm.md).

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
# The shortest focused window worth showing: about two sentences of a council speech or a 議案 heading
# with its amount.
MIN_WINDOW_CHARS = 150


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


def prompt_windows(
    numbers: Sequence[int],
    evidence_n: int | None,
    *,
    passage_chars: int,
    prompt_chars: int | None,
    min_chars: int = MIN_WINDOW_CHARS,
) -> dict[int, int]:
    """Passage number -> the characters of its focused window, within one budget for the prompt.

    `numbers` are the passages chosen to be read, best-ranked first after sorting by number (the
    sources list's order); `prompt_chars` None means no shared budget (every window `passage_chars`).
    """
    chosen = sorted(numbers)
    if not chosen:
        return {}
    if prompt_chars is None:
        return dict.fromkeys(chosen, passage_chars)
    floor = min(min_chars, passage_chars)
    fits = max(1, prompt_chars // floor)
    if len(chosen) > fits:  # leave out the lowest-ranked passages, never the evidence passage
        keep = [evidence_n] if evidence_n in chosen else []
        keep += [n for n in chosen if n != evidence_n][: fits - len(keep)]
        chosen = sorted(keep)
    each = max(floor, min(passage_chars, prompt_chars // len(chosen)))
    return dict.fromkeys(chosen, each)
