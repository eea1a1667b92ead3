"""Which town a document belongs to, and which towns a question names.

One tenant's library mixes towns: a prefecture's shared service, or the bundled corpora (南国市's
statements and bills, 桐生市議会's minutes, 日野町's plan). A question that names 南国市 should prefer
南国市's documents over another city's minutes about the same kind of thing (issue #16: 補正予算).

Names come from SudachiPy's place-name tag (名詞-固有名詞-地名) in split mode C, kept when they end in
市/区/町/村 (「南国市」, 「音威子府村」; 「桐生」+「市議会」 → 桐生市); a prefecture in front is dropped
(「高知県南国市」 → 南国市). The document's town is read from where a municipality names itself: the
title, the file path, the first line, or a town the text names far more often than any other (「南国市
長」, 「南国市国土強靭化地域計画」); a 白書 citing towns as examples gets none.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import Counter
from functools import lru_cache

from sudachipy import Dictionary, SplitMode

_SUFFIXES = ("市", "区", "町", "村")
_PREFECTURE = re.compile(r"^.{1,3}?[都道府県](?=.{2,}$)")
_TEXT_CHARS = 20000  # a document names its own town early and often (市長, 市議会, 本市の計画)
_MIN_MENTIONS = 3
_local = threading.local()


@lru_cache(maxsize=1)
def _dictionary() -> Dictionary:
    """One dictionary per process: each `Dictionary()` maps the whole system dictionary again, and a
    server's worker threads would each add its pages to the process's memory."""
    return Dictionary()


def _tokenizer():  # type: ignore[no-untyped-def]
    """One Sudachi tokenizer per thread (they are not thread-safe); mode C keeps 「南国市」 whole."""
    tokenizer = getattr(_local, "tokenizer", None)
    if tokenizer is None:
        tokenizer = _local.tokenizer = _dictionary().tokenizer(mode=SplitMode.C)
    return tokenizer


def municipalities_in(text: str) -> list[str]:
    """Municipality names in `text`, in order of first mention, each once (NFKC)."""
    return list(dict.fromkeys(_mentions(text)))


def _pieces(text: str, size: int = 4000) -> list[str]:
    """Line-aligned pieces Sudachi accepts (it refuses inputs over ~49 KB)."""
    pieces, current = [], ""
    for line in text.splitlines(keepends=True):
        while len(line) > size:
            pieces.append(line[:size])
            line = line[size:]
        if len(current) + len(line) > size:
            pieces.append(current)
            current = ""
        current += line
    return [*pieces, current] if current else pieces


def _mentions(text: str) -> list[str]:
    names: list[str] = []
    for piece in _pieces(unicodedata.normalize("NFKC", text[:_TEXT_CHARS])):
        names.extend(_piece_mentions(piece))
    return names


def _piece_mentions(text: str) -> list[str]:
    morphemes = list(_tokenizer().tokenize(text))
    names: list[str] = []
    for i, morpheme in enumerate(morphemes):
        if morpheme.part_of_speech()[2] != "地名":
            continue
        name = morpheme.surface()
        following = morphemes[i + 1].surface() if i + 1 < len(morphemes) else ""
        if not name.endswith(_SUFFIXES) and following[:1] in _SUFFIXES:
            name += following[0]  # 「桐生」+「市議会」, 「南国」+「市長」
        if name.endswith(_SUFFIXES) and len(name) >= 2:
            names.append(_PREFECTURE.sub("", name))
    return names


def document_municipality(title: str, doc_id: str, text: str) -> str | None:
    """The document's own town: the first named in its title, its path or its first line (a heading:
    「令和４年桐生市議会第４回定例会会議録」), else the town its text names at least three times and more
    than twice as often as any other (a 白書's examples do not count)."""
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")[:80]
    for source in (title, doc_id.replace("/", " ").replace("_", " "), first_line):
        names = municipalities_in(source)
        if names:
            return names[0]
    counts = Counter(_mentions(text[:_TEXT_CHARS])).most_common(2)
    if counts and counts[0][1] >= _MIN_MENTIONS and (len(counts) == 1 or counts[0][1] > 2 * counts[1][1]):
        return counts[0][0]
    return None
