"""Japanese sentence splitting shared by ingest (chunking), the assistant and the drafters.

It sits in `yakuba` because ingest/ and assistant/ both need it and must not import each other.
"""

from __future__ import annotations

import re

# A sentence ends at 。！？ (or !? after NFKC; "." only after a non-ASCII character, since NFKC turns
# the full-width "．" of some documents into ".", but "5.0" and "No.3" must not split), and takes
# the closing brackets that follow with it.
_SENTENCE_END = re.compile(r"(?:[。！？!?]+|(?<=[^\x00-\x7f])\.(?![0-9]))[」』）)】〕\]\"'’”]*")


def split_sentences(text: str) -> list[str]:
    """Split at sentence ends and line breaks; never returns empty strings."""
    sentences: list[str] = []
    for line in text.split("\n"):
        start = 0
        for match in _SENTENCE_END.finditer(line):
            piece = line[start : match.end()].strip()
            if piece:
                sentences.append(piece)
            start = match.end()
        piece = line[start:].strip()
        if piece:
            sentences.append(piece)
    return sentences


# Characters XML 1.0 cannot hold (C0 controls but tab/newline/CR, lone surrogates, U+FFFE/U+FFFF): a
# .docx or .xlsx writer refuses a whole report for one of them, and uploaded files do contain them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """`text` without the characters an Office document cannot store."""
    return _NOT_XML.sub("", text)
