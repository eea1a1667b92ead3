"""Japanese only: the characters a Japanese answer never uses cannot be generated.

A small Chinese-trained model drifts into simplified Chinese (们, 这, 说) or even Korean when a passage
is hard; the output checks would then reject a whole answer for one word. Instead, every vocabulary
token whose text contains such a character gets a logit of -inf, so the model picks the Japanese
token it ranked next. The banned set is built once per model file from its vocabulary (~150k pieces,
about a second) and cached on disk next to the model cache, keyed by the GGUF's SHA-256.

Which characters: Han ideographs that no Japanese character set has (JIS X 0208/0213 via Python's
`euc_jis_2004`/`shift_jis_2004` codecs, plus Windows-31J for IBM kanji such as 髙) — that is the
simplified-only hanzi — and the letters of scripts Japanese text does not use (Hangul, Bopomofo,
Cyrillic, Thai, Arabic, …). Latin and Greek letters, kana, digits, punctuation and symbols stay.

Byte-level BPE vocabularies also hold *partial* characters (a token may end with the first byte of a
3-byte character, the next token supplies the rest). The processor therefore also looks at the
incomplete bytes at the end of the sequence and bans the continuations that would complete a banned
character there.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from yakuba.core.files import sha256_file

if TYPE_CHECKING:
    from llama_cpp import Llama

log = logging.getLogger(__name__)

CACHE_VERSION = 1
_JAPANESE_CODECS = ("euc_jis_2004", "shift_jis_2004", "cp932")
# Scripts whose letters never appear in a Japanese answer even though JIS X 0208 can encode them.
_FOREIGN_BLOCKS: tuple[tuple[int, int], ...] = (
    (0x0400, 0x052F),  # Cyrillic (+ supplement)
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x3100, 0x312F),  # Bopomofo
    (0x3130, 0x318F),  # Hangul compatibility Jamo
    (0x31A0, 0x31BF),  # Bopomofo extended
    (0xA960, 0xA97F),  # Hangul Jamo extended-A
    (0xAC00, 0xD7FF),  # Hangul syllables, Jamo extended-B
)
# Letters that stay even when no Japanese codec has them: Latin (names, DX, ICT) and Greek (α, μ).
_KEPT_LETTER_BLOCKS: tuple[tuple[int, int], ...] = (
    (0x0000, 0x024F),
    (0x0370, 0x03FF),
    (0x1E00, 0x1FFF),
    (0x3040, 0x30FF),  # kana
    (0x31F0, 0x31FF),
    (0xFF00, 0xFFEF),  # full-width / half-width forms
)


def _in(code: int, blocks: tuple[tuple[int, int], ...]) -> bool:
    return any(low <= code <= high for low, high in blocks)


def _is_han(code: int) -> bool:
    return 0x3400 <= code <= 0x4DBF or 0x4E00 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF


def _encodable_in_japanese(ch: str) -> bool:
    for codec in _JAPANESE_CODECS:
        with contextlib.suppress(UnicodeEncodeError):
            ch.encode(codec)
            return True
    return False


@lru_cache(maxsize=65536)
def is_foreign_char(ch: str) -> bool:
    """True for a character a Japanese answer never uses (simplified-only hanzi, Hangul, Cyrillic …)."""
    code = ord(ch)
    if code < 0x80:
        return False
    if _in(code, _FOREIGN_BLOCKS):
        return True
    if _is_han(code):
        return not _encodable_in_japanese(ch)
    if not unicodedata.category(ch).startswith(("L", "M")):
        return False  # punctuation, symbols, digits, spaces: harmless whatever their origin
    if _in(code, _KEPT_LETTER_BLOCKS):
        return False
    return not _encodable_in_japanese(ch)


def foreign_chars(text: str) -> list[str]:
    """The distinct foreign characters in `text`, in order of appearance (the answer check uses it)."""
    return list(dict.fromkeys(ch for ch in text if is_foreign_char(ch)))


# ----------------------------------------------------------------------------- UTF-8 pieces


def _is_continuation(byte: int) -> bool:
    return byte & 0xC0 == 0x80


def _sequence_length(lead: int) -> int:
    if lead < 0x80:
        return 1
    if lead >= 0xF0:
        return 4
    if lead >= 0xE0:
        return 3
    if lead >= 0xC0:
        return 2
    return 0  # a continuation byte cannot start a character


def incomplete_tail(data: bytes) -> bytes:
    """The bytes at the end of `data` that start a character without finishing it (b"" if none, and
    also when `data` holds only continuation bytes, whose lead byte is elsewhere: see `_needs_more`)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if _is_continuation(byte):
            continue
        need = _sequence_length(byte)
        return data[-back:] if need > back else b""
    return b""


def _needs_more(data: bytes) -> bool:
    """Only continuation bytes so far (fewer than 4): the lead byte is in an earlier token."""
    return 0 < len(data) < 4 and all(_is_continuation(b) for b in data)


def _core_text(piece: bytes) -> str:
    """The whole characters of a piece: leading continuation bytes and an unfinished tail removed."""
    start = 0
    while start < len(piece) and start < 3 and _is_continuation(piece[start]):
        start += 1
    end = len(piece) - len(incomplete_tail(piece))
    return piece[start:end].decode("utf-8", errors="ignore")


