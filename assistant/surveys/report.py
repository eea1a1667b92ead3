"""まとめ資料の下書き: findings built from the tables, and the same analysis as Markdown, Word (charts
embedded), Excel (one sheet per table) and PowerPoint (one slide per chart with its finding).

Every number in the findings is read from a table; `unsupported_numbers` (the check the PR drafts use)
runs over them against the tables' Markdown, so a number that is in no table is flagged, whoever
wrote the sentence.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from yakuba.assistant.drafts.common import unsupported_numbers
from yakuba.assistant.surveys.charts import Chart
from yakuba.assistant.surveys.schema import CrossTable, QuestionTable, SurveyAnalysis, ThemeSet

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX_TYPE = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
SHOWN_ROWS = 20
MIN_GROUP = 30  # a cross-table group smaller than this makes no finding (test entries, a few 無回答)
CROSS_FINDINGS = 6  # rows of one table in Markdown/Word (Excel has them all)
KIND_LABELS = {"id": "ID", "timestamp": "回答日時", "attribute": "属性", "single": "単一回答", "multiple": "複数回答",
               "scale": "順序尺度", "score": "0〜10点（NPS）", "number": "数値", "text": "自由記述", "empty": "空欄"}


# ----------------------------------------------------------------------------- findings


def findings(tables: list[QuestionTable], themes: list[ThemeSet], crosses: list[CrossTable]) -> list[str]:
    """One sentence per question (and theme set, and notable cross table), numbers from the tables."""
    out: list[str] = []
    for t in tables:
        if not t.n or not t.rows and t.nps is None:
            continue
        ranked = sorted(t.rows, key=lambda r: -r.count)
        if t.kind == "scale" and len(t.rows) >= 3:
            top2 = t.rows[:2]
            share = top_two(t)
            out.append(f"{t.question}: 「{top2[0].label}」「{top2[1].label}」の合計が{share}%"
                       f"（「{top2[0].label}」{top2[0].pct}%、n={t.n}）。")
        elif t.kind == "score" and t.nps:
            out.append(f"{t.question}: NPS は{t.nps.nps}（推奨者{t.nps.promoters}人、批判者{t.nps.detractors}人、"
                       f"平均{t.nps.mean}点、n={t.n}）。")
        elif t.kind == "multiple":
            top = "、".join(f"「{r.label}」{r.pct}%" for r in ranked[:3] if r.count)
            out.append(f"{t.question}（複数回答）: {top}（回答者{t.n}人に占める割合）。")
        elif t.kind in {"single", "attribute"}:
            r = ranked[0]
            out.append(f"{t.question}: 最も多いのは「{r.label}」{r.pct}%（{r.count}人、n={t.n}）。")
    for s in themes:
        named = [th for th in s.themes if th.keywords]
        if named:
            top = "、".join(f"「{th.label}」{th.count}件" for th in named[:3])
            out.append(f"{s.question}（自由記述{s.answers}件）: 多いテーマは{top}。")
    notable = []
    for c in crosses:
        if c.p_value is None or c.p_value >= 0.05:
            continue
        cells = [(cell.residual or 0.0, c, c.groups[i], c.options[j], cell) for i, row in enumerate(c.cells)
                 if c.group_n[i] >= MIN_GROUP for j, cell in enumerate(row) if cell.flag == "high"]
        if cells:
            notable.append(max(cells, key=lambda x: x[0]))
    for _, c, group, option, cell in sorted(notable, key=lambda x: -x[0])[:CROSS_FINDINGS]:
        out.append(f"{c.question} × {c.by}: 「{group}」で「{option}」が多い（{cell.pct}%、調整済み残差{cell.residual}）。")
    return out


def top_two(t: QuestionTable) -> float:
    """% choosing one of the first two choices of a scale (「大いに満足」+「満足」), from the counts."""
    return round(100.0 * sum(r.count for r in t.rows[:2]) / t.n, 1) if t.n else 0.0


def check_findings(sentences: list[str], analysis_markdown: str) -> list[str]:
    """Numbers in the findings that the tables do not contain (the check PR drafts use)."""
    return list(dict.fromkeys(m.surface for m in unsupported_numbers("\n".join(sentences), [analysis_markdown])))


# ----------------------------------------------------------------------------- Markdown


def _cell(text: object) -> str:
    return str(text).replace("|", "｜").replace("\n", " ")


def table_markdown(t: QuestionTable, limit: int | None = SHOWN_ROWS) -> str:
    lines = [f"### {t.question}", "", f"{KIND_LABELS.get(t.kind, t.kind)}、n={t.n}、無回答={t.no_answer}"]
    if t.rows:
        base = "回答者に占める%" if t.base == "respondents" else "%"
        lines += ["", f"| 選択肢 | 人数 | {base} |", "|---|---:|---:|"]
        rows = t.rows if limit is None or len(t.rows) <= limit else sorted(t.rows, key=lambda r: -r.count)[:limit]
        lines += [f"| {_cell(r.label)} | {r.count} | {r.pct} |" for r in rows]
        if len(rows) < len(t.rows):
            lines.append(f"| ほか{len(t.rows) - len(rows)}項目（Excel 参照） | | |")
    if t.kind == "scale" and len(t.rows) >= 3:
        lines += ["", f"上位2つ（「{t.rows[0].label}」「{t.rows[1].label}」）の合計 {top_two(t)}%"]
    if t.nps:
        lines += ["", f"NPS {t.nps.nps}（推奨者 {t.nps.promoters}、中立者 {t.nps.passives}、批判者 {t.nps.detractors}、"
                      f"平均 {t.nps.mean}）"]
    if t.summary:
        s = t.summary
        lines += ["", f"平均 {s.mean}、中央値 {s.median}、最小 {s.minimum}、最大 {s.maximum}、標準偏差 {s.sd}"]
    return "\n".join(lines)


def cross_markdown(c: CrossTable) -> str:
    lines = [f"### {c.question} × {c.by}", ""]
    if c.chi2 is not None:
        lines.append(f"χ² = {c.chi2:.1f}、自由度 {c.dof}、p = {c.p_value:.3g}")
    if c.note:
        lines.append(f"（{c.note.split(' / ')[0]}）")
    options = c.options[:12]
    lines += ["", "| " + " | ".join([_cell(c.by), "n"] + [_cell(o) for o in options]) + " |",
              "|" + "---|" * (len(options) + 2)]
    for g, n, row in zip(c.groups, c.group_n, c.cells, strict=True):
        marks = [f"{cell.pct}{'▲' if cell.flag == 'high' else '▽' if cell.flag == 'low' else ''}" for cell in row[:12]]
        lines.append("| " + " | ".join([_cell(g), str(n)] + marks) + " |")
    lines.append("")
    lines.append("行%。▲/▽: 調整済み残差が +1.96 以上 / −1.96 以下のセル")
    marked = [f"{g}×{o}: {cell.residual}" for g, row in zip(c.groups, c.cells, strict=True)
              for o, cell in zip(c.options, row, strict=True) if cell.flag]
    if marked:
        lines.append("調整済み残差: " + "、".join(marked))
    return "\n".join(lines)


def themes_markdown(s: ThemeSet) -> str:
    lines = [f"### {s.question}", "",
             f"回答 {s.answers}件（うち「特になし」等 {s.nothing}件）、テーマに分類 {s.answers - s.nothing}件、"
             f"名前のあるテーマに入った割合 {s.coverage}%", "",
             "| テーマ | 件数 | 割合% | キーワード |", "|---|---:|---:|---|"]
    lines += [f"| {_cell(t.label)} | {t.count} | {t.share} | {'、'.join(t.keywords)} |" for t in s.themes]
    for t in s.themes:
        lines += ["", f"**{t.label}**（{t.count}件）"]
        lines += [f"- 「{_cell(q.text)}」（行 {q.row_id}）" for q in t.quotes]
    return "\n".join(lines)


def to_markdown(a: SurveyAnalysis, charts: list[Chart] | None = None) -> str:
    o = a.overview
    period = f"{o.period[0]} 〜 {o.period[1]}" if o.period else "不明"
    lines = [f"# {o.title}", "", "## 調査概要", "",
             f"- ファイル: {o.file}" + (f"（シート「{o.sheet}」）" if o.sheet else ""),
             f"- 回答者数: {o.respondents}人" + (f"（除外 {o.excluded_rows}行）" if o.excluded_rows else ""),
             f"- 回答期間: {period}", f"- 設問数: {o.columns}列",
             "- 方法: 単純集計（% は各設問の回答者に占める割合、複数回答は合計が100%を超える）、"
             "クロス集計（χ²検定、調整済み残差）、自由記述のテーマ分け（個人情報をマスクした後に分類）", ""]
    if a.findings:
        lines += ["## 主な結果", ""] + [f"- {f}" for f in a.findings] + [""]
    if a.unsupported_numbers:
        lines += [f"> 注意: 表にない数値 {', '.join(a.unsupported_numbers)} が含まれています。確認してください。", ""]
    if charts:
        lines += ["## グラフ", ""] + [f"![{c.title}](charts/{c.key}.png)" for c in charts] + [""]
    lines += ["## 設問別の集計", ""] + [table_markdown(t) + "\n" for t in a.tables if t.kind not in {"id", "empty"}]
    if a.crosses:
        lines += ["## クロス集計", ""] + [cross_markdown(c) + "\n" for c in a.crosses]
    if a.themes:
        lines += ["## 自由記述のテーマ", ""] + [themes_markdown(s) + "\n" for s in a.themes]
    if a.warnings:
        lines += ["## 注記", ""] + [f"- {w}" for w in a.warnings] + [""]
    return "\n".join(lines).rstrip() + "\n"


def numbers_markdown(a: SurveyAnalysis) -> str:
    """Every table in full: what the findings' numbers are checked against."""
    parts = [table_markdown(t, limit=None) for t in a.tables]
    parts += [cross_markdown(c) for c in a.crosses] + [themes_markdown(s) for s in a.themes]
    return "\n".join(parts)


