"""Runtime settings: YAKUBA_* environment variables, then an optional yakuba.toml, then defaults.

All state lives under `home` so that a deployment is one folder to back up.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

TENANT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{1,62}$")


def validate_tenant(tenant: str) -> str:
    """Tenants name Chroma collections, so they must be short ASCII slugs."""
    value = tenant.strip().lower()
    if not TENANT_PATTERN.fullmatch(value):
        raise ValueError(
            f"テナント名は半角英小文字・数字・-_ の2〜63文字で指定してください（例: tobetsu）: {tenant!r} / "
            f"tenant must be 2-63 chars of a-z, 0-9, '-' or '_': {tenant!r}"
        )
    return value


def _toml_path() -> Path:
    return Path(os.environ.get("YAKUBA_CONFIG", "yakuba.toml"))


def _default_model_cache() -> Path:
    return Path.home() / ".cache" / "yakuba" / "models"


class Settings(BaseSettings):
    """Every knob of a Yakuba deployment; see README for the meaning of each."""

    model_config = SettingsConfigDict(env_prefix="YAKUBA_", extra="ignore")

    home: Path = Field(Path(".yakuba"), description="Folder holding all state (Chroma, BM25, logs).")
    model_cache: Path = Field(
        default_factory=_default_model_cache,
        description="Models Yakuba builds or joins itself (e5, the council merge, the local GGUF, Whisper); "
        "outside `home` so every deployment on a machine shares one copy.",
    )
    chroma_url: str | None = Field(
        None, description="http(s)://host:port of a Chroma server; unset = embedded PersistentClient."
    )
    database_url: str | None = Field(
        None,
        description="postgresql+psycopg://user@host/db: API keys, the audit log and the BM25 rows live in "
        "PostgreSQL, shared by every `yakuba serve` replica (docs/deploy.md); unset = SQLite files under home.",
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="`json`: one JSON object per log line with the request id (log collectors)."
    )
    default_tenant: str = "default"

    embedding_model: str = Field(
        "multilingual-e5-small-council-onnx-fp32",
        description="A sentence-transformers name or path, or an alias of a model shipped in a package "
        "(multilingual-e5-small-council = multilingual-e5-small + the committed council-minutes adapter; "
        "`-onnx-fp32` = that model run by ONNX Runtime (fused graph), the same vectors, as fast as PyTorch on "
        "an idle machine and ~1.9x faster on a busy one; `-onnx-int8` = int8-quantised, other vectors: see README).",
    )
    embedding_batch_size: int = Field(32, ge=1, le=1024)
    embedding_device: str = "cpu"
    embedding_cache: bool = Field(
        True, description="Remember passage vectors by (model, text hash) under `home`: re-ingest and "
        "reindex never embed a known text twice, and identical chunks are embedded once."
    )
    query_threads: int = Field(
        1, ge=0, le=64, description="torch threads when serving queries (0 = torch default); see README."
    )
    query_prompt: str | None = Field(None, description="Prefix for queries; None = the model's own.")
    passage_prompt: str | None = Field(None, description="Prefix for passages; None = the model's own.")
    dense_query: Literal["auto", "question", "content"] = Field(
        "auto",
        description="What the dense model reads: the question as asked, or its content with request "
        "boilerplate stripped (as BM25 does); auto = content for models trained on topic-style queries.",
    )

    # --- assistant/: answer engines -------------------------------------------------------------
    chat_engine: Literal["local", "extractive", "openai"] = Field(
        "local", description="local = GGUF via llama.cpp; extractive = no model; openai = any compatible server."
    )
    chat_model: str = Field(
        "qwen2.5-coder-1.5b-instruct-q4_k_m",
        description="Local engine: an alias of a GGUF shipped on PyPI or a path to a .gguf file. "
        "openai engine: the model name sent to the server.",
    )
    llm_threads: int = Field(2, ge=1, le=64, description="CPU threads for the local LLM.")
    llm_context: int = Field(4096, ge=512, le=32768, description="Context window of the local LLM (tokens).")
    llm_max_tokens: int = Field(384, ge=16, le=4096, description="Most tokens one answer may generate.")
    llm_temperature: float = Field(0.1, ge=0, le=2)
    llm_timeout_s: float = Field(120.0, gt=0, description="Give up on one model call after this long.")
    llm_japanese_only: bool = Field(
        True, description="Local engine: tokens holding characters Japanese never uses (simplified-only "
        "hanzi, Hangul, Cyrillic …) cannot be generated (a logits processor built once per model, cached)."
    )
    llm_prompt_lookup: int = Field(
        0, ge=0, le=64, description="Local engine: tokens drafted by prompt-lookup decoding (0 = off; "
        "benchmarks/llm_latency.py --prompt-lookup measures whether it pays on this machine)."
    )
    openai_base_url: str | None = Field(None, description="e.g. http://localhost:11434/v1 (Ollama) or vLLM.")
    openai_api_key: SecretStr | None = Field(None, description="Key for the OpenAI-compatible server.")
    openai_api_version: str | None = Field(None, description="Set for Azure OpenAI (e.g. 2024-10-21).")
    azure_endpoint: str | None = Field(None, description="https://NAME.openai.azure.com for Azure OpenAI.")

    answer_passages: int = Field(4, ge=1, le=20, description="Passages shown to the model per answer.")
    answer_passage_chars: int = Field(300, ge=100, le=4000, description="Most characters per passage in a prompt.")
    answer_prompt_chars: int | None = Field(
        None, ge=100, le=20000, description="Most passage characters in one prompt, shared by the passages it "
        "carries; None = answer_passages × answer_passage_chars (600 was measured and not adopted: docs/llm.md)."
    )
    answer_adaptive_passages: bool = Field(
        True, description="Show the model only the evidence passage (and at most one close contender) when it "
        "clearly holds the most of the question; all answer_passages otherwise (assistant/passage_budget.py)."
    )
    answer_history_turns: int = Field(4, ge=0, le=20, description="Past turns kept for follow-up questions.")
    abstain_min_score: float | None = Field(
        None, description="Abstain below this retrieval relevance; None = the calibrated default (README)."
    )

    pii_mask_remote: bool = Field(True, description="Mask personal data before text goes to a non-local model.")
    pii_mask_logs: bool = Field(True, description="Mask personal data in logs and the audit log.")

    whisper_model: str = Field("whisper-base", description="Alias of the packaged Whisper model or a folder.")
    whisper_compute_type: str = Field("int8", description="CTranslate2 compute type for transcription.")

    # --- api/ and ui/ ------------------------------------------------------------------------------
    api_host: str = Field("127.0.0.1", description="Address `yakuba serve` binds to.")
    api_port: int = Field(8000, ge=1, le=65535)
    ui_port: int = Field(8501, ge=1, le=65535)
    api_url: str = Field("http://127.0.0.1:8000", description="Where the UI finds the API.")
    api_key: SecretStr | None = Field(None, description="The key the UI sends to the API.")
    max_upload_mb: float = Field(50.0, gt=0, description="Largest upload the API accepts.")

    # Defaults chosen across five styles of data (training/tune_fusion.py, README, issue #16): which
    # half is stronger depends on the text (council-tuned dense on minutes, BM25 on Wikipedia/PDFs), so
    # the default trusts the model's per-type weights but caps how far either list's best hits can sink
    # (fusion_rank_cap). The weights below apply to rrf/minmax/zscore; for interleave only a weight of 0
    # matters (the list is left out).
    fusion_method: Literal["rrf", "minmax", "zscore", "interleave"] = Field(
        "minmax", description="Weighted RRF, min-max / z-score normalised score fusion (capped by "
        "fusion_rank_cap), or the lists interleaved with the more confident one first "
        "(retriever.fusion.confident_interleave). minmax + the model's minutes weight + rank cap 3 is what "
        "training/tune_fusion.py picks: within 0.01 of the better list on every validation set and no "
        "worse than the old default on kiryu-r4 (README, issue #16)."
    )
    fusion_dense_weight: float = Field(0.25, ge=0, description="Weight of the dense list in fusion.")
    # None = the embedding model's own (retriever.search.MODEL_DOC_TYPE_WEIGHTS): the council model
    # beats BM25 on minutes, so minutes chunks trust it more; {} = fusion_dense_weight everywhere.
    fusion_dense_weight_by_doc_type: dict[str, float] | None = Field(
        None, description="Dense weight for chunks of these document types instead of fusion_dense_weight."
    )
    fusion_bm25_weight: float = Field(1.0, ge=0, description="Weight of the BM25 list in fusion.")
    fusion_rrf_k: int = Field(60, ge=1, description="RRF constant k: larger flattens rank differences.")
    fusion_candidates: int = Field(50, ge=1, le=1000, description="Candidates taken from each list.")
    fusion_interleave_dense_bias: float = Field(
        0.5, description="interleave: dense takes the first place unless BM25's top stands out by more than "
        "this many standard deviations beyond dense's (retriever.fusion.top_z)."
    )
    fusion_interleave_coverage_margin: float | None = Field(
        0.2, ge=0, le=1, description="interleave: the list whose top hit holds more of the question's telling "
        "words (idf-weighted share) by more than this takes the first place; unset: confidence decides."
    )
    fusion_short_chunk_chars: int = Field(
        40, ge=0, le=1000, description="Chunks with less content (speaker label aside) get no dense credit."
    )
    fusion_prefer_named_town: bool = Field(
        True, description="A question naming a town ranks other towns' documents after the rest."
    )
    fusion_rank_cap: int | None = Field(
        3, ge=1, description="rrf/minmax/zscore: each list's j-th hit is ranked no lower than this × j, so "
        "neither list's best hits can sink far (retriever.fusion.cap_ranks); unset: the scores alone decide.",
    )
    fusion_prefer_named_year: bool = Field(
        True, description="A question naming a year (令和4年度) is led by the list whose top hit's "
        "document names that year in its title or date.",
    )

    chunk_size: int = Field(500, ge=100, le=4000, description="Target chunk length in characters.")
    chunk_overlap: int = Field(80, ge=0, le=1000, description="Overlap between chunks in characters.")
    max_file_mb: float = Field(50.0, gt=0, description="Files larger than this are refused.")
    # OCR of PDF pages without a text layer (ingest/ocr.py; needs Debian's tesseract-ocr-jpn).
    ocr_enabled: bool = Field(True, description="OCR scanned PDF pages when tesseract is installed.")
    pdf_tables: bool = Field(
        True, description="Extract ruled PDF tables as their own chunks (pdfplumber, ~40-150 ms per ruled page)."
    )
    ocr_max_pages: int = Field(30, ge=0, description="Most pages OCR'd per document (about 5 s per page).")
    # Per-file parse limits (ingest/loaders/limits.py): one bad file fails alone, the rest ingests.
    parse_isolation: bool = Field(
        True, description="Parse each file in a worker process under the time and memory limits below."
    )
    parse_timeout_s: float = Field(300.0, gt=0, description="Give up parsing one file after this long.")
    parse_memory_mb: int = Field(2048, ge=64, description="Most memory one file's parse may add (RLIMIT_AS).")
    max_pages: int = Field(3000, ge=1, description="PDFs with more pages than this are refused.")
    archive_max_expanded_mb: float = Field(
        200.0, gt=0, description="Largest total a .docx (a zip) may expand to; beyond it is a zip bomb."
    )
    archive_max_ratio: float = Field(
        100.0, gt=1, description="Largest expansion ratio of one zip member of 1 MB or more."
    )

    @field_validator("model_cache", mode="before")
    @classmethod
    def _cache_expanded(cls, value: object) -> object:
        """`~` works in YAKUBA_MODEL_CACHE and yakuba.toml; an empty value means the default."""
        if value is None or value == "":
            return _default_model_cache()
        return Path(value).expanduser() if isinstance(value, str | Path) else value

    @field_validator("default_tenant")
    @classmethod
    def _tenant_ok(cls, value: str) -> str:
        return validate_tenant(value)

    @field_validator("fusion_dense_weight_by_doc_type")
    @classmethod
    def _type_weights_ok(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        bad = {name: weight for name, weight in (value or {}).items() if not weight >= 0}
        if bad:
            raise ValueError(f"重みは0以上で指定してください: {bad} / weights must be >= 0")
        return value

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_size(cls, value: int, info) -> int:  # type: ignore[no-untyped-def]
        size = info.data.get("chunk_size", 500)
        if value >= size:
            raise ValueError("chunk_overlap は chunk_size より小さくしてください / overlap must be < chunk size")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml = _toml_path()
        if toml.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)

    @property
    def chroma_path(self) -> Path:
        return self.home / "chroma"

    @property
    def bm25_path(self) -> Path:
        return self.home / "bm25"

    @property
    def log_path(self) -> Path:
        return self.home / "logs"

    @property
    def keys_path(self) -> Path:
        return self.home / "keys.sqlite"

    @property
    def audit_path(self) -> Path:
        return self.home / "audit.sqlite"

    def ensure_home(self) -> None:
        """Create the home for a server or CLI run, private to its owner: state created from now on
        is 0600/0700 (umask), and anything an older version left readable is tightened."""
        from yakuba.core.files import restrict_umask, secure_tree

        restrict_umask()
        for path in (self.home, self.log_path):
            path.mkdir(parents=True, exist_ok=True)
        secure_tree(self.home)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
