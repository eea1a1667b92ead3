"""Checked facts at the level of the item asked about.

A passage about a 提案理由 lists a dozen 議案, each with its own amounts; a model asked for the
国民健康保険 account's total may write the 一般会計's total, which *is* in the cited passage, so a
lexical support check lets it through. Here every number, date, amount and proper noun of an answer
sentence must come from a passage clause that belongs to the item the question names:

- facts are normalised (全角/半角, 漢数字/算用数字, 和暦/西暦, 千円/万円/億円 → yen), so 「147千円」 and
  「14万7千円」 are one value and 「令和8年度」 is 2026;
- passages are cut into clauses (split at 、), each with its context: the heading it sits under (a
  「議案第２号：…」 line, or the chunk's heading when the chunk starts mid-section) and the sentence's
  clauses that hold no value (「歳入歳出補正予算の規模は、」);
- a clause belongs to the asked item when its context covers the question's words about as well as
  the best clause does (words weighted by how rare they are among the clauses, so 「国民健康保険」
  counts more than 「会計」), and it does not name a *different* designator of the same kind
  (第４次 when 第５次 was asked, 議案第２３号 for 第２２号, 令和5年度 for 令和6年度);
- a fact that only the question itself states is not checked (the answer may repeat it).

A sentence fails when one of its facts is found only outside the asked item (`wrong_item`) or
nowhere in the passages (`not_in_passages`).
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from yakuba.assistant.relevance import split_qualifier
from yakuba.assistant.text import compact, split_sentences
from yakuba.core.types import DocType
from yakuba.core.wareki import KANJI_DIGITS
from yakuba.ingest.clean import is_heading
from yakuba.retriever.search import Passage
from yakuba.retriever.tokenize import tokenize

# A clause belongs to the asked item when its context covers this share of the best clause's score.
ITEM_RELATIVE = 0.85
# Below this weighted coverage no clause names the item: facts are then checked against all passages.
ITEM_MIN_COVERAGE = 0.35
# A cell or a sentence (assistant/extractive.py), and a value in a model's answer (`check_facts`), answers
# an amount/count/rate question only when what names it holds at least this share of the question's other
# content words (`asked_words`): its row label and column header, with the caption and the document title
# as context. Measured (2026-12-02) on
# benchmarks/table_questions and benchmarks/realistic_answers: the right cells and sentences cover
# 0.75-1.0 (「市民税のうち個人分」: うち, 分 are not named), the ones that answered unanswerable questions
# 0.50-0.71 (「水道事業会計予算の総額」 from the general account's total: 水道, 事業 not named).
MIN_CELL_COVERAGE = 0.75
# The sentences just before a value's sentence (under its heading) that may name what the value is of.
CONTEXT_SENTENCES = 3
# A rounded figure (「約12億円」) may differ from the exact one by this share.
ROUNDING = Decimal("0.01")

_ERAS = {"令和": 2018, "平成": 1988, "昭和": 1925, "大正": 1911, "明治": 1867}
_SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
_BIG_UNITS = {"万": 10**4, "億": 10**8, "兆": 10**12}
_KANJI_NUM = "〇零一二三四五六七八九十百千"
_ARABIC = r"\d{1,3}(?:,\d{3})+(?!\d)(?:\.\d+)?|\d+(?:\.\d+)?"
# A number as written in amounts: arabic groups or kanji numerals, mixed with 万/億/兆 (and 千/百 as units).
_AMOUNT_NUMBER = rf"(?:{_ARABIC}|[{_KANJI_NUM}])(?:{_ARABIC}|[{_KANJI_NUM}万億兆])*"
_MONEY = re.compile(rf"(?P<num>{_AMOUNT_NUMBER})\s*円")
_PERCENT = re.compile(rf"(?P<num>{_ARABIC})\s*(?:%|パーセント)")
_WARI = re.compile(r"(?P<num>\d+(?:\.\d+)?|[一二三四五六七八九十])割")
_ERA_YEAR = re.compile(rf"(?P<era>令和|平成|昭和|大正|明治)\s*(?P<num>元|\d+|[{_KANJI_NUM}]+)\s*年")
_ERA_ABBREVIATION = re.compile(r"(?<![A-Za-z])(?P<era>[RH])\s*(?P<num>\d{1,2})(?=\s*年|\.\d{1,2}\.)")
_WESTERN_YEAR = re.compile(r"(?<!\d)(?P<num>(?:18|19|20)\d\d)\s*年")
_MONTH_DAY = re.compile(rf"(?P<m>\d{{1,2}}|[{_KANJI_NUM}]+)\s*月\s*(?P<d>\d{{1,2}}|[{_KANJI_NUM}]+)\s*日")
_KANJI_COUNT = re.compile(
    rf"(?P<num>[{_KANJI_NUM}]+)(?=人|件|名|回|か所|箇所|ヶ所|校|号|条|項|年間|年度|か月|ヶ月|カ月|日間|倍|歳|次|期|割)"
)
_ARABIC_NUMBER = re.compile(_ARABIC)
_COUNTER = re.compile(
    r"\s*(?:人|件|名|回|か所|箇所|ヶ所|校|号|条|項|年|月|日|時|分|歳|次|期|倍|割|世帯|台|戸|棟|頭|匹|本|点|"
    r"トン|t|km|m|ha|㎡|キロ|メートル|ヘクタール|万|億|千|刊|度|つ|種|冊|枚|部|階|位|区|か国|カ国|か年|カ年|ヵ年)"
)
# List markers a model numbers its points with: 「1. 」「(2)」「③」.
_LIST_MARKER = re.compile(r"^\s*(?:\d{1,2}[.)．）]\s*|[（(]\d{1,2}[)）]\s*|[①-⑳]\s*)")
# Digits that a PDF spaced out (「2 90 ,6 74 千円」) are joined before reading amounts.
_SPACED_DIGITS = re.compile(r"\d(?:[\d ,]*\d)?\s+(?=千円|万円|億円|円|%)|\d[\d ,]*\d(?=千円|万円|億円|円|%)")
# Designators that tell items of one kind apart: 第５次, 議案第２２号, 第４回, 第２期.
_DESIGNATORS = {
    kind: re.compile(rf"第\s*(?P<num>\d+|[{_KANJI_NUM}]+)\s*{kind}")
    for kind in ("次", "号", "回", "期", "条")
}
# 「（単位：千円）」 over a table: its plain numbers are amounts in that unit.
_YEN_UNITS = {"円": 1, "千円": 1000, "万円": 10**4, "百万円": 10**6, "億円": 10**8}
_TABLE_UNIT = re.compile(r"単\s*位\s*[:：]?\s*(?P<unit>百万円|千円|万円|億円|円)")
_CLAUSE_SPLIT = re.compile(r"(?<=[、，；;])|(?<=,)(?!\d{3})")  # not inside 「3,048,404」
_ERA_ABBR = {"R": "令和", "H": "平成"}


@dataclass(frozen=True)
class Fact:
    """One checkable value: its kind, a canonical value and every number it can be read as."""

    kind: str  # money | percent | year | date | number | name
    value: str
    text: str
    numbers: frozenset[Decimal] = frozenset()


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _join_spaced_digits(text: str) -> str:
    return _SPACED_DIGITS.sub(lambda m: m.group(0).replace(" ", ""), text)


def parse_number(token: str) -> Decimal | None:
    """「1,192,893」「147千」「14万7千」「一億二千万」「1.5億」「三百二十五」 → a Decimal."""
    token = token.replace(",", "").strip()
    if not token:
        return None
    total = Decimal(0)
    section = Decimal(0)
    current: Decimal | None = None
    digits = re.findall(r"\d+(?:\.\d+)?|.", token)
    try:
        for piece in digits:
            if piece[0].isdigit():
                current = Decimal(piece)
            elif piece in KANJI_DIGITS:
                current = (current or Decimal(0)) * 10 + KANJI_DIGITS[piece]
            elif piece in _SMALL_UNITS:
                section += (current if current is not None else Decimal(1)) * _SMALL_UNITS[piece]
                current = None
            elif piece in _BIG_UNITS:
                total += (section + (current or Decimal(0)) or Decimal(1)) * _BIG_UNITS[piece]
                section, current = Decimal(0), None
            else:
                return None
    except InvalidOperation:
        return None
    return total + section + (current or Decimal(0))


def _canon(value: Decimal) -> str:
    normalized = value.normalize()
    return format(normalized, "f")


def _era_year(era: str, num: str) -> int | None:
    count = 1 if num == "元" else parse_number(num)
    if count is None or count <= 0:
        return None
    return _ERAS[era] + int(count)


@lru_cache(maxsize=1)
def _dictionary():  # type: ignore[no-untyped-def]
    from sudachipy import Dictionary

    return Dictionary()


_LOCAL = threading.local()


def _sudachi():  # type: ignore[no-untyped-def]
    """Mode C (long units keep 南国市 and 坂野清世 whole); one tokenizer per thread, as SudachiPy needs."""
    tokenizer = getattr(_LOCAL, "tokenizer", None)
    if tokenizer is None:
        from sudachipy import SplitMode

        tokenizer = _dictionary().tokenizer(mode=SplitMode.C, fields={"pos"})
        _LOCAL.tokenizer = tokenizer
    return tokenizer


def proper_nouns(text: str) -> list[str]:
    """Runs of SudachiPy 固有名詞 (people, places, organisations) of two characters or more."""
    names: list[str] = []
    run = ""
    for morpheme in _sudachi().tokenize(text[:2000]):
        pos = morpheme.part_of_speech()
        if pos[1] == "固有名詞":
            run += morpheme.surface()
            continue
        if len(compact(run)) >= 2:
            names.append(run)
        run = ""
    if len(compact(run)) >= 2:
        names.append(run)
    return list(dict.fromkeys(names))


def extract_facts(text: str, *, names: bool = True) -> list[Fact]:
    """Every amount, percentage, year, date, number (and, with `names`, proper noun) in `text`."""
    flat = _join_spaced_digits(nfkc(text))
    facts: list[Fact] = []
    taken: list[tuple[int, int]] = []

    def free(match: re.Match[str]) -> bool:
        return not any(match.start() < end and start < match.end() for start, end in taken)

    def add(match: re.Match[str], kind: str, value: Decimal | int | str, *readings: Decimal) -> None:
        taken.append(match.span())
        shown = _canon(value) if isinstance(value, Decimal) else str(value)
        numbers = frozenset(r for r in readings if r is not None)
        facts.append(Fact(kind, shown, match.group(0), numbers))

    for match in _MONEY.finditer(flat):
        value = parse_number(match.group("num"))
        if value is not None:
            add(match, "money", value, value)
    for match in _PERCENT.finditer(flat):
        if free(match):
            value = Decimal(match.group("num").replace(",", ""))
            add(match, "percent", value, value)
    for match in _WARI.finditer(flat):
        value = parse_number(match.group("num"))
        if free(match) and value is not None:
            add(match, "percent", value * 10, value * 10, value)
    for match in _ERA_YEAR.finditer(flat):
        year = _era_year(match.group("era"), match.group("num"))
        if free(match) and year is not None:
            count = parse_number(match.group("num")) if match.group("num") != "元" else Decimal(1)
            add(match, "year", year, Decimal(year), *([count] if count is not None else []))
    for match in _ERA_ABBREVIATION.finditer(flat):
        year = _era_year(_ERA_ABBR[match.group("era")], match.group("num"))
        if free(match) and year is not None:
            add(match, "year", year, Decimal(year), Decimal(match.group("num")))
    for match in _WESTERN_YEAR.finditer(flat):
        if free(match):
            add(match, "year", int(match.group("num")), Decimal(match.group("num")))
    for match in _MONTH_DAY.finditer(flat):
        month, day = parse_number(match.group("m")), parse_number(match.group("d"))
        if free(match) and month is not None and day is not None:
            add(match, "date", f"{int(month)}-{int(day)}", month, day)
    for match in _KANJI_COUNT.finditer(flat):
        value = parse_number(match.group("num"))
        if free(match) and value is not None:
            add(match, "number", value, value)
    for match in _ARABIC_NUMBER.finditer(flat):
        if free(match):
            value = Decimal(match.group(0).replace(",", ""))
            if value < 10 and not _COUNTER.match(flat, match.end()):
                continue  # a bare small number (「2つ」「1.」) counts things, it names no value
            add(match, "number", value, value)
    if names:
        written = "".join(f.text for f in facts)
        for name in proper_nouns(flat):
            if name not in _ERAS and name not in written:
                facts.append(Fact("name", compact(name), name))
    return facts


def _close(a: Decimal, b: Decimal) -> bool:
    if a == b:
        return True
    if a == 0 or b == 0:
        return False
    rounded = len(a.normalize().as_tuple().digits) <= 3  # 「約12億円」: a figure the writer rounded
    return rounded and abs(a - b) / abs(b) <= ROUNDING


def unit_scale(text: str) -> Decimal | None:
    """Yen per number of a table whose caption or header states 「（単位：千円）」 (1000), else None."""
    match = _TABLE_UNIT.search(nfkc(text))
    return Decimal(_YEN_UNITS[match.group("unit")]) if match else None


def fact_found(fact: Fact, facts: Iterable[Fact], text: str) -> bool:
    """Is `fact` among `facts` (read from `text`)? Numbers match any reading of the same value; in a
    table stated in 千円 (`unit_scale`), the cell 「3,048,404」 is the amount 「3,048,404千円」."""
    if fact.kind == "name":
        return fact.value in compact(text)
    scale = unit_scale(text) if fact.kind == "money" else None
    for other in facts:
        if fact.kind == "money" and other.kind == "money":
            if _close(Decimal(fact.value), Decimal(other.value)):
                return True
        elif scale is not None and other.kind == "number":
            if any(_close(Decimal(fact.value), number * scale) for number in other.numbers):
                return True
        elif fact.kind in ("percent", "year", "date") and other.kind == fact.kind:
            if fact.value == other.value:
                return True
        elif fact.kind == "number" and fact.numbers & other.numbers:
            return True
    return False


# ----------------------------------------------------------------------------- clauses and items


@dataclass
class Clause:
    """A fact-bearing piece of a passage sentence with what tells which item it belongs to."""

    n: int
    text: str
    heading: str
    lead: str  # the sentence's clauses that hold no value
    facts: list[Fact]
    sentence: str = ""
    tokens: set[str] = field(default_factory=set)
    title: str = ""  # the document's title: 「議案第７号：令和８年度一般会計予算」 names its year
    score: float = 0.0
    before: str = ""  # the sentences just before it under the same heading (they may name what a value is of)

    @property
    def context(self) -> str:
        return f"{self.heading}\n{self.lead}{self.text}"

    def names(self, words: Sequence[str]) -> bool:
        """Do the clause's sentence, the sentences just before it, its heading and the document title
        name the asked `words` (`MIN_CELL_COVERAGE`), as a value that answers must be named?"""
        named = set(tokenize(f"{self.heading}\n{self.before}{self.sentence or self.text}\n{self.title}"))
        return item_coverage(named, list(words)) >= MIN_CELL_COVERAGE


def designators(text: str) -> dict[str, set[int]]:
    """第５次, 議案第２２号, 令和6年度 …: the numbers that name one item among its siblings, by kind."""
    flat = nfkc(text)
    found: dict[str, set[int]] = {}
    for kind, pattern in _DESIGNATORS.items():
        for match in pattern.finditer(flat):
            value = parse_number(match.group("num"))
            if value is not None:
                found.setdefault(kind, set()).add(int(value))
    years = {int(f.value) for f in extract_facts(flat, names=False) if f.kind == "year"}
    if years:
        found["年"] = years
    return found


def names_another_item(texts: Sequence[str], asked: dict[str, set[int]]) -> bool:
    """`texts`, nearest first, name another item of a kind the question pins down (第４次 for 第５次 …):
    for each kind the nearest text that names one decides."""
    for kind, wanted in asked.items():
        for text in texts:
            named = designators(text).get(kind)
            if named:
                if not named & wanted:
                    return True
                break
    return False


def item_coverage(named: AbstractSet[str], words: list[str]) -> float:
    """Share of the asked `words` (`asked_words`) among the words that name a value (a cell's row
    label, column header, caption and title; a sentence, its section and the title)."""
    if not words:
        return 1.0  # nothing but 「いくら」 asked: nothing to cover
    return sum(w in named for w in words) / len(words)


def subject_title(passage: Passage) -> str:
    """The title when it names what the document is about (「令和８年度一般会計予算」): a council
    meeting's title names when it met (「令和4年第1回定例会」), and its speeches discuss other years."""
    return "" if passage.doc_type == DocType.COUNCIL_MINUTES.value else passage.title


