"""What both drafts need: numbers as facts, short model calls, and the checks on a model's output.

A small local model rewrites fluently but will happily turn 「30人」 into 「50人」 or add a date nobody
said. Every rewrite is therefore checked against its own input (numbers, length, plain Japanese) and
replaced by the deterministic text when it fails; callers record why in `warnings`.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

log = logging.getLogger(__name__)

Masker = Callable[[str], str]

# ----------------------------------------------------------------------------- numbers

_KANJI_DIGIT = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_KANJI_SMALL = {"十": 10, "百": 100, "千": 1000}
_KANJI_LARGE = {"万": 10_000, "億": 100_000_000}
_COUNTERS = (
    "人|名|円|日|月|年|時|分|秒|回|件|歳|才|か所|カ所|ヶ所|箇所|校|台|部|枚|階|番|号|つ|個|本|冊|世帯|戸|週|度|"
    "割|倍|点|m|km|kg|%|パーセント|期|組|社|団体|区|丁目|頭|匹|棟|室|席|往復|泊|キロ|メートル|グラム"
)
_ARABIC = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?(?:[万億千](?:\d+(?:,\d{3})*)?)*")
_KANJI_NUM = re.compile(rf"[〇零一二三四五六七八九十百千万億]+(?=(?:{_COUNTERS}))|[〇零一二三四五六七八九十百千]{{2,}}[万億]?")
_ERA = re.compile(r"(令和|平成|昭和)\s*(元|\d+)\s*年")
_ERA_START = {"令和": 2019, "平成": 1989, "昭和": 1926}


def _kanji_value(token: str) -> int | None:
    if token and all(ch in _KANJI_DIGIT for ch in token):  # 二〇二五
        return int("".join(str(_KANJI_DIGIT[ch]) for ch in token))
    total = section = current = 0
    for ch in token:
        if ch in _KANJI_DIGIT:
            current = _KANJI_DIGIT[ch]
        elif ch in _KANJI_SMALL:
            section += (current or 1) * _KANJI_SMALL[ch]
            current = 0
        elif ch in _KANJI_LARGE:
            total += (section + current or 1) * _KANJI_LARGE[ch]
            section = current = 0
        else:
            return None
    return total + section + current


def _arabic_value(token: str) -> float | None:
    """「1,234」→1234, 「10万」→100000, 「3万5千」→35000, 「1.5億」→150000000."""
    total = 0.0
    for amount, unit in re.findall(r"(\d+(?:,\d{3})*(?:\.\d+)?)?([万億千]?)", token):
        if not amount and not unit:
            continue
        value = float(amount.replace(",", "")) if amount else 1.0
        total += value * {"万": 10_000, "億": 100_000_000, "千": 1000, "": 1}[unit]
    return total


def _canonical(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True)
class NumberMention:
    surface: str
    value: str
    start: int
    end: int


def number_mentions(text: str, *, kanji_single: bool = True) -> list[NumberMention]:
    """Numbers in `text` (NFKC): arabic with 万/億, kanji numerals before a counter, as canonical values.

    `kanji_single=False` ignores one-character kanji numerals (「一部」「一層」 are words, not counts).
    """
    flat = unicodedata.normalize("NFKC", text)
    found: list[NumberMention] = []
    for match in _ARABIC.finditer(flat):
        value = _arabic_value(match.group())
        if value is not None:
            found.append(NumberMention(match.group(), _canonical(value), match.start(), match.end()))
    for match in _KANJI_NUM.finditer(flat):
        token = match.group()
        if len(token) == 1 and (not kanji_single or token == "一"):
            continue
        if token.startswith(("万", "億")):
            continue
        value = _kanji_value(token)
        if value is not None:
            found.append(NumberMention(token, str(value), match.start(), match.end()))
    return sorted(found, key=lambda m: m.start)


def number_values(text: str) -> set[str]:
    """Every value a source text supports, with 和暦 years also as 西暦 (令和7年 → 7 and 2025)."""
    values = {m.value for m in number_mentions(text)}
    for era, year in _ERA.findall(unicodedata.normalize("NFKC", text)):
        n = 1 if year == "元" else int(year)
        values.add(str(_ERA_START[era] + n - 1))
        values.add(str(n))
    return values


def unsupported_numbers(output: str, sources: Iterable[str]) -> list[NumberMention]:
    """Numbers in `output` that no source contains (the invented facts)."""
    known: set[str] = set()
    for source in sources:
        known |= number_values(source)
    return [m for m in number_mentions(output, kanji_single=False) if m.value not in known]


# ----------------------------------------------------------------------------- model calls


@dataclass
class ModelUse:
    """Bookkeeping of one draft's model calls, so the draft can say which engine produced it."""

    chat_model: BaseChatModel | None
    mask: Masker | None = None
    max_calls: int = 24
    calls: int = 0
    accepted: int = 0
    rejected: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def available(self) -> bool:
        return self.chat_model is not None and self.calls < self.max_calls

    def engine(self) -> str:
        if self.accepted and not self.rejected:
            return "llm"
        if self.accepted:
            return "llm+extractive"
        return "extractive"

    def invoke(self, system: str, user: str, max_tokens: int) -> str | None:
        """One short call; None when the model is missing, over its call budget, or fails."""
        if self.chat_model is None:
            return None
        if self.calls >= self.max_calls:
            if "model_budget" not in self.warnings:
                self.warnings.append("model_budget")
            return None
        self.calls += 1
        if self.mask is not None:
            user = self.mask(user)
        try:
            message = self.chat_model.bind(max_tokens=max_tokens).invoke(
                [SystemMessage(content=system), HumanMessage(content=user)]
            )
        except Exception as exc:  # any engine failure (server down, timeout, load error) → fallback
            log.warning("draft model call failed: %s", exc)
            self.rejected += 1
            return None
        text = message.text if isinstance(message.text, str) else str(message.content)
        return clean_model_output(text)


