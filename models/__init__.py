"""Packaged models: one provisioning module builds, joins, verifies and caches every model Yakuba ships.

The committed model folders (the council LoRA adapter, the static model) sit beside this file, so they
resolve the same way in a checkout and in an installed wheel (pyproject.toml ships them as package data).
"""

from pathlib import Path

COMMITTED_DIR = Path(__file__).resolve().parent
