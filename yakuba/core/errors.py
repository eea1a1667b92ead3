"""One error base for everything a user or operator can act on.

Every layer raises a subclass of `YakubaError`: a machine-readable `code` that programs branch on, a
Japanese message for staff (`message_ja`) and an English one for logs and operators (`message_en`).
The *kind* says what went wrong in terms any front end understands (the caller's input, something
missing, a dependency that is down); the API turns kinds into HTTP statuses in one place
(`yakuba.api.errors`), the CLI prints the message. No layer below the API knows about HTTP.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar


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
    code. `str(error)` is "ja / en", which is what logs, the CLI and older callers show.
    """

    code: str = "error"
    kind: ClassVar[ErrorKind] = ErrorKind.INTERNAL

    def __init__(
        self, message_ja: str, message_en: str | None = None, *, code: str | None = None, detail: Any = None
    ) -> None:
        if message_en is None:
            message_ja, message_en = _split(message_ja)
        self.message_ja = message_ja
        self.message_en = message_en
        if code is not None:
            self.code = code
        self.detail = detail
        super().__init__(f"{message_ja} / {message_en}" if message_en and message_en != message_ja else message_ja)

    @property
    def message(self) -> str:
        """The text a user sees: Japanese first, English after ` / `."""
        return str(self)


def _split(message: str) -> tuple[str, str]:
    """A single "ja / en" string (the project's convention) split into its halves."""
    ja, sep, en = message.partition(" / ")
    return (ja, en) if sep else (message, message)


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