# ----------------------------------------------------------------------------- Word


def to_docx(a: SurveyAnalysis, charts: list[Chart]) -> bytes:
    from docx import Document
    from docx.shared import Cm

    from yakuba.assistant.drafts.export import to_docx as markdown_docx

    doc = Document(io.BytesIO(markdown_docx(_docx_text(a), title=a.overview.title)))
    doc.add_heading("グラフ", level=1)
    for chart in charts:
        doc.add_paragraph(chart.title)
        doc.add_picture(io.BytesIO(chart.png), width=Cm(15))
    doc.add_heading("設問別の集計", level=1)
    for t in a.tables:
        if t.rows:
            doc.add_heading(t.question, level=2)
            doc.add_paragraph(f"{KIND_LABELS.get(t.kind, t.kind)}、n={t.n}、無回答={t.no_answer}")
            rows = t.rows if len(t.rows) <= SHOWN_ROWS else sorted(t.rows, key=lambda r: -r.count)[:SHOWN_ROWS]
            table = doc.add_table(rows=1 + len(rows), cols=3)
            table.style = "Table Grid"
            for j, head in enumerate(("選択肢", "人数", "%")):
                table.cell(0, j).text = head
            for i, r in enumerate(rows, start=1):
                table.cell(i, 0).text, table.cell(i, 1).text, table.cell(i, 2).text = r.label, str(r.count), str(r.pct)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def _docx_text(a: SurveyAnalysis) -> str:
    """Overview, findings and themes as Markdown (the drafts' Word export renders it)."""
    text = to_markdown(a)
    keep = re.split(r"\n(?=## )", text)
    wanted = ("# ", "## 調査概要", "## 主な結果", "## 自由記述のテーマ", "## 注記")
    return "\n".join(part for part in keep if part.startswith(wanted)).replace("**", "")