def _leading_continuation(piece: bytes) -> bytes:
    lead = b""
    for byte in piece[:3]:
        if not _is_continuation(byte):
            break
        lead += bytes([byte])
    return lead


# ----------------------------------------------------------------------------- the banned set


@dataclass
class JapaneseOnly:
    """The banned token ids of one vocabulary, plus what the partial-character check needs."""

    n_vocab: int
    banned: np.ndarray  # int32 ids whose text holds a foreign character
    partial: dict[int, bytes]  # tokens that are not valid UTF-8 on their own
    continuations: dict[int, bytes] = field(default_factory=dict)  # id -> its leading continuation bytes
    _by_tail: dict[bytes, np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.continuations:
            self.continuations = {
                token: lead for token, piece in self.partial.items() if (lead := _leading_continuation(piece))
            }

    @classmethod
    def from_pieces(cls, pieces: Iterable[tuple[int, bytes]], n_vocab: int) -> JapaneseOnly:
        banned: list[int] = []
        partial: dict[int, bytes] = {}
        for token, piece in pieces:
            if not piece:
                continue
            try:
                text = piece.decode("utf-8")
            except UnicodeDecodeError:
                partial[token] = piece
                text = _core_text(piece)
            if any(is_foreign_char(ch) for ch in text):
                banned.append(token)
        return cls(n_vocab=n_vocab, banned=np.asarray(sorted(banned), dtype=np.int32), partial=partial)

    # -- the generation-time processor (llama-cpp-python's LogitsProcessor signature) -----------
    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        scores[self.banned] = -np.inf
        tail = self._pending_bytes(input_ids)
        if tail:
            completing = self._completing(tail)
            if completing.size:
                scores[completing] = -np.inf
        return scores

    def _pending_bytes(self, input_ids: Any) -> bytes:
        """The unfinished character the sequence ends with (its bytes may span several tokens)."""
        data = b""
        for back in range(1, 5):
            if len(input_ids) < back:
                break
            piece = self.partial.get(int(input_ids[-back]))
            if piece is None:
                break  # a valid-UTF-8 token ends on a character boundary
            data = piece + data
            if not _needs_more(piece):
                break
        return incomplete_tail(data)

    def _completing(self, tail: bytes) -> np.ndarray:
        """Tokens whose first bytes finish `tail` into a foreign character (cached per tail)."""
        cached = self._by_tail.get(tail)
        if cached is not None:
            return cached
        need = _sequence_length(tail[0]) - len(tail)
        ids = []
        for token, lead in self.continuations.items():
            if len(lead) < need:
                continue
            with contextlib.suppress(UnicodeDecodeError):
                if is_foreign_char((tail + lead[:need]).decode("utf-8")):
                    ids.append(token)
        result = np.asarray(ids, dtype=np.int32)
        self._by_tail[tail] = result
        return result

    # -- cache file ----------------------------------------------------------------------------
    def to_json(self, sha256: str) -> dict[str, Any]:
        return {
            "version": CACHE_VERSION,
            "sha256": sha256,
            "n_vocab": self.n_vocab,
            "banned": self.banned.tolist(),
            "partial": {str(k): v.hex() for k, v in self.partial.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JapaneseOnly:
        return cls(
            n_vocab=int(data["n_vocab"]),
            banned=np.asarray(data["banned"], dtype=np.int32),
            partial={int(k): bytes.fromhex(v) for k, v in data["partial"].items()},
        )


def vocabulary_pieces(llama: Llama) -> Iterable[tuple[int, bytes]]:
    """(id, bytes) for every token of a loaded model (a `vocab_only=True` load is enough)."""
    for token in range(llama.n_vocab()):
        yield token, llama.detokenize([token])


def model_digest(model_path: Path) -> str:
    """The GGUF's SHA-256: from the sidecar that vouches for an assembled model, else hashed once."""
    from yakuba.models.gguf import SIDECAR_SUFFIX

    sidecar = model_path.with_name(model_path.name + SIDECAR_SUFFIX)
    with contextlib.suppress(OSError, ValueError, KeyError):
        record = json.loads(sidecar.read_text(encoding="utf-8"))
        stat = model_path.stat()
        if record["size"] == stat.st_size and record["mtime_ns"] == stat.st_mtime_ns:
            return str(record["sha256"])
    return sha256_file(model_path)


def cache_path(cache_dir: Path, sha256: str) -> Path:
    return cache_dir / f"{sha256}.japanese-only.v{CACHE_VERSION}.json"


def load_or_build(llama: Llama, model_path: Path, cache_dir: Path) -> JapaneseOnly:
    """The banned set for `model_path`, read from the cache or built from `llama`'s vocabulary."""
    digest = model_digest(Path(model_path))
    path = cache_path(cache_dir, digest)
    with contextlib.suppress(OSError, ValueError, KeyError):
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") == CACHE_VERSION and data.get("sha256") == digest:
            return JapaneseOnly.from_json(data)
    built = JapaneseOnly.from_pieces(vocabulary_pieces(llama), llama.n_vocab())
    log.info("japanese-only logit bias: %d of %d tokens banned (%s)", built.banned.size, built.n_vocab, model_path)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_text(json.dumps(built.to_json(digest)), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:  # a read-only cache still works: the set is rebuilt next start
        log.warning("could not cache the japanese-only token set in %s: %s", cache_dir, exc)
    return built
