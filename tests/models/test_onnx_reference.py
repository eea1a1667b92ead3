"""The reference-build check of models/onnx.py: a deterministic export must reproduce its recorded bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from yakuba.core.files import sha256_file
from yakuba.models.onnx import (
    REFERENCE_BUILDS,
    REFERENCE_SOURCE_WEIGHTS,
    REFERENCE_TOOLCHAIN,
    OnnxExportError,
    check_reproducible,
)


def test_a_reference_build_must_reproduce_the_recorded_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = tmp_path / "model.onnx"
    graph.write_bytes(b"graph bytes")
    digest = sha256_file(graph)
    # another toolchain or another source: only recorded, never compared
    assert check_reproducible(graph, REFERENCE_SOURCE_WEIGHTS, {**REFERENCE_TOOLCHAIN, "onnx": "9.9"}, "int8") == (
        digest, False)  # fmt: skip
    assert check_reproducible(graph, "other weights", dict(REFERENCE_TOOLCHAIN), "int8") == (digest, False)
    assert check_reproducible(graph, REFERENCE_SOURCE_WEIGHTS, dict(REFERENCE_TOOLCHAIN), "fp32") == (
        digest,
        False,
    )
    # the reference source and toolchain: other bytes fail loudly, the recorded bytes pass
    with pytest.raises(OnnxExportError, match="一致しません"):
        check_reproducible(graph, REFERENCE_SOURCE_WEIGHTS, dict(REFERENCE_TOOLCHAIN), "int8")
    monkeypatch.setitem(REFERENCE_BUILDS, "int8", digest)
    assert check_reproducible(graph, REFERENCE_SOURCE_WEIGHTS, dict(REFERENCE_TOOLCHAIN), "int8") == (
        digest,
        True,
    )
