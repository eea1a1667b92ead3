"""Simple tables (単純集計), cross tables (クロス集計) and NPS, computed from the answers only.

Percentages are of the respondents who answered the question (n); 無回答 is shown beside them. For
multiple choice a respondent counts once per option, so the %s add up to more than 100. Cross tables
test independence with a chi-square test and mark the cells whose adjusted standardised residual is
beyond ±1.96 (the cells that make the difference); for multiple choice, where answers are not
exclusive, each option is tested on its own (chosen / not chosen by group) and the table carries no
single chi-square.
"""

from __future__ import annotations

import statistics

import numpy as np

from yakuba.assistant.surveys.kinds import Question, key
from yakuba.assistant.surveys.schema import NPS, CountRow, CrossCell, CrossTable, NumberSummary, QuestionTable

RESIDUAL_MARK = 1.96
CROSS_OPTIONS = 30  # an open list (訪問場所: 1,000+ places) is crossed on its most chosen options
TABULATED = frozenset({"attribute", "single", "multiple", "scale", "score", "number", "text", "timestamp"})


def pct(count: int, base: int) -> float:
    return round(100.0 * count / base, 1) if base else 0.0


def question_table(question: Question) -> QuestionTable:
    answered = [v for v in question.values if v is not None]
    n, no_answer = len(answered), len(question.values) - len(answered)
    table = QuestionTable(question=question.name, kind=question.kind, n=n, no_answer=no_answer)
    if question.kind in {"attribute", "single", "scale", "multiple"}:
        counts = dict.fromkeys(question.options, 0)
        for value in answered:
            for option in value if isinstance(value, frozenset) else (value,):
                counts[option] = counts.get(option, 0) + 1
        table.rows = [CountRow(label=o, count=c, pct=pct(c, n)) for o, c in counts.items()]
        table.base = "respondents" if question.kind == "multiple" else "answers"
    elif question.kind == "score":
        scores = [int(v) for v in answered]
        table.rows = [CountRow(label=str(i), count=scores.count(i), pct=pct(scores.count(i), n)) for i in range(11)]
        table.nps = nps(scores)
    elif question.kind == "number" and answered:
        table.summary = NumberSummary(
            mean=round(statistics.fmean(answered), 2), median=float(statistics.median(answered)),
            minimum=float(min(answered)), maximum=float(max(answered)),
            sd=round(statistics.stdev(answered), 2) if n > 1 else 0.0,
        )
    return table


def nps(scores: list[int]) -> NPS:
    """Net Promoter Score: % of 9–10 minus % of 0–6, on the respondents who gave a score."""
    promoters = sum(s >= 9 for s in scores)
    detractors = sum(s <= 6 for s in scores)
    passives = len(scores) - promoters - detractors
    value = round(pct(promoters, len(scores)) - pct(detractors, len(scores)), 1) if scores else 0.0
    return NPS(promoters=promoters, passives=passives, detractors=detractors, nps=value,
               mean=round(statistics.fmean(scores), 2) if scores else 0.0)


def cross_table(question: Question, by: Question) -> CrossTable:
    """`question` (rows of options) broken down by the groups of `by`; respondents missing either are left out."""
    groups = list(by.options)
    options = _cross_options(question)
    index = {g: i for i, g in enumerate(groups)}
    column = {o: j for j, o in enumerate(options)}
    counts = np.zeros((len(groups), len(options)), dtype=np.int64)
    group_n = np.zeros(len(groups), dtype=np.int64)
    for group, value in zip(by.values, question.values, strict=True):
        if group is None or value is None or group not in index:
            continue
        i = index[group]
        group_n[i] += 1
        for option in _as_options(question, value):
            if option in column:
                counts[i, column[option]] += 1
    keep = group_n > 0
    groups = [g for g, k in zip(groups, keep, strict=True) if k]
    counts, group_n = counts[keep], group_n[keep]
    table = CrossTable(question=question.name, by=by.name, groups=groups, options=options,
                       group_n=group_n.tolist(), cells=[])
    shortened = len(options) < len(question.options) and question.kind != "score"
    if shortened and question.kind != "multiple":  # other answers would vanish from the rows: keep them whole
        groups_total = counts.sum(axis=1)
        if (groups_total < group_n).any():
            table.note = f"上位{CROSS_OPTIONS}項目のみ / top {CROSS_OPTIONS} options only"
    if question.kind == "multiple":
        residuals = _multiple_residuals(counts, group_n)
        table.note = "複数回答: 選択肢ごとに検定 / multiple choice: each option tested on its own"
    else:
        residuals, table.chi2, table.dof, table.p_value, note = _chi_square(counts)
        table.note = "、".join(n for n in (table.note, note) if n) or None
    table.cells = [
        [
            CrossCell(count=int(counts[i, j]), pct=pct(int(counts[i, j]), int(group_n[i])),
                      residual=None if residuals is None else round(float(residuals[i, j]), 2),
                      flag=_flag(None if residuals is None else float(residuals[i, j])))
            for j in range(len(options))
        ]
        for i in range(len(groups))
    ]
    return table


