"""Convert the structured transcription of 第6次日野町総合計画 (kken78/shiga-hino-plans, CC BY 4.0) to Markdown.

Why: the project needs a real 総合計画 it may ship, and the plan's own PDFs are images without a
text layer. The repository's JSON (data/plans/sogo6.json) transcribes the plan block by block, each
block naming its source PDF and page. This script keeps that structure as Markdown headings and
keeps the page references as `<!-- page: N -->` lines, which the text loader reads as page starts.

Page numbers are the printed page numbers of the plan's main volume (本編, pp. 1-140): the JSON
cites honpen-01 by printed page and honpen-02…07 by page of each split PDF, which this script
converts with the JSON's `_printed_minus_pdf` table. The first tab ("まとめ") is the repository's
own overview (one block of it cites the digest version, ダイジェスト版), so it comes before the first
page marker with its sources written inline; no page is claimed for it.

Usage: python corpora/tools/convert_hino.py corpora/tools/sources/hino-sogo6.json \\
           corpora/総合計画/日野町_第6次総合計画.md
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

SOURCE_REPO = "kken78/shiga-hino-plans"
SOURCE_PATH = "data/plans/sogo6.json"
SOURCE_COMMIT = "0a9ed17d146957338e5b8d384220efe9d7dc4b20"
_SOURCE_REF = re.compile(r"^(?P<doc>[\w-]+)\s+p\.(?P<first>\d+)(?:-(?P<last>\d+))?$")


class Pages:
    """Turns a block's `source` ("honpen-03 p.8-9") into printed pages of the main volume."""

    def __init__(self, plan: dict[str, Any]) -> None:
        self.labels = {s["id"]: s["label"] for s in plan["sources"]}
        self.printed_minus_pdf: dict[str, int] = dict(plan.get("_printed_minus_pdf", {}))

    def printed(self, source: str) -> tuple[int, int] | None:
        """First and last printed page of the 本編, or None for other documents (the digest)."""
        match = _SOURCE_REF.match(source.strip())
        if not match or not match["doc"].startswith("honpen-"):
            return None
        first = int(match["first"])
        last = int(match["last"] or first)
        shift = self.printed_minus_pdf.get(match["doc"], 0)
        return first + shift, last + shift

    def cite(self, source: str) -> str:
        """Human-readable source for inline notes."""
        pages = self.printed(source)
        if pages:
            first, last = pages
            span = f"p.{first}" if first == last else f"pp.{first}-{last}"
            return f"本編 {span}"
        match = _SOURCE_REF.match(source.strip())
        if match and match["doc"] == "gaiyo":
            return f"ダイジェスト版 p.{match['first']}"
        return source


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _paragraphs(text: str) -> list[str]:
    return [part.strip() for part in text.split("\n") if part.strip()]


def _table(head: list[str], rows: Iterable[list[Any]]) -> list[str]:
    def cell(value: Any) -> str:
        return _number(value).replace("|", "｜").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines


def _chart(block: dict[str, Any]) -> list[str]:
    unit = block.get("unit", "")
    title = f"**{block['title']}**（単位: {unit}）" if unit else f"**{block['title']}**"
    kind = block["kind"]
    keys = [k["k"] for k in block.get("keys", [])]
    if kind == "bars":
        table = _table(["区分", f"値（{unit}）"], ([y["label"], y["v"]] for y in block["years"]))
    elif kind in ("stacked_100", "stacked_bars"):
        table = _table(["区分", *keys], ([y["label"], *y["series"]] for y in block["years"]))
    elif kind == "pair_bars":
        table = _table(["区分", *keys], ([r["label"], r["a"], r["b"]] for r in block["rows"]))
    else:
        raise ValueError(f"unknown chart kind {kind!r}")
    lines = [title, "", *table]
    if block.get("note"):
        lines += ["", f"注: {block['note']}"]
    return lines


