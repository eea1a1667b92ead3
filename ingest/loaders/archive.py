"""Zip-bomb check for zip-based formats (.docx documents, .xlsx survey files; .pptx/.odt share the container).

Runs on the central directory only, before any parser expands a member: a 154 KB .docx that
expands to 100 MB of XML would otherwise cost gigabytes of parser memory and minutes of CPU.
The declared sizes can be trusted as an upper bound because Python's `zipfile` (what python-docx
reads through) never returns more bytes than a member declares: a lying header truncates the
member (and fails its CRC), it cannot inflate it.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from yakuba.ingest.loaders.common import load_error

# Members smaller than this are never judged by ratio: tiny XML parts compress very well and are harmless.
_RATIO_FLOOR_BYTES = 1024 * 1024
ZIP_FORMATS = frozenset({"docx"})


@dataclass(frozen=True)
class ArchiveLimits:
    """How far a zip container may expand: in total, per member relative to its compressed size,
    and how many members it may hold."""

    max_expanded_bytes: int = 200 * 1024 * 1024
    max_ratio: float = 100.0
    max_members: int = 10_000


def check_archive(data: bytes, name: str, limits: ArchiveLimits | None = None) -> None:
    """Raise `DocumentLoadError("archive_bomb")` when the container would expand past `limits`.

    Files that are not zips at all are left to the format's loader (it explains a legacy .doc or an
    encrypted file better than "not a zip" would).
    """
    limits = limits or ArchiveLimits()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        return
    if len(members) > limits.max_members:
        raise load_error(
            "archive_bomb",
            name,
            f"圧縮ファイル内の項目が {len(members):,} 個あります（上限 {limits.max_members:,} 個）",
            f"{len(members):,} members, limit {limits.max_members:,}",
        )
    total = 0
    for member in members:
        total += member.file_size
        if total > limits.max_expanded_bytes:
            mb = limits.max_expanded_bytes / 1024 / 1024
            raise load_error(
                "archive_bomb",
                name,
                f"展開後の大きさが上限 {mb:.0f} MB を超えます",
                f"expands to more than {mb:.0f} MB",
            )
        if member.file_size >= _RATIO_FLOOR_BYTES:
            ratio = member.file_size / max(1, member.compress_size)
            if ratio > limits.max_ratio:
                raise load_error(
                    "archive_bomb",
                    name,
                    f"「{member.filename}」の圧縮率が異常です（{ratio:,.0f} 倍、上限 {limits.max_ratio:,.0f} 倍）",
                    f"member {member.filename!r} expands {ratio:,.0f}x, limit {limits.max_ratio:,.0f}x",
                )
