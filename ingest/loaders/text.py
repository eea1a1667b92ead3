"""Plain text and Markdown loader, with the encodings Japanese municipalities actually use.

Files from Windows PCs in 役場 are often Shift_JIS (cp932), older Unix systems wrote EUC-JP; UTF-8
with or without BOM is the modern default. Encodings are tried strictly and the candidate whose
text looks most like Japanese wins, because EUC-JP bytes often also decode as (garbage) cp932.
"""

from __future__ import annotations

import codecs
import re

from yakuba.ingest.clean import mojibake_score
from yakuba.ingest.loaders.common import Extracted, first_line_title, load_error, split_page_markers, warning

# The decoded text of the best candidate must be at least this plausible (see mojibake_score).
MAX_DECODED_MOJIBAKE = 0.2
# A UTF-8 file with a few broken bytes is kept (bytes replaced) when they are this rare.
MAX_REPLACED_SHARE = 0.001

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_HALFWIDTH_KANA = re.compile("[\uff61-\uff9f]")


def _implausibility(text: str) -> float:
    """Lower is more plausible. Half-width katakana is legal but is what EUC-JP read as cp932 gives."""
    sample = text[:20000]
    kana = len(_HALFWIDTH_KANA.findall(sample)) / max(1, len(sample))
    return mojibake_score(sample) + kana


def _guess_utf16(data: bytes) -> str | None:
    """UTF-16 without BOM (some Windows tools): every other byte is NUL for ASCII text."""
    sample = data[:4000]
    if len(sample) < 4 or sample.count(0) < len(sample) // 4:
        return None
    even_nuls = sample[0::2].count(0)
    odd_nuls = sample[1::2].count(0)
    return "utf-16-le" if odd_nuls > even_nuls else "utf-16-be"


def decode_text(data: bytes, name: str) -> tuple[str, str, list[str]]:
    """Decode bytes as UTF-8 (BOM or not), UTF-16/32 with BOM, cp932 or EUC-JP.

    Returns (text, encoding, warnings); raises `corrupt` when nothing decodes plausibly.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding, []
            except UnicodeDecodeError as exc:
                raise load_error(
                    "corrupt", name, f"{encoding} として読めません", f"invalid {encoding}"
                ) from exc
    if utf16 := _guess_utf16(data):
        try:
            return data.decode(utf16), utf16, []
        except UnicodeDecodeError:
            pass
    if b"\x00" in data:
        raise load_error("corrupt", name, "テキストファイルではありません", "binary data, not a text file")
    try:
        return data.decode("utf-8"), "utf-8", []
    except UnicodeDecodeError:
        pass
    candidates: list[tuple[float, str, str]] = []
    for encoding in ("cp932", "euc_jp"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        candidates.append((_implausibility(text), encoding, text))
    replaced = data.decode("utf-8", errors="replace")
    replaced_share = replaced.count("\ufffd") / max(1, len(replaced))
    if replaced_share <= MAX_REPLACED_SHARE:
        candidates.append((_implausibility(replaced), "utf-8 (replaced)", replaced))
    if candidates:
        score, encoding, text = min(candidates)
        if score <= MAX_DECODED_MOJIBAKE:
            warnings = []
            if encoding == "utf-8 (replaced)":
                count = text.count("\ufffd")
                warnings.append(
                    warning(
                        f"UTF-8として不正なバイトを {count} か所置き換えました",
                        f"replaced {count} invalid UTF-8 byte sequences",
                    )
                )
            return text, encoding, warnings
    raise load_error(
        "corrupt",
        name,
        "文字コードを判別できません（UTF-8、Shift_JIS、EUC-JPのいずれでもありません）",
        "cannot decode the text as UTF-8, Shift_JIS (cp932) or EUC-JP",
    )


_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)---[ \t]*\n", re.DOTALL)
_FRONT_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:\s*(.*?)\s*$")
_MD_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    """Simple `key: value` YAML front matter of Markdown files (title, date, doc_type …)."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    fields: dict[str, str] = {}
    for line in match.group(1).split("\n"):
        if m := _FRONT_KEY.match(line):
            fields[m.group(1)] = m.group(2).strip("'\"")
    return fields, text[match.end() :]


_MD_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def extract_text_file(data: bytes, name: str, stem: str, *, markdown: bool) -> Extracted:
    """A .txt or .md file; `<!-- page: N -->` lines split pages."""
    text, encoding, warnings = decode_text(data, name)
    metadata: dict[str, object] = {"encoding": encoding}
    title: str | None = None
    if markdown:
        fields, text = _front_matter(text)
        if fields:
            metadata["front_matter"] = fields
        title = fields.get("title") or None
        if title is None and (heading := _MD_HEADING.search(text)):
            title = heading.group(1).strip()
        if title is None:
            title = first_line_title(text)
    pages = split_page_markers(text)
    if markdown:
        # Comments are invisible when the Markdown is rendered, so they are not document text.
        pages = [p.model_copy(update={"text": _MD_COMMENT.sub("", p.text)}) for p in pages]
        pages = [p for p in pages if p.text.strip()]
    if not pages:
        raise load_error("empty", name)
    return Extracted(pages=pages, title=title or stem, metadata=metadata, warnings=warnings)
