"""#18 item 11: state under YAKUBA_HOME is its owner's only — files 0600, folders 0700 — whether the
app creates it (through the real app: keys, audit log, uploads, Chroma, BM25) or an older version
left it readable (tightened at startup)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.support import make_settings, open_env
from yakuba.core.files import secure_tree


@pytest.fixture
def default_umask() -> Iterator[None]:
    """Start from a usual shell umask (022: new files world-readable), restore the process's after."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _loose(home: Path) -> list[str]:
    """Everything under `home` (itself included) that a group or other user could read or enter."""
    entries = [home, *home.rglob("*")]
    return [
        f"{p.relative_to(home.parent)} {stat.S_IMODE(p.lstat().st_mode):o}"
        for p in entries
        if not p.is_symlink() and stat.S_IMODE(p.lstat().st_mode) & 0o077
    ]


def test_everything_the_app_creates_is_private(tmp_path: Path, default_umask: None) -> None:
    home = tmp_path / "home"
    for env in open_env(make_settings(home)):
        files = [("files", ("plan.md", "# 防災計画\n\n避難所を毎年点検します。\n".encode()))]
        response = env.client.post("/v1/documents", headers=env.headers(), files=files)
        assert response.status_code == 200, response.text
        assert env.client.get("/v1/documents", headers=env.headers()).status_code == 200
    for name in ("keys.sqlite", "audit.sqlite", "chroma", "bm25", "uploads"):
        assert (home / name).exists(), name
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "keys.sqlite").stat().st_mode) == 0o600
    assert _loose(home) == []


def test_a_home_left_readable_is_tightened_at_startup(tmp_path: Path, default_umask: None) -> None:
    home = tmp_path / "home"
    (home / "uploads" / "nankoku").mkdir(parents=True)
    for path in (home / "keys.sqlite", home / "audit.sqlite", home / "uploads" / "nankoku" / "a.md"):
        path.write_text("x")
        path.chmod(0o644)
    outside = tmp_path / "shared.txt"
    outside.write_text("not ours to change")
    outside.chmod(0o644)
    (home / "link.txt").symlink_to(outside)
    assert _loose(home)
    for _env in open_env(make_settings(home)):  # create_app tightens on start
        pass
    assert _loose(home) == []
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644, "symlinks are never followed"
    assert secure_tree(home) == 0, "nothing left to change"
