"""PNG charts of the tables: bars for choices, 100% stacked bars for scales, the NPS distribution
and theme sizes. Drawn with matplotlib's object API (no pyplot state: safe in the API's threads).

Japanese labels need a Japanese font; `make browser` installs IPA Gothic (fonts-ipafont-gothic). The
first installed font of JAPANESE_FONTS is used; without one the charts are still drawn (labels as
boxes) and the analysis carries a warning, because a missing font must not stop a report.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache

from yakuba.assistant.surveys.schema import QuestionTable, ThemeSet

JAPANESE_FONTS = ("IPAexGothic", "IPAGothic", "IPAPGothic", "Noto Sans CJK JP", "Noto Sans JP", "TakaoGothic",
                  "VL Gothic", "Yu Gothic", "Hiragino Sans", "MS Gothic")
TOP_OPTIONS = 15
SCALE_COLORS = ("#1f5fa8", "#6b9fd4", "#c8c8c8", "#f0a35e", "#c8502a", "#8c2d04", "#555555")
NPS_COLORS = {"detractor": "#c8502a", "passive": "#c8c8c8", "promoter": "#1f5fa8"}
BAR = "#1f5fa8"


@dataclass
class Chart:
    key: str  # a file name without extension
    title: str
    png: bytes
    questions: list[str]


@lru_cache(maxsize=1)
def japanese_font() -> str | None:
    """The family name of an installed Japanese font, or None."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in JAPANESE_FONTS if name in installed), None)


def _figure(height: float):  # noqa: ANN202 - a matplotlib Figure
    from matplotlib.figure import Figure

    font = japanese_font()
    fig = Figure(figsize=(8, max(2.2, height)), dpi=100)
    if font:
        import matplotlib

        matplotlib.rcParams["font.family"] = [font, "DejaVu Sans"]
    return fig


def _png(fig, labels: list[str] = (), legend: bool = False) -> bytes:  # noqa: ANN001
    """PNG bytes; margins from the longest label (tight_layout would draw every chart twice)."""
    width = max((sum(2 if ord(ch) > 0x2E7F else 1 for ch in label) for label in labels), default=4)
    height_in = fig.get_figheight()
    fig.subplots_adjust(left=min(0.5, 0.04 + width * 0.0085), right=0.96, top=1 - 0.45 / height_in,
                        bottom=(1.0 if legend else 0.45) / height_in)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _short(label: str, width: int = 28) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def bar_chart(table: QuestionTable) -> bytes:
    """Horizontal bars of %, largest on top for unordered choices, in order for ordered ones."""
    rows = table.rows if len(table.rows) <= TOP_OPTIONS else sorted(table.rows, key=lambda r: -r.count)[:TOP_OPTIONS]
    fig = _figure(0.35 * len(rows) + 1.2)
    ax = fig.add_subplot()
    labels = [_short(r.label) for r in rows][::-1]
    values = [r.pct for r in rows][::-1]
    bars = ax.barh(labels, values, color=BAR)
    ax.bar_label(bars, labels=[f"{v:.1f}%" for v in values], padding=3, fontsize=8)
    base = "回答者" if table.base == "respondents" else "回答"
    more = f"（上位{TOP_OPTIONS}）" if len(table.rows) > TOP_OPTIONS else ""
    ax.set_title(f"{_short(table.question, 40)}{more}（n={table.n}、{base}に占める%）", fontsize=10)
    ax.set_xlim(0, max(values + [1]) * 1.18)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig, labels)


def stacked_scales(tables: list[QuestionTable]) -> bytes:
    """One 100% bar per scale question (same choices), in the scale's order."""
    options = [r.label for r in tables[0].rows]
    fig = _figure(0.5 * len(tables) + 1.6)
    ax = fig.add_subplot()
    names = [_short(t.question, 24) for t in tables][::-1]
    left = [0.0] * len(tables)
    for k, option in enumerate(options):
        values = [next((r.pct for r in t.rows if r.label == option), 0.0) for t in tables][::-1]
        bars = ax.barh(names, values, left=left, color=SCALE_COLORS[k % len(SCALE_COLORS)], label=option)
        ax.bar_label(bars, labels=[f"{v:.0f}" if v >= 6 else "" for v in values], label_type="center", fontsize=7,
                     color="white" if k in (0, len(options) - 1) else "black")
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_xlim(0, 100)
    ax.legend(ncol=min(len(options), 5), fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), frameon=False)
    ax.set_title(f"{'・'.join(options[:1] + options[-1:])}の割合（n={tables[0].n}〜）", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig, names, legend=True)


def nps_chart(table: QuestionTable) -> bytes:
    """The 0–10 distribution coloured by detractors (0–6), passives (7–8) and promoters (9–10)."""
    fig = _figure(3.2)
    ax = fig.add_subplot()
    colors = [NPS_COLORS["detractor"]] * 7 + [NPS_COLORS["passive"]] * 2 + [NPS_COLORS["promoter"]] * 2
    bars = ax.bar([r.label for r in table.rows], [r.pct for r in table.rows], color=colors)
    ax.bar_label(bars, labels=[f"{r.pct:.0f}%" for r in table.rows], fontsize=7, padding=2)
    nps = table.nps
    ax.set_title(f"{_short(table.question, 30)}（n={table.n}、NPS {nps.nps:+.1f}）" if nps else table.question,
                 fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def theme_chart(themes: ThemeSet) -> bytes:
    """Theme sizes (% of the themed answers)."""
    fig = _figure(0.38 * len(themes.themes) + 1.2)
    ax = fig.add_subplot()
    labels = [_short(t.label, 24) for t in themes.themes][::-1]
    values = [t.share for t in themes.themes][::-1]
    bars = ax.barh(labels, values, color=BAR)
    ax.bar_label(bars, labels=[f"{t.count}件" for t in themes.themes][::-1], padding=3, fontsize=8)
    themed = themes.answers - themes.nothing
    ax.set_title(f"{_short(themes.question, 30)}のテーマ（{themed}件）", fontsize=10)
    ax.set_xlim(0, max(values + [1]) * 1.2)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig, labels)


def all_charts(tables: list[QuestionTable], themes: list[ThemeSet]) -> list[Chart]:
    """Every chart of an analysis, in the questionnaire's order (scales with the same choices together)."""
    charts: list[Chart] = []
    scale_groups: dict[tuple[str, ...], list[QuestionTable]] = {}
    for table in tables:
        if table.kind == "scale" and table.n:
            scale_groups.setdefault(tuple(r.label for r in table.rows), []).append(table)
    drawn: set[tuple[str, ...]] = set()
    for table in tables:
        if not table.n:
            continue
        index = len(charts) + 1
        if table.kind in {"attribute", "single", "multiple"} and table.rows:
            charts.append(Chart(f"{index:02d}_bar", table.question, bar_chart(table), [table.question]))
        elif table.kind == "score":
            charts.append(Chart(f"{index:02d}_nps", table.question, nps_chart(table), [table.question]))
        elif table.kind == "scale":
            options = tuple(r.label for r in table.rows)
            if options in drawn:
                continue
            drawn.add(options)
            group = scale_groups[options]
            title = "・".join(_short(t.question, 16) for t in group[:3]) + ("ほか" if len(group) > 3 else "")
            charts.append(Chart(f"{index:02d}_scale", title, stacked_scales(group), [t.question for t in group]))
    for theme_set in themes:
        if theme_set.themes:
            charts.append(Chart(f"{len(charts) + 1:02d}_themes", f"{theme_set.question}のテーマ",
                                theme_chart(theme_set), [theme_set.question]))
    return charts
