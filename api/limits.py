"""Size and shape limits of everything a client sends, in one place.

Every request field is bounded here or in the model that uses these types, so that no input size
reaches a library limit first (SudachiPy's per-call input, the file system's 255-byte names, a 32-bit
integer column) and turns into a 500. Strict types keep JSON honest: `0` is not a boolean and
`false` is not a year. Messages are Japanese first, as everywhere in the API.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StrictBool, StrictInt

from yakuba.api.errors import ApiError

MAX_QUESTION_CHARS = 4000  # the assistant answers up to 1,000 (a 400 in Japanese beyond); this is the hard cap
MAX_HISTORY_MESSAGES = 40
MAX_MESSAGE_CHARS = 8000  # one history / OpenAI message; 3 bytes a character stays under SudachiPy's limit
MAX_OPENAI_MESSAGES = 100
MAX_NAME_CHARS = 200  # model names, titles, user ids, stop strings
MAX_FILENAME_BYTES = 255  # what Linux, macOS and Windows file systems store in one name
MAX_UPLOAD_FILES = 100
MAX_FORM_CHARS = 10_000  # a JSON settings form field (surveys)
MAX_SHORT_FIELD_CHARS = 100  # doc_type, language, sheet names


def _encodable(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            "文字として扱えないデータ（対になっていないサロゲート）が含まれています / "
            "text contains a lone surrogate that is not a character"
        ) from None
    return value


Text = Annotated[str, AfterValidator(_encodable)]
Question = Annotated[Text, Field(max_length=MAX_QUESTION_CHARS)]  # empty: the assistant answers 400 in Japanese
MessageText = Annotated[Text, Field(max_length=MAX_MESSAGE_CHARS)]
Name = Annotated[Text, Field(max_length=MAX_NAME_CHARS)]
Flag = StrictBool
Count = StrictInt


def has_lone_surrogate(data: Any) -> bool:
    """True when a parsed JSON value holds a string Python cannot encode as UTF-8 (`"\\ud800"`).
    Iterative, so a deeply nested body cannot exhaust the stack."""
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def check_json_text(data: Any) -> None:
    """422 for a JSON body whose strings hold lone surrogates: every layer below (SudachiPy, the
    embedding tokenizer, python-docx, SQLite) needs real characters. They come as `\\ud800` escapes
    or as raw bytes (`json.loads` decodes with "surrogatepass"), so every string is checked."""
    if has_lone_surrogate(data):
        raise ApiError(
            422,
            "invalid_text",
            "文字として扱えないデータ（対になっていないサロゲート）が含まれています。入力を確認してください / "
            "the request contains a lone surrogate that is not a character",
        )


def check_filename(name: str | None) -> None:
    """422 unless an upload's file name fits one file-system name (255 bytes in UTF-8, extension included)."""
    size = len((name or "").encode("utf-8", "surrogatepass"))
    if size > MAX_FILENAME_BYTES:
        raise ApiError(
            422,
            "filename_too_long",
            f"ファイル名が長すぎます（UTF-8 で {size} バイト、上限 {MAX_FILENAME_BYTES} バイト。日本語は 1 文字 3 バイト）。"
            f"短い名前に変えてからアップロードしてください / file name is {size} bytes; the limit is "
            f"{MAX_FILENAME_BYTES} bytes",
            detail={"filename": (name or "")[:100], "bytes": size, "max_bytes": MAX_FILENAME_BYTES},
        )


def check_file_count(count: int) -> None:
    if count > MAX_UPLOAD_FILES:
        raise ApiError(
            422,
            "too_many_files",
            f"一度にアップロードできるのは {MAX_UPLOAD_FILES} ファイルまでです（{count} ファイル） / "
            f"at most {MAX_UPLOAD_FILES} files per request",
            detail={"files": count, "max_files": MAX_UPLOAD_FILES},
        )


def json_loads(body: bytes) -> Any:
    """`json.loads`, then the lone-surrogate check (the body parser of every route). Bytes that are
    not UTF-8/16/32 are a 400; malformed JSON stays a JSONDecodeError (a 422, see api.errors)."""
    try:
        data = json.loads(body)
    except UnicodeDecodeError:
        raise ApiError(
            400,
            "invalid_encoding",
            "本文を文字として読めません。UTF-8 の JSON を送ってください / the body is not UTF-8 JSON",
        ) from None
    except RecursionError:
        raise ApiError(
            400, "too_deeply_nested", "JSON の入れ子が深すぎます / the JSON body is nested too deeply"
        ) from None
    check_json_text(data)
    return data
