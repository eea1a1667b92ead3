"""Japanese only: which characters are foreign, which tokens are banned (over a real sample of the
Qwen2.5 vocabulary, tests/data/qwen25_vocab_sample.json, and, in the slow tier, the whole vocabulary
loaded vocab-only from the real GGUF), the partial-character check and the on-disk cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import ROOT
from yakuba.assistant.charset import (
    JapaneseOnly,
    cache_path,
    foreign_chars,
    incomplete_tail,
    is_foreign_char,
    load_or_build,
)

SAMPLE = json.loads((ROOT / "tests" / "data" / "qwen25_vocab_sample.json").read_text(encoding="utf-8"))
PIECES = {int(k): bytes.fromhex(v) for k, v in SAMPLE["pieces"].items()}
TEXTS: dict[str, list[int]] = SAMPLE["texts"]


@pytest.fixture(scope="module")
def sample() -> JapaneseOnly:
    return JapaneseOnly.from_pieces(PIECES.items(), SAMPLE["n_vocab"])


def test_characters_japanese_never_uses() -> None:
    for ch in "们这说吗还时对经过让给问间钱丆":  # simplified-only hanzi (in no Japanese character set)
        assert is_foreign_char(ch), ch
    for ch in "한글ДЖпไทยعב":  # Hangul, Cyrillic, Thai, Arabic, Hebrew
        assert is_foreign_char(ch), ch
    japanese = "国民健康保険の補正予算は934千円です。髙﨑德濵々〆ヶ①㈱㎡αβμ「」・ーDX ICT café–—\u3000"
    assert foreign_chars(japanese) == []
    assert foreign_chars("予算は们934千円です。한") == ["们", "한"]


def test_utf8_tails() -> None:
    assert incomplete_tail(b"abc") == b""
    assert incomplete_tail("国".encode()[:2]) == "国".encode()[:2]
    assert incomplete_tail("国".encode()) == b""
    assert incomplete_tail(b"x" + "国".encode()[:1]) == "国".encode()[:1]


def _banned(ids: list[int], model: JapaneseOnly) -> list[bool]:
    banned = set(model.banned.tolist())
    return [i in banned for i in ids]


def test_real_tokens_of_chinese_korean_and_cyrillic_are_banned(sample: JapaneseOnly) -> None:
    japanese = TEXTS["国民健康保険特別会計の補正予算は934千円の減額です。"]
    assert not any(_banned(japanese, sample))
    assert not any(_banned(TEXTS["髙野知佐子氏が推薦されました[1]。"], sample))
    chinese = TEXTS["这是简体中文的回答，我们说的话。"]
    assert sum(_banned(chinese, sample)) >= 3  # 这是 / 我们 / 说 …: the words that make it Chinese
    assert all(_banned(TEXTS["한국어 답변입니다"], sample))
    assert any(_banned(TEXTS["Это ответ"], sample))


def test_processor_sets_banned_logits_to_minus_infinity(sample: JapaneseOnly) -> None:
    chinese = TEXTS["这是简体中文的回答，我们说的话。"]
    scores = np.zeros(SAMPLE["n_vocab"], dtype=np.float32)
    out = sample(np.array([1, 2, 3], dtype=np.intc), scores)
    assert np.isneginf(out[sample.banned]).all()
    banned = [i for i in chinese if i in set(sample.banned.tolist())]
    kept = TEXTS["国民健康保険特別会計の補正予算は934千円の減額です。"]
    assert np.isneginf(out[banned]).all() and np.isfinite(out[kept]).all()


def test_a_foreign_character_split_over_two_tokens_cannot_be_completed(sample: JapaneseOnly) -> None:
    """丆 (not Japanese) and 丂 (JIS X 0213) share their first two bytes, a token of their own."""
    lead, foreign_end = TEXTS["丆丂"][0], TEXTS["丆丂"][1]
    japanese_end = TEXTS["丆丂"][3]
    assert PIECES[lead] + PIECES[foreign_end] == "丆".encode()
    assert PIECES[lead] + PIECES[japanese_end] == "丂".encode()
    scores = np.zeros(SAMPLE["n_vocab"], dtype=np.float32)
    out = sample(np.array([100, lead], dtype=np.intc), scores)
    assert np.isneginf(out[foreign_end]) and np.isfinite(out[japanese_end])
    # After a complete character nothing is pending: the continuation token is not banned by itself.
    fresh = sample(np.array([100, TEXTS["国民健康保険特別会計の補正予算は934千円の減額です。"][0]], dtype=np.intc),
                   np.zeros(SAMPLE["n_vocab"], dtype=np.float32))
    assert np.isfinite(fresh[foreign_end])


class _Vocab:
    """What load_or_build reads from a llama.cpp model: n_vocab() and detokenize([id])."""

    def __init__(self, pieces: dict[int, bytes], n_vocab: int) -> None:
        self.pieces, self.size, self.calls = pieces, n_vocab, 0

    def n_vocab(self) -> int:
        return self.size

    def detokenize(self, tokens: list[int]) -> bytes:
        self.calls += 1
        return self.pieces.get(tokens[0], b"")


def test_banned_set_is_cached_by_the_models_sha256(tmp_path: Path, sample: JapaneseOnly) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF not really a model")
    vocab = _Vocab(PIECES, SAMPLE["n_vocab"])
    first = load_or_build(vocab, model, tmp_path / "cache")  # type: ignore[arg-type]
    assert vocab.calls == SAMPLE["n_vocab"] and np.array_equal(first.banned, sample.banned)
    cached = list((tmp_path / "cache").iterdir())
    assert len(cached) == 1 and cached[0].name.endswith(".japanese-only.v1.json")
    again = load_or_build(vocab, model, tmp_path / "cache")  # type: ignore[arg-type]
    assert vocab.calls == SAMPLE["n_vocab"]  # read from the cache: the vocabulary was not walked again
    assert np.array_equal(again.banned, first.banned) and again.partial == first.partial
    model.write_bytes(b"GGUF another model")  # another file, another digest: built afresh
    load_or_build(vocab, model, tmp_path / "cache")  # type: ignore[arg-type]
    assert vocab.calls == 2 * SAMPLE["n_vocab"] and len(list((tmp_path / "cache").iterdir())) == 2


# ----------------------------------------------------------------------------- the real model


@pytest.fixture(scope="module")
def real_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from yakuba.core.settings import Settings
    from yakuba.models.gguf import resolve_gguf

    settings = Settings(home=tmp_path_factory.mktemp("charset-home"))
    return resolve_gguf(settings.chat_model, settings.model_cache, progress=False)


@pytest.mark.slow
def test_whole_vocabulary_loaded_vocab_only(real_gguf: Path, tmp_path: Path) -> None:
    from llama_cpp import Llama

    llama = Llama(model_path=str(real_gguf), vocab_only=True, verbose=False)
    built = load_or_build(llama, real_gguf, tmp_path)
    assert built.banned.size == SAMPLE["banned_in_full_vocabulary"]
    assert cache_path(tmp_path, SAMPLE["source"].rsplit(" ", 1)[1]).is_file()
    for text, ids in TEXTS.items():
        assert llama.tokenize(text.encode(), add_bos=False) == ids, text  # the sample is this vocabulary's


@pytest.mark.slow
def test_local_model_asked_for_chinese_answers_without_foreign_characters(tmp_path: Path) -> None:
    """One short generation: the model is told to answer in simplified Chinese and cannot."""
    from langchain_core.messages import HumanMessage, SystemMessage

    from yakuba.assistant.llm import chat_model_for
    from yakuba.core.settings import Settings

    settings = Settings(home=tmp_path, chat_engine="local", llm_max_tokens=40, llm_temperature=0.0, llm_context=1024)
    model = chat_model_for(settings)
    reply = model.invoke([SystemMessage("请只用简体中文回答。"), HumanMessage("请用简体中文介绍一下这个城市的图书馆。")])
    text = str(reply.content)
    assert text.strip() and foreign_chars(text) == [], text
