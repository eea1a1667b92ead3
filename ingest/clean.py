"""Cleaning of text extracted from Japanese municipal documents (pure functions, no I/O).

PDF extraction leaves the text of public documents in a state that hurts both BM25 and embeddings:
letter-spaced lines (「危 機 管 理 ま ず 、」), lines broken by the page layout in the middle of a
sentence, page numbers and running headers on every page, and sometimes garbage from broken font
maps. The functions here repair what can be repaired and measure what cannot (`mojibake_score`).

The chunker relies on `is_heading` and `split_sentences`, so both are deliberately conservative:
an ordinary sentence must never be mistaken for a heading.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

from yakuba.core.text import split_sentences  # noqa: F401 - re-exported for the chunker
from yakuba.core.types import PageText

# ---------------------------------------------------------------------------------------------
# normalize
# ---------------------------------------------------------------------------------------------

# NFKC would turn ① into "1" and lose the list structure that is_heading needs, so circled
# numbers are left as they are.
_NFKC_PROTECTED = re.compile("[\u2460-\u2473\u24ea-\u24ff\u2776-\u2793\u3251-\u325f\u32b1-\u32bf]")
_LINE_BREAKS = re.compile("\r\n|[\r\u2028\u2029\x0b\x0c\x85]")
_TRANSLATE = {cp: None for cp in (0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD)}
_TRANSLATE.update({cp: None for cp in range(0x20) if cp not in (0x09, 0x0A)})
_TRANSLATE[0x09] = " "
_TRANSLATE[0x7F] = None
_TRAILING_SPACE = re.compile(r"[ \u00a0]+$", re.MULTILINE)


def _nfkc(text: str) -> str:
    if not _NFKC_PROTECTED.search(text):
        return unicodedata.normalize("NFKC", text)
    parts: list[str] = []
    last = 0
    for match in _NFKC_PROTECTED.finditer(text):
        parts.append(unicodedata.normalize("NFKC", text[last : match.start()]))
        parts.append(match.group())
        last = match.end()
    parts.append(unicodedata.normalize("NFKC", text[last:]))
    return "".join(parts)


def normalize(text: str) -> str:
    """NFKC (full-width ASCII → ASCII, half-width kana → full-width), one newline style, no zero-width
    or control characters, no trailing spaces. Circled numbers (①) survive: they mark list items."""
    text = _LINE_BREAKS.sub("\n", text)
    text = text.translate(_TRANSLATE)
    text = _nfkc(text)
    return _TRAILING_SPACE.sub("", text)


# ---------------------------------------------------------------------------------------------
# join_spaced_cjk
# ---------------------------------------------------------------------------------------------

# "Wide" characters: anything that is neither ASCII nor whitespace (kana, kanji, 、。「」・ etc.).
_WIDE = r"[^\x00-\x7f\s]"
_SPACED_PAIR = re.compile(rf"(?<={_WIDE}) +(?={_WIDE})")
_TIGHT_PAIR = re.compile(rf"{_WIDE}(?={_WIDE})")
_GAP = re.compile(r"(?<=\S) +(?=\S)")
# A line is letter-spaced when at least this share of neighbouring wide characters is separated.
SPACED_LINE_SHARE = 0.5
# A page is letter-spaced when this share holds over the page and it has enough pairs to judge.
SPACED_PAGE_MIN_PAIRS = 20


def _spaced_counts(text: str) -> tuple[int, int]:
    return len(_SPACED_PAIR.findall(text)), len(_TIGHT_PAIR.findall(text))


def _is_spaced(text: str, min_pairs: int) -> bool:
    spaced, tight = _spaced_counts(text)
    return spaced >= min_pairs and spaced >= SPACED_LINE_SHARE * (spaced + tight)


def _keep_gap(joined: str, right: str) -> bool:
    """Inside a letter-spaced line: does a gap between `joined` (the line joined so far) and the
    character `right` separate two Latin words?"""
    left = joined[-1]
    if not (left.isascii() and right.isascii()):
        return False
    if left.islower() and right.isupper():  # "T e a m S e n d a i" → "Team Sendai"
        return True
    # "S o c i e t y 5 . 0" → "Society 5.0": a word of two or more letters before a number.
    return left.isalpha() and right.isdigit() and len(joined) >= 2 and joined[-2].isalpha()


# Letter-spacing hides the space after an article or item number; put it back for readability:
# 「第1条この条例は」 → 「第1条 この条例は」, 「(1)ろう者」 → 「(1) ろう者」.
_LEADING_NUMBER = re.compile(
    r"^(第[0-9一二三四五六七八九十百]+[条章節款項](?:の[0-9]+)?|\([0-9]{1,3}\))(?=[^\s)、。])"
)


def _join_spaced_line(line: str) -> str:
    out = ""
    last = 0
    for match in _GAP.finditer(line):
        out += line[last : match.start()]
        if _keep_gap(out, line[match.end()]):
            out += " "
        last = match.end()
    out += line[last:]
    return _LEADING_NUMBER.sub(r"\1 ", out)


def join_spaced_cjk(text: str) -> str:
    """Undo letter-spacing (「危 機 管 理 ま ず 、」 → 「危機管理まず、」).

    A line is joined when at least half of its neighbouring wide characters are separated by
    spaces; on a page where that holds overall, every line is joined, so that numbers and Latin
    words broken by the same spacing ("2 90 ,6 74 千 円", "T e a m S e n d a i") are repaired too.
    Normal text keeps its deliberate spaces: 「山田 太郎」 has one spaced pair and two tight ones.
    In joined lines a space survives only between Latin words (lower→upper case, word→number).
    """
    return "\n".join(_join_spaced_lines(text.split("\n"), _is_spaced(text, SPACED_PAGE_MIN_PAIRS)))


def _join_spaced_lines(lines: list[str], page_spaced: bool) -> list[str]:
    return [
        _join_spaced_line(line.strip())
        if " " in line.strip() and (page_spaced or _is_spaced(line, 1))
        else line
        for line in lines
    ]


# ---------------------------------------------------------------------------------------------
# headings and list items
# ---------------------------------------------------------------------------------------------

_KANSUJI = "一二三四五六七八九十百千〇零"
_NUM = rf"[0-9{_KANSUJI}]+"
_SECTION = re.compile(rf"^第\s*{_NUM}\s*([編部章節款項条目])(の{_NUM})?")
# Council documents: 議案第18号, 報告第3号, 請願第1号 …
_BILL = re.compile(rf"^(議案|議員提出議案|報告|諮問|認定|発議|請願|陳情|承認|同意)第\s*{_NUM}\s*号")
_SECTION_BARE = re.compile(rf"^第\s*{_NUM}(?=\s)")  # 「第1 地震に強いまちづくり」
_MARKDOWN = re.compile(r"^(#{1,6})\s+\S")
_DOTTED = re.compile(r"^\d{1,3}(\.\d{1,3})*\.(?!\d)\s*(?=\S)")  # "1." "6.賃金台帳" "1.2."
_DASHED = re.compile(r"^\d{1,3}(-\d{1,3})+(?=\s)")  # "1-2 "
_DOTTED_DEEP = re.compile(r"^\d{1,2}(\.\d{1,2})+(?=\s)")  # "1.2 ", not the decimal "5.126 "
# "2 前項の場合は" (numbered paragraph); not "3 月 11 日" or "30 万円".
_BARE_NUMBER = re.compile(
    r"^\d{1,2}\s+(?![年月日時分秒円人件回歳%万千億名戸世号条項章節割度倍位本枚台か箇ヶ])(?=\S)"
)
_PAREN = re.compile(rf"^\(\s*([0-9]{{1,3}}|[{_KANSUJI}]{{1,3}}|[ア-ン]|[a-zA-Z]|[イロハニホヘト])\s*\)")
_CIRCLED = re.compile("^[\u2460-\u2473\u24ea-\u24ff\u2776-\u2793\u3251-\u325f\u32b1-\u32bf]")
_KATAKANA_ITEM = re.compile(r"^[ア-ン](\s+|[.)])(?=\S)")
_ROMAN = re.compile(r"^(?=[IVX])(X{0,3})(IX|IV|V?I{0,3})(\.|\s)(?=\s*\S)")
_HEADING_BULLET = re.compile("^[■□●○◎◆◇▼▽▲△▶▷★☆〇◯◉]")
_LIST_BULLET = re.compile(r"^([・※\-*+•‣◦➢➤►→]|\d{1,3}\))\s*(?=\S)")
_BRACKETED = re.compile(r"^【[^【】]{1,40}】$|^\[[^\[\]]{1,40}\]$|^〔[^〔〕]{1,40}〕$|^<[^<>]{1,40}>$")
_CAPTION = re.compile(r"^\([^()]{1,28}\)$")  # 「(遅刻、早退、欠勤等)」: the caption of an article
# Parenthesised source notes look like captions but label what precedes them: 「(出典: 本編 p.21)」.
_NOTE = re.compile(r"^\(\s*(出典|注|備考|参考|資料|単位|再掲|写真|図|表|※|備考|source|note)", re.IGNORECASE)
_TABLE_ROW = re.compile(r"^\|")
_TOC_LEADER = re.compile(r"(…|\.\.\.|・・・|‥)\s*\S{0,8}$")
_SENTENCE_END_CHARS = "。.!?！？"
_FRAGMENT_ENDS = tuple("をがにでとのもやへ、,・(「『【")
_MARKED_FRAGMENT_ENDS = tuple("をが、,・(「『【")
_INTRO_WORDS = {"はじめに", "おわりに", "さいごに", "まえがき", "あとがき"}
# Nor start with a particle or a small kana: 「は有する疑いのある家畜に対する」 is a cut-off fragment.
_FRAGMENT_STARTS = tuple("はをがにのでとへもやっゃゅょぁぃぅぇぉんー、。,.)」』】")
_HEADING_MAX = 50
_SHORT_HEADING_MAX = 25


def _marker(line: str) -> tuple[re.Match[str] | None, int]:
    """The heading marker at the start of `line` and the level it implies (0 when none)."""
    if m := _MARKDOWN.match(line):
        return m, len(m.group(1))
    if m := _SECTION.match(line):
        return m, {"編": 1, "部": 1, "章": 1, "節": 2}.get(m.group(1), 3)
    for pattern, level in (
        (_BILL, 2),
        (_SECTION_BARE, 3),
        (_DASHED, 0),
        (_DOTTED_DEEP, 0),
        (_DOTTED, 2),
        (_BARE_NUMBER, 3),
        (_PAREN, 3),
        (_CIRCLED, 4),
        (_KATAKANA_ITEM, 5),
        (_ROMAN, 1),
        (_HEADING_BULLET, 3),
    ):
        if m := pattern.match(line):
            if level == 0:  # "1-2" or "1.2": one level per number
                level = min(6, 1 + len(re.findall(r"\d+", m.group())))
            return m, level
    return None, 0


def is_list_item(line: str) -> bool:
    """A line that starts a new item (numbered, bulleted or a heading marker): never glued to the
    previous line when PDF line breaks are repaired."""
    line = line.strip()
    return bool(
        _marker(line)[0]
        or _LIST_BULLET.match(line)
        or _BRACKETED.match(line)
        or _CAPTION.match(line)
        or _TABLE_ROW.match(line)
    )


def _wide_share(text: str) -> float:
    letters = sum(1 for ch in text if not ch.isascii() or ch.isalpha())
    return letters / max(1, len(text))


def _digit_share(text: str) -> float:
    return sum(ch.isdigit() for ch in text) / max(1, len(text))


def heading_level(line: str) -> int | None:
    """1 (chapter) … 6 for a heading line, None for anything else.

    Recognised: markdown "#", 第N章/節/条, "1." "1-2" "(1)" "①" "ア", ■●◆ bullets, 【…】, article
    captions like 「(目的)」, and short lines without sentence punctuation. Sentences, table rows,
    table-of-contents entries and fragments ending in a particle or 、 are not headings.
    """
    line = line.strip()
    if not line or len(line) > 120:
        return None
    marker, level = _marker(line)
    if marker is not None and level and marker.re is _MARKDOWN:
        return level
    if len(line) > 80 or _TOC_LEADER.search(line) or _TABLE_ROW.match(line):
        return None
    if _BRACKETED.match(line):
        return 2
    if _NOTE.match(line):
        return None
    if _CAPTION.match(line):
        return 4
    if line[-1] in _SENTENCE_END_CHARS:
        return None
    if marker is not None:
        rest = line[marker.end() :].strip()
        if (
            len(line) <= _HEADING_MAX
            and ("、" not in rest and "," not in rest or len(line) <= 20)
            and not rest.endswith(_MARKED_FRAGMENT_ENDS)
            and _digit_share(rest) <= 0.5
        ):
            return level
        return None
    if _LIST_BULLET.match(line):
        return None
    if (
        2 <= len(line) <= _SHORT_HEADING_MAX
        and "、" not in line
        and (not line.endswith(_FRAGMENT_ENDS) or line in _INTRO_WORDS)
        and not line.startswith(_FRAGMENT_STARTS)
        and sum(1 for ch in line if not ch.isascii()) >= 2
        and _wide_share(line) >= 0.6
        and _digit_share(line) < 0.3
    ):
        return 4
    return None


def is_heading(line: str) -> bool:
    """True for a heading line (see `heading_level`); the chunker carries it as chunk metadata."""
    return heading_level(line) is not None


# ---------------------------------------------------------------------------------------------
# mojibake_score
# ---------------------------------------------------------------------------------------------

# Code point ranges that occur in Japanese public documents. Everything outside them (Greek
# extensions, Cyrillic, Arabic, Indic scripts, IPA, combining marks, private use, U+FFFD, unassigned
# code points …) is what broken font maps produce.
_EXPECTED_RANGES: tuple[tuple[int, int], ...] = (
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x017F),  # Latin-1, Latin Extended-A (é, ü, Ō)
    (0x2000, 0x2BFF),  # punctuation, letterlike, arrows, math, box drawing, shapes, symbols (☎★■)
    (0x2E80, 0x2FDF),  # CJK radicals, Kangxi radicals (some PDFs use them for 日, 月 …; NFKC fixes)
    (0x3000, 0x30FF),  # CJK punctuation, hiragana, katakana
    (0x3190, 0x319F),  # kanbun
    (0x31F0, 0x33FF),  # small katakana, enclosed CJK (㈱ ㉄), CJK compatibility (㎡ ㍉)
    (0xFE10, 0xFE1F),  # vertical forms (︑ ︒ in vertical text)
    (0xFE30, 0xFE6F),  # CJK compatibility forms (︵ ︶), small forms
    (0xFF00, 0xFFEF),  # half-width and full-width forms
    (0x1F000, 0x1FAFF),  # emoji and enclosed alphanumerics of newsletters
)
_GREEK_LETTERS = (0x0391, 0x03C9)  # α β μ Ω appear in technical text: half weight
_CJK_UNIFIED = (0x4E00, 0x9FFF)
_weights: dict[str, float] = {}


def _kanji_weight(ch: str) -> float:
    """Real Japanese text uses JIS X 0208 level-1 kanji almost exclusively (>99.9% in the corpora
    here), while a font map that points at random ideographs lands outside it 86% of the time."""
    try:
        code = ch.encode("euc_jp")
    except UnicodeEncodeError:
        try:
            ch.encode("cp932")  # NEC/IBM extensions (髙, 﨑) used in names
        except UnicodeEncodeError:
            return 1.0
        return 0.25
    if len(code) == 2 and 0xB0 <= code[0] <= 0xCF:
        return 0.0  # JIS level 1
    return 0.25  # JIS level 2


def _char_weight(ch: str) -> float:
    weight = _weights.get(ch)
    if weight is not None:
        return weight
    cp = ord(ch)
    if _CJK_UNIFIED[0] <= cp <= _CJK_UNIFIED[1]:
        weight = _kanji_weight(ch)
    elif any(lo <= cp <= hi for lo, hi in _EXPECTED_RANGES):
        weight = 0.0
    elif _GREEK_LETTERS[0] <= cp <= _GREEK_LETTERS[1] and unicodedata.category(ch) in ("Lu", "Ll"):
        weight = 0.5
    else:  # foreign scripts, private use, U+FFFD, unassigned, and the rare ideograph blocks
        weight = 1.0
    _weights[ch] = weight
    return weight


def mojibake_weight(text: str) -> float:
    """Sum of per-character suspicion weights (whitespace ignored); see `mojibake_score`."""
    return sum(_char_weight(ch) for ch in text if not ch.isspace())


def mojibake_score(text: str) -> float:
    """Share (0–1) of non-space characters that are implausible in a Japanese document.

    Weight 1: characters outside the scripts Japanese documents use (Greek extensions, Cyrillic,
    Arabic, Indic, IPA, combining marks, private use, U+FFFD, control or unassigned code points),
    CJK extension ideographs and CJK compatibility ideographs, and kanji outside JIS X 0208.
    Weight 0.5: basic Greek letters (α, μ occur in technical text). Weight 0.25: JIS level-2 and
    vendor-extension kanji. Clean Japanese scores below 0.01; broken font maps score 0.5 and more.
    """
    chars = [ch for ch in text if not ch.isspace()]
    if not chars:
        return 0.0
    return sum(_char_weight(ch) for ch in chars) / len(chars)


# A line this garbled is dropped whole; below it, only runs of garbage characters are cut out.
MOJIBAKE_LINE_SCORE = 0.5
# Lines with less suspicion than this (one PUA bullet, one rare kanji) are left alone.
MOJIBAKE_MIN_WEIGHT = 2.0
_MOJIBAKE_CHAR = 0.5


def remove_mojibake(text: str) -> tuple[str, int]:
    """Drop garbled lines and cut runs of two or more garbage characters out of the others.

    Returns the remaining text and how many non-space characters were removed. Broken font maps
    often garble only some fonts of a page (a newsletter's headline font, a table), so removing
    garbage line by line keeps the good text of the same page.
    """
    kept: list[str] = []
    removed = 0
    for line in text.split("\n"):
        weight = mojibake_weight(line)
        if weight < MOJIBAKE_MIN_WEIGHT:
            kept.append(line)
            continue
        size = sum(1 for ch in line if not ch.isspace())
        if weight >= MOJIBAKE_LINE_SCORE * size:
            removed += size
            continue
        out: list[str] = []
        run: list[str] = []
        for ch in [*line, " "]:
            if not ch.isspace() and _char_weight(ch) >= _MOJIBAKE_CHAR:
                run.append(ch)
                continue
            if len(run) >= 2:
                removed += len(run)
            else:
                out.extend(run)
            run = []
            out.append(ch)
        kept.append("".join(out[:-1]))
    return "\n".join(kept), removed


# ---------------------------------------------------------------------------------------------
# clean_pages
# ---------------------------------------------------------------------------------------------

_DASHES = "\\-‐‑‒–—―−ー~〜"
# Page numbers that cannot be anything else, wherever they stand: "- 3 -", "― 12 ―", "(3)" is not.
_PAGE_NUMBER_DECORATED = re.compile(rf"^[{_DASHES}]\s*\d{{1,4}}\s*[{_DASHES}]$")
# Page numbers that could also be table content: only at the top or bottom of a page.
_PAGE_NUMBER_PLAIN = re.compile(
    r"^(?:\d{1,3}|[pP]\.?\s*\d{1,4}|(?:page|Page|PAGE)\s*\d{1,4}|\d{1,4}\s*/\s*\d{1,4}|\d{1,4}\s*(?:頁|ページ))$"
)
_EDGE_LINES = 3
_HEADER_MIN_PAGES = 3
_HEADER_MIN_SHARE = 0.3
_LEADER_RUN = re.compile(r"(?:[・･·⋯]{3,}|\.{4,}|…{2,}|‥{2,}|(?:[.·・] ?){3,}[.·・]?)")
_BLANK_RUNS = re.compile(r"\n{3,}")
# A line ending a sentence is not continued by the next line. Closing brackets are not in the list:
# in the real PDFs a full-width line ending in 「…」 or (2023年) continues far more often than not,
# and short lines (paragraph ends, captions) are caught by the width rule anyway.
_LINE_END = tuple("。.!?！？:：")
_URL_END = re.compile(r"https?://\S+$")
# A short all-hiragana line after a kanji is furigana (ruby) that the PDF put on a line of its own:
# 「黎\nれい\n明」. Common sentence endings are excluded because they are real text.
_RUBY = re.compile(r"^[ぁ-ゖー]{1,6}$")
_NOT_RUBY = re.compile(
    r"^(ください|くださ|ます|ました|します|しました|です|でした|ません|こと|もの|ため|など|とき|ところ|いたします)$"
)
_KANJI = re.compile(r"[\u3400-\u9fff\uf900-\ufaff々〆]")
_OPEN_END = tuple("、,・(「『【〔")
_JOIN_MIN_TYPICAL = 30  # half-width cells: 15 kanji
_JOIN_MIN_LINES = 5
_JOIN_FULL_LINE = 0.7
# A heading or bullet line continues on the next line only if it fills the column.
_JOIN_WRAPPED_MARKER = 0.9


def _is_page_number(line: str, at_edge: bool) -> bool:
    if _PAGE_NUMBER_DECORATED.match(line):
        return True
    return at_edge and bool(_PAGE_NUMBER_PLAIN.match(line))


def _edge_indices(lines: list[str]) -> set[int]:
    filled = [i for i, line in enumerate(lines) if line]
    return set(filled[:_EDGE_LINES] + filled[-_EDGE_LINES:])


def _header_key(line: str) -> str:
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", line))


def _collapse_overprint(line: str) -> str:
    """Fake bold printed four times comes out as 「森森森森とととと…りなすりなすりなすりなす」."""
    if len(line) < 8:
        return line
    for times in (4, 3, 2):
        pattern = re.compile(r"(.{1,12}?)" + r"\1" * (times - 1))
        covered = sum(len(m.group()) for m in pattern.finditer(line))
        if covered >= 0.8 * len(line):
            return pattern.sub(r"\1", line)
    return line


def _width(line: str) -> int:
    """Printed width in half-width cells: Latin letters are narrow, kana and kanji wide."""
    return len(line) + sum(1 for ch in line if ord(ch) >= 0x1100)


def _typical_width(lines: list[str]) -> int:
    """Width of a full line on this page (80th percentile of non-trivial lines)."""
    widths = sorted(_width(line) for line in lines if len(line) >= 4)
    if not widths:
        return 0
    if len(widths) < _JOIN_MIN_LINES:  # too few lines for a percentile: the longest line
        return widths[-1]
    return widths[min(len(widths) - 1, int(len(widths) * 0.8))]


def _continues(prev: str, joined: str, nxt: str, typical: int) -> bool:
    """Is `nxt` the continuation of the sentence that the physical line `prev` broke?"""
    if prev.endswith(_LINE_END) or is_list_item(nxt):
        return False
    if is_heading_marker_line(joined):
        # A long heading that fills the column wraps onto a second line (「●株式会社…による深層学」 +
        # 「習フレームワークの開発」); joined, it must still read as a heading, or the next line is
        # the paragraph under it, unless it starts with a particle (「(1) ろう者…障害者」+「をいう。」).
        # A heading never takes a third line.
        return (
            prev == joined
            and typical >= _JOIN_MIN_TYPICAL
            and _width(prev) >= _JOIN_WRAPPED_MARKER * typical
            and (is_heading_marker_line(_glue(joined, nxt)) or nxt.startswith(_FRAGMENT_STARTS))
        )
    if _URL_END.search(prev) or _TOC_LEADER.search(prev):  # footnote URLs, table-of-contents entries
        return False
    if prev[-1].isdigit() and nxt[0].isdigit():  # table columns
        return False
    if typical < _JOIN_MIN_TYPICAL:
        return False
    return _width(prev) >= _JOIN_FULL_LINE * typical or prev.endswith(_OPEN_END)


def is_heading_marker_line(line: str) -> bool:
    """A heading with an explicit marker (第1章, 1., (1), ■, 【】…); short unmarked lines do not
    count here because a PDF line fragment looks exactly like them."""
    level = heading_level(line)
    if level is None:
        return False
    return bool(_marker(line)[0] or _BRACKETED.match(line) or _CAPTION.match(line))


def _glue(left: str, right: str) -> str:
    if (
        left.endswith("-")
        and len(left) >= 2
        and left[-2].isalpha()
        and left[-2].islower()
        and right[0].islower()
    ):
        return left[:-1] + right  # de-hyphenate "infor-" + "mation"
    if left[-1].isascii() and left[-1].isalnum() and right[0].isascii() and right[0].isalnum():
        return f"{left} {right}"
    return left + right


def _join_vertical(lines: list[str]) -> list[str]:
    """Three or more one-character lines in a row are vertical text (「第\\n2\\n章」 → 「第2章」)."""
    out: list[str] = []
    run: list[str] = []
    for line in [*lines, ""]:
        if len(line) == 1:
            run.append(line)
            continue
        if len(run) >= 3:
            out.append("".join(run))
        else:
            out.extend(run)
        run = []
        out.append(line)
    return out[:-1]


def _is_ruby(prev: str, line: str) -> bool:
    return (
        bool(prev) and bool(_KANJI.match(prev[-1])) and bool(_RUBY.match(line)) and not _NOT_RUBY.match(line)
    )


# Marks a line that followed a dropped ruby line (control characters cannot survive `normalize`).
_AFTER_RUBY = "\x00"
_SPACED_RUBY = re.compile(r"^[ぁ-ゖー]{1,8}(?: +[ぁ-ゖー]{1,8})+$")


def _mark_spaced_ruby(lines: list[str], page_spaced: bool) -> list[str]:
    """On a letter-spaced page, a line of hiragana groups (「じんじゃ いけ かみ いけ」) after a line with
    kanji is the furigana of that line: drop it and let the next line continue the sentence."""
    if not page_spaced:
        return lines
    out: list[str] = []
    previous = ""
    pending = False
    for line in lines:
        stripped = line.strip()
        if (
            _SPACED_RUBY.match(stripped)
            and any(len(token) >= 2 for token in stripped.split())
            and _KANJI.search(previous)
        ):
            pending = True
            continue
        if stripped:
            previous = stripped
            if pending:
                line = _AFTER_RUBY + stripped
                pending = False
        out.append(line)
    return out


def _join_broken_lines(lines: list[str]) -> list[str]:
    typical = _typical_width(lines)
    out: list[str] = []
    prev = ""  # last physical line
    after_ruby = False
    for i, line in enumerate(lines):
        if line.startswith(_AFTER_RUBY):
            line = line[len(_AFTER_RUBY) :]
            after_ruby = not prev.endswith(_LINE_END) and not is_list_item(line)
        elif line and i + 1 < len(lines) and lines[i + 1] and _is_ruby(prev, line):
            after_ruby = True  # drop the reading; the text after it continues the kanji before it
            continue
        if line and out and out[-1] and (after_ruby or (prev and _continues(prev, out[-1], line, typical))):
            out[-1] = _glue(out[-1], line)
        else:
            out.append(line)
        prev = line
        after_ruby = False
    return out


def _running_headers(pages: list[list[str]]) -> set[str]:
    """Keys of lines that repeat (modulo digits) at the top or bottom of many pages."""
    if len(pages) < _HEADER_MIN_PAGES:
        return set()
    seen: Counter[str] = Counter()
    for lines in pages:
        edge = _edge_indices(lines)
        seen.update({_header_key(lines[i]) for i in edge})
    needed = max(_HEADER_MIN_PAGES, int(_HEADER_MIN_SHARE * len(pages) + 0.999))
    return {key for key, count in seen.items() if count >= needed and key.strip("#")}


def clean_text(text: str) -> str:
    """`clean_pages` for a single text without pages (no running-header detection)."""
    pages = clean_pages([PageText(page=None, text=text)])
    return pages[0].text if pages else ""


def clean_pages(pages: Iterable[PageText]) -> list[PageText]:
    """Normalise, undo letter-spacing, drop page numbers and running headers/footers, repair line
    breaks that the PDF layout put in the middle of sentences, collapse blank lines.

    Headings and list items keep their own lines; page numbers (`PageText.page`) are kept; pages
    left empty are dropped. A running header keeps its first occurrence, which is often the
    chapter title itself.
    """
    prepared: list[tuple[int | None, list[str]]] = []
    pages_list = list(pages)
    for page in pages_list:
        text = normalize(page.text)
        page_spaced = _is_spaced(text, SPACED_PAGE_MIN_PAIRS)
        lines = _join_spaced_lines(_mark_spaced_ruby(text.split("\n"), page_spaced), page_spaced)
        lines = [_collapse_overprint(_LEADER_RUN.sub(" … ", line).strip()) for line in lines]
        lines = _join_vertical([re.sub(r" {2,}", " ", line) for line in lines])
        edge = _edge_indices(lines)
        lines = ["" if _is_page_number(line, i in edge) else line for i, line in enumerate(lines)]
        prepared.append((page.page, lines))

    headers = _running_headers([lines for _, lines in prepared])
    ocr_confidence = {p.page: p.ocr_confidence for p in pages_list if p.ocr_confidence is not None}
    kept_header: set[str] = set()
    result: list[PageText] = []
    for number, lines in prepared:
        if headers:
            edge = _edge_indices(lines)
            for i in sorted(edge):
                key = _header_key(lines[i])
                if key in headers:
                    if key in kept_header:
                        lines[i] = ""
                    else:
                        kept_header.add(key)
        text = "\n".join(_join_broken_lines(lines)).strip()
        text = _BLANK_RUNS.sub("\n\n", text)
        if text:
            result.append(PageText(page=number, text=text, ocr_confidence=ocr_confidence.get(number)))
    return result