def _conflicts(clause: Clause, asked: dict[str, set[int]]) -> bool:
    """The clause's own designators decide, else its sentence's, else its heading's, else the title's."""
    return names_another_item((clause.text, clause.sentence, clause.heading, clause.title), asked)


def passage_clauses(n: int, passage: Passage) -> list[Clause]:
    heading = passage.heading or ""
    rows = passage.content == "table_rows"
    clauses: list[Clause] = []
    recent: list[str] = []
    for line in passage.text.split("\n"):
        stripped = line.strip()
        if not stripped:
            continue
        if is_heading(stripped):
            heading = stripped
            recent.clear()
            facts = extract_facts(stripped)
            if facts:
                clauses.append(Clause(n, stripped, "", "", facts, title=subject_title(passage)))
            continue
        for sentence in split_sentences(stripped):
            before = "".join(recent[-CONTEXT_SENTENCES:])
            recent.append(sentence)
            pieces = [p for p in _CLAUSE_SPLIT.split(sentence) if p.strip()]
            read = [(piece, extract_facts(piece)) for piece in pieces]
            lead = "".join(piece for piece, facts in read if not any(f.kind != "name" for f in facts))
            if rows and "：" in sentence:
                # A table row 「8.土木費：本年度予算額 2,282,347、前年度予算額 3,048,404」: every cell
                # belongs to the row its label names, not only the first.
                lead = sentence.split("：", 1)[0] + "：" + lead
            for piece, facts in read:
                if facts:
                    clauses.append(
                        Clause(n, piece, heading, lead, facts, sentence, title=subject_title(passage), before=before)
                    )
    return clauses


