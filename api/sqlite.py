"""Short-lived SQLite connections for the API's small databases (keys, audit log).

One connection per call keeps them thread-safe under uvicorn's thread pool; WAL lets readers and the
single writer work at once; leaving the block commits (or rolls back on error) and closes.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from yakuba.core.files import create_private_file


@contextlib.contextmanager
def connect(path: Path, *, rows: bool = False) -> Iterator[sqlite3.Connection]:
    create_private_file(path)  # keys and audit rows: 0600 from the first byte
    db = sqlite3.connect(path, timeout=10)
    if rows:
        db.row_factory = sqlite3.Row
    try:
        db.execute("PRAGMA journal_mode=WAL")
        with db:
            yield db
    finally:
        db.close()
