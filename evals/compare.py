"""Compare two answer-benchmark reports: per-metric deltas with a paired bootstrap 95% interval.

Questions are matched by id, and each metric is compared on the questions where both runs define it,
so the delta is "B minus A on the same questions". The interval resamples those per-question
differences with replacement (fixed seed, so the numbers re-run identically); when it excludes 0 the
change is unlikely to be noise of this question sample. Latency is compared the same way on
per-question milliseconds (mean difference, not percentiles).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from yakuba.evals.answers import METRICS, AnswerReport
from yakuba.evals.report import load_report

COMPARE_JSON = "compare.json"
COMPARE_MD = "compare.md"
LATENCY_KEYS = ("ttft_ms", "total_ms")


class MetricDelta(BaseModel):
    metric: str
    n: int = Field(description="Matched questions where both runs define the metric.")
    a: float | None
    b: float | None
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    excludes_zero: bool | None

    @property
    def verdict(self) -> str:
        if self.excludes_zero is None:
            return "n/a"
        if not self.excludes_zero:
            return "n.s."  # not significant: the interval includes 0
        better = (self.delta or 0) > 0 if self.metric not in LATENCY_KEYS else (self.delta or 0) < 0
        return "B better" if better else "B worse"


class Comparison(BaseModel):
    a: str
    b: str
    a_engine: str
    b_engine: str
    dataset_a: str
    dataset_b: str
    matched: int
    only_a: int
    only_b: int
    n_boot: int
    seed: int
    warnings: list[str] = Field(default_factory=list)
    metrics: list[MetricDelta]


def paired_bootstrap(
    differences: np.ndarray, *, n_boot: int = 10_000, seed: int = 0, confidence: float = 0.95
) -> tuple[float, float]:
    """Percentile interval of the mean of `differences` over `n_boot` resamples (same size, with replacement)."""
    if differences.size == 0:
        raise ValueError("no paired values to resample")
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    for start in range(0, n_boot, 1000):  # chunks keep memory small for large question sets
        stop = min(n_boot, start + 1000)
        picks = rng.integers(0, differences.size, size=(stop - start, differences.size))
        means[start:stop] = differences[picks].mean(axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(low), float(high)


def _values(report: AnswerReport, metric: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for record in report.questions:
        if metric in LATENCY_KEYS:
            value = getattr(record, metric)
            if record.error:
                continue
        else:
            value = record.scores.get(metric)
        if value is not None:
            out[record.id] = float(value)
    return out


def compare_reports(
    a: AnswerReport, b: AnswerReport, *, a_name: str = "A", b_name: str = "B", n_boot: int = 10_000, seed: int = 0
) -> Comparison:
    ids_a = {r.id for r in a.questions}
    ids_b = {r.id for r in b.questions}
    matched = ids_a & ids_b
    if not matched:
        raise ValueError("2つのレポートに共通の質問がありません / the reports share no question ids")
    warnings: list[str] = []
    if a.dataset_hash != b.dataset_hash or a.questions_hash != b.questions_hash:
        warnings.append("データセットが異なります / the reports were run on different dataset contents")
    plan_a = {r.id: r.should_abstain for r in a.questions}
    plan_b = {r.id: r.should_abstain for r in b.questions}
    differing = sum(1 for q in matched if plan_a[q] != plan_b[q])
    if differing:
        warnings.append(
            f"回答不能にした質問が {differing} 問で異なります（--unanswerable-share / --seed / --limit をそろえてください）"
            f" / {differing} questions differ in which must be abstained on: use the same share, seed and limit"
        )
    deltas: list[MetricDelta] = []
    for metric in (*METRICS, *LATENCY_KEYS):
        va, vb = _values(a, metric), _values(b, metric)
        common = sorted(matched & va.keys() & vb.keys())
        if not common:
            deltas.append(MetricDelta(metric=metric, n=0, a=None, b=None, delta=None, ci_low=None, ci_high=None,
                                      excludes_zero=None))
            continue
        xa = np.array([va[q] for q in common])
        xb = np.array([vb[q] for q in common])
        diff = xb - xa
        low, high = paired_bootstrap(diff, n_boot=n_boot, seed=seed)
        deltas.append(
            MetricDelta(
                metric=metric, n=len(common), a=float(xa.mean()), b=float(xb.mean()), delta=float(diff.mean()),
                ci_low=low, ci_high=high, excludes_zero=bool(low > 0 or high < 0),
            )
        )
    return Comparison(
        a=a_name, b=b_name, a_engine=a.config.engine, b_engine=b.config.engine, dataset_a=a.dataset,
        dataset_b=b.dataset, matched=len(matched), only_a=len(ids_a - matched), only_b=len(ids_b - matched),
        n_boot=n_boot, seed=seed, warnings=warnings, metrics=deltas,
    )


def rows(comparison: Comparison) -> list[list[str]]:
    """Table rows (metric, n, A, B, delta, 95% CI, verdict) shared by the CLI and compare.md."""
    out = []
    for m in comparison.metrics:
        digits = 1 if m.metric in LATENCY_KEYS else 3
        delta = "–" if m.delta is None else f"{m.delta:+.{digits}f}"
        ci = "–" if m.ci_low is None else f"[{m.ci_low:+.{digits}f}, {m.ci_high:+.{digits}f}]"
        a = "–" if m.a is None else f"{m.a:.{digits}f}"
        b = "–" if m.b is None else f"{m.b:.{digits}f}"
        out.append([m.metric, str(m.n), a, b, delta, ci, m.verdict])
    return out


HEADER = ["metric", "n", "A", "B", "Δ", "95% CI", "verdict"]


def render_markdown(comparison: Comparison) -> str:
    c = comparison
    lines = [
        "# 比較 / comparison",
        "",
        f"- A: `{c.a}` ({c.dataset_a}, {c.a_engine})",
        f"- B: `{c.b}` ({c.dataset_b}, {c.b_engine})",
        f"- matched questions: {c.matched} (only in A: {c.only_a}, only in B: {c.only_b})",
        f"- paired bootstrap: {c.n_boot} resamples of per-question differences, seed {c.seed}, 95% percentile interval",
        *[f"- ⚠ {w}" for w in c.warnings],
        "",
        "| " + " | ".join(HEADER) + " |",
        "|---|---:|---:|---:|---:|---|---|",
        *["| " + " | ".join(row) + " |" for row in rows(c)],
        "",
        "Latency rows compare per-question milliseconds (lower is better). "
        "n.s. = the interval includes 0 (no change shown at this sample size).",
        "",
    ]
    return "\n".join(lines)


def run_compare(
    report_a: str | Path, report_b: str | Path, *, out_dir: str | Path | None = None, n_boot: int = 10_000,
    seed: int = 0,
) -> tuple[Comparison, dict[str, Any]]:
    """Load, compare and (with `out_dir`) write compare.md / compare.json; returns the comparison and paths."""
    a, b = load_report(report_a), load_report(report_b)
    comparison = compare_reports(a, b, a_name=str(report_a), b_name=str(report_b), n_boot=n_boot, seed=seed)
    written: dict[str, Any] = {}
    if out_dir is not None:
        folder = Path(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / COMPARE_JSON).write_text(
            json.dumps(comparison.model_dump(), ensure_ascii=False, indent=1), encoding="utf-8"
        )
        (folder / COMPARE_MD).write_text(render_markdown(comparison), encoding="utf-8")
        written = {"json": folder / COMPARE_JSON, "md": folder / COMPARE_MD}
    return comparison, written
