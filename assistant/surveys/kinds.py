"""What each column is: detection of column kinds, choice order, code books and 0/1 flag groups.

Detection is a proposal the user checks (ColumnInfo.detected vs. kind); overrides in the settings
always win. Orders matter as much as kinds: a satisfaction scale read alphabetically (不満, 大いに
満足, 普通…) misleads, so scales are ordered by their wording (most positive first, as surveys print
them), and choices that carry numbers (年代, 金額帯, 回数) by those numbers.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from yakuba.assistant.surveys.read import RawSurvey, read_survey
from yakuba.assistant.surveys.schema import ColumnInfo, ColumnKind, SurveySettings
from yakuba.core.errors import InvalidInputError

SEPARATORS = (", ", "，", ";", "；", "|", "、")
FLAG_VALUES = frozenset({"0", "1"})
_FLAG_NAME = re.compile(r"^(?P<q>.+?)(?:[_:：/／]\s*(?P<o1>.+)|[（(](?P<o2>.+)[）)])$")
_ID_NAME = re.compile(r"(^|[^a-z])(id|no\.?)$|回答者?番号|^番号$|^ID|ＩＤ|通し番号", re.IGNORECASE)
_ATTRIBUTE_NAME = re.compile(r"性別|年代|年齢|職業|職種|居住|住まい|お住|地区|地域|世帯|家族構成|回答場所|学年|所属")
_TIME_NAME = re.compile(r"日時|日付|回答日|タイムスタンプ|timestamp|date", re.IGNORECASE)
_TEXT_NAME = re.compile(r"意見|感想|理由|自由|要望|記述|コメント|困った|不便|提案")
_SCORE_NAME = re.compile(r"おすすめ|お勧め|推奨|薦め|NPS|0[〜～~-]10", re.IGNORECASE)
_DATE = re.compile(r"^\d{4}[-/年.]\d{1,2}[-/月.]\d{1,2}日?(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$")
_NUMBER = re.compile(r"^[-+]?\d[\d,]*(?:\.\d+)?$")
_FIRST_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_LOW_QUALIFIER = re.compile(r"^[^\d]*?(未満|以下|まで|以上|超)")
_LAST_WORDS = ("その他", "無回答", "わからない", "分からない", "不明")
_NOTHING_WORDS = ("日帰り", "ない", "なし", "無し", "0")

# Scale wording → polarity score (the higher, the more positive): 「大いに満足」 2, 「満足」 1.5, 「やや満足」 1,
# 「普通」 0 … 「大いに不満」 -2. A column is a scale when (nearly) all its answers score.
_NEUTRAL = re.compile(r"^(普通|ふつう|どちらともいえない|どちらとも言えない|どちらでもない|中間|変わらない)$")
_NEGATIVE = re.compile(r"不満|悪い|思わない|不便|反対|不要|低い|少ない|減った|感じない|良くない|よくない")
_POSITIVE = re.compile(r"満足|良い|よい|そう思う|便利|賛成|必要|高い|多い|増えた|感じる|良かった")
_STRONG = re.compile(r"^(大いに|非常に|とても|大変|たいへん|かなり|全く|まったく|全然|すごく)")
_MILD = re.compile(r"^(やや|まあまあ|どちらかといえば|どちらかと言えば|少し|あまり|多少)")


@dataclass
class Question:
    """One question's answers, one value per respondent (None = 無回答), and how to read them."""

    name: str
    kind: ColumnKind
    detected: ColumnKind
    values: list = field(repr=False)  # str | frozenset[str] | float | None per row
    options: list[str] = field(default_factory=list)
    separator: str | None = None
    flag_columns: list[str] = field(default_factory=list)

    @property
    def answered(self) -> int:
        return sum(v is not None for v in self.values)

    def info(self) -> ColumnInfo:
        examples: list[str] = []
        for v in self.values:
            if v is not None and len(examples) < 3:
                text = ", ".join(sorted(v)) if isinstance(v, frozenset) else _show(v)
                if text not in examples:
                    examples.append(text[:80])
        return ColumnInfo(
            name=self.name, kind=self.kind, detected=self.detected, answered=self.answered,
            options=self.options[:200], separator=self.separator, flag_columns=self.flag_columns,
            examples=examples,
        )


