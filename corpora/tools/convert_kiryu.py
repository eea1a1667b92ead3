"""Convert 桐生市議会 minutes JSON (one record per speech) into the text layout of a real 会議録.

Why: the retrieval pipeline must work on council minutes as municipalities publish them (plain text
with ○/◆ speaker lines and △ procedure lines), not on pre-split JSON records. The JSON comes from
hsmch/kiryu-public-log, scraped from the city's 会議録検索システム (ssp.kaigiroku.net).

Layout of each output file (one per meeting day, i.e. per `schedules[]` entry):

* the day's 名簿 record verbatim: the real header (会議録第N号, date, 議事日程, roll, staff);
* each 議題 record with a body verbatim (these are the △ procedure lines, e.g. `△開会`);
* each 議題 record without a body (sub-headings the search system keeps as fields) as
  `△{role}（{speaker}）`, e.g. `△質疑（議案第６１号）`;
* a 議題 record whose body is not a △ line (one case in r5-4: the search system merged the chair's
  words into the heading record) as that heading, then the body under the presiding chair (the
  議長/副議長 of the latest chair speech), so the words are not glued onto the previous speaker;
* each speech as a marker line `○議長（北川久人）` followed by the body on the next lines:
  ◆ for members' questions (type 質問), ○ for the chair (議長/副議長) and the executive's answers.

Trailing whitespace is stripped from every line; nothing else in the text is changed.

Usage: python corpora/tools/convert_kiryu.py /path/to/shared/corpora corpora/
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any

# Two sessions only, to keep ingest time sane.
SESSIONS = ("kiryu-minutes-r4-4-teireikai.json", "kiryu-minutes-r5-4-teireikai.json")
OUT_DIR = Path("議会会議録") / "桐生市議会"

_ERA_START = {"令和": 2018, "平成": 1988, "昭和": 1925}
_HEADER_DATE = re.compile(r"(令和|平成|昭和)(元|\d+)年(\d+)月(\d+)日")
_ISSUE_NO = re.compile(r"会議録第(\d+)号")


def _clean_lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]


def _header_facts(header: str) -> tuple[str, int]:
    """ISO date and issue number (会議録第N号) from the 名簿 header; the header is authoritative."""
    flat = unicodedata.normalize("NFKC", header).replace(" ", "")
    date = _HEADER_DATE.search(flat)
    issue = _ISSUE_NO.search(flat)
    if not date or not issue:
        raise ValueError(f"header without date or issue number: {flat[:120]!r}")
    era, year, month, day = date.groups()
    gregorian = _ERA_START[era] + (1 if year == "元" else int(year))
    return f"{gregorian:04d}-{int(month):02d}-{int(day):02d}", int(issue.group(1))


def _speech_lines(speech: dict[str, Any], chair: str | None) -> list[str]:
    kind = speech["type"]
    body = (speech.get("body") or "").strip("\n")
    role, speaker = speech.get("role"), speech.get("speaker")
    if kind == "議題":
        heading = (
            [f"△{role}（{speaker}）" if role and speaker else f"△{role or speaker}"]
            if (role or speaker)
            else []
        )
        if not body.strip():
            return heading
        if body.lstrip().startswith("△"):
            return _clean_lines(body)
        if chair is None:
            raise ValueError(f"speech {speech.get('id')}: chair's words in a heading before any chair spoke")
        return [*heading, "", chair, *_clean_lines(body)]
    if not (role and speaker):
        raise ValueError(f"speech {speech.get('id')} of type {kind} lacks role or speaker")
    marker = "◆" if kind == "質問" else "○"
    return [f"{marker}{role}（{speaker}）", *_clean_lines(body)]


def render_day(schedule: dict[str, Any]) -> tuple[str, str, int]:
    """Text of one meeting day, plus its ISO date and issue number."""
    speeches = schedule["speeches"]
    headers = [s for s in speeches if s["type"] == "名簿"]
    if len(headers) != 1:
        raise ValueError(f"schedule {schedule.get('scheduleId')}: expected one 名簿, got {len(headers)}")
    header = headers[0]["body"]
    date_iso, issue = _header_facts(header)
    blocks = ["\n".join(_clean_lines(header)).strip("\n")]
    chair: str | None = None
    for speech in speeches:
        if speech["type"] == "名簿":
            continue
        lines = _speech_lines(speech, chair)
        if speech["type"] == "議長":
            chair = lines[0]
        if lines:
            blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n", date_iso, issue


def _file_name(schedule: dict[str, Any], date_iso: str, issue: int) -> str:
    """`2022-11-30_第1号_議案説明・質疑・委員会付託.txt`: sortable by date, readable by staff."""
    name = unicodedata.normalize("NFKC", schedule["name"]).strip()
    agenda = re.sub(r"^\d+月\d+日\s*", "", name)
    agenda = re.sub(r"[、,\s]+", "・", agenda).strip("・") or "本会議"
    return f"{date_iso}_第{issue}号_{agenda}.txt"


def convert(source_dir: Path, corpora_dir: Path) -> list[Path]:
    """Write one .txt per meeting day for every session in SESSIONS; returns the written paths."""
    written: list[Path] = []
    for file_name in SESSIONS:
        data = json.loads((source_dir / file_name).read_text(encoding="utf-8"))
        session = unicodedata.normalize("NFKC", data["session"]).replace(" ", "")
        out_dir = corpora_dir / OUT_DIR / session
        out_dir.mkdir(parents=True, exist_ok=True)
        for schedule in data["schedules"]:
            text, date_iso, issue = render_day(schedule)
            path = out_dir / _file_name(schedule, date_iso, issue)
            path.write_text(text, encoding="utf-8", newline="\n")
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source_dir", type=Path, help="folder holding kiryu-minutes-*.json")
    parser.add_argument("corpora_dir", type=Path, help="the project's corpora/ folder")
    args = parser.parse_args(argv)
    for path in convert(args.source_dir, args.corpora_dir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
