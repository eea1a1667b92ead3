"""The one provisioning path every model takes: joining parts, the cross-process lock, stale cleanup, publish.

Small real files and real processes (spawned, so each has its own interpreter and file-lock handles).
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from filelock import FileLock

from tests.helpers import write_parts
from yakuba.core.errors import UnavailableError
from yakuba.core.settings import Settings
from yakuba.models.provision import (
    ModelError,
    join_parts,
    lock_path,
    model_cache,
    provision,
    publish_dir,
    staging,
)

PARTS = [b"GGUF" + bytes(range(256)) * 8, b"\x02" * 5000, b"\x03" * 17]
JOINED = b"".join(PARTS)
SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture
def parts(tmp_path: Path) -> list[Path]:
    return write_parts(tmp_path / "parts", PARTS, "part{n}.bin")


def _hidden(folder: Path) -> list[str]:
    """Partials and moved-aside copies; lock files stay by design (they are how processes take turns)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and not p.name.endswith(".lock"))


class FakeModelError(ModelError):
    code = "fake_model_unavailable"


# ----------------------------------------------------------------------------- joining parts


def test_join_writes_the_parts_in_order_and_reports_progress(parts: list[Path], tmp_path: Path) -> None:
    target = tmp_path / "out" / "model.bin"
    progress: list[int] = []
    assert join_parts(parts, target, sha256=hashlib.sha256(JOINED).hexdigest(), size=len(JOINED),
                      advance=progress.append) == target
    assert target.read_bytes() == JOINED
    assert sum(progress) == len(JOINED)
    assert _hidden(target.parent) == []


def test_join_with_a_wrong_hash_leaves_no_file_and_no_partial(parts: list[Path], tmp_path: Path) -> None:
    target = tmp_path / "model.bin"
    wrong = hashlib.sha256(JOINED + b"!").hexdigest()
    with pytest.raises(FakeModelError) as info:
        join_parts(parts, target, sha256=wrong, error=FakeModelError, packages="fake-part1..3")
    error = info.value
    assert error.code == "model_checksum_mismatch" and isinstance(error, UnavailableError)
    assert "チェックサム" in error.message_ja and "fake-part1..3" in error.message_ja
    assert wrong in error.message_en and "fake-part1..3" in error.message_en
    assert not target.exists()
    assert _hidden(tmp_path) == []


def test_join_refuses_parts_of_the_wrong_size_before_writing(parts: list[Path], tmp_path: Path) -> None:
    target = tmp_path / "model.bin"
    target.write_bytes(b"previous model")
    with pytest.raises(ModelError) as info:
        join_parts(parts, target, sha256=hashlib.sha256(JOINED).hexdigest(), size=len(JOINED) - 1)
    assert info.value.code == "model_size_mismatch"
    assert f"{len(JOINED):,}" in info.value.message_en
    assert target.read_bytes() == b"previous model"  # the old file stays until a good one replaces it
    assert _hidden(tmp_path) == []


def test_join_notices_a_part_that_changes_while_it_is_read(parts: list[Path], tmp_path: Path) -> None:
    target = tmp_path / "model.bin"

    def grow_last_part(_written: int) -> None:
        if parts[-1].stat().st_size == len(PARTS[-1]):  # once, while the first part is read
            with parts[-1].open("ab") as handle:  # e.g. a package reinstalled during the join
                handle.write(b"\x04")

    with pytest.raises(ModelError) as info:
        join_parts(parts, target, sha256=hashlib.sha256(JOINED).hexdigest(), size=len(JOINED),
                   advance=grow_last_part)
    assert info.value.code == "model_size_mismatch"
    assert not target.exists() and _hidden(tmp_path) == []


# ----------------------------------------------------------------------------- publishing folders


def _stage(target: Path, version: str) -> None:
    with staging(target) as staged:
        for name in ("a.txt", "b.txt", "marker.json"):
            (staged / name).write_text(version * 1000, encoding="utf-8")
        publish_dir(staged, target)


def test_folder_publish_replaces_an_old_folder_whole(tmp_path: Path) -> None:
    target = tmp_path / "model"
    target.mkdir()
    (target / "a.txt").write_text("old", encoding="utf-8")
    (target / "only-in-old.txt").write_text("old", encoding="utf-8")
    _stage(target, "1")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt", "b.txt", "marker.json"]
    assert (target / "a.txt").read_text(encoding="utf-8") == "1" * 1000
    assert _hidden(tmp_path) == []