def _weights(tokens: Sequence[str], clauses: Sequence[Clause]) -> dict[str, float]:
    total = len(clauses)
    return {t: math.log(1 + total / (1 + sum(1 for c in clauses if t in c.tokens))) for t in tokens}


@dataclass
class ItemScope:
    """The passage clauses that belong to the item the question names (all when none stands out)."""

    clauses: list[Clause]
    item: list[Clause]
    named: bool  # False when no clause names the asked item clearly enough to judge

    @classmethod
    def build(cls, question: str, passages: dict[int, Passage], question_tokens: Sequence[str]) -> ItemScope:
        clauses = [c for n, p in sorted(passages.items()) for c in passage_clauses(n, p)]
        tokens = [t for t in dict.fromkeys(question_tokens) if t]
        if not clauses or not tokens:
            return cls(clauses, clauses, False)
        for clause in clauses:
            clause.tokens = set(tokenize(clause.context))
        weights = _weights(tokens, clauses)
        total = sum(weights.values()) or 1.0
        asked = designators(question)
        conflicting = 0
        for clause in clauses:
            clause.score = sum(w for t, w in weights.items() if t in clause.tokens) / total
            if asked and _conflicts(clause, asked):
                clause.score = 0.0
                conflicting += 1
        if conflicting == len(clauses):
            # Every clause belongs to another 議案/year (a 令和８年度 budget read for 令和4年度): none
            # of their values answers the question.
            return cls(clauses, [], True)
        best = max(c.score for c in clauses)
        if best < ITEM_MIN_COVERAGE:
            return cls(clauses, clauses, False)
        item = [c for c in clauses if c.score >= ITEM_RELATIVE * best]
        return cls(clauses, item, True)


