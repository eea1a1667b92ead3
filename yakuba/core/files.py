"""File helpers the model builders share (GGUF, Whisper, the e5 council adapter)."""

from __future__ import annotations

import hashlib
from pathlib import Path

_BLOCK = 4 * 1024 * 1024


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, read in 4 MiB blocks so a 1 GB model never sits in memory."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()