# ----------------------------------------------------------------------------- Excel


def _sheet_name(name: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:28] or "sheet"
    candidate, n = base, 2
    while candidate in used:
        candidate, n = f"{base[:26]}_{n}", n + 1
    used.add(candidate)
    return candidate


def to_xlsx(a: SurveyAnalysis) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    used: set[str] = set()
    overview = book.active
    overview.title = _sheet_name("概要", used)
    o = a.overview
    for row in (("タイトル", o.title), ("ファイル", o.file), ("回答者数", o.respondents), ("除外行", o.excluded_rows),
                ("期間", " 〜 ".join(o.period) if o.period else "")):
        overview.append(row)
    overview.append([])
    overview.append(["設問", "種類", "回答数"])
    for c in a.columns:
        overview.append([c.name, KIND_LABELS.get(c.kind, c.kind), c.answered])
    overview.append([])
    overview.append(["主な結果"])
    for f in a.findings:
        overview.append([f])
    bold = Font(bold=True)
    for t in a.tables:
        if not t.rows and not t.summary:
            continue
        ws = book.create_sheet(_sheet_name(t.question, used))
        ws.append([t.question])
        ws["A1"].font = bold
        ws.append(["n", t.n, "無回答", t.no_answer])
        ws.append(["選択肢", "人数", "%（回答者に占める割合）" if t.base == "respondents" else "%"])
        for r in t.rows:
            ws.append([r.label, r.count, r.pct])
        if t.nps:
            ws.append(["NPS", t.nps.nps, "推奨者", t.nps.promoters, "中立者", t.nps.passives, "批判者", t.nps.detractors])
        if t.summary:
            s = t.summary
            ws.append(["平均", s.mean, "中央値", s.median, "最小", s.minimum, "最大", s.maximum, "標準偏差", s.sd])
        ws.column_dimensions["A"].width = 40
    for c in a.crosses:
        ws = book.create_sheet(_sheet_name(f"{c.question}×{c.by}", used))
        ws.append([f"{c.question} × {c.by}"])
        ws.append(["χ²", c.chi2, "自由度", c.dof, "p", c.p_value, c.note or ""])
        ws.append([c.by, "n"] + c.options)
        for g, n, row in zip(c.groups, c.group_n, c.cells, strict=True):
            ws.append([g, n] + [cell.count for cell in row])
        ws.append([])
        ws.append(["行%", ""] + c.options)
        for g, row in zip(c.groups, c.cells, strict=True):
            ws.append([g, ""] + [cell.pct for cell in row])
        ws.append([])
        ws.append(["調整済み残差", ""] + c.options)
        for g, row in zip(c.groups, c.cells, strict=True):
            ws.append([g, ""] + [cell.residual for cell in row])
    for s in a.themes:
        ws = book.create_sheet(_sheet_name(f"テーマ_{s.question}", used))
        ws.append(["テーマ", "件数", "割合%", "キーワード", "代表的な回答（行番号）"])
        for t in s.themes:
            ws.append([t.label, t.count, t.share, "、".join(t.keywords),
                       " / ".join(f"{q.text}（{q.row_id}）" for q in t.quotes)])
        for cross in s.crosses:
            ws.append([])
            ws.append([f"テーマ × {cross.by}", ""] + cross.groups)
            for t, counts in zip(s.themes, cross.counts, strict=True):
                ws.append([t.label, ""] + counts)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# ----------------------------------------------------------------------------- PowerPoint


