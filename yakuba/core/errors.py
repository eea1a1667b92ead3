"""One error base for everything a user or operator can act on.

Every layer raises a subclass of `YakubaError`: a machine-readable `code` that programs branch on, a
Japanese message for staff (`message_ja`) and an English one for logs and operators (`message_en`).
The *kind* says what went wrong in terms any front end understands (the caller's input, something
missing, a dependency that is down); the API turns kinds into HTTP statuses in one place
(`yakuba.api.errors`), the CLI prints the message. No layer below the API knows about HTTP.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorKind(StrEnum):
    """What the caller can do about an error; front ends map it (HTTP status, exit code)."""

    INVALID = "invalid"  # the request or input must be fixed by the caller
    NOT_FOUND = "not_found"  # the named thing does not exist
    CONFLICT = "conflict"  # the request clashes with what is stored
    TOO_LARGE = "too_large"  # the input is over a configured limit
    UNAVAILABLE = "unavailable"  # a model, store or server is missing or down: an operator's problem
    INTERNAL = "internal"  # a bug or a broken installation


class YakubaError(Exception):
    """Base of every error with a code and Japanese + English messages.

    Subclasses set `code` (the default machine code) and `kind`; a raise site may pass a more precise
    code (or kind). `str(error)` is "ja / en", which is what logs, the CLI and older callers show; a
    single "ja / en" string is split into its halves, so both call styles give the same error.
    """

    code: str = "error"
    kind: ErrorKind = ErrorKind.INTERNAL

    def __init__(
        self,
        message_ja: str,
        message_en: str | None = None,
        *,
        code: str | None = None,
        kind: ErrorKind | None = None,
        detail: Any = None,
    ) -> None:
        if message_en is None:
            message_ja, message_en = _split(message_ja)
        self.message_ja = message_ja
        self.message_en = message_en
        if code is not None:
            self.code = code
        if kind is not None:  # one class, two causes (bad audio vs. a missing model): the raise site knows
            self.kind = kind
        self.detail = detail
        super().__init__(f"{message_ja} / {message_en}" if message_en and message_en != message_ja else message_ja)

    @property
    def message(self) -> str:
        """The text a user sees: Japanese first, English after ` / `."""
        return str(self)


_SEPARATOR = " / "


def _split(message: str) -> tuple[str, str]:
    """A single "ja / en" string (the project's convention) split into its halves.

    The Japanese half may list options with " / " ("dense / bm25 / hybrid のいずれか"), and so may the
    English one, so the split is at the first separator followed by no Japanese; if the English half
    echoes a Japanese value, at the last one. No separator: the same text serves both.
    """
    starts = [i for i in range(len(message)) if message.startswith(_SEPARATOR, i)]
    if not starts:
        return message, message
    at = next((i for i in starts if not _has_japanese(message[i + len(_SEPARATOR):])), starts[-1])
    return message[:at], message[at + len(_SEPARATOR):]


def _has_japanese(text: str) -> bool:
    """Kana, kanji or full-width punctuation (what only the Japanese half of a message contains)."""
    return any("\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" for ch in text)


class InvalidInputError(YakubaError):
    """The caller must fix the request or the input (a bad question, file or option)."""

    code = "invalid_input"
    kind = ErrorKind.INVALID


class NotFoundError(YakubaError):
    """The named document, report, key or tenant does not exist."""

    code = "not_found"
    kind = ErrorKind.NOT_FOUND


class UnavailableError(YakubaError):
    """A model, store or server cannot be reached or loaded: an operator's problem, not the caller's."""

    code = "unavailable"
    kind = ErrorKind.UNAVAILABLE
