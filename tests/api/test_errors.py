"""Domain errors reach clients through one handler: the kind picks the status, the error keeps its code."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.support import TENANT, make_settings
from yakuba.api.app import create_app
from yakuba.api.errors import STATUS_BY_KIND
from yakuba.core.errors import ErrorKind, YakubaError

EXPECTED_STATUS = {
    ErrorKind.INVALID: 400,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.INTERNAL: 500,
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    app = create_app(make_settings(tmp_path_factory.mktemp("errors") / "home"))

    @app.get("/test-raise/{kind}")
    def raise_kind(kind: ErrorKind) -> None:  # a route of the real app, so the real handlers answer
        raise YakubaError("テストの失敗です", "test failure", code=f"test_{kind}", kind=kind, detail={"kind": kind})

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_every_kind_maps_to_its_status_with_the_error_shape(client: TestClient, kind: ErrorKind) -> None:
    response = client.get(f"/test-raise/{kind.value}")
    assert response.status_code == EXPECTED_STATUS[kind]
    assert response.json() == {
        "error": {"code": f"test_{kind}", "message": "テストの失敗です / test failure", "detail": {"kind": kind.value}}
    }


def test_the_mapping_covers_every_kind() -> None:
    assert STATUS_BY_KIND == EXPECTED_STATUS


def _domain_errors() -> list[tuple[type[YakubaError], ErrorKind, str]]:
    from yakuba.api.keys import KeyRequestError
    from yakuba.assistant.answer import AnswerError
    from yakuba.assistant.llm import LLMError
    from yakuba.assistant.transcribe import TranscriptionError
    from yakuba.assistant.transcript import TranscriptError
    from yakuba.core.types import DocumentLoadError
    from yakuba.evals.datasets import DatasetError
    from yakuba.evals.report import ReportError
    from yakuba.retriever.embeddings import EmbeddingModelError
    from yakuba.retriever.search import QueryError
    from yakuba.retriever.store import StoreError

    return [
        (DocumentLoadError, ErrorKind.INVALID, "load_failed"),
        (StoreError, ErrorKind.UNAVAILABLE, "store_unavailable"),
        (QueryError, ErrorKind.INVALID, "invalid_query"),
        (EmbeddingModelError, ErrorKind.UNAVAILABLE, "embedding_model_unavailable"),
        (AnswerError, ErrorKind.INVALID, "invalid_question"),
        (LLMError, ErrorKind.UNAVAILABLE, "llm_unavailable"),
        (TranscriptionError, ErrorKind.INVALID, "invalid_audio"),
        (TranscriptError, ErrorKind.INVALID, "invalid_transcript"),
        (DatasetError, ErrorKind.INVALID, "invalid_dataset"),
        (ReportError, ErrorKind.INVALID, "invalid_report"),
        (KeyRequestError, ErrorKind.INVALID, "invalid_key_request"),
    ]


def test_domain_errors_keep_the_statuses_and_codes_clients_saw(client: TestClient) -> None:
    """Before the base class these were mapped by hand: QueryError/AnswerError 400, store/model/LLM 503."""
    for error_type, kind, code in _domain_errors():
        assert issubclass(error_type, YakubaError), error_type
        assert (error_type.kind, error_type.code) == (kind, code), error_type


def _silence_wav(seconds: float = 1.0, rate: int = 16_000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * int(seconds * rate))
    return buffer.getvalue()


def test_one_transcription_error_class_answers_400_for_the_audio_and_503_for_the_model(tmp_path: Path) -> None:
    """The route no longer converts: the error's kind (set where it is raised) picks the status."""
    settings = make_settings(tmp_path / "home", whisper_model=str(tmp_path / "no-such-model"))
    app = create_app(settings)
    _, token = app.state.keys.create("staff", TENANT)
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(app) as client:
        not_audio = client.post("/v1/transcribe", headers=headers, files={"file": ("memo.txt", b"x", "text/plain")})
        no_model = client.post("/v1/transcribe", headers=headers, files={"file": ("a.wav", _silence_wav(), "audio/wav")})
    assert (not_audio.status_code, not_audio.json()["error"]["code"]) == (400, "unsupported_format")
    assert (no_model.status_code, no_model.json()["error"]["code"]) == (503, "model_unavailable")
    assert " / " in no_model.json()["error"]["message"]  # Japanese first, then English
