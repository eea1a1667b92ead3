"""Fusing ranked lists from several retrievers (dense, BM25, …) into one.

Both functions are pure: they take `{retriever name: [(id, score), …] best first}` and per-retriever
weights, and return one `[(id, fused score), …]` best first. Weights exist because the two halves are
not equally good everywhere (on council minutes BM25 beats the small dense model; on encyclopedic
text they are close), so the balance is tuned on dev data rather than fixed at 1:1.

Ties are broken by first appearance (lists in the order given, then rank), so results are
deterministic. A list whose weight is 0 is ignored; a name missing from `weights` weighs 1.0.
`id_weights` overrides a list's weight for single ids: a retriever can be trusted more on some
documents than on others (the council-tuned dense model on minutes, for one).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel

Ranking = Sequence[tuple[str, float]]


class ChunkInfo(BaseModel):
    """What fusion may know of a candidate chunk beyond its ranks (from the store, per query)."""

    doc_id: str = ""
    doc_type: str = ""
    chars: int = 0  # content length without the speaker label: 「○議長（…）\n市民生活部長。」 is 7
    municipality: str | None = None  # the document's town (ingest.municipality), None when unknown
    text_key: str = ""  # equal for chunks whose texts are equal (whitespace aside): duplicates
    # Share of the question's idf mass whose words the chunk contains (search.query_coverage), for
    # the first few hits of each list only; None where not measured.
    coverage: float | None = None
    # Years the chunk's document names in its title or date (core.wareki.years_named, the date's year).
    years: tuple[int, ...] = ()


def _weight(weights: Mapping[str, float], name: str) -> float:
    weight = float(weights.get(name, 1.0))
    if weight < 0 or math.isnan(weight):
        raise ValueError(f"重みは0以上で指定してください: {name}={weight} / weight must be >= 0: {name}={weight}")
    return weight


def _sorted(scores: dict[str, float]) -> list[tuple[str, float]]:
    order = {doc_id: i for i, doc_id in enumerate(scores)}  # dicts keep first-insertion order
    return sorted(scores.items(), key=lambda item: (-item[1], order[item[0]]))


IdWeights = Mapping[str, Mapping[str, float]]  # list name -> {id: weight used instead of the list's}


def weighted_rrf(
    rankings: Mapping[str, Ranking], weights: Mapping[str, float], k: int = 60, id_weights: IdWeights | None = None
) -> list[tuple[str, float]]:
    """Weighted reciprocal rank fusion: score(d) = Σ_lists w · 1 / (k + rank(d)), rank from 1.

    Only ranks matter, so the lists' score scales never need to agree. An id repeated within a list
    counts once, at its best rank.
    """
    if k < 0:
        raise ValueError(f"k は0以上で指定してください / k must be >= 0, got {k}")
    fused: dict[str, float] = {}
    for name, ranking in rankings.items():
        weight = _weight(weights, name)
        overrides = _overrides(id_weights, name)
        if weight == 0 and not overrides:
            continue
        seen: set[str] = set()
        for rank, (doc_id, _score) in enumerate(ranking, start=1):
            if doc_id in seen:
                continue
            seen.add(doc_id)
            if (id_weight := overrides.get(doc_id, weight)) > 0:  # weight 0 ignores the id, as for lists
                fused[doc_id] = fused.get(doc_id, 0.0) + id_weight / (k + rank)
    return _sorted(fused)


def _overrides(id_weights: IdWeights | None, name: str) -> dict[str, float]:
    overrides = dict((id_weights or {}).get(name, {}))
    for doc_id, weight in overrides.items():
        _weight({doc_id: weight}, doc_id)  # same validation as list weights
    return overrides


def _normalise(scores: list[float], method: str) -> list[float]:
    if method == "minmax":
        low, high = min(scores), max(scores)
        if high == low:
            return [1.0] * len(scores)
        return [(s - low) / (high - low) for s in scores]
    if method == "zscore":
        mean = sum(scores) / len(scores)
        std = math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores))
        if std == 0:
            return [0.0] * len(scores)
        return [(s - mean) / std for s in scores]
    raise ValueError(f"normalization must be 'minmax' or 'zscore', got {method!r}")


def weighted_score_fusion(
    rankings: Mapping[str, Ranking],
    weights: Mapping[str, float],
    normalization: Literal["minmax", "zscore"] = "minmax",
    id_weights: IdWeights | None = None,
) -> list[tuple[str, float]]:
    """Weighted sum of per-list normalised scores (min-max to [0, 1], or z-scores).

    Unlike RRF this keeps *how much* better the top hit was. An id missing from a list gets that
    list's lowest normalised score (0 for min-max), i.e. "no better than its worst hit"; an id
    repeated within a list keeps its first (best) score.
    """
    per_list: list[tuple[float, dict[str, float], dict[str, float], float]] = []
    every_id: dict[str, None] = {}
    for name, ranking in rankings.items():
        weight = _weight(weights, name)
        overrides = _overrides(id_weights, name)
        first: dict[str, float] = {}
        for doc_id, score in ranking:
            first.setdefault(doc_id, float(score))
        if (weight == 0 and not overrides) or not first:
            continue
        normalised = dict(zip(first, _normalise(list(first.values()), normalization), strict=True))
        per_list.append((weight, overrides, normalised, min(normalised.values())))
        every_id.update(dict.fromkeys(first))
    fused = {
        doc_id: sum(
            overrides.get(doc_id, weight) * scores.get(doc_id, floor)
            for weight, overrides, scores, floor in per_list
        )
        for doc_id in every_id
    }
    return _sorted(fused)


def top_z(ranking: Ranking) -> float:
    """How far a list's best score stands above the rest of the list, in standard deviations: a
    peaked list (one passage clearly matches) is confident, a flat one is not. 0 for < 3 scores."""
    scores = [float(score) for _, score in ranking]
    if len(scores) < 3:
        return 0.0
    mean = sum(scores) / len(scores)
    std = math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores))
    return 0.0 if std == 0 else (scores[0] - mean) / std


def credited(rankings: Mapping[str, Ranking], id_weights: IdWeights | None = None,
             weights: Mapping[str, float] | None = None) -> dict[str, list[tuple[str, float]]]:  # fmt: skip
    """Each list as fusion credits it: a list weighted 0 is left out, and an id its override weighs 0
    (a short chunk for dense) is not that list's hit."""
    lists: dict[str, list[tuple[str, float]]] = {}
    for name, ranking in rankings.items():
        if _weight(weights or {}, name) == 0:
            continue
        overrides = _overrides(id_weights, name)
        lists[name] = [(doc_id, score) for doc_id, score in ranking if overrides.get(doc_id, 1.0) > 0]
    return lists