def _show(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def key(text: str) -> str:
    """How names and codes are compared: NFKC, no surrounding space (「１」 == 「1」, 「（」 == 「(」)."""
    return unicodedata.normalize("NFKC", text).strip()


def _maybe_resolve(name: str, names: list[str]) -> str:
    """A column name as the file spells it, or the name unchanged (a flag group's question name)."""
    return next((n for n in names if key(n) == key(name)), name)


def resolve(name: str, names: list[str]) -> str:
    """The column a user meant (exact, else NFKC-equal); a clear error listing the columns otherwise."""
    if name in names:
        return name
    wanted = key(name)
    for candidate in names:
        if key(candidate) == wanted:
            return candidate
    raise InvalidInputError(
        f"列「{name}」がありません（列: {'、'.join(names[:60])}） / no column {name!r}",
        code="survey_no_column",
        detail={"columns": names},
    )


def build_questions(raw: RawSurvey, settings: SurveySettings) -> list[Question]:
    """Every column as a Question, flag groups joined into one multiple-choice question."""
    names = raw.header
    overrides = {_maybe_resolve(n, names): k for n, k in settings.kinds.items()}
    codebook = {resolve(n, names): {key(c): label for c, label in m.items()} for n, m in settings.codebook.items()}
    columns = {name: [row[j] for row in raw.rows] for j, name in enumerate(names)}
    groups = _flag_groups(columns, {n for n, k in overrides.items() if k != "multiple"} | set(codebook))
    first_of_group = {cols[0]: q for q, cols in groups.items()}
    grouped = {c for cols in groups.values() for c in cols}
    questions: list[Question] = []
    for name in names:
        if name in first_of_group:
            q = first_of_group[name]
            questions.append(_flag_question(q, groups[q], columns))
        if name in grouped:
            continue
        values = columns[name]
        if name in codebook:
            values = [_apply_codes(v, codebook[name]) for v in values]
        questions.append(_question(name, values, overrides.get(name), list(codebook.get(name, {}).values())))
    known = {q.name for q in questions}
    for name in overrides:
        if name not in known:
            raise InvalidInputError(
                f"種類を指定した列「{name}」がありません / kind given for unknown column {name!r}",
                code="survey_no_column",
                detail={"columns": sorted(known)},
            )
    order = {resolve(n, [q.name for q in questions]): o for n, o in settings.order.items()}
    for q in questions:
        if q.name in order:
            q.options = _ordered_override(q, order[q.name])
    return questions


# ----------------------------------------------------------------------------- detection


def detect(values: list[str | None], name: str) -> tuple[ColumnKind, str | None]:
    """The kind of one column from its name and answers, and the multiple-choice separator if any."""
    counts = Counter(v for v in values if v is not None)
    if not counts:
        return "empty", None
    total = sum(counts.values())
    distinct = list(counts)

    def share(test) -> float:  # noqa: ANN001 - a predicate on one answer
        return sum(c for v, c in counts.items() if test(v)) / total

    if _ID_NAME.search(name) and len(distinct) == total:
        return "id", None
    dates = share(lambda v: bool(_DATE.match(key(v))))
    if dates >= 0.95 or (_TIME_NAME.search(name) and dates >= 0.8):
        return "timestamp", None
    numbers = {v: _number(v) for v in distinct}
    if share(lambda v: numbers[v] is not None) >= 0.95:
        ints = {n for n in numbers.values() if n is not None}
        if all(float(n).is_integer() and 0 <= n <= 10 for n in ints):
            if len(ints) >= 6 and max(ints) >= 9 or (_SCORE_NAME.search(name) and max(ints, default=0) > 5):
                return "score", None
            if ints <= {1, 2, 3, 4, 5} and len(ints) >= 3 and re.search(r"満足|評価|段階|程度|重要", name):
                return "scale", None
        if len(distinct) == total > 20 and all(float(n).is_integer() for n in ints):
            return "id", None
        if len(ints) > 10 or not _ATTRIBUTE_NAME.search(name) and len(ints) > 5:
            return "number", None
    separator = _separator(counts)
    if separator:
        return "multiple", separator
    scores = {v: _scale_score(v) for v in distinct}
    if share(lambda v: scores[v] is not None) >= 0.95 and len(set(scores.values()) - {None}) >= 3:
        return "scale", None
    mean_len = sum(len(v) * c for v, c in counts.items()) / total
    if mean_len > 30 or (len(distinct) > 50 and len(distinct) > 0.2 * total) or (
        _TEXT_NAME.search(name) and len(distinct) > 0.5 * total and mean_len > 5
    ):
        return "text", None
    if _ATTRIBUTE_NAME.search(name):
        return "attribute", None
    return "single", None


def _number(value: str) -> float | None:
    text = key(value)
    if not _NUMBER.match(text):
        return None
    return float(text.replace(",", ""))


def _separator(counts: Counter[str]) -> str | None:
    """The separator of joined multiple answers: parts that recur, unlike the pieces of sentences."""
    total_answers = sum(counts.values())
    for sep in SEPARATORS:
        joined = sum(c for v, c in counts.items() if sep in v)
        if joined < max(2, 0.05 * total_answers):
            continue
        parts: Counter[str] = Counter()
        for v, c in counts.items():
            for p in _parts(v, sep):
                parts[p] += c
        total = sum(parts.values())
        recurring = sum(c for c in parts.values() if c >= 3)
        long_parts = sum(c for p, c in parts.items() if len(p) > 40)
        if total and recurring >= 0.8 * total and long_parts < 0.05 * total:
            return sep
    return None


def _parts(value: str, separator: str) -> list[str]:
    """「自家用車,, 新幹線」 → 自家用車, 新幹線: stray commas and spaces around a choice are not part of it."""
    return [p for p in (part.strip().strip(",，、").strip() for part in value.split(separator)) if p]


def _scale_score(value: str) -> float | None:
    text = key(value).rstrip("。")
    if _NEUTRAL.match(text):
        return 0.0
    strength = 2.0 if _STRONG.match(text) else 1.0 if _MILD.match(text) else 1.5
    if _NEGATIVE.search(text):
        return -strength
    if _POSITIVE.search(text):
        return strength
    return None


# ----------------------------------------------------------------------------- questions


def _question(name: str, values: list[str | None], kind: ColumnKind | None, code_order: list[str]) -> Question:
    detected, separator = detect(values, name)
    kind = kind or detected
    if kind == "multiple" and separator is None:
        separator = _separator(Counter(v for v in values if v is not None)) or ", "
    parsed: list = values
    if kind == "multiple":
        parsed = [_split(v, separator) for v in values]  # type: ignore[arg-type]
    elif kind in {"score", "number"}:
        parsed = [_number(v) if v is not None else None for v in values]
        bad = sum(1 for v, p in zip(values, parsed, strict=True) if v is not None and p is None)
        if bad and kind == "score" or bad > 0.05 * max(1, sum(v is not None for v in values)):
            raise InvalidInputError(
                f"列「{name}」は数値ではない回答を含みます（{bad}件）。種類を見直してください / "
                f"column {name!r} has {bad} non-numeric answers for kind {kind}",
                code="survey_bad_kind",
            )
    question = Question(name, kind, detected, parsed, separator=separator if kind == "multiple" else None)
    question.options = _options(question, code_order)
    return question


def _split(value: str | None, separator: str) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset(_parts(value, separator)) or None


def _flag_groups(columns: dict[str, list[str | None]], pinned: set[str]) -> dict[str, list[str]]:
    """Columns of 0/1 sharing a question prefix (「訪問目的_温泉」「訪問目的_グルメ」) → question → columns."""
    groups: dict[str, list[str]] = {}
    for name, values in columns.items():
        match = _FLAG_NAME.match(name)
        answers = {key(v) for v in values if v is not None}
        if match is None or name in pinned or not answers or not answers <= FLAG_VALUES:
            continue
        groups.setdefault(match["q"].strip(), []).append(name)
    return {q: cols for q, cols in groups.items() if len(cols) >= 2}


def _flag_question(name: str, cols: list[str], columns: dict[str, list[str | None]]) -> Question:
    labels = {c: (_FLAG_NAME.match(c)["o1"] or _FLAG_NAME.match(c)["o2"]).strip() for c in cols}  # type: ignore[index]
    values: list[frozenset[str] | None] = []
    for i in range(len(columns[cols[0]])):
        cells = [columns[c][i] for c in cols]
        if all(v is None for v in cells):
            values.append(None)
        else:
            values.append(frozenset(labels[c] for c, v in zip(cols, cells, strict=True) if v is not None and key(v) == "1"))
    question = Question(name, "multiple", "multiple", values, flag_columns=cols)
    question.options = list(dict.fromkeys(labels[c] for c in cols))  # 0 selections still shown
    return question


def _apply_codes(value: str | None, codes: dict[str, str]) -> str | None:
    if value is None:
        return None
    if key(value) in codes:
        return codes[key(value)]
    for sep in SEPARATORS + (",",):
        if sep in value:
            parts = [codes.get(key(p), p.strip()) for p in value.split(sep) if p.strip()]
            return ", ".join(parts)
    return value


# ----------------------------------------------------------------------------- order


def _options(question: Question, code_order: list[str]) -> list[str]:
    """Choices in the order reports show them."""
    if question.kind in {"id", "timestamp", "text", "number", "empty"}:
        return []
    if question.kind == "score":
        return [str(i) for i in range(11)]
    counts: Counter[str] = Counter()
    for value in question.values:
        if value is None:
            continue
        if isinstance(value, frozenset):
            counts.update(value)
        else:
            counts[value] += 1
    seen = list(counts)
    if code_order:  # the code book's order is the questionnaire's order
        listed = list(dict.fromkeys(code_order))  # codes nobody chose are shown with 0
        return listed + [o for o in _by_count(counts) if o not in listed]
    if question.kind == "scale":
        scores = {o: _scale_score(o) for o in seen}
        if all(_number(o) is not None for o in seen):
            return sorted(seen, key=lambda o: _number(o) or 0.0)
        scaled = sorted((o for o in seen if scores[o] is not None), key=lambda o: -(scores[o] or 0.0))
        return scaled + [o for o in _by_count(counts) if scores[o] is None]
    numbered = [o for o in seen if _FIRST_NUMBER.search(key(o))]
    if question.kind != "multiple" and len(seen) > 2 and len(numbered) >= 0.6 * len(seen):
        return sorted(seen, key=_natural_key)
    return _by_count(counts)


def _by_count(counts: Counter[str]) -> list[str]:
    """Most chosen first; その他・無回答 last."""
    return sorted(counts, key=lambda o: (any(w in o for w in _LAST_WORDS), -counts[o], o))


def _natural_key(option: str) -> tuple[int, float, int, str]:
    """「日帰り」 < 「1泊」 < 「4泊」 < 「4泊以上」; 「1,000円未満」 < 「1,000円以上3,000円未満」; その他 last."""
    text = key(option)
    match = _FIRST_NUMBER.search(text)
    if match is None:
        group = 0 if any(w in text for w in _NOTHING_WORDS) and not any(w in text for w in _LAST_WORDS) else 2
        return group, 0.0, 0, text
    qualifier = _LOW_QUALIFIER.match(text[match.end():])
    rank = 1 if qualifier is None else 0 if qualifier.group(1) in {"未満", "以下", "まで"} else 2
    return 1, float(match.group().replace(",", "")), rank, text


def _ordered_override(question: Question, wanted: list[str]) -> list[str]:
    missing = [o for o in question.options if o not in wanted]
    return [o for o in wanted if o in question.options] + missing


# ----------------------------------------------------------------------------- code books


def read_codebook(data: bytes, filename: str) -> dict[str, dict[str, str]]:
    """A code book file (設問・コード・ラベル, one row per code) → column → {code: label}."""
    raw = read_survey(data, filename, header_rows=1)
    header = [key(h).lower() for h in raw.header]

    def find(pattern: str, default: int) -> int:
        return next((j for j, h in enumerate(header) if re.search(pattern, h)), default)

    if len(header) < 3:
        raise InvalidInputError(
            "コードブックには「設問」「コード」「ラベル」の3列が必要です / a code book needs question, code and label columns",
            code="survey_bad_codebook",
        )
    q = find(r"設問|列|項目|question|column", 0)
    c = find(r"コード|値|番号|code|value", 1)
    lab = find(r"ラベル|選択肢|内容|意味|label", 2)
    book: dict[str, dict[str, str]] = {}
    current: str | None = None
    for row in raw.rows:
        current = row[q] or current  # a question name written once above its codes
        if current is None or row[c] is None or row[lab] is None:
            continue
        book.setdefault(current, {})[row[c]] = row[lab]
    if not book:
        raise InvalidInputError("コードブックが空です / the code book has no codes", code="survey_bad_codebook")
    return book