@dataclass
class FactIssue:
    sentence: str
    fact: Fact
    reason: str  # wrong_item | not_in_passages


@dataclass
class FactReport:
    checked: int = 0  # sentences with at least one fact to check
    issues: list[FactIssue] = field(default_factory=list)

    @property
    def failing_sentences(self) -> list[str]:
        return list(dict.fromkeys(i.sentence for i in self.issues))


def check_facts(
    sentences: Sequence[tuple[str, list[int]]],
    question: str,
    passages: dict[int, Passage],
    question_tokens: Sequence[str],
    asked_words: Sequence[str] | None = None,
) -> FactReport:
    """Check each (sentence without markers, cited numbers) against the asked item's clauses.

    With `asked_words` (extractive_tables.asked_words), an amount, count or rate of the kind the question
    asks for must also come from a clause that names them as the extractive engine requires of the
    sentence it quotes: 「平均給料月額 308,177」 in a staff salary table is no answer to 「市長の給料月額は」."""
    scope = ItemScope.build(question, passages, question_tokens)
    wanted = asks_for(question)
    must_name = list(asked_words) if asked_words is not None and wanted in STRICT_KINDS else None
    given = extract_facts(question)
    report = FactReport()
    all_text = "\n".join(p.text for p in passages.values())
    all_facts = extract_facts(all_text, names=False)
    for sentence, _cited in sentences:
        facts = [
            f for f in extract_facts(_LIST_MARKER.sub("", sentence)) if not fact_found(f, given, question)
        ]
        if not facts:
            continue
        report.checked += 1
        # Any passage's clause of the asked item will do: a right value with a wrong [n] is a citation
        # problem (anchor_evidence adds the evidence passage), not a wrong fact.
        item = scope.item
        for fact in facts:
            if any(fact_found(fact, c.facts, c.context) for c in item):
                named = must_name is None or fact.kind != wanted or any(
                    c.names(must_name) for c in scope.clauses if fact_found(fact, c.facts, c.context)
                )
                if not named:
                    report.issues.append(FactIssue(sentence, fact, "wrong_item"))
                continue
            if fact.kind == "name":
                reason = _name_issue(fact, scope, item, all_text)
                if reason:
                    report.issues.append(FactIssue(sentence, fact, reason))
                continue
            anywhere = fact_found(fact, all_facts, all_text)
            if anywhere and not scope.named:
                continue
            report.issues.append(FactIssue(sentence, fact, "wrong_item" if anywhere else "not_in_passages"))
    return report


