from pathlib import Path

import pytest
from pydantic import ValidationError

from yakuba.core.settings import Settings, validate_tenant
from yakuba.retriever.search import FusionConfig


def test_env_prefix_and_defaults(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings.chroma_url is None
    assert settings.chroma_path == settings.home / "chroma"
    monkeypatch.setenv("YAKUBA_CHUNK_SIZE", "700")
    monkeypatch.setenv("YAKUBA_CHROMA_URL", "http://localhost:8123")
    fresh = Settings()
    assert fresh.chunk_size == 700
    assert fresh.chroma_url == "http://localhost:8123"


def test_default_model_and_fusion_by_doc_type(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("YAKUBA_CONFIG", str(tmp_path / "none.toml"))
    for name in ("YAKUBA_EMBEDDING_MODEL", "YAKUBA_FUSION_DENSE_WEIGHT_BY_DOC_TYPE", "YAKUBA_DENSE_QUERY"):
        monkeypatch.delenv(name, raising=False)
    defaults = Settings()
    assert defaults.embedding_model == "multilingual-e5-small-council-onnx-fp32" and defaults.dense_query == "auto"
    assert defaults.fusion_dense_weight_by_doc_type is None and defaults.fusion_dense_weight == 0.25
    # None = the model's own: the council model trusts its dense list 3× on minutes, held in check by the
    # rank cap (issue #16); stock and static models weigh every type alike
    fusion = FusionConfig.from_settings(defaults)
    assert fusion.method == "minmax" and fusion.rank_cap == 3
    assert fusion.dense_weight_by_doc_type == {"議会会議録": 3.0}
    monkeypatch.setenv("YAKUBA_EMBEDDING_MODEL", "multilingual-e5-small")
    assert FusionConfig.from_settings(Settings()).dense_weight_by_doc_type == {}
    monkeypatch.setenv("YAKUBA_EMBEDDING_MODEL", "yakuba-static-ja")
    assert FusionConfig.from_settings(Settings()).dense_weight_by_doc_type == {}
    monkeypatch.setenv("YAKUBA_FUSION_DENSE_WEIGHT_BY_DOC_TYPE", '{"総合計画": 1.5}')
    assert FusionConfig.from_settings(Settings()).dense_weight_by_doc_type == {"総合計画": 1.5}
    monkeypatch.setenv("YAKUBA_FUSION_DENSE_WEIGHT_BY_DOC_TYPE", "{}")
    assert FusionConfig.from_settings(Settings()).dense_weight_by_doc_type == {}
    monkeypatch.setenv("YAKUBA_FUSION_DENSE_WEIGHT_BY_DOC_TYPE", '{"議会会議録": -1}')
    with pytest.raises(ValidationError, match="0以上"):
        Settings()


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