def test_readers_never_see_a_half_published_folder(tmp_path: Path) -> None:
    target = tmp_path / "model"
    _stage(target, "0")
    seen: list[list[str]] = []
    done = threading.Event()

    def read() -> None:
        """List what `target` names; keep the listing only if `target` named that same folder throughout.

        The open descriptor pins the folder (its inode cannot be reused), so a match at the end means
        the listing came from a published folder, not from an old one being deleted after it was
        moved aside.
        """
        while not done.is_set():
            try:
                fd = os.open(target, os.O_RDONLY)
            except FileNotFoundError:  # between moving the old folder aside and renaming the new one in
                continue
            try:
                names = sorted(os.listdir(fd))
                with contextlib.suppress(FileNotFoundError):
                    if os.stat(target).st_ino == os.fstat(fd).st_ino:
                        seen.append(names)
            finally:
                os.close(fd)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for version in "123456789" * 5:
            _stage(target, version)
    finally:
        done.set()
        reader.join()
    assert seen and all(names == ["a.txt", "b.txt", "marker.json"] for names in seen)
    assert (target / "b.txt").read_text(encoding="utf-8") == "9" * 1000
    assert _hidden(tmp_path) == []


def test_a_failed_build_removes_its_staging_folder_and_keeps_the_old_model(tmp_path: Path) -> None:
    target = tmp_path / "model"
    _stage(target, "1")
    with pytest.raises(RuntimeError, match="disk full"), staging(target) as staged:
        (staged / "a.txt").write_text("half", encoding="utf-8")
        raise RuntimeError("disk full")
    assert (target / "a.txt").read_text(encoding="utf-8") == "1" * 1000
    assert _hidden(tmp_path) == []


# ----------------------------------------------------------------------------- the lock across processes


def _is_built(target: Path) -> bool:
    return (target / "marker.json").is_file()


def _counted_build(target: Path, counter: Path) -> None:
    with counter.open("a", encoding="utf-8") as handle:
        handle.write(f"{os.getpid()}\n")
    time.sleep(0.5)  # long enough that every other process arrives while this one builds
    _stage(target, "built")


def _provision_in_child(target: str, counter: str, start: object) -> None:
    start.wait()  # type: ignore[attr-defined]  # all children ask at the same moment
    provision(Path(target), _is_built, lambda path: _counted_build(path, Path(counter)))


def test_processes_asking_at_once_build_the_model_once(tmp_path: Path) -> None:
    target, counter = tmp_path / "cache" / "model", tmp_path / "builds.txt"
    start = SPAWN.Event()
    children = [SPAWN.Process(target=_provision_in_child, args=(str(target), str(counter), start))
                for _ in range(3)]
    for child in children:
        child.start()
    start.set()
    for child in children:
        child.join(60)
    assert [child.exitcode for child in children] == [0, 0, 0]
    assert len(counter.read_text(encoding="utf-8").splitlines()) == 1
    assert _is_built(target) and _hidden(target.parent) == []


def _build_then_hang(target: str, building: object) -> None:
    def build(path: Path) -> None:
        with staging(path) as staged:
            (staged / "a.txt").write_text("half a model", encoding="utf-8")
            building.set()  # type: ignore[attr-defined]
            time.sleep(600)  # killed here, holding the lock, its partial on disk

    provision(Path(target), _is_built, build)


def test_a_killed_build_releases_the_lock_and_its_partial_is_cleaned(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "model"
    building = SPAWN.Event()
    child = SPAWN.Process(target=_build_then_hang, args=(str(target), building))
    child.start()
    try:
        assert building.wait(60)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.join(10)
    assert child.exitcode == -signal.SIGKILL
    stale = _hidden(target.parent)
    assert len(stale) == 1 and stale[0].startswith(".model.partial-")
    (target.parent / ".model.old-dead").mkdir()  # a copy moved aside by a build killed while publishing

    builds: list[Path] = []
    assert provision(target, _is_built, lambda path: (builds.append(path), _stage(path, "2")), timeout_s=10) == target
    assert builds == [target] and _is_built(target)
    assert _hidden(target.parent) == []


def test_waiting_too_long_for_another_build_is_a_clear_error(tmp_path: Path) -> None:
    target = tmp_path / "model"
    builds: list[Path] = []
    with FileLock(str(lock_path(target))), pytest.raises(ModelError) as info:  # another process is building
        provision(target, _is_built, builds.append, timeout_s=0.2)
    assert info.value.code == "model_lock_timeout" and "model" in info.value.message_ja
    assert builds == []


def test_a_complete_model_is_returned_without_taking_the_lock(tmp_path: Path) -> None:
    target = tmp_path / "model"
    _stage(target, "1")
    with FileLock(str(lock_path(target))):  # even while someone else holds it
        assert provision(target, _is_built, lambda _path: pytest.fail("must not rebuild"), timeout_s=0.1) == target


def test_the_cache_folder_comes_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YAKUBA_MODEL_CACHE", "~/models-here")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert model_cache(Settings()) == tmp_path / "models-here"
    monkeypatch.delenv("YAKUBA_MODEL_CACHE")
    assert model_cache(Settings()) == tmp_path / ".cache" / "yakuba" / "models"
