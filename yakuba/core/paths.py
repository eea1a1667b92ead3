"""Where the project's companion data lives: `../shared` beside the checkout (developers and CI)."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def shared_dir() -> Path | None:
    """`../shared` beside the checkout, else /work/shared (a developer machine's layout), else None."""
    for candidate in (PROJECT_ROOT.parent / "shared", Path("/work/shared")):
        if candidate.is_dir():
            return candidate
    return None
