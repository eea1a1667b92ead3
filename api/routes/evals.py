"""/v1/evals/reports: the evaluation reports `yakuba eval` wrote under <home>/reports (read-only)."""

from __future__ import annotations

import json
import mimetypes
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse

from yakuba.api.auth import Permission, require
from yakuba.api.deps import get_settings
from yakuba.api.errors import ERROR_RESPONSES, ApiError, ErrorResponse
from yakuba.api.keys import ApiKey
from yakuba.api.routing import YakubaRoute
from yakuba.api.schemas import ReportDetail, ReportInfo, ReportList
from yakuba.core.settings import Settings

router = APIRouter(tags=["evals"], responses=ERROR_RESPONSES, route_class=YakubaRoute)

SERVED_SUFFIXES = {".png", ".svg", ".html", ".md", ".json", ".jsonl", ".csv", ".txt"}
_SAFE_NAME = re.compile(r"^[^/\\\x00-\x1f]{1,200}$")
_NOT_FOUND = {404: {"model": ErrorResponse, "description": "レポートがない / no such report"}}


def reports_dir(settings: Settings) -> Path:
    return settings.home / "reports"


def _not_found(what: str) -> ApiError:
    return ApiError(404, "report_not_found", f"レポートが見つかりません: {what} / no such report", detail={"name": what})


def _child(folder: Path, name: str) -> Path:
    """`folder/name` when `name` is one plain path component that stays inside `folder`."""
    if not _SAFE_NAME.match(name) or name in {".", ".."} or name.startswith("."):
        raise _not_found(name)
    path = folder / name
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        raise _not_found(name) from None
    return path


def _info(folder: Path) -> ReportInfo:
    files = sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    modified = datetime.fromtimestamp(folder.stat().st_mtime, UTC).isoformat(timespec="seconds")
    return ReportInfo(name=folder.name, modified=modified, files=files)


@router.get("/v1/evals/reports", response_model=ReportList, summary="評価レポートの一覧 / list reports")
def list_reports(
    key: Annotated[ApiKey, Depends(require(Permission.EVALS))], settings: Annotated[Settings, Depends(get_settings)]
) -> ReportList:
    root = reports_dir(settings)
    if not root.is_dir():
        return ReportList(reports=[])
    folders = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    infos = [_info(p) for p in folders]
    return ReportList(reports=sorted(infos, key=lambda r: (r.modified, r.name), reverse=True))


@router.get("/v1/evals/reports/{name}", response_model=ReportDetail, summary="評価レポート / one report",
            responses=_NOT_FOUND)
def read_report(
    name: str, key: Annotated[ApiKey, Depends(require(Permission.EVALS))], settings: Annotated[Settings, Depends(get_settings)]
) -> ReportDetail:
    folder = _child(reports_dir(settings), name)
    if not folder.is_dir():
        raise _not_found(name)
    info = _info(folder)
    report_json = folder / "report.json"
    content = None
    if report_json.is_file():
        try:
            content = json.loads(report_json.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(500, "report_unreadable", f"report.json を読めません: {name} / unreadable report.json",
                           detail={"name": name}) from exc
    return ReportDetail(**info.model_dump(), report=content)


@router.get("/v1/evals/reports/{name}/files/{filename}", summary="レポートのファイル / a report file",
            response_class=FileResponse, responses=_NOT_FOUND)
def report_file(
    name: str,
    filename: str,
    key: Annotated[ApiKey, Depends(require(Permission.EVALS))],
    settings: Annotated[Settings, Depends(get_settings)],
) -> FileResponse:
    folder = _child(reports_dir(settings), name)
    path = _child(folder, filename)
    if not path.is_file() or path.suffix.lower() not in SERVED_SUFFIXES:
        raise _not_found(f"{name}/{filename}")
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if media_type.startswith("text/") or path.suffix.lower() in {".json", ".jsonl"}:
        media_type = f"{media_type}; charset=utf-8"
    headers = {"X-Content-Type-Options": "nosniff"}
    if path.suffix.lower() in {".html", ".svg"}:
        headers["Content-Security-Policy"] = "sandbox"  # a report is a document, never an app
    return FileResponse(path, media_type=media_type, headers=headers)