_PREFIX = re.compile(r"^\s*(?:要約|要点|回答|出力|見出し|リード|本文|Summary|Answer)\s*[:：]\s*", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-・*•●]|\d+[.)．])\s*", re.MULTILINE)


def clean_model_output(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip()
    text = re.sub(r"```[a-z]*", "", text).strip()
    text = _PREFIX.sub("", text)
    text = _BULLET.sub("", text)
    return text.strip().strip("「」\"'")


def _japanese_share(text: str) -> float:
    chars = [ch for ch in text if not ch.isspace()]
    if not chars:
        return 0.0
    wide = sum(1 for ch in chars if "\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" or ch in "。、「」")
    return wide / len(chars)


def check_rewrite(output: str | None, sources: Iterable[str], *, max_chars: int, min_chars: int = 1) -> str | None:
    """Why a model rewrite is unusable (a reason code), or None when it passes.

    Checks: not empty, mostly Japanese, within length, and no number that the sources lack.
    """
    if output is None:
        return "model_failed"
    if len(output) < min_chars:
        return "too_short"
    if len(output) > max_chars:
        return "too_long"
    if _japanese_share(output) < 0.6:
        return "not_japanese"
    sources = list(sources)
    invented = unsupported_numbers(output, sources)
    if invented:
        return "invented_numbers:" + ",".join(m.surface for m in invented[:5])
    return None


def dropped_numbers(output: str | None, original: str) -> str | None:
    """A reason code when a rewrite lost a number or date of the text it rewrote (a fact gone), else None.

    An article whose model rewrite drops 「7月12日」 or 「30人」 reads well and is wrong: facts must survive."""
    if output is None:
        return None
    kept = number_values(output)
    lost = [m.surface for m in number_mentions(original, kanji_single=False) if m.value not in kept]
    return "dropped_numbers:" + ",".join(lost[:5]) if lost else None


_REASONS_JA = {
    "model_failed": "モデルが応答しませんでした",
    "too_short": "短すぎました",
    "too_long": "長すぎました",
    "not_japanese": "日本語以外の文字が多く含まれていました",
    "invented_numbers": "元の文にない数値「{}」を含んでいました",
    "dropped_numbers": "元の文の数値「{}」が抜けていました",
}


def reason_ja(reason: str) -> str:
    """A check's reason code (check_rewrite, dropped_numbers) as the sentence the user reads."""
    code, _, values = reason.partition(":")
    template = _REASONS_JA.get(code)
    if template is None:
        return reason
    return template.format("」「".join(values.split(","))) if "{}" in template else template


FALLBACK_NOTE = "モデルの出力が確認条件（入力にない数値・長さ・日本語）を満たさなかった箇所は、抽出による文に置き換えました。"


# ----------------------------------------------------------------------------- spoken numerals

# Speech recognisers (and people dictating) write numbers as they are said: 二十二名, 令和四年, 三点五
# パーセント. Minutes and notices write them in digits. Only unambiguous runs are converted: two or more
# numeral characters, or one before a counter; 一 alone only before a counter that cannot start a word
# (一般, 一部, 一方, 一人ひとり and 十分に stay as they are).
_SPOKEN_NUM = re.compile(r"[〇零一二三四五六七八九十百千万億]+(?:点[〇零一二三四五六七八九]+(?!目))?")
_COUNTER_AFTER = re.compile(
    r"(?:年|月|日|回|件|名|人|点|番|号|条|項|款|目|歳|時|分|秒|円|割|倍|期|か所|カ所|ヶ所|箇所|校|台|社|団体|世帯|戸|"
    r"週|度|%|パーセント|キロ|メートル|ヘクタール|ha|m|km|階|棟|床|本|冊|枚|頭|区|丁目|地区)"
)
_ONE_COUNTER = re.compile(r"(?:点目|番目|年|月|日|回|件|名|条|項|号|円|%|パーセント|割|億|万)")
_WORDS_NOT_NUMBERS = ("十分", "一一", "万一", "百万遍", "千万")


def arabic_numerals(text: str) -> str:
    """Spoken numerals as digits (二十二名 → 22名, 三点五パーセント → 3.5%), conservatively (see above)."""
    text = text.replace("パーセント", "%")

    def convert(match: re.Match[str]) -> str:
        token = match.group()
        after = text[match.end() : match.end() + 4]
        whole, _, decimal = token.partition("点")
        if whole.startswith(("万", "億")) or token in _WORDS_NOT_NUMBERS:
            return token
        if whole == "十" and after.startswith("分") and after[1:2] in ("に", "な", "で", "だ", "と", "す", "、", "。", ""):
            return token  # 十分に (enough), not ten minutes
        if len(whole) == 1 and not decimal:
            counter = _ONE_COUNTER if whole == "一" else _COUNTER_AFTER
            if not counter.match(after):
                return token
        value = _kanji_value(whole)
        if value is None:
            return token
        if decimal:
            return f"{value}.{''.join(str(_KANJI_DIGIT[ch]) for ch in decimal)}"
        return str(value)

    return _SPOKEN_NUM.sub(convert, text)
