"""Answer engines as LangChain chat models: the embedded GGUF (`local`), any OpenAI-compatible server
(`openai`, also Azure OpenAI) or none at all (`extractive`).

The local adapter is deliberately thin: llama-cpp-python already renders the GGUF's own chat template
and streams; what it lacks is the LangChain interface, a per-process model cache (loading 1.1 GB per
request would be absurd) and serialisation (a llama.cpp context is not thread-safe, and the API serves
requests from a thread pool).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from yakuba.assistant.charset import JapaneseOnly
from yakuba.assistant.speculative import draft_verifying_llama
from yakuba.core.errors import UnavailableError
from yakuba.core.settings import Settings
from yakuba.models.gguf import GGUFError, resolve_gguf

if TYPE_CHECKING:
    from llama_cpp import Llama

log = logging.getLogger(__name__)

# Call-time overrides the local model accepts (`model.bind(max_tokens=64)`, `invoke(..., stop=[...])`).
_CALL_OPTIONS = ("max_tokens", "temperature", "top_p", "top_k", "repeat_penalty", "seed")


class LLMError(UnavailableError, RuntimeError):
    """The chat model cannot be configured, loaded or called (API 503, whatever the precise code)."""

    code = "llm_unavailable"


# ----------------------------------------------------------------------------- llama.cpp instances


@dataclass
class _Loaded:
    llama: Llama
    lock: threading.Lock
    japanese_only: JapaneseOnly | None = None  # built on the first call that asks for it


_LOADED: dict[tuple[str, int, int, int], _Loaded] = {}
_LOADED_LOCK = threading.Lock()


def load_llama(model_path: str, n_ctx: int, n_threads: int, prompt_lookup: int = 0) -> _Loaded:
    """One llama.cpp model per (file, context, threads, prompt lookup) per process, loaded on first use.

    `prompt_lookup` > 0 drafts that many tokens by looking the last words up in the prompt
    (llama-cpp-python's LlamaPromptLookupDecoding): grounded answers copy phrases from the passages,
    and a drafted run the model accepts costs one forward pass instead of one per token. The drafts are
    verified against every drafted position's logits, computed for those batches only
    (speculative.draft_verifying_llama): prefill stays as fast as without drafting."""
    key = (model_path, n_ctx, n_threads, prompt_lookup)
    with _LOADED_LOCK:
        loaded = _LOADED.get(key)
        if loaded is None:
            # llama.cpp's OpenMP threads spin while they wait; on a 2-core server shared with the API,
            # embeddings and other workers that spinning collapses decoding (measured 1.2 vs 8.2 tokens/s
            # with one other busy process). Passive waiting costs little on an idle machine. Read once,
            # when llama.cpp's library loads, so it is set before the import; the environment wins.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            try:
                from llama_cpp import Llama
            except ImportError as exc:  # pragma: no cover - a hard dependency, but it is compiled
                raise LLMError(
                    "llama-cpp-python がインストールされていません（make install を実行してください）。",
                    "llama-cpp-python is not installed; run `make install`",
                    code="llm_runtime_missing",
                ) from exc
            started = time.perf_counter()
            draft = None
            if prompt_lookup > 0:
                from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

                draft = LlamaPromptLookupDecoding(num_pred_tokens=prompt_lookup)
            options = dict(model_path=model_path, n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads,
                           verbose=False)  # fmt: skip
            try:
                if draft is None:
                    llama = Llama(**options)
                else:  # verification batches get every position's logits, prefill only the last one
                    llama = draft_verifying_llama()(**options, draft_model=draft, draft_tokens=prompt_lookup)
            except (ValueError, RuntimeError) as exc:
                raise LLMError(
                    f"ローカルモデルを読み込めませんでした: {model_path}",
                    f"llama.cpp could not load {model_path}: {exc}",
                    code="llm_load_failed",
                ) from exc
            log.info("loaded %s (n_ctx=%d, threads=%d) in %.1fs", model_path, n_ctx, n_threads,
                     time.perf_counter() - started)
            loaded = _Loaded(llama, threading.Lock())
            _LOADED[key] = loaded
        return loaded


def unload_all() -> None:
    """Free every cached model (tests, or a settings change in a long-lived process)."""
    with _LOADED_LOCK:
        for loaded in _LOADED.values():
            with loaded.lock:
                loaded.llama.close()
        _LOADED.clear()


def _to_openai_messages(messages: list[BaseMessage]) -> list[dict[str, str]]:
    roles = {SystemMessage: "system", HumanMessage: "user", AIMessage: "assistant", ToolMessage: "tool"}
    converted: list[dict[str, str]] = []
    for message in messages:
        role = message.role if isinstance(message, ChatMessage) else roles.get(type(message))
        if role is None:
            role = {"system": "system", "human": "user", "ai": "assistant"}.get(message.type)
        if role is None:
            raise LLMError(
                f"この種類のメッセージはローカルモデルに渡せません: {message.type}",
                f"unsupported message type for the local model: {message.type}",
                code="llm_bad_message",
            )
        converted.append({"role": role, "content": message.text})
    return converted


class LlamaCppChatModel(BaseChatModel):
    """A GGUF chat model run in-process by llama.cpp, with the chat template stored in the GGUF."""

    model_path: str
    n_ctx: int = 4096
    n_threads: int = 2
    max_tokens: int = 384
    temperature: float = 0.1
    top_p: float = 0.95
    top_k: int = 40
    repeat_penalty: float = 1.05
    seed: int | None = None
    timeout_s: float = Field(120.0, description="Waiting for the model plus streaming, per call.")
    japanese_only: bool = Field(True, description="Ban tokens with characters Japanese never uses (charset.py).")
    bias_cache_dir: str | None = Field(None, description="Where the banned-token set is cached (model cache).")
    prompt_lookup: int = Field(0, ge=0, description="Tokens drafted by prompt lookup (0 = off), see load_llama.")

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "n_ctx": self.n_ctx, "n_threads": self.n_threads,
                "max_tokens": self.max_tokens, "temperature": self.temperature}

    def _loaded(self) -> _Loaded:
        return load_llama(self.model_path, self.n_ctx, self.n_threads, self.prompt_lookup)

    def _params(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        params = {name: getattr(self, name) for name in _CALL_OPTIONS}
        params.update({name: kwargs[name] for name in _CALL_OPTIONS if kwargs.get(name) is not None})
        if stop:
            params["stop"] = stop
        return params

    def _acquire(self, loaded: _Loaded) -> None:
        if not loaded.lock.acquire(timeout=self.timeout_s):
            raise LLMError(
                "ローカルモデルが他の回答を生成中で混み合っています。しばらくしてからもう一度お試しください。",
                f"the local model stayed busy with other requests for {self.timeout_s:.0f}s",
                code="llm_busy",
            )

    def _processors(self, loaded: _Loaded) -> Any:
        """The Japanese-only logits processor (called with the model's lock held)."""
        if not self.japanese_only:
            return None
        if loaded.japanese_only is None:
            from yakuba.assistant.charset import load_or_build

            cache = Path(self.bias_cache_dir) if self.bias_cache_dir else Path(self.model_path).parent
            loaded.japanese_only = load_or_build(loaded.llama, Path(self.model_path), cache)
        from llama_cpp import LogitsProcessorList

        return LogitsProcessorList([loaded.japanese_only])

    def _call_llama(self, loaded: _Loaded, messages: list[BaseMessage], **params: Any) -> Any:
        processors = self._processors(loaded)
        if processors is not None:
            params["logits_processor"] = processors
        try:
            return loaded.llama.create_chat_completion(messages=_to_openai_messages(messages), **params)
        except ValueError as exc:  # llama-cpp-python reports an over-long prompt as ValueError
            if "context window" in str(exc) or "exceed" in str(exc):
                raise LLMError(
                    "質問と資料が長すぎてローカルモデルに入りません。資料の数や長さを減らしてください。",
                    f"the prompt does not fit the model's context of {self.n_ctx} tokens: {exc}",
                    code="llm_context_exceeded",
                ) from exc
            raise

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        loaded = self._loaded()
        params = self._params(stop, kwargs)
        self._acquire(loaded)
        try:
            response = self._call_llama(loaded, messages, **params)
        finally:
            loaded.lock.release()
        choice = response["choices"][0]
        usage = response.get("usage") or {}
        message = AIMessage(
            content=choice["message"].get("content") or "",
            response_metadata={"finish_reason": choice.get("finish_reason"), "model_name": self.model_path},
            usage_metadata={
                "input_tokens": usage.get("prompt_tokens", 0),
                "output_tokens": usage.get("completion_tokens", 0),
                "total_tokens": usage.get("total_tokens", 0),
            },
        )
        generation = ChatGeneration(message=message, generation_info={"finish_reason": choice.get("finish_reason")})
        return ChatResult(generations=[generation], llm_output={"token_usage": usage, "model_name": self.model_path})

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        loaded = self._loaded()
        params = self._params(stop, kwargs)
        deadline = time.monotonic() + self.timeout_s
        self._acquire(loaded)
        chunks = None
        finish_reason: str | None = None
        produced = False
        try:
            chunks = self._call_llama(loaded, messages, stream=True, **params)
            for event in chunks:
                choice = event["choices"][0]
                finish_reason = choice.get("finish_reason") or finish_reason
                text = choice.get("delta", {}).get("content")
                if text:
                    produced = True
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                    if run_manager:
                        run_manager.on_llm_new_token(text, chunk=chunk)
                    yield chunk
                if finish_reason is None and time.monotonic() > deadline:
                    if not produced:  # the prompt alone took too long: an empty answer would mislead
                        raise LLMError(
                            f"ローカルモデルが {self.timeout_s:.0f} 秒以内に回答を始められませんでした。"
                            "資料の数や長さを減らすか、YAKUBA_LLM_TIMEOUT_S を延ばしてください。",
                            f"the local model produced nothing within llm_timeout_s={self.timeout_s:.0f}s "
                            "(prompt processing too slow); shorten the prompt or raise the timeout",
                            code="llm_timeout",
                        )
                    # Stop generating rather than hold the model for everyone else; the caller's
                    # grounding checks see a short answer and finish_reason tells them why.
                    log.warning("local model stream stopped after %.0fs (llm_timeout_s)", self.timeout_s)
                    finish_reason = "timeout"
                    break
        finally:
            if chunks is not None and hasattr(chunks, "close"):
                chunks.close()  # ends llama.cpp's generation loop before the lock is released
            loaded.lock.release()
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="", response_metadata={"finish_reason": finish_reason, "model_name": self.model_path}
            ),
            generation_info={"finish_reason": finish_reason},
        )