def to_pptx(a: SurveyAnalysis, charts: list[Chart]) -> bytes:
    from pptx import Presentation
    from pptx.util import Inches, Pt

    deck = Presentation()
    deck.slide_width, deck.slide_height = Inches(13.333), Inches(7.5)
    title = deck.slides.add_slide(deck.slide_layouts[0])
    title.shapes.title.text = a.overview.title
    o = a.overview
    title.placeholders[1].text = f"回答者 {o.respondents}人" + (f"、{o.period[0]}〜{o.period[1]}" if o.period else "")
    by_question = {}
    for f in a.findings:
        by_question.setdefault(f.split(":")[0].split("（")[0].split(" × ")[0], f)
    for chart in charts:
        slide = deck.slides.add_slide(deck.slide_layouts[5])  # title only
        slide.shapes.title.text = chart.title
        slide.shapes.title.text_frame.paragraphs[0].font.size = Pt(28)
        slide.shapes.add_picture(io.BytesIO(chart.png), Inches(0.5), Inches(1.4), height=Inches(5.6))
        notes = [by_question[q] for q in chart.questions if q in by_question]
        box = slide.shapes.add_textbox(Inches(8.6), Inches(1.6), Inches(4.4), Inches(5.0)).text_frame
        box.word_wrap = True
        box.text = "\n".join(notes) or chart.title
        for paragraph in box.paragraphs:
            paragraph.font.size = Pt(14)
    buffer = io.BytesIO()
    deck.save(buffer)
    return buffer.getvalue()


# ----------------------------------------------------------------------------- files


def write_report(a: SurveyAnalysis, charts: list[Chart], directory: Path) -> list[Path]:
    """report.md, report.docx, report.xlsx, report.pptx, charts/*.png, analysis.json and settings.json."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "charts").mkdir(exist_ok=True)
    written = []
    for chart in charts:
        path = directory / "charts" / f"{chart.key}.png"
        path.write_bytes(chart.png)
        written.append(path)
    outputs = {
        "report.md": to_markdown(a, charts).encode("utf-8"),
        "report.docx": to_docx(a, charts),
        "report.xlsx": to_xlsx(a),
        "report.pptx": to_pptx(a, charts),
        "analysis.json": a.model_dump_json(indent=1).encode("utf-8"),
        "settings.json": json.dumps(a.settings.model_dump(), ensure_ascii=False, indent=2).encode("utf-8"),
    }
    for name, data in outputs.items():
        (directory / name).write_bytes(data)
        written.append(directory / name)
    return written
