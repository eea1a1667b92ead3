"""Real texts for the drafting benchmark (evals/drafts.py) and the seeded raw-transcript generator.

- Council minutes: Kiryu city's records in ../shared/training; only the development year (令和4年,
  slugs `r4-`) is used, the year the static model and the other benchmarks never train on.
- 一般質問 topics: the city's published question lists (same folder), per session and member.
- 広報記事: the Otoineppu village newsletter PDFs in ../shared/corpora/pdfs. A notice in a newsletter
  ends with its 「問 担当課 ☎ 番号」 line, which is what splits a page into articles here.

The generator turns a real record into what a transcription tool would have written: 漢数字 as said
(22名 → 二十二名), punctuation gone (pauses as spaces, a caption cue per sentence or clause), fillers
(えー・あの・まあ) before clauses, and speaker labels 話者1, 話者2 … in WebVTT voice tags. It is seeded,
so every run scores the same transcripts.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import unicodedata
import zlib
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, Field

from yakuba.core.errors import ErrorKind, InvalidInputError
from yakuba.core.paths import PROJECT_ROOT, shared_dir

SHARED = shared_dir() or PROJECT_ROOT.parent / "shared"
MINUTES_FILE = SHARED / "training" / "kiryu-minutes-h15-r5.jsonl.gz"
QUESTIONS_FILE = SHARED / "training" / "kiryu-questions-h27-r5.json.gz"
NEWSLETTER_DIR = SHARED / "corpora" / "pdfs" / "otoineppu" / "kouhou"
DEV_SLUG_PREFIX = "r4-"
FILLERS = ("えー", "あの", "まあ")


class SourceError(InvalidInputError):
    """A benchmark source file that is missing or unreadable."""

    code = "draft_source_missing"


def _require(path: Path) -> Path:
    if not path.exists():
        raise SourceError(
            f"評価用のデータが見つかりません: {path}", f"benchmark source not found: {path}", kind=ErrorKind.NOT_FOUND
        )
    return path


# ----------------------------------------------------------------------------- council minutes


class Turn(BaseModel):
    speaker: str
    text: str


class CouncilDay(BaseModel):
    slug: str
    session: str
    day: str
    turns: list[Turn]

    @property
    def is_general_question(self) -> bool:
        return "一般質問" in self.day


# Stage directions and bracketed notes are written by the clerk, never said.
_STAGE = re.compile(r"[(（][^()（）]{0,60}(?:呼ぶ者|登壇|退席|着席|拍手|休憩|起立|発言する者|声あり)[^()（）]{0,30}[)）]|〔[^〕]*〕")


def record_text(body: str) -> str:
    """A record's speech as one line (NFKC, layout spaces and stage directions removed)."""
    text = unicodedata.normalize("NFKC", body)
    text = _STAGE.sub("", text)
    return re.sub(r"\s+", "", text)


def load_council_days(path: Path = MINUTES_FILE, slug_prefix: str = DEV_SLUG_PREFIX) -> list[CouncilDay]:
    """Every meeting day of the sessions whose slug starts with `slug_prefix`, as speaker turns."""
    days: dict[tuple[str, str], CouncilDay] = {}
    with gzip.open(_require(path), "rt", encoding="utf-8") as handle:
        for line in handle:
            if f'"slug": "{slug_prefix}' not in line:  # cheap filter: the file holds twenty years
                continue
            record = json.loads(line)
            if not str(record.get("slug", "")).startswith(slug_prefix) or record.get("type") in ("名簿", "議題"):
                continue
            speaker, text = record.get("speaker"), record_text(str(record.get("body") or ""))
            if not speaker or not text:
                continue
            speaker = re.sub(r"\s+", "", str(speaker))
            key = (str(record["slug"]), str(record["day"]))
            day = days.setdefault(key, CouncilDay(slug=key[0], session=str(record["session"]), day=key[1], turns=[]))
            if day.turns and day.turns[-1].speaker == speaker:
                day.turns[-1].text += text
            else:
                day.turns.append(Turn(speaker=speaker, text=text))
    return list(days.values())


