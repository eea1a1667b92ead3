"""和暦 (Japanese era) dates: 令和4年12月1日, 令和四年十二月一日 and 西暦 dates to ISO.

Pure text functions shared by ingest (minutes headers, record metadata) and the drafting tools.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

# First day of each era; a date before it cannot be written in that era.
ERA_START: dict[str, date] = {
    "令和": date(2019, 5, 1),
    "平成": date(1989, 1, 8),
    "昭和": date(1926, 12, 25),
    "大正": date(1912, 7, 30),
}
KANJI_DIGITS = {
    "〇": 0,
    "零": 0,
    "一": 1,
    "二": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
NUM_PATTERN = r"[0-9〇零一二三四五六七八九十百]+"
_WAREKI_DATE = re.compile(rf"(令和|平成|昭和|大正)\s*(元|{NUM_PATTERN})\s*年\s*({NUM_PATTERN})\s*月\s*({NUM_PATTERN})\s*日")
_SEIREKI_DATE = re.compile(r"((?:18|19|20)\d\d)\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_MONTH_DAY = re.compile(rf"({NUM_PATTERN})\s*月\s*({NUM_PATTERN})\s*日")
_ERA_YEAR_ONLY = re.compile(rf"(令和|平成|昭和|大正)\s*(元|{NUM_PATTERN})\s*年")
_SEIREKI_YEAR_ONLY = re.compile(r"((?:18|19|20)\d\d)\s*年")


def to_int(token: str) -> int | None:
    """ASCII digits or kanji numerals (十二, 三十一, 二〇二二) to int; None when not a number."""
    token = token.strip()
    if not token:
        return None
    if token.isascii() and token.isdigit():
        return int(token)
    if any(ch not in KANJI_DIGITS and ch not in "十百" for ch in token):
        return None
    if "十" not in token and "百" not in token:
        return int("".join(str(KANJI_DIGITS[ch]) for ch in token))
    total, current = 0, 0
    for ch in token:
        if ch in KANJI_DIGITS:
            current = KANJI_DIGITS[ch]
        else:
            total += (current or 1) * (100 if ch == "百" else 10)
            current = 0
    return total + current


def _iso(year: int, month: int | None, day: int | None) -> str | None:
    if month is None or day is None:
        return None
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def wareki_to_iso(text: str, *, year: int | None = None) -> str | None:
    """First date in `text` as ISO ``YYYY-MM-DD``, or None.

    Reads 令和/平成/昭和/大正 dates (元年, full-width digits, kanji numerals such as
    令和四年十二月一日) and plain 西暦 dates (2022年12月1日). When the text has only a month and day
    (「12月1日」), the year comes from `year` (Gregorian) or else from an era or 西暦 year elsewhere
    in the text, so a session plus a day (「令和4年第1回定例会02月21日」) works. Impossible dates (2月30日, a date before the
    era began such as 令和元年4月1日) give None. Dates after an era's end are accepted (平成32年…
    appears in documents written before the era changed).
    """
    flat = unicodedata.normalize("NFKC", text)
    match = _WAREKI_DATE.search(flat)
    seireki = _SEIREKI_DATE.search(flat)
    if match and (not seireki or match.start() <= seireki.start()):
        era, era_year_token, month_token, day_token = match.groups()
        era_year = 1 if era_year_token == "元" else to_int(era_year_token)
        if not era_year:
            return None
        start = ERA_START[era]
        iso = _iso(start.year + era_year - 1, to_int(month_token), to_int(day_token))
        if iso is None or date.fromisoformat(iso) < start:
            return None
        return iso
    if seireki:
        return _iso(int(seireki.group(1)), int(seireki.group(2)), int(seireki.group(3)))
    month_day = _MONTH_DAY.search(flat)
    if month_day is None:
        return None
    month, day = to_int(month_day.group(1)), to_int(month_day.group(2))
    if year is not None:
        return _iso(year, month, day)
    era_year = _ERA_YEAR_ONLY.search(flat)
    if era_year:
        number = 1 if era_year.group(2) == "元" else to_int(era_year.group(2))
        if not number:
            return None
        start = ERA_START[era_year.group(1)]
        iso = _iso(start.year + number - 1, month, day)
        return iso if iso and date.fromisoformat(iso) >= start else None
    seireki_year = _SEIREKI_YEAR_ONLY.search(flat)
    return _iso(int(seireki_year.group(1)), month, day) if seireki_year else None


def years_named(text: str) -> frozenset[int]:
    """Every year `text` names as 和暦 or 西暦 (令和4年度, 令和四年, 平成元年, 2022年), Gregorian.

    Retrieval reads it from a question and from a document's title: 「令和４年度に創設する…」
    belongs to 令和4年度_施政方針, not to another year's plan or a 条例 of no year."""
    flat = unicodedata.normalize("NFKC", text or "")
    years = set()
    for era, token in _ERA_YEAR_ONLY.findall(flat):
        number = 1 if token == "元" else to_int(token)
        if number:
            years.add(ERA_START[era].year + number - 1)
    years.update(int(y) for y in _SEIREKI_YEAR_ONLY.findall(flat))
    return frozenset(years)