def _name_issue(fact: Fact, scope: ItemScope, item: list[Clause], all_text: str) -> str | None:
    """A name is wrong when the passages lack it, or when only clauses of another item hold it
    (sentences without values say too little about which item they belong to, so they do not count)."""
    if fact.value not in compact(all_text):
        return "not_in_passages"
    if not scope.named or any(fact.value in compact(c.context) for c in item):
        return None
    inside = {id(c) for c in item}
    others = [c for c in scope.clauses if id(c) not in inside]
    return "wrong_item" if any(fact.value in compact(c.text) for c in others) else None


_COUNTERS = "世帯|人|件|名|回|校|台|か所|箇所|ヶ所|カ所|歳|倍|トン|月分|カ月|か月|ヶ月|カ年|か年|ヵ年|年間|日間|匹|頭|戸|棟|本|点|個|発"
_OTHER_CURRENCY = re.compile(r"\d[\d,.]*\s*(?:万|億|兆)?\s*(?:ドル|ユーロ|ポンド|元|ウォン|ルピー|フラン)")
_ASKED_COUNTER = re.compile(rf"(?:何|約何)\s*({_COUNTERS})")
# Kinds whose value a sentence must state to answer, checked in a model's answer too (誰 may be answered
# by a role; 「いつ」 sentences are held to a looser rule in the extractive engine only).
STRICT_KINDS = ("money", "percent", "number")