def windows(day: CouncilDay, turns: int, max_chars: int) -> Iterator[list[Turn]]:
    """Consecutive runs of `turns` turns, each turn cut at a sentence end to at most `max_chars`."""
    for start in range(0, len(day.turns) - turns + 1, turns):
        out = []
        for turn in day.turns[start : start + turns]:
            text = turn.text
            if len(text) > max_chars:
                cut = text.rfind("。", 0, max_chars)
                text = text[: cut + 1] if cut > 0 else text[:max_chars]
            out.append(Turn(speaker=turn.speaker, text=text))
        yield out


def question_topics(path: Path = QUESTIONS_FILE) -> dict[str, dict[str, list[str]]]:
    """session slug → member (no spaces) → the 一般質問 topic lines the city published."""
    with gzip.open(_require(path), "rt", encoding="utf-8") as handle:
        sessions = json.load(handle)
    out: dict[str, dict[str, list[str]]] = {}
    for session in sessions:
        members = out.setdefault(str(session.get("sessionSlug", "")), {})
        for question in session.get("questions", []):
            member = re.sub(r"\s+", "", str(question.get("memberName", "")))
            for item in question.get("items", []):
                for line in [item.get("title", ""), *item.get("details", [])]:
                    topic = _topic_line(str(line))
                    if topic:
                        members.setdefault(member, []).append(topic)
    return out


def _topic_line(line: str) -> str | None:
    text = unicodedata.normalize("NFKC", line).strip()
    text = re.sub(r"-\d+-$", "", text)  # page numbers of the PDF the list was scraped from
    text = re.sub(r"^(?:\(?\d{1,2}[).]?|[①-⑳]|[ア-オ][.)]?)\s*", "", text)
    if not 6 <= len(text) <= 40 or "(不明)" in text:  # longer lines describe a question, they do not name it
        return None
    return text


# ----------------------------------------------------------------------------- raw transcripts

_DIGITS = "〇一二三四五六七八九"


def _kanji_int(n: int) -> str:
    if n == 0:
        return "〇"
    out = ""
    for unit_value, unit in ((10**12, "兆"), (10**8, "億"), (10**4, "万"), (1, "")):
        group, n = divmod(n, unit_value)
        if not group:
            continue
        part = ""
        for value, name in ((1000, "千"), (100, "百"), (10, "十")):
            digit, group = divmod(group, value)
            if digit:
                part += ("" if digit == 1 else _DIGITS[digit]) + name
        if group:
            part += _DIGITS[group]
        out += part + unit
    return out