def confident_interleave(
    rankings: Mapping[str, Ranking],
    bias: Mapping[str, float] | None = None,
    id_weights: IdWeights | None = None,
    *,
    coverage: Mapping[str, float] | None = None,
    coverage_margin: float | None = None,
    names_asked_year: Mapping[str, bool] | None = None,
) -> list[tuple[str, float]]:
    """Alternate the lists, the most confident one first (`top_z` + its `bias`), skipping repeats.

    A capped rank fusion: every other place goes to each list, so the result can never fall far
    below the better list whichever it is — on council minutes the council-tuned dense model is the
    stronger half, on Wikipedia and PDFs BM25 is (README) — and the list whose top hit stands out
    decides the first place. A list (or an id, `id_weights`) with weight 0 takes no part; the
    fused score is 1 / position.

    `coverage_margin`: when one list's top hit contains clearly more of the question's telling words
    than the others' (`coverage`, chunk id → share of the question's idf mass, by more than the
    margin), that list leads whatever the confidences. Both tops are judged by one yardstick, which
    `top_z` (each scorer's own score spread) cannot give: dense's peak can be another document of the
    right town that shares none of the question's rarer words (issue #16).
    The default margin, 0.2 with dense's head start 0.5, was chosen across five sets of different
    styles (training/tune_fusion.py, README); a margin of 0.1 lost 0.027 on council minutes, where
    dense is the better half even when BM25's top holds slightly more of the words.

    `names_asked_year` (chunk id → whether its document's title or date names a year the question
    names): when the leader's top hit does not and another list's top does, that list leads. A town
    keeps one 施政方針 or 予算 per year; 「令和４年度に創設する…」 is answered by 令和4年度_施政方針,
    not by a 条例 of no year that the dense model finds closer (issue #16). When every top names the
    year (one year's minutes) or none does, confidence decides as before.
    """
    lists = []
    for order, (name, kept) in enumerate(credited(rankings, id_weights).items()):
        if kept:
            lists.append((-(top_z(kept) + (bias or {}).get(name, 0.0)), order, [doc_id for doc_id, _ in kept]))
    lists.sort()
    if coverage_margin is not None and coverage and len(lists) > 1:
        covered = sorted(((coverage.get(ids[0], -1.0), i) for i, (_, _, ids) in enumerate(lists)), reverse=True)
        (best, leader), (runner_up, _) = covered[0], covered[1]
        if runner_up >= 0 and best - runner_up > coverage_margin:
            lists.insert(0, lists.pop(leader))
    if names_asked_year and len(lists) > 1 and not names_asked_year.get(lists[0][2][0], False):
        dated = next((i for i, (_, _, ids) in enumerate(lists) if names_asked_year.get(ids[0], False)), None)
        if dated is not None:
            lists.insert(0, lists.pop(dated))
    fused: dict[str, float] = {}
    for depth in range(max((len(ids) for _, _, ids in lists), default=0)):
        for _, _, ids in lists:
            if depth < len(ids) and ids[depth] not in fused:
                fused[ids[depth]] = 1.0 / (len(fused) + 1)
    return list(fused.items())


