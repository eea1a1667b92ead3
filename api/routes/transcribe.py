"""POST /v1/transcribe: an audio upload → a transcript draft (Whisper base; staff correct it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, UploadFile

from yakuba.api.auth import Permission, require
from yakuba.api.deps import get_settings
from yakuba.api.errors import BODY_ERROR_RESPONSES, ErrorResponse
from yakuba.api.keys import ApiKey
from yakuba.api.limits import MAX_SHORT_FIELD_CHARS
from yakuba.api.routing import YakubaRoute
from yakuba.assistant.transcribe import Transcript, transcribe
from yakuba.core.settings import Settings

router = APIRouter(tags=["transcribe"], responses=BODY_ERROR_RESPONSES, route_class=YakubaRoute)


@router.post(
    "/v1/transcribe",
    response_model=Transcript,
    summary="音声の文字起こし（下書き） / transcribe audio",
    responses={400: {"model": ErrorResponse, "description": "音声を読めない / unusable audio"},
               503: {"model": ErrorResponse, "description": "音声認識モデルを使えない / model unavailable"}},
)
def transcribe_audio(
    file: Annotated[UploadFile, File(description="wav / mp3 / m4a など / audio file")],
    key: Annotated[ApiKey, Depends(require(Permission.TRANSCRIBE))],
    settings: Annotated[Settings, Depends(get_settings)],
    language: Annotated[
        str, Form(max_length=MAX_SHORT_FIELD_CHARS, description="言語コード（既定 ja） / language code")
    ] = "ja",
) -> Transcript:
    data = file.file.read()
    # A TranscriptionError becomes 400 (the audio) or 503 (the model) through its kind (api/errors.py).
    return transcribe(data, settings, filename=file.filename, language=language or None)
