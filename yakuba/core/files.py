"""File helpers: hashing model files, and keeping YAKUBA_HOME's state private to its owner."""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from pathlib import Path

_BLOCK = 4 * 1024 * 1024


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, read in 4 MiB blocks so a 1 GB model never sits in memory."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


# State under YAKUBA_HOME (API keys, the audit log, documents, reports) is readable by its owner only.
PRIVATE_UMASK = 0o077
PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def restrict_umask() -> None:
    """Every file this process (and its children) creates from now on is 0600, every folder 0700.

    Process-wide on purpose: Chroma, SQLite's -wal files, uploads and reports are created deep inside
    libraries that take no mode argument, and a server or CLI run owns its home for its lifetime.
    """
    os.umask(PRIVATE_UMASK)


def create_private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 unless it exists (SQLite then keeps that mode, and gives
    its -wal/-shm files the same), so a secret never exists readable, not even for a moment."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))


def secure_tree(root: Path) -> int:
    """Tighten what an older version (or another umask) left: folders to 0700, files lose every
    group/other bit. Only entries this user owns are touched, symlinks never. Returns the number changed."""
    changed = 0
    uid = os.geteuid()

    def tighten(path: str, mode: int) -> None:
        nonlocal changed
        try:
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode) or info.st_uid != uid:
                return
            current = stat.S_IMODE(info.st_mode)
            wanted = PRIVATE_DIR_MODE if stat.S_ISDIR(info.st_mode) else current & mode
            if current != wanted:
                os.chmod(path, wanted)
                changed += 1
        except OSError:  # vanished meanwhile, or a file system without modes: nothing to tighten
            return

    if not root.is_dir():
        return 0
    tighten(str(root), PRIVATE_DIR_MODE)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            tighten(os.path.join(folder, name), PRIVATE_DIR_MODE)
        for name in files:
            tighten(os.path.join(folder, name), PRIVATE_DIR_MODE)
    return changed