def cap_ranks(fused: Sequence[tuple[str, float]], rankings: Mapping[str, Ranking], every: int, depth: int = 10
              ) -> list[tuple[str, float]]:  # fmt: skip
    """Keep `fused`'s order, except that each list's j-th hit (j = 1 … `depth`) is placed no lower
    than position `every` × j: a capped score fusion. Weighted score fusion lets a trusted list
    (the council model on minutes) outvote the other, which is right on average and wrong where the
    trust does not hold; the cap bounds how far the other list's best hits can sink, so the result
    cannot fall far below either list (issue #16). Earliest deadline first, looking ahead so that two
    lists' hits due at one position never make one of them late. The fused score becomes 1 / position.
    """
    if every < 1:
        raise ValueError(f"every は1以上で指定してください / every must be >= 1, got {every}")
    due: dict[str, int] = {}
    for ranking in rankings.values():
        seen: list[str] = []
        for doc_id, _score in ranking:
            if doc_id not in seen:
                seen.append(doc_id)
            if len(seen) == depth:
                break
        for j, doc_id in enumerate(seen, start=1):
            due[doc_id] = min(due.get(doc_id, every * j), every * j)
    in_fused = {doc_id for doc_id, _ in fused}
    order = [doc_id for doc_id, _ in fused] + [doc_id for doc_id in due if doc_id not in in_fused]
    placed: dict[str, float] = {}
    queue = iter(order)
    while len(placed) < len(order):
        position = len(placed) + 1
        pending = sorted((d, doc_id) for doc_id, d in due.items() if doc_id not in placed)
        urgent = any(i + 1 >= d - position + 1 for i, (d, _) in enumerate(pending))
        chosen = pending[0][1] if urgent else next(doc_id for doc_id in queue if doc_id not in placed)
        placed[chosen] = 1.0 / position
    return list(placed.items())


def lead_with_named_year(fused: Sequence[tuple[str, float]], rankings: Mapping[str, Ranking],
                         names_asked_year: Mapping[str, bool]) -> list[tuple[str, float]]:  # fmt: skip
    """When the fused top's document does not name the year the question asks about and a list's
    top does, that hit goes first (the score-fusion form of confident_interleave's year rule)."""
    if not fused or names_asked_year.get(fused[0][0], False):
        return list(fused)
    lead = next((hits[0][0] for hits in rankings.values() if hits and names_asked_year.get(hits[0][0], False)), None)
    if lead is None:
        return list(fused)
    top = fused[0][1]
    return [(lead, top)] + [(doc_id, score) for doc_id, score in fused if doc_id != lead]


def prefer_towns(fused: Sequence[tuple[str, float]], info: Mapping[str, ChunkInfo], towns: Sequence[str]
                 ) -> list[tuple[str, float]]:  # fmt: skip
    """Move chunks of *other* towns behind the rest when the question names a town some candidate
    belongs to. Chunks of no known town (laws, 白書, Wikipedia) keep their place; order within each
    group is kept. A question naming no town, or only towns absent from the candidates, is untouched.
    """
    wanted = set(towns)
    if not wanted or not any(info[c].municipality in wanted for c, _ in fused if c in info):
        return list(fused)

    def elsewhere(chunk_id: str) -> bool:
        town = info[chunk_id].municipality if chunk_id in info else None
        return town is not None and town not in wanted

    return [hit for hit in fused if not elsewhere(hit[0])] + [hit for hit in fused if elsewhere(hit[0])]


def collapse_duplicates(fused: Sequence[tuple[str, float]], info: Mapping[str, ChunkInfo]
                        ) -> tuple[list[tuple[str, float]], dict[str, list[str]]]:  # fmt: skip
    """One hit per identical text: the best-ranked copy stays, the others become its `also_in`.

    Minutes repeat procedural lines (「○議長（…）\\n市民生活部長。」) and several documents quote the same
    paragraph; ten copies of one text are one passage to a reader. Returns (hits, {kept id: [ids]}).
    """
    kept: list[tuple[str, float]] = []
    first_with: dict[str, str] = {}
    also_in: dict[str, list[str]] = {}
    for chunk_id, score in fused:
        key = info[chunk_id].text_key if chunk_id in info else ""
        if key and key in first_with:
            also_in.setdefault(first_with[key], []).append(chunk_id)
            continue
        if key:
            first_with[key] = chunk_id
        kept.append((chunk_id, score))
    return kept, also_in