def _items(block: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for item in block["items"]:
        head = " ".join(part for part in (item.get("no", ""), item.get("title", "")) if part)
        lines.append(f"- **{head}**: {item['desc']}" if item.get("desc") else f"- **{head}**")
    return lines


def _programs(block: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for group in block["groups"]:
        name = " ".join(part for part in (group.get("no", ""), group.get("name", "")) if part)
        lines += [f"#### {name}", ""]
        lines += _program_items(group.get("items", []))
        for sub in group.get("subgroups", []):
            sub_name = " ".join(part for part in (sub.get("no", ""), sub.get("name", "")) if part)
            lines += [f"##### {sub_name}", ""]
            lines += _program_items(sub.get("items", []))
            for intro in sub.get("intro", []):
                lines += [f"{intro['h']}: {intro['b']}", ""]
    return lines


def _program_items(items: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for item in items:
        name = " ".join(part for part in (item.get("no", ""), item.get("name", "")) if part)
        lines += [f"###### {name}", ""]
        if item.get("dept"):
            lines += [f"（{item['dept']}）", ""]
        for paragraph in _paragraphs(item.get("desc", "")):
            lines += [paragraph, ""]
    return lines


def render_block(block: dict[str, Any]) -> list[str]:
    """Markdown lines for one block (without page markers)."""
    kind = block["type"]
    if kind == "toc":
        return []
    if kind == "heading":
        lines = [f"### {block['text']}"]
        return lines + (["", block["sub"]] if block.get("sub") else [])
    if kind == "narrative":
        return [line for paragraph in _paragraphs(block["text"]) for line in (paragraph, "")][:-1]
    if kind == "note":
        return [f"※ 注（転記者）: {block['text']}"]
    if kind == "vision":
        return [f"**{block['label']}**", "", f"> {block['text']}"]
    if kind == "kpi_grid":
        lines = []
        for item in block["items"]:
            extra = "、".join(str(x) for x in (item.get("asof"), item.get("delta")) if x)
            lines.append(
                f"- {item['label']}: {_number(item['value'])}{item['unit']}"
                + (f"（{extra}）" if extra else "")
            )
        return lines
    if kind in ("aims", "challenges"):
        return _items(block)
    if kind == "bigstat":
        return [f"- {block['label']}: {_number(block['value'])}{block['unit']}（{block['desc']}）"]
    if kind == "bullets":
        lines = [f"**{block['title']}**", ""] if block.get("title") else []
        return lines + [f"- {item}" for item in block["items"]]
    if kind == "timeline":
        return [f"- {item['span'][0]}〜{item['span'][1]}: {item['label']}" for item in block["items"]]
    if kind == "chart":
        return _chart(block)
    if kind == "table":
        fold = block.get("fold")
        lines = [f"**指標: {fold['label']}**（{fold['summary']}）", ""] if fold else []
        lines += _table(block["head"], block["rows"])
        if block.get("note"):
            lines += ["", f"注: {block['note']}"]
        return lines
    if kind == "programs":
        return _programs(block)
    raise ValueError(f"unknown block type {kind!r}")


def _page_of_next_source(blocks: list[dict[str, Any]], start: int, pages: Pages) -> int | None:
    """A heading belongs to the content after it: use the page of the next sourced block."""
    for block in blocks[start:]:
        if block.get("source"):
            found = pages.printed(block["source"])
            return found[0] if found else None
        if block["type"] not in ("heading", "toc"):
            return None
    return None


def render(plan: dict[str, Any]) -> str:
    """The whole plan as Markdown."""
    pages = Pages(plan)
    meta = plan["meta"]
    out: list[str] = [
        f"# {meta['name']}",
        "",
        f"滋賀県日野町「{meta['name']}」（{meta.get('posted', '')}）。{meta.get('lead', '')}",
        "",
        f"- 計画期間: {meta.get('period_note', '')}",
        f"- 将来像: {meta.get('vision', '')}",
        f"- 担当: 日野町 {meta.get('dept', '')}（{meta.get('tel', '')}）",
        f"- 原典: {meta.get('url', '')}",
        f"- 出典: {SOURCE_REPO} の {SOURCE_PATH}（原典 PDF の画像から起こした構造化データ、CC BY 4.0）。"
        "ページ番号は本編の印刷ページ。",
        "",
    ]
    tabs = plan["tabs"]
    for tab_index, tab in enumerate(tabs):
        blocks = tab["blocks"]
        lead = _page_of_next_source(blocks, 0, pages) if tab_index else None
        if lead is not None:
            out += [f"<!-- page: {lead} -->", ""]
        out += [f"## {tab['label']}", ""]
        for index, block in enumerate(blocks):
            lines = render_block(block)
            if not lines:
                continue
            if tab_index == 0:
                if block.get("source"):
                    lines = [*lines, "", f"（出典: {pages.cite(block['source'])}）"]
            else:
                span = pages.printed(block["source"]) if block.get("source") else None
                page = span[0] if span else None
                if not block.get("source") and block["type"] == "heading":
                    page = _page_of_next_source(blocks, index + 1, pages)
                if page is not None:
                    out += [f"<!-- page: {page} -->", ""]
                if span and span[1] > span[0]:
                    lines = [*lines, "", f"（出典: {pages.cite(block['source'])}）"]
            out += [*lines, ""]
    text = "\n".join(_dedupe_markers(out))
    return re.sub(r"\n{3,}", "\n\n", text).rstrip("\n") + "\n"


def _dedupe_markers(lines: list[str]) -> Iterator[str]:
    """Drop a page marker that repeats the page already in force (keeps the file readable)."""
    current: str | None = None
    skip_blank = False
    for line in lines:
        if line.startswith("<!-- page: "):
            if line == current:
                skip_blank = True
                continue
            current = line
        elif skip_blank and not line:
            skip_blank = False
            continue
        skip_blank = False
        yield line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="sogo6.json as fetched from the repository")
    parser.add_argument("output", type=Path, help="Markdown file to write")
    args = parser.parse_args(argv)
    plan = json.loads(args.source.read_text(encoding="utf-8"))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(plan), encoding="utf-8", newline="\n")
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
