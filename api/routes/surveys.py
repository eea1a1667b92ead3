"""POST /v1/surveys/analyze: a survey file (multipart) → the analysis as JSON, or its report as
Markdown, Word, Excel or PowerPoint. Thin: yakuba.assistant.surveys does the work.

The tenant comes from the key (nothing is stored: the file is analysed in memory and answered);
the size limit is settings.max_upload_mb, as for every upload; a file that cannot be read becomes a
400 with a Japanese + English message, never a 500.
"""

from __future__ import annotations

import base64
import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from yakuba.api.auth import Permission, require
from yakuba.api.deps import get_settings
from yakuba.api.errors import BODY_ERROR_RESPONSES, ErrorResponse
from yakuba.api.keys import ApiKey
from yakuba.api.limits import MAX_FORM_CHARS, MAX_SHORT_FIELD_CHARS
from yakuba.api.routes.drafts import content_disposition, download_name
from yakuba.api.routing import YakubaRoute
from yakuba.assistant.surveys import SurveyAnalysis, SurveySettings, analyze
from yakuba.assistant.surveys.report import DOCX_TYPE, PPTX_TYPE, XLSX_TYPE
from yakuba.core.errors import InvalidInputError, YakubaError
from yakuba.core.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter(tags=["surveys"], responses=BODY_ERROR_RESPONSES, route_class=YakubaRoute)

ReportFormat = Literal["json", "md", "docx", "xlsx", "pptx"]
MEDIA_TYPES = {"md": "text/markdown; charset=utf-8", "docx": DOCX_TYPE, "xlsx": XLSX_TYPE, "pptx": PPTX_TYPE}


class ChartImage(BaseModel):
    key: str
    title: str
    questions: list[str]
    png_base64: str


class SurveyResponse(BaseModel):
    tenant: str
    analysis: SurveyAnalysis
    charts: list[ChartImage]


@router.post(
    "/v1/surveys/analyze",
    response_model=SurveyResponse,
    summary="アンケートの集計 / analyse a survey",
    responses={
        200: {"content": {"application/json": {}, **{t: {} for t in MEDIA_TYPES.values()}},
              "description": "分析結果（JSON）またはまとめ資料のファイル / the analysis or a report file"},
        400: {"model": ErrorResponse, "description": "読めないファイル・設定 / unusable file or settings"},
        413: {"model": ErrorResponse, "description": "ファイルが大きすぎる / file too large"},
    },
)
def analyze_survey(
    file: Annotated[UploadFile, File(description="CSV（UTF-8 / Shift_JIS / EUC-JP）または Excel（.xlsx）")],
    key: Annotated[ApiKey, Depends(require(Permission.DRAFTS))],
    settings: Annotated[Settings, Depends(get_settings)],
    options: Annotated[
        str | None, Form(max_length=MAX_FORM_CHARS, description="SurveySettings の JSON（保存した settings.json） / settings")
    ] = None,
    by: Annotated[list[str] | None, Form(description="クロス集計の属性 / attributes to cross by")] = None,
    sheet: Annotated[str | None, Form(max_length=MAX_SHORT_FIELD_CHARS, description="Excel のシート名 / sheet")] = None,
    format: Annotated[ReportFormat, Form(description="json / md / docx / xlsx / pptx")] = "json",
    charts: Annotated[bool, Form(description="JSON にグラフ（PNG）を含める / include charts")] = True,
    codebook: Annotated[UploadFile | None, File(description="コードブック（任意） / code book")] = None,
) -> SurveyResponse | Response:
    survey_settings = _settings(options, by, sheet)
    data = file.file.read()
    book = (codebook.file.read(), codebook.filename or "codebook.csv") if codebook is not None else None
    limit = int(settings.max_upload_mb * 1024 * 1024)
    try:
        result = analyze(data, file.filename or "survey.csv", survey_settings, codebook=book, max_bytes=limit,
                         charts=format != "json" or charts)
    except YakubaError:
        raise
    except Exception as exc:  # noqa: BLE001 - a file nobody anticipated is the caller's input, not a crash
        log.exception("survey analysis failed on %s", file.filename)
        raise InvalidInputError(
            f"このファイルは集計できませんでした（{type(exc).__name__}）。形式と見出し行を確認してください / "
            f"the file could not be analysed: {exc}",
            code="survey_unreadable",
        ) from exc
    if format == "json":
        images = [ChartImage(key=c.key, title=c.title, questions=c.questions,
                             png_base64=base64.b64encode(c.png).decode("ascii")) for c in result.charts]
        return SurveyResponse(tenant=key.tenant, analysis=result.analysis, charts=images)
    body = {"md": lambda: result.markdown().encode("utf-8"), "docx": result.docx, "xlsx": result.xlsx,
            "pptx": result.pptx}[format]()
    filename = download_name(result.analysis.overview.title, f".{format}")
    return Response(body, media_type=MEDIA_TYPES[format], headers={"Content-Disposition": content_disposition(filename)})


def _settings(options: str | None, by: list[str] | None, sheet: str | None) -> SurveySettings:
    try:
        survey_settings = SurveySettings.model_validate_json(options) if options else SurveySettings()
    except ValidationError as exc:
        raise InvalidInputError(
            "設定（options）が正しくありません / invalid settings JSON",
            code="survey_bad_settings",
            detail=exc.errors(include_url=False, include_context=False, include_input=False),
        ) from exc
    if by:
        survey_settings.by = [b for b in by if b]
    if sheet:
        survey_settings.sheet = sheet
    return survey_settings
