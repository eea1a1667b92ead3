"""Report folders for the answer benchmark: report.json (everything), report.md, report.html, PNG plots.

report.json is the source of truth that `yakuba eval compare`, the API and the UI read; the Markdown
and HTML are views of it for people. Plots use matplotlib's Agg backend (no display needed) and
English labels (the default fonts have no Japanese glyphs).
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from yakuba.core.errors import ErrorKind, InvalidInputError
from yakuba.evals.answer_metrics import mean_defined
from yakuba.evals.answers import LATENCIES, METRICS, AnswerReport, QuestionRecord

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
PLOTS = {"scores": "scores.png", "latency": "latency.png", "breakdown": "breakdown.png"}
LABELS_JA = {
    "answer_contains": "正解を含む",
    "char_f1": "文字 F1",
    "citation_precision": "引用の適合率",
    "citation_recall": "引用の再現率",
    "groundedness": "根拠への忠実さ",
    "abstention_accuracy": "回答保留の正しさ",
    "japanese_only": "日本語のみ",
    "ttft_p50_ms": "最初の文字まで p50 (ms)",
    "ttft_p95_ms": "最初の文字まで p95 (ms)",
    "total_p50_ms": "回答完了まで p50 (ms)",
    "total_p95_ms": "回答完了まで p95 (ms)",
}


class ReportError(InvalidInputError, ValueError):
    """A report folder or file that cannot be read."""

    code = "invalid_report"


def load_report(path: str | Path) -> AnswerReport:
    """Read a report folder (or its report.json)."""
    target = Path(path)
    file = target / REPORT_JSON if target.is_dir() else target
    if not file.is_file():
        raise ReportError(
            f"レポートが見つかりません: {file}", f"report not found: {file}", code="report_not_found", kind=ErrorKind.NOT_FOUND
        )
    try:
        return AnswerReport.model_validate_json(file.read_text(encoding="utf-8"))
    except (ValidationError, ValueError) as exc:
        raise ReportError(
            f"回答評価のレポートとして読めません: {file}", f"not an answer-benchmark report: {file}: {exc}"
        ) from exc


def breakdown(records: Sequence[QuestionRecord]) -> dict[str, dict[str, float | int | None]]:
    """Mean of each metric per group (doc type / category, or answerable vs unanswerable)."""
    groups: dict[str, list[QuestionRecord]] = {}
    for record in records:
        groups.setdefault(record.group, []).append(record)
    table: dict[str, dict[str, float | int | None]] = {}
    for name in sorted(groups):
        rows = groups[name]
        table[name] = {"n": len(rows), **{m: mean_defined(r.scores.get(m) for r in rows) for m in METRICS}}
    return table


def abstention_table(records: Sequence[QuestionRecord]) -> dict[str, dict[str, float | int]]:
    """Abstention accuracy per kind of question: answerable, unanswerable in the file, made unanswerable."""
    kinds: dict[str, list[QuestionRecord]] = {}
    for record in records:
        kinds.setdefault(record.unanswerable or "answerable", []).append(record)
    return {
        kind: {
            "n": len(rows),
            "abstained": sum(1 for r in rows if r.abstained),
            "accuracy": sum(1 for r in rows if r.abstained == r.should_abstain) / len(rows),
        }
        for kind, rows in sorted(kinds.items())
    }


def abstain_reasons(records: Sequence[QuestionRecord]) -> dict[str, int]:
    """How often each abstention reason occurred (answerable and unanswerable questions together)."""
    counts: dict[str, int] = {}
    for record in records:
        if record.abstained:
            name = record.abstain_reason or "unknown"
            counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _reasons_line(records: Sequence[QuestionRecord]) -> str | None:
    reasons = abstain_reasons(records)
    return "理由 / reasons: " + ", ".join(f"{name} {n}" for name, n in reasons.items()) if reasons else None


def _fmt(value: float | int | None, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


# --- plots --------------------------------------------------------------------------------------


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_scores(report: AnswerReport, path: Path) -> Path:
    plt = _pyplot()
    fig, axes = plt.subplots(2, 4, figsize=(15, 6.5))
    for ax in axes.flat[len(METRICS):]:
        ax.set_visible(False)
    for ax, metric in zip(axes.flat, METRICS, strict=False):
        values = [r.scores[metric] for r in report.questions if r.scores.get(metric) is not None]
        if values:
            ax.hist(values, bins=[i / 10 for i in range(11)], color="#3b6ea5", edgecolor="white")
            ax.set_title(f"{metric}\nmean {sum(values) / len(values):.3f}  (n={len(values)})", fontsize=10)
        else:
            ax.set_title(f"{metric}\n(not applicable)", fontsize=10)
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="grey")
        ax.set_xlim(0, 1)
        ax.set_xlabel("score per question")
        ax.set_ylabel("questions")
    fig.suptitle(f"{report.dataset} - {report.config.engine} ({report.config.mode})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_latency(report: AnswerReport, path: Path) -> Path:
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, title in zip(axes, LATENCIES, ("time to first token", "total"), strict=True):
        values = [getattr(r, key) for r in report.questions if getattr(r, key) is not None and not r.error]
        if values:
            ax.hist(values, bins=min(30, max(5, len(values) // 3)), color="#a55b3b", edgecolor="white")
            prefix = key.removesuffix("_ms")
            for p, style in ((50, "--"), (95, ":")):
                value = report.aggregate.get(f"{prefix}_p{p}_ms")
                if value is not None:
                    ax.axvline(value, color="black", linestyle=style, label=f"p{p} {value:.0f} ms")
            ax.legend()
        else:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="grey")
        ax.set_title(title)
        ax.set_xlabel("ms")
        ax.set_ylabel("questions")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_breakdown(report: AnswerReport, path: Path) -> Path:
    plt = _pyplot()
    table = breakdown(report.questions)
    groups = list(table)
    fig, ax = plt.subplots(figsize=(max(7, 1.6 * len(groups) * 1.5), 4.5))
    width = 0.8 / len(METRICS)
    for i, metric in enumerate(METRICS):
        heights = [table[g][metric] or 0.0 for g in groups]
        positions = [j + (i - (len(METRICS) - 1) / 2) * width for j in range(len(groups))]
        ax.bar(positions, heights, width, label=metric)
    ax.set_xticks(range(len(groups)))
    # Group names may be Japanese; the default font lacks the glyphs, so they are numbered here and
    # named in the report's breakdown table.
    ax.set_xticklabels([g if g.isascii() else f"group {j + 1}" for j, g in enumerate(groups)])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("mean score")
    ax.set_title("breakdown by " + ("doc type / category" if any(g not in ("answerable", "unanswerable")
                                                                  for g in groups) else "answerability"))
    ax.legend(fontsize=8, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.1))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# --- Markdown / HTML ----------------------------------------------------------------------------


def _md_cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _citations_text(record: QuestionRecord) -> str:
    return "; ".join(f"[{c.n}] {c.doc_id}" for c in record.citations) or "–"


def _config_rows(report: AnswerReport) -> list[tuple[str, str]]:
    c = report.config
    return [
        ("dataset", f"{report.dataset} ({report.dataset_path})"),
        ("dataset hash (corpus / questions)", f"{report.dataset_hash[:16]} / {report.questions_hash[:16]}"),
        ("engine / mode", f"{c.engine} / {c.mode}"),
        ("chat model", c.chat_model or "–"),
        ("embedding model", c.embedding_model),
        ("questions (unanswerable, errors)", f"{report.n_questions} ({report.n_unanswerable}, {report.n_errors})"),
        ("unanswerable share / seed / questions", f"{c.unanswerable_share} / {c.seed} / "
         + (f"random {c.sample}" if c.sample else f"first {c.limit}" if c.limit else "all")),
        ("groundedness check", f"judge={c.judge}" if c.judge else f"{c.support_method} ≥ {c.support_threshold}"),
        ("git commit", f"{c.git_commit or 'unknown'}{' (dirty)' if c.git_dirty else ''}"),
        ("created", report.created_at),
        ("run time", f"{report.elapsed_s:.0f} s"),
    ]


def _aggregate_rows(report: AnswerReport) -> list[tuple[str, str, str, str]]:
    rows = []
    for key, label in LABELS_JA.items():
        value = report.aggregate.get(key)
        count_key = "ttft_ms" if key.startswith("ttft") else "total_ms" if key.startswith("total") else key
        digits = 3 if key in METRICS else 0
        rows.append((key, label, _fmt(value, digits), str(report.counts.get(count_key, 0))))
    return rows


def render_markdown(report: AnswerReport) -> str:
    lines = [f"# 回答評価 / answer benchmark: {report.dataset} ({report.config.engine})", ""]
    lines += ["| | |", "|---|---|"] + [f"| {k} | {_md_cell(v)} |" for k, v in _config_rows(report)]
    lines += ["", "## 集計 / aggregate", "", "| metric | 指標 | value | n |", "|---|---|---:|---:|"]
    lines += [f"| {k} | {label} | {v} | {n} |" for k, label, v, n in _aggregate_rows(report)]
    lines += ["", "## 回答保留 / abstention", "", "| questions | n | abstained | accuracy |", "|---|---:|---:|---:|"]
    for kind, row in abstention_table(report.questions).items():
        lines.append(f"| {kind} | {row['n']} | {row['abstained']} | {_fmt(row['accuracy'])} |")
    reasons = _reasons_line(report.questions)
    if reasons:
        lines += ["", reasons]
    table = breakdown(report.questions)
    lines += ["", "## 内訳 / breakdown", "", "| group | n | " + " | ".join(METRICS) + " |",
              "|---|---:|" + "---:|" * len(METRICS)]
    for name, row in table.items():
        lines.append(f"| {_md_cell(name)} | {row['n']} | " + " | ".join(_fmt(row[m]) for m in METRICS) + " |")
    lines += ["", "## 図 / plots", ""] + [f"![{name}]({file})" for name, file in PLOTS.items()]
    lines += ["", "## 質問ごと / per question", "",
              "| id | question | answer | citations | contains | F1 | cit. P | cit. R | grounded | abstain ok | ttft ms | total ms |",
              "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in report.questions:
        s = r.scores
        held = f"(保留: {r.abstain_reason}) " if r.abstain_reason else "(保留) "
        answer = (held if r.abstained else "") + (f"ERROR {r.error}" if r.error else r.answer)
        lines.append(
            f"| {_md_cell(r.id)} | {_md_cell(_short(r.question, 80))} | {_md_cell(_short(answer, 200))} | "
            f"{_md_cell(_citations_text(r))} | {_fmt(s['answer_contains'], 0)} | {_fmt(s['char_f1'], 2)} | "
            f"{_fmt(s['citation_precision'], 2)} | {_fmt(s['citation_recall'], 2)} | "
            f"{_fmt(s['groundedness'], 2)} | {_fmt(s['abstention_accuracy'], 0)} | "
            f"{_fmt(r.ttft_ms, 0)} | {_fmt(r.total_ms, 0)} |"
        )
    lines += ["", "Full per-question data, including each answer sentence's support verdict, is in report.json.", ""]
    return "\n".join(lines)


_CSS = """
body{font-family:system-ui,"Hiragino Sans","Noto Sans CJK JP",sans-serif;margin:2em;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 8px;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right}tr.abstained td{background:#fbf7e8}tr.error td{background:#fbe8e8}
td.answer{max-width:520px;white-space:pre-wrap}img{max-width:100%;border:1px solid #eee}
.bad{color:#b00}.good{color:#070}small{color:#666}
"""


def _score_cell(value: float | None, digits: int = 2) -> str:
    if value is None:
        return '<td class="num">–</td>'
    css = "good" if value >= 0.8 else "bad" if value < 0.5 else ""
    return f'<td class="num {css}">{value:.{digits}f}</td>'


def render_html(report: AnswerReport, images: dict[str, Path]) -> str:
    e = html.escape
    parts = [f"<!doctype html><html lang='ja'><head><meta charset='utf-8'><title>回答評価 {e(report.dataset)}</title>"
             f"<style>{_CSS}</style></head><body>",
             f"<h1>回答評価 / answer benchmark: {e(report.dataset)} ({e(report.config.engine)})</h1><table>"]
    parts += [f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in _config_rows(report)]
    parts.append("</table><h2>集計 / aggregate</h2><table><tr><th>metric</th><th>指標</th><th>value</th><th>n</th></tr>")
    parts += [f"<tr><td>{e(k)}</td><td>{e(label)}</td><td class='num'>{e(v)}</td><td class='num'>{n}</td></tr>"
              for k, label, v, n in _aggregate_rows(report)]
    parts.append("</table><h2>回答保留 / abstention</h2><table><tr><th>questions</th><th>n</th><th>abstained</th>"
                 "<th>accuracy</th></tr>")
    for kind, row in abstention_table(report.questions).items():
        parts.append(f"<tr><td>{e(kind)}</td><td class='num'>{row['n']}</td><td class='num'>{row['abstained']}</td>"
                     f"{_score_cell(float(row['accuracy']), 3)}</tr>")
    reasons = _reasons_line(report.questions)
    parts.append("</table>")
    if reasons:
        parts.append(f"<p>{e(reasons)}</p>")
    parts.append("<h2>内訳 / breakdown</h2><table><tr><th>group</th><th>n</th>"
                 + "".join(f"<th>{m}</th>" for m in METRICS) + "</tr>")
    for name, row in breakdown(report.questions).items():
        parts.append(f"<tr><td>{e(name)}</td><td class='num'>{row['n']}</td>"
                     + "".join(_score_cell(row[m], 3) for m in METRICS) + "</tr>")  # type: ignore[arg-type]
    parts.append("</table><h2>図 / plots</h2>")
    for name, path in images.items():
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        parts.append(f"<p><img alt='{e(name)}' src='data:image/png;base64,{data}'></p>")
    parts.append("<h2>質問ごと / per question</h2><table><tr><th>id</th><th>question / gold</th><th>answer</th>"
                 "<th>citations</th><th>contains</th><th>F1</th><th>cit. P</th><th>cit. R</th><th>grounded</th>"
                 "<th>abstain ok</th><th>ttft ms</th><th>total ms</th></tr>")
    for r in report.questions:
        css = "error" if r.error else "abstained" if r.abstained else ""
        gold = " / ".join(r.gold_answers) or "–"
        status = "（回答不能: 正解文書を削除）" if r.unanswerable == "removed" else (
            "（回答不能）" if r.unanswerable == "dataset" else "")
        answer = f"ERROR: {r.error}" if r.error else r.answer
        cites = "<br>".join(f"[{c.n}] {e(c.doc_id)} <small>{e(c.label or c.title)}</small>" for c in r.citations)
        s = r.scores
        parts.append(
            f"<tr class='{css}'><td>{e(r.id)}</td><td>{e(r.question)}<br><small>gold: {e(gold)} · docs: "
            f"{e(', '.join(r.gold_doc_ids) or '–')} {e(status)}</small></td><td class='answer'>{e(answer)}</td>"
            f"<td>{cites or '–'}</td>{_score_cell(s['answer_contains'], 0)}{_score_cell(s['char_f1'])}"
            f"{_score_cell(s['citation_precision'])}{_score_cell(s['citation_recall'])}"
            f"{_score_cell(s['groundedness'])}{_score_cell(s['abstention_accuracy'], 0)}"
            f"<td class='num'>{_fmt(r.ttft_ms, 0)}</td><td class='num'>{_fmt(r.total_ms, 0)}</td></tr>"
        )
    parts.append("</table><p><small>report.json holds every field, including each sentence's support verdict."
                 "</small></p></body></html>")
    return "\n".join(parts)


def write_report(report: AnswerReport, out_dir: str | Path) -> dict[str, Path]:
    """Write report.json, the plots, report.md and report.html into `out_dir`; returns their paths."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written = {"json": folder / REPORT_JSON}
    written["json"].write_text(report.model_dump_json(indent=1), encoding="utf-8")
    images = {
        "scores": plot_scores(report, folder / PLOTS["scores"]),
        "latency": plot_latency(report, folder / PLOTS["latency"]),
        "breakdown": plot_breakdown(report, folder / PLOTS["breakdown"]),
    }
    written.update(images)
    written["md"] = folder / REPORT_MD
    written["md"].write_text(render_markdown(report), encoding="utf-8")
    written["html"] = folder / REPORT_HTML
    written["html"].write_text(render_html(report, images), encoding="utf-8")
    return written


def summary_json(report: AnswerReport) -> str:
    return json.dumps(report.summary(), ensure_ascii=False)
