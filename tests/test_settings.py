from pathlib import Path

import pytest
from pydantic import ValidationError

from yakuba.settings import Settings, validate_tenant


def test_env_prefix_and_defaults(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings.chroma_url is None
    assert settings.chroma_path == settings.home / "chroma"
    monkeypatch.setenv("YAKUBA_CHUNK_SIZE", "700")
    monkeypatch.setenv("YAKUBA_CHROMA_URL", "http://localhost:8123")
    fresh = Settings()
    assert fresh.chunk_size == 700
    assert fresh.chroma_url == "http://localhost:8123"


def test_toml_file_is_read_and_env_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "yakuba.toml"
    toml.write_text('chunk_size = 600\nembedding_model = "/models/ruri"\ndefault_tenant = "tobetsu"\n')
    monkeypatch.setenv("YAKUBA_CONFIG", str(toml))
    monkeypatch.delenv("YAKUBA_CHUNK_SIZE", raising=False)
    assert Settings().chunk_size == 600
    assert Settings().default_tenant == "tobetsu"
    monkeypatch.setenv("YAKUBA_CHUNK_SIZE", "450")
    assert Settings().chunk_size == 450


def test_overlap_must_be_smaller_than_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YAKUBA_CHUNK_SIZE", "200")
    monkeypatch.setenv("YAKUBA_CHUNK_OVERLAP", "300")
    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize("bad", ["当別町", "A", "has space", "x" * 70, "../etc"])
def test_tenant_names_are_safe_slugs(bad: str) -> None:
    with pytest.raises(ValueError, match="テナント名"):
        validate_tenant(bad)


def test_tenant_is_lowercased() -> None:
    assert validate_tenant("Tobetsu") == "tobetsu"