# When-answers without a calendar date: 「1459年頃」「16世紀後半」「6月下旬」「江戸時代」「梅雨の末期」「導入以降」.
_TEMPORAL = re.compile(
    r"\d+\s*(?:年|月|世紀|か月|カ月|ヶ月|週間|日)|[一二三四五六七八九十]+世紀|年間|時代|年代|[上中下初]旬|[初中末後前]期|以降|以前|以後|頃|ごろ"
)


def asked_counter(question: str) -> str | None:
    """The counter a 「何人」「何世帯」「何月分」 question asks in (None for other questions)."""
    match = _ASKED_COUNTER.search(nfkc(question))
    return match.group(1) if match else None


def asks_for(question: str) -> str | None:
    """The kind of value a question asks for (money, percent, year, date, number, name) or None.

    Read outside brackets: 「水沼診療所について（…診療所の再開時期…）について、どのような質問と答弁が」
    lists the topics of a speech in brackets and asks for no date."""
    flat = nfkc(question)
    split = split_qualifier(flat)
    if split is not None and split[0].strip():
        flat = split[0]
    if asked_counter(flat) or re.search(r"人数|件数|いくつ", flat):
        return "number"
    if re.search(r"いくら|金額|費用|予算額|総額|の規模は|何円|額は", flat):
        return "money"
    if re.search(r"何%|何パーセント|率は|割合|何割|何パーミル", flat):
        return "percent"
    if re.search(r"いつ|何年|期間(?:は|を|が)|年度は|何月|何日|日付|期限|時期", flat):
        return "year"
    if re.search(r"誰|だれ|氏名|名前|どなた", flat):
        return "name"
    return None