def _cross_options(question: Question) -> list[str]:
    if question.kind == "score":
        return ["推奨者（9〜10）", "中立者（7〜8）", "批判者（0〜6）"]
    if len(question.options) <= CROSS_OPTIONS:
        return list(question.options)
    counts: dict[str, int] = dict.fromkeys(question.options, 0)
    for value in question.values:
        for option in value if isinstance(value, frozenset) else (() if value is None else (value,)):
            counts[option] = counts.get(option, 0) + 1
    top = set(sorted(counts, key=lambda o: -counts[o])[:CROSS_OPTIONS])
    return [o for o in question.options if o in top]


def _as_options(question: Question, value: object) -> tuple[str, ...]:
    if isinstance(value, frozenset):
        return tuple(value)
    if question.kind == "score":
        score = float(value)  # type: ignore[arg-type]
        return (_cross_options(question)[0 if score >= 9 else 1 if score >= 7 else 2],)
    return (value,)  # type: ignore[return-value]


def _chi_square(counts: np.ndarray):  # noqa: ANN202 - a tuple of five
    """Pearson's chi-square on the non-empty rows and columns, and adjusted residuals for every cell."""
    from scipy.stats import chi2_contingency

    rows = counts.sum(axis=1)
    cols = counts.sum(axis=0)
    total = counts.sum()
    live_r, live_c = rows > 0, cols > 0
    if live_r.sum() < 2 or live_c.sum() < 2:
        return None, None, None, None, "検定できません（グループまたは選択肢が1つ） / not testable: one group or option"
    observed = counts[np.ix_(live_r, live_c)]
    chi2, p, dof, expected = chi2_contingency(observed, correction=False)
    residuals = np.zeros(counts.shape, dtype=float)
    r = observed.sum(axis=1, keepdims=True) / total
    c = observed.sum(axis=0, keepdims=True) / total
    with np.errstate(divide="ignore", invalid="ignore"):
        adjusted = (observed - expected) / np.sqrt(expected * (1 - r) * (1 - c))
    residuals[np.ix_(live_r, live_c)] = np.nan_to_num(adjusted)
    small = float((expected < 5).mean())
    note = (f"期待度数5未満のセルが{small * 100:.0f}%あり、検定は参考値です / {small:.0%} of cells expect <5: indicative only"
            if small > 0.2 else None)
    return residuals, float(chi2), int(dof), float(p), note


def _multiple_residuals(counts: np.ndarray, group_n: np.ndarray) -> np.ndarray:
    """Per option, a 2×k table (chosen / not chosen by group): its adjusted residuals for 'chosen'."""
    total = group_n.sum()
    residuals = np.zeros(counts.shape, dtype=float)
    if total == 0:
        return residuals
    share_group = group_n / total
    for j in range(counts.shape[1]):
        chosen = counts[:, j].sum()
        p = chosen / total
        expected = group_n * p
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (counts[:, j] - expected) / np.sqrt(expected * (1 - p) * (1 - share_group))
        residuals[:, j] = np.nan_to_num(z)
    return residuals


def _flag(residual: float | None) -> str | None:
    if residual is None:
        return None
    if residual >= RESIDUAL_MARK:
        return "high"
    if residual <= -RESIDUAL_MARK:
        return "low"
    return None


def period(question: Question) -> tuple[str, str] | None:
    """First and last answer date of a timestamp column (as written, compared as dates)."""
    dated = []
    for value in question.values:
        if value is None:
            continue
        parts = key(str(value)).replace("年", "/").replace("月", "/").replace("日", "").replace("-", "/").split()
        try:
            y, m, d = (int(x) for x in parts[0].split("/")[:3])
        except ValueError:
            continue
        dated.append(((y, m, d), f"{y:04d}-{m:02d}-{d:02d}"))
    if not dated:
        return None
    return min(dated)[1], max(dated)[1]