def spoken_numbers(text: str) -> str:
    """Digits as a speech recogniser writes what it heard: 22名 → 二十二名, 3.5% → 三点五パーセント."""

    def convert(match: re.Match[str]) -> str:
        whole, _, decimal = match.group().replace(",", "").partition(".")
        spoken = _kanji_int(int(whole))
        if decimal:
            spoken += "点" + "".join(_DIGITS[int(d)] for d in decimal)
        return spoken

    text = re.sub(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?", convert, text)
    return text.replace("%", "パーセント")


class RawTranscript(BaseModel):
    vtt: str = Field(description="WebVTT with <v 話者N> voice tags, one cue per sentence or clause.")
    plain: str = Field(description="The cue texts alone, what CER of the raw transcript is computed on.")
    labels: dict[str, str] = Field(description="Tool label (話者1) → the speaker in the record.")


def _vtt_time(seconds: float) -> str:
    hours, rest = divmod(int(seconds * 1000), 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def raw_transcript(turns: list[Turn], seed: int, *, filler_rate: float = 0.35, pause_rate: float = 0.5) -> RawTranscript:
    """What a transcription tool makes of these turns (see the module docstring); seeded."""
    rng = random.Random(seed)
    labels: dict[str, str] = {}
    cues: list[str] = []
    plain: list[str] = []
    clock = 0.0
    for turn in turns:
        label = next((k for k, v in labels.items() if v == turn.speaker), None)
        if label is None:
            label = f"話者{len(labels) + 1}"
            labels[label] = turn.speaker
        for sentence in re.findall(r"[^。！？]+[。！？]?", spoken_numbers(turn.text)):
            clauses = [c for c in re.split(r"、", re.sub(r"[。！？「」『』]", "", sentence)) if c]
            pieces: list[str] = []
            for i, clause in enumerate(clauses):
                if rng.random() < (filler_rate if i == 0 else filler_rate / 2):
                    clause = rng.choice(FILLERS) + " " + clause
                pieces.append(clause)
            # a cue per sentence, long sentences in two cues; the pauses left inside are spaces or nothing
            groups = [pieces] if len(pieces) < 4 else [pieces[: len(pieces) // 2], pieces[len(pieces) // 2 :]]
            for group in groups:
                text = "".join(p if i == 0 else (" " if rng.random() < pause_rate else "") + p for i, p in enumerate(group))
                seconds = max(1.0, len(text) / 7)
                cues.append(f"{_vtt_time(clock)} --> {_vtt_time(clock + seconds)}\n<v {label}>{text}</v>")
                plain.append(text)
                clock += seconds + 0.3
    return RawTranscript(vtt="WEBVTT\n\n" + "\n\n".join(cues) + "\n", plain="\n".join(plain), labels=labels)


# ----------------------------------------------------------------------------- newsletter articles


class Article(BaseModel):
    issue: str = Field(description="Newsletter file stem (2024-06).")
    page: int
    text: str = Field(description="The article's prose, column line breaks joined.")
    contact: str = Field(description="The 問 line: section and phone number.")

    @property
    def id(self) -> str:
        return f"{self.issue}#p{self.page}:{zlib.crc32(self.text.encode()) % 10_000:04d}"


_LAYOUT = re.compile(
    r"^(?:Otoineppu|public|relations|magazine|広報おといねっぷ|広報|おといねっぷ|no\.?\s*[\d.]*|[a-z]{3,4}\.|\d{1,4}|"
    r"令和[一二三四五六七八九十〇]+年.*号|[a-z]+|暮らしの掲示板|おしらせ)$",
    re.IGNORECASE,
)
_CONTACT = re.compile(r"^問\s*(.+)$")


def _page_lines(page: str) -> list[str]:
    lines = []
    for line in page.splitlines():
        text = unicodedata.normalize("NFKC", line).strip()
        if not text or _LAYOUT.match(text) or re.search(r"[\u0370-\u04ff]", text):  # layout and font garbage
            continue
        lines.append(text)
    return lines


def _join_columns(lines: list[str]) -> str:
    """Lines broken by the column width joined; a new line only after a sentence end or before a mark."""
    text = ""
    for line in lines:
        if text and not re.search(r"[。!?」)]$", text) and not re.match(r"^[◇◆○◎※①-⑳■●・]", line):
            text += line
        else:
            text += ("\n" if text else "") + line
    return re.sub(r"(?<=[^\x00-\x7f]) +(?=[^\x00-\x7f])|(?<=[^\x00-\x7f]) +(?=\d)|(?<=\d) +(?=[^\x00-\x7f])", "", text)


def _is_prose(text: str) -> bool:
    digits = sum(ch.isdigit() for ch in text)
    sentences = len(re.findall(r"。", text))
    return 150 <= len(text) <= 1500 and sentences >= 2 and digits / len(text) < 0.08


def load_articles(folder: Path = NEWSLETTER_DIR) -> list[Article]:
    """Notices with a 問 line from every newsletter PDF in `folder`, tables and fragments left out."""
    from pypdf import PdfReader

    articles: list[Article] = []
    for pdf in sorted(_require(folder).glob("*.pdf")):
        for page_no, page in enumerate(PdfReader(pdf).pages, 1):
            lines = _page_lines(page.extract_text() or "")
            block: list[str] = []
            i = 0
            while i < len(lines):
                match = _CONTACT.match(lines[i])
                if match is None:
                    block.append(lines[i])
                    i += 1
                    continue
                contact = match.group(1)
                if "☎" not in contact and i + 1 < len(lines) and lines[i + 1].startswith("☎"):
                    contact += " " + lines[i + 1]
                    i += 1
                text = _join_columns(block)
                if _is_prose(text):
                    contact = re.sub(r"\s+", " ", contact).strip()
                    articles.append(Article(issue=pdf.stem, page=page_no, text=text, contact=contact))
                block = []
                i += 1
    return articles