# ----------------------------------------------------------------------------- OpenAI-compatible


def _compatible_chat_openai() -> type:
    from langchain_openai import ChatOpenAI

    class CompatibleChatOpenAI(ChatOpenAI):
        """ChatOpenAI that sends `max_tokens`, the field every OpenAI-compatible server reads.

        ChatOpenAI renames it to `max_completion_tokens` (OpenAI's newer name), which e.g.
        llama-cpp-python's server silently ignores, so answers would run to the context limit.
        """

        def _get_request_payload(self, input_: Any, *, stop: list[str] | None = None, **kwargs: Any) -> dict:
            payload = super()._get_request_payload(input_, stop=stop, **kwargs)
            if "max_completion_tokens" in payload:
                payload["max_tokens"] = payload.pop("max_completion_tokens")
            return payload

    return CompatibleChatOpenAI


def _openai_chat_model(settings: Settings) -> BaseChatModel:
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    common: dict[str, Any] = {
        "temperature": settings.llm_temperature,
        "max_tokens": settings.llm_max_tokens,
        "timeout": settings.llm_timeout_s,
        "max_retries": 1,
    }
    if settings.azure_endpoint:
        from langchain_openai import AzureChatOpenAI

        missing = [name for name, value in (("YAKUBA_OPENAI_API_KEY", key),
                                            ("YAKUBA_OPENAI_API_VERSION", settings.openai_api_version))
                   if not value]
        if missing:
            raise LLMError(
                f"Azure OpenAI を使うには {', '.join(missing)} を設定してください。",
                f"Azure OpenAI needs {', '.join(missing)}",
                code="llm_config",
            )
        return AzureChatOpenAI(
            azure_endpoint=settings.azure_endpoint,
            azure_deployment=settings.chat_model,
            api_version=settings.openai_api_version,
            api_key=key,
            **common,
        )
    base_url = (settings.openai_base_url or "").strip()
    if not base_url:
        raise LLMError(
            "chat_engine=openai には接続先が必要です。YAKUBA_OPENAI_BASE_URL を設定してください"
            "（例: http://localhost:11434/v1 = Ollama）。",
            "chat_engine=openai needs YAKUBA_OPENAI_BASE_URL (e.g. http://localhost:11434/v1 for Ollama)",
            code="llm_config",
        )
    parsed = urlparse(base_url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise LLMError(
            f"YAKUBA_OPENAI_BASE_URL は http(s)://ホスト:ポート/v1 の形で指定してください: {base_url}",
            f"YAKUBA_OPENAI_BASE_URL must look like http(s)://host:port/v1: {base_url!r}",
            code="llm_config",
        )
    # Local servers (Ollama, llama.cpp, LM Studio) accept any key, but the client insists on one.
    return _compatible_chat_openai()(base_url=base_url, api_key=key or "not-needed",
                                     model=settings.chat_model, **common)


# ----------------------------------------------------------------------------- entry point


def chat_model_for(settings: Settings, engine: str | None = None) -> BaseChatModel | None:
    """The chat model for `engine` (default: settings.chat_engine); None for the extractive engine.

    The local model is resolved (and assembled on first use, ~10 s) here, but loaded lazily on the first
    call and then shared by every chat model of the process with the same file, context and threads.
    """
    name = engine or settings.chat_engine
    if name == "extractive":
        return None
    if name == "openai":
        return _openai_chat_model(settings)
    if name == "local":
        try:
            path = resolve_gguf(settings.chat_model, settings.model_cache, progress=True)
        except GGUFError as exc:
            raise LLMError(exc.message_ja, exc.message_en, code=exc.code) from exc
        return LlamaCppChatModel(
            model_path=str(path),
            n_ctx=settings.llm_context,
            n_threads=settings.llm_threads,
            max_tokens=settings.llm_max_tokens,
            temperature=settings.llm_temperature,
            timeout_s=settings.llm_timeout_s,
            japanese_only=settings.llm_japanese_only,
            bias_cache_dir=str(Path(settings.model_cache) / "logit-bias"),
            prompt_lookup=settings.llm_prompt_lookup,
        )
    raise LLMError(
        f"不明な回答エンジンです: {name}（local / extractive / openai のいずれか）",
        f"unknown chat engine {name!r}: use local, extractive or openai",
        code="llm_config",
    )
