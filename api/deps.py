"""FastAPI dependencies shared by the routes: settings, the caller's Assistant, the audit note.

`get_assistant` is the one seam tests may override; everything else comes from `app.state`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from yakuba.api.audit import AuditNote
from yakuba.api.auth import current_key
from yakuba.api.keys import ApiKey
from yakuba.api.metrics import Metrics
from yakuba.assistant.service import Assistant
from yakuba.core.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


def get_assistant(
    key: Annotated[ApiKey, Depends(current_key)], settings: Annotated[Settings, Depends(get_settings)]
) -> Assistant:
    """The key's tenant's Assistant. Opening is cheap (models load on first use) and cached per
    (home, tenant, engine) by Assistant.open, so creating the app never loads a model."""
    return Assistant.open(settings, key.tenant)


def audit_note(request: Request) -> AuditNote:
    """What this request adds to its audit row (the middleware puts an empty note in place)."""
    note = getattr(request.state, "audit", None)
    if note is None:
        note = AuditNote()
        request.state.audit = note
    return note
