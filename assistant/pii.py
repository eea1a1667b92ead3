"""Personal data masking: マイナンバー, phone numbers, e-mail addresses, postal codes and addresses.

Used before text goes to a non-local model (settings.pii_mask_remote) and before questions are written
to logs and the audit log (settings.pii_mask_logs). Precision matters as much as recall: masking
dates, amounts (1,234,567円), 条例番号 or years would make answers and logs useless, so every
pattern is anchored on what makes it personal data:

* マイナンバー: 12 digits (groups of 4 may be separated by spaces or hyphens) whose last digit is the
  check digit of the official formula (総務省令: remainder of Σ Pn×Qn by 11); numbers followed by
  円/件/人… or preceded by ¥ are amounts, not numbers of a person.
* phone: 0 + 9 digits (landline, 0120 toll-free, 0570), or 0[5789]0/0800 + 8 digits (mobile, IP,
  toll-free), or +81; written with hyphens, spaces or parentheses; an unseparated run of digits
  counts only after a 電話/TEL/FAX cue, or when it is an 11-digit mobile number.
* e-mail: the usual local@domain.tld.
* postal code: 〒 + 7 digits, or NNN-NNNN after 郵便番号 or directly before an address.
* address: after a postal code, or starting with a prefecture, or a city followed by a street number.
  The prefecture and the city/ward/town/village are kept (they are needed to understand the text and
  identify nobody); the rest — town, 丁目, 番地, building — becomes ［住所］.

Everything is matched on NFKC text (full-width digits and ＠ count), and spans are reported in the
original text.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from pydantic import BaseModel

PIIKind = Literal["my_number", "phone", "email", "postal_code", "address"]

TOKENS: dict[str, str] = {
    "my_number": "［マイナンバー］",
    "phone": "［電話番号］",
    "email": "［メール］",
    "postal_code": "［郵便番号］",
    "address": "［住所］",
}


class PIIFinding(BaseModel):
    kind: PIIKind
    start: int
    end: int


class PIIResult(BaseModel):
    text: str
    findings: list[PIIFinding]

    @property
    def found(self) -> bool:
        return bool(self.findings)


# ----------------------------------------------------------------------------- マイナンバー


def my_number_check_digit(first11: str) -> int:
    """Check digit of an individual number (行政手続における特定の個人を識別するための番号の利用等に関する
    法律施行令 / 総務省令 第5条): Pn is the n-th digit counted from the right of the first 11,
    Qn = n+1 for n ≤ 6 and n−5 for n ≥ 7; remainder = Σ Pn×Qn mod 11; check = 0 if remainder ≤ 1,
    else 11 − remainder."""
    if len(first11) != 11 or not first11.isdigit():
        raise ValueError("11 digits expected")
    total = 0
    for n in range(1, 12):
        p = int(first11[11 - n])
        q = n + 1 if n <= 6 else n - 5
        total += p * q
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def is_valid_my_number(digits: str) -> bool:
    digits = re.sub(r"[\s-]", "", digits)
    return len(digits) == 12 and digits.isdigit() and my_number_check_digit(digits[:11]) == int(digits[11])


_DASH = r"\-‐‑‒–—―−ーｰ"  # inside [...] only
_SEP = rf"[ \u3000{_DASH}]"
_MY_NUMBER = re.compile(rf"(?<![\d,.{_DASH}])(\d{{4}}{_SEP}?\d{{4}}{_SEP}?\d{{4}})(?![\d,.]|{_SEP}\d)")
_AMOUNT_AFTER = re.compile(r"^\s*(?:円|万|億|件|人|名|個|本|枚|回|kg|km|m|%|ドル|年|号)")

# ----------------------------------------------------------------------------- phone / e-mail

_PHONE = re.compile(
    rf"(?<![\d{_DASH}])(?:\+81[ {_DASH}]?\(?0?\)?|0)\d{{1,4}}(?:[ {_DASH}]|\)|\(|[ {_DASH}]?\(\d{{1,4}}\)[ {_DASH}]?)"
    rf"\d{{1,4}}(?:[ {_DASH}]|\))?\d{{3,4}}(?![\d{_DASH}]\d|\d)"
    rf"|(?<![\d{_DASH}])\(0\d{{1,4}}\)[ {_DASH}]?\d{{1,4}}[ {_DASH}]?\d{{3,4}}(?!\d)"
)
_PHONE_PLAIN = re.compile(r"(?<![\d.,])(0\d{9,10})(?![\d.,])")
_PHONE_CUE = re.compile(r"(?:電話|tel|TEL|Tel|℡|携帯|ファクス|ファックス|FAX|fax|Fax|連絡先)[^\d\n]{0,6}$")
_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def _phone_digits_ok(match: str) -> bool:
    digits = re.sub(r"\D", "", match)
    if match.startswith("+81"):
        digits = "0" + digits[2:].lstrip("0")
    if not digits.startswith("0"):
        return False
    if len(digits) == 10:
        return not digits.startswith(("00", "0800")) and digits[1] != "0"
    if len(digits) == 11:
        return digits.startswith(("050", "070", "080", "090", "0800", "020"))
    return False


# ----------------------------------------------------------------------------- postal code / address

PREFECTURES = tuple(
    ["北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県", "群馬県", "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県", "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県", "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県", "福岡県", "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県"]
)
_PREF = "(?:" + "|".join(PREFECTURES) + ")"
_NAME = r"[一-龥々ヶケァ-ヺー]"
# 市区町村 part kept in clear: optional 郡, the municipality, and a ward of a designated city.
_CITY = rf"(?:{_NAME}{{1,5}}?郡)?{_NAME}{{1,6}}?[市区町村](?:{_NAME}{{1,4}}?区)?"
# Street part: town name, then 丁目/番地/号 or 1-2-3, then an optional building and room.
_BLOCK = rf"(?:\d+丁目(?:\d+番(?:地)?(?:の?\d+)?(?:号)?)?|\d+番地?(?:の?\d+)?(?:号)?|\d+(?:[{_DASH}]\d+){{1,3}}(?:号)?)"
_BUILDING = (
    r"(?:[ \u3000]?[^\s、。,()（）]{0,20}?(?:ビル|マンション|ハイツ|アパート|荘|コーポ|レジデンス|メゾン)"
    r"(?:[ \u3000]?\d+(?:号室|階|F))?|[ \u3000]?\d+(?:号室|階|F))?"
)
_TOWN = r"(?:[一-龥々ヶケァ-ヺーぁ-ゖ]|\d+条)"
_STREET = rf"{_TOWN}{{0,12}}?{_BLOCK}{_BUILDING}"
_ADDRESS_PREF = re.compile(rf"({_PREF})({_CITY})?({_STREET}|[一-龥々ヶケァ-ヺー]{{1,12}}(?=[、。\s]|$))?")
_ADDRESS_CITY = re.compile(rf"(?<![一-龥々ヶケァ-ヺー])({_CITY})((?:{_NAME}|\d+条){{0,10}}?{_BLOCK}{_BUILDING})")
_POSTAL_MARK = re.compile(r"〒\s*(\d{3}[" + _DASH + r"]?\d{4})(?!\d)")
_POSTAL_BARE = re.compile(rf"(?<![\d{_DASH}])(\d{{3}}[{_DASH}]\d{{4}})(?![\d{_DASH}])")
_POSTAL_CUE = re.compile(r"郵便番号\s*[:：]?\s*$")
_ADDRESS_START = re.compile(rf"^\s*(?:{_PREF}|{_CITY})")
_REST_OF_LINE = re.compile(r"[^\s、。,()（）]+(?:[ \u3000][^\s、。,()（）]*(?:号室|階|F))?")


def _nfkc_with_map(text: str) -> tuple[str, list[int]]:
    """NFKC per character, with the original index of every normalised character."""
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        norm = unicodedata.normalize("NFKC", ch)
        out.append(norm)
        index.extend([i] * len(norm))
    index.append(len(text))
    return "".join(out), index


def find_pii(text: str) -> list[PIIFinding]:
    """Spans of personal data in `text` (original offsets), non-overlapping, in order."""
    flat, index = _nfkc_with_map(text)
    spans: list[tuple[int, int, PIIKind]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e, _ in spans)

    def add(start: int, end: int, kind: PIIKind) -> None:
        if start < end and free(start, end):
            spans.append((start, end, kind))

    for match in _EMAIL.finditer(flat):
        add(match.start(), match.end(), "email")
    for match in _MY_NUMBER.finditer(flat):
        if not is_valid_my_number(match.group(1)):
            continue
        if _AMOUNT_AFTER.match(flat[match.end() :]) or flat[max(0, match.start() - 1) : match.start()] in ("¥", "￥", "$"):
            continue
        add(match.start(), match.end(), "my_number")
    for match in _PHONE.finditer(flat):
        if _phone_digits_ok(match.group()):
            add(match.start(), match.end(), "phone")
    for match in _PHONE_PLAIN.finditer(flat):
        digits = match.group(1)
        cue = _PHONE_CUE.search(flat[max(0, match.start() - 12) : match.start()])
        mobile = len(digits) == 11 and digits.startswith(("070", "080", "090"))
        if (cue or mobile) and _phone_digits_ok(digits):
            add(match.start(), match.end(), "phone")

    def address_after(pos: int) -> None:
        """Mask the address that starts at `pos` (after a postal code): keep prefecture and city."""
        rest = flat[pos:]
        lead = len(rest) - len(rest.lstrip(" \u3000"))
        start = pos + lead
        match = _ADDRESS_PREF.match(flat, start)
        if match and match.group(3):
            add(match.start(3), match.end(3), "address")
            return
        match = _ADDRESS_CITY.match(flat, start)
        if match:
            add(match.start(2), match.end(2), "address")
            return
        if match is None and _ADDRESS_PREF.match(flat, start) is None:
            tail = _REST_OF_LINE.match(flat, start)
            if tail and re.search(r"\d", tail.group()):
                add(tail.start(), tail.end(), "address")

    for match in _POSTAL_MARK.finditer(flat):
        add(match.start(), match.end(), "postal_code")
        address_after(match.end())
    for match in _POSTAL_BARE.finditer(flat):
        before = flat[max(0, match.start() - 8) : match.start()]
        after = flat[match.end() : match.end() + 12]
        if _POSTAL_CUE.search(before) or _ADDRESS_START.match(after):
            add(match.start(), match.end(), "postal_code")
            address_after(match.end())
    for match in _ADDRESS_PREF.finditer(flat):
        street = match.group(3)
        if street and re.search(r"\d", street) and match.group(2):
            add(match.start(3), match.end(3), "address")
    for match in _ADDRESS_CITY.finditer(flat):
        add(match.start(2), match.end(2), "address")

    spans.sort()
    return [PIIFinding(kind=kind, start=index[s], end=index[e]) for s, e, kind in spans]


def mask_pii(text: str) -> PIIResult:
    """Replace personal data with ［マイナンバー］［電話番号］［メール］［郵便番号］［住所］."""
    findings = find_pii(text)
    parts: list[str] = []
    last = 0
    for finding in findings:
        parts.append(text[last : finding.start])
        parts.append(TOKENS[finding.kind])
        last = finding.end
    parts.append(text[last:])
    return PIIResult(text="".join(parts), findings=findings)