@lru_cache(maxsize=256)
def _stated_facts(question: str) -> tuple[Fact, ...]:
    """The question's own values, read once per question rather than once per candidate sentence."""
    return tuple(extract_facts(question, names=False))


def holds_kind(text: str, kind: str, counter: str | None = None, given: str = "") -> bool:
    """Does `text` state a value of the kind a question asks for (in its counter: 「880人」 for 何人)?

    A number the question itself states (`given`: 「第5次…総合計画の目標はいくつ」) is not the value asked."""
    flat = _join_spaced_digits(nfkc(text))
    if kind == "number" and counter:
        return bool(re.search(rf"(?:\d|[{_KANJI_NUM}])[\d,.万千]*\s*{re.escape(counter)}", flat))
    facts = extract_facts(flat, names=kind == "name")
    if given and kind in STRICT_KINDS:
        stated = _stated_facts(given)
        facts = [f for f in facts if not fact_found(f, stated, given)]
    if kind == "year":
        return any(f.kind in ("year", "date") for f in facts) or bool(_TEMPORAL.search(flat))
    if kind == "number":
        return any(f.kind in ("number", "money", "percent") for f in facts)
    if kind == "percent":
        return any(f.kind == "percent" for f in facts) or "パーミル" in flat or "ポイント" in flat
    if kind == "money" and _OTHER_CURRENCY.search(flat):
        return True
    return any(f.kind == kind for f in facts)
