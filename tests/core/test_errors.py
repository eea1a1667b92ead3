"""The one error base: messages, codes and kinds, and that every domain error is built on it."""

from __future__ import annotations

import pytest

from yakuba.core.errors import ErrorKind, InvalidInputError, NotFoundError, UnavailableError, YakubaError


def test_two_messages_make_the_japanese_first_text() -> None:
    error = InvalidInputError("質問を入力してください", "the question is empty")
    assert (error.message_ja, error.message_en) == ("質問を入力してください", "the question is empty")
    assert str(error) == error.message == "質問を入力してください / the question is empty"
    assert (error.code, error.kind, error.detail) == ("invalid_input", ErrorKind.INVALID, None)


def test_one_ja_en_string_is_split_and_prints_unchanged() -> None:
    text = "検索語を入力してください / the query is empty"
    error = YakubaError(text)
    assert (error.message_ja, error.message_en) == ("検索語を入力してください", "the query is empty")
    assert str(error) == text


@pytest.mark.parametrize(
    ("text", "ja", "en"),
    [
        # the Japanese half lists options with " / ": split before the English
        (
            "検索モードは dense / bm25 / hybrid のいずれかです: 'x' / unknown mode",
            "検索モードは dense / bm25 / hybrid のいずれかです: 'x'",
            "unknown mode",
        ),
        # the English half has a " / " of its own
        ("形式が違います / use csv / jsonl", "形式が違います", "use csv / jsonl"),
        # the English half echoes a Japanese value: the last separator
        ("不明なロールです: '職員' / unknown role '職員'", "不明なロールです: '職員'", "unknown role '職員'"),
    ],
)
def test_split_finds_the_separator_between_the_languages(text: str, ja: str, en: str) -> None:
    error = YakubaError(text)
    assert (error.message_ja, error.message_en) == (ja, en)
    assert str(error) == text


def test_a_message_without_english_serves_both() -> None:
    error = UnavailableError("BM25 index folder is not configured")
    assert error.message_ja == error.message_en == str(error) == "BM25 index folder is not configured"


def test_a_raise_site_may_override_code_and_kind_for_that_error_only() -> None:
    class AudioError(InvalidInputError):
        code = "invalid_audio"

    missing_model = AudioError("モデルがありません", "no model", code="model_unavailable", kind=ErrorKind.UNAVAILABLE)
    assert (missing_model.code, missing_model.kind) == ("model_unavailable", ErrorKind.UNAVAILABLE)
    plain = AudioError("音声が空です", "empty audio", detail={"name": "a.wav"})
    assert (plain.code, plain.kind, plain.detail) == ("invalid_audio", ErrorKind.INVALID, {"name": "a.wav"})
    assert (AudioError.code, AudioError.kind) == ("invalid_audio", ErrorKind.INVALID)


def test_base_kinds_and_codes() -> None:
    assert (YakubaError.kind, YakubaError.code) == (ErrorKind.INTERNAL, "error")
    assert (InvalidInputError.kind, NotFoundError.kind, UnavailableError.kind) == (
        ErrorKind.INVALID,
        ErrorKind.NOT_FOUND,
        ErrorKind.UNAVAILABLE,
    )
