"""A small typed HTTP client of the Yakuba API: the only way the UI reaches Yakuba.

Every failure becomes an `ApiError` whose `message` is plain Japanese for staff (API down, wrong
key, no permission, file too large, bad input), so each screen can show it as it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "DOC_TYPES",
    "Answer",
    "AnswerEvent",
    "ApiError",
    "ChatFilters",
    "ChatMessage",
    "Citation",
    "DocumentInfo",
    "Evidence",
    "Identity",
    "ReportInfo",
    "UploadResult",
    "UploadedDocument",
    "YakubaClient",
]

CONNECT_TIMEOUT_S = 5.0
DEFAULT_TIMEOUT_S = 60.0
# Answers from the local model and transcription of long recordings take minutes on 2 cores.
LONG_TIMEOUT_S = 600.0


class ApiError(Exception):
    """A request failed; `message` is what staff read, `code` what code and tests check."""

    def __init__(self, code: str, message: str, *, status: int | None = None, detail: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.detail = detail

    def __str__(self) -> str:
        return self.message


class _Loose(BaseModel):
    """Response models keep fields the UI does not know yet, so a newer API never breaks it."""

    model_config = ConfigDict(extra="allow")


# The document types the API accepts in `filters.doc_types` and the upload's `doc_type` (its DocType values).
DOC_TYPES: tuple[str, ...] = ("総合計画", "議会会議録", "DX・ガイドブック", "計画", "その他")


class ChatMessage(BaseModel):
    """One earlier turn sent back with a follow-up question."""

    role: Literal["user", "assistant", "system"]
    content: str


class Citation(_Loose):
    """One numbered source of an answer or a draft (`[n]` in the text), as the API sends it."""

    n: int
    doc_id: str
    title: str
    page: int | None = None
    excerpt: str
    score: float
    chunk_id: str | None = None
    doc_type: str | None = None
    speaker: str | None = None
    role: str | None = None
    date: str | None = None
    label: str = ""
    table: int | None = None
    table_markdown: str | None = None
    ocr_confidence: float | None = None


class EvidenceSentence(_Loose):
    n: int
    text: str
    section: str | None = None


class Evidence(_Loose):
    """The quoted passage sentences, sent as soon as retrieval ends (before the model's answer)."""

    text: str
    sentences: list[EvidenceSentence] = Field(default_factory=list)
    ms: float = 0.0


class Answer(_Loose):
    """POST /v1/chat: the checked answer, the sources it cites and the closest passages."""

    answer: str
    abstained: bool
    citations: list[Citation]
    sources: list[Citation] = Field(default_factory=list)
    engine: str = ""
    fallback: str | None = None
    abstain_reason: str | None = None
    standalone_question: str = ""
    notices: list[str] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    evidence: Evidence | None = None


class AnswerEvent(_Loose):
    """One server-sent event of a streamed answer: sources → evidence → token* → answer (or error)."""

    type: Literal["sources", "evidence", "token", "answer", "error"]
    text: str | None = None
    sources: list[Citation] | None = None
    evidence: Evidence | None = None
    answer: Answer | None = None
    error: str | None = None
    data: dict[str, Any] | None = None


class Identity(_Loose):
    role: str
    tenant: str
    key_id: str | None = None
    name: str | None = None
    permissions: list[str] = Field(default_factory=list)


class DocumentInfo(_Loose):
    doc_id: str
    title: str
    doc_type: str | None = None
    file_format: str | None = None
    pages: int = 0
    chunks: int = 0
    ingested_at: str | None = None
    warnings: list[str] = Field(default_factory=list)


class UploadedDocument(_Loose):
    doc_id: str
    title: str
    status: str = "added"
    doc_type: str | None = None
    pages: int = 0
    chunks: int = 0
    warnings: list[str] = Field(default_factory=list)


class UploadResult(_Loose):
    """Outcome of one uploaded file: the documents it became (a JSONL file holds several) or why it failed."""

    filename: str
    status: str = Field(description="added, updated, unchanged or failed")
    documents: list[UploadedDocument] = Field(default_factory=list)
    error_code: str | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != "failed"


class ReportInfo(_Loose):
    name: str
    modified: str | None = None
    files: list[str] = Field(default_factory=list)


class ChatFilters(BaseModel):
    """The filters the chat screen offers; unset fields are left out of the request."""

    doc_types: list[str] | None = None
    speaker: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    def to_api(self) -> dict[str, Any] | None:
        body = self.model_dump(mode="json", exclude_none=True)
        body = {k: v for k, v in body.items() if v not in ([], "")}
        return body or None


# Fixed messages for failures whose cause is the same whatever the route.
_STATUS_MESSAGES: dict[int, tuple[str, str]] = {
    401: (
        "unauthorized",
        "APIキーが正しくありません。管理者に正しいキーを確認してください（画面左の「接続設定」で変更できます）。",
    ),
    403: ("forbidden", "この操作を行う権限がありません。必要な場合は管理者に権限の変更を依頼してください。"),
    404: ("not_found", "対象が見つかりません。すでに削除された可能性があります。"),
    413: ("too_large", "ファイルが大きすぎます。"),
    429: ("rate_limited", "混み合っています。少し待ってから再度お試しください。"),
}


def _error_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"]
    if isinstance(body, dict) and "detail" in body:  # FastAPI's default shape, should the API use it
        return {"detail": body["detail"]}
    return {}


def japanese_part(message: str) -> str:
    """「日本語 / English」 → 「日本語」: staff read Japanese; the English half is for logs and programs."""
    head, sep, tail = message.rpartition(" / ")
    if sep and head.strip() and tail.isascii():
        return head.strip()
    return message.strip()


def _validation_text(detail: Any) -> str:
    """Field errors as one short Japanese line: 「question: …」."""
    if not isinstance(detail, list):
        return ""
    parts = []
    for item in detail[:3]:
        if isinstance(item, dict):
            where = ".".join(str(p) for p in item.get("loc", []) if p not in ("body", "query"))
            parts.append(f"{where}: {item.get('msg', '')}".strip(": "))
    return " / ".join(parts)


def error_from_response(response: httpx.Response, *, max_upload_mb: float | None = None) -> ApiError:
    """The API's error shape `{"error": {code, message, detail}}` → ApiError with a message for staff."""
    status = response.status_code
    body = _error_body(response)
    server_message = japanese_part(str(body.get("message") or ""))
    code = str(body.get("code") or "")
    detail = body.get("detail")
    if status in _STATUS_MESSAGES:
        default_code, message = _STATUS_MESSAGES[status]
        if status == 403 and server_message:
            message = f"{server_message}。必要な場合は管理者に権限の変更を依頼してください。"
        if status == 413:
            limit = f"（上限 {max_upload_mb:g} MB）" if max_upload_mb and "上限" not in server_message else ""
            message = f"{server_message or 'ファイルが大きすぎます'}{limit}。ファイルを分割するか小さくしてから再度お試しください。"
        return ApiError(code or default_code, message, status=status, detail=detail)
    if status in (400, 409, 415, 422):
        message = server_message or "入力内容に誤りがあります。"
        if not server_message and (fields := _validation_text(detail)):
            message = f"{message}（{fields}）"
        return ApiError(code or "invalid_request", message, status=status, detail=detail)
    if status == 503:
        return ApiError(
            code or "unavailable",
            server_message or "サーバーの準備ができていません。しばらくしてから再度お試しください。",
            status=status,
            detail=detail,
        )
    return ApiError(
        code or "server_error",
        "サーバーでエラーが発生しました。しばらくしてから再度お試しください。"
        + (f"（{server_message}）" if server_message else ""),
        status=status,
        detail=detail,
    )


def iter_sse_data(lines: Iterator[str]) -> Iterator[str]:
    """The `data:` payloads of a server-sent event stream, one per event (multi-line data joined)."""
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue  # comment / keep-alive
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)


class YakubaClient:
    """Talks to one Yakuba API with one key.

    Pass `http` (an httpx.Client with its own base_url, e.g. Starlette's TestClient) to reuse a client.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        http: httpx.Client | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_upload_mb: float | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key or None
        self.max_upload_mb = max_upload_mb
        self._timeout = httpx.Timeout(timeout_s, connect=CONNECT_TIMEOUT_S)
        self._http = http or httpx.Client(base_url=self.base_url, timeout=self._timeout)
        self._owns_http = http is None

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> YakubaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing ---------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def _unreachable(self, exc: Exception) -> ApiError:
        if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
            return ApiError(
                "timeout",
                "サーバーの応答に時間がかかりすぎています。しばらくしてから再度お試しください。",
                detail=str(exc),
            )
        return ApiError(
            "api_unreachable",
            f"Yakuba のサーバー（API）に接続できません（接続先: {self.base_url}）。"
            "サーバーが起動しているか管理者に確認してください。",
            detail=str(exc),
        )

    def _request(self, method: str, path: str, *, timeout_s: float | None = None, **kwargs: Any) -> httpx.Response:
        if timeout_s:  # else the client's own default
            kwargs["timeout"] = httpx.Timeout(timeout_s, connect=CONNECT_TIMEOUT_S)
        try:
            response = self._http.request(method, path, headers=self._headers(), **kwargs)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        if response.status_code >= 400:
            raise error_from_response(response, max_upload_mb=self.max_upload_mb)
        return response

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(
                "bad_response", "サーバーから予期しない応答がありました。", status=response.status_code
            ) from exc

    @staticmethod
    def _parse(model: type[BaseModel], data: Any) -> Any:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise ApiError(
                "bad_response", "サーバーから予期しない形式の応答がありました。", detail=str(exc)
            ) from exc

    # --- routes -----------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return self._json(self._request("GET", "/healthz"))

    def me(self) -> Identity:
        return self._parse(Identity, self._json(self._request("GET", "/v1/me")))

    def chat(
        self, question: str, *, history: Sequence[ChatMessage] = (), filters: ChatFilters | None = None
    ) -> Answer:
        body = self._chat_body(question, history, filters, stream=False)
        data = self._json(self._request("POST", "/v1/chat", json=body, timeout_s=LONG_TIMEOUT_S))
        return self._parse(Answer, data)

    def chat_stream(
        self, question: str, *, history: Sequence[ChatMessage] = (), filters: ChatFilters | None = None
    ) -> Iterator[AnswerEvent]:
        """Events as the API sends them: sources → evidence → tokens → the final checked answer."""
        body = self._chat_body(question, history, filters, stream=True)
        timeout = httpx.Timeout(LONG_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
        try:
            with self._http.stream(
                "POST", "/v1/chat", json=body, headers=self._headers(), timeout=timeout
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise error_from_response(response, max_upload_mb=self.max_upload_mb)
                for data in iter_sse_data(response.iter_lines()):
                    if data.strip() == "[DONE]":
                        return
                    try:
                        yield AnswerEvent.model_validate_json(data)
                    except ValidationError as exc:
                        raise ApiError(
                            "bad_response", "サーバーから予期しない形式の応答がありました。", detail=data[:200]
                        ) from exc
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc

    @staticmethod
    def _chat_body(
        question: str, history: Sequence[ChatMessage], filters: ChatFilters | None, *, stream: bool
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "question": question,
            "history": [m.model_dump() for m in history],
            "stream": stream,
        }
        api_filters = filters.to_api() if filters else None
        if api_filters:
            body["filters"] = api_filters
        return body

    def search(self, query: str, *, k: int = 10, filters: ChatFilters | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"query": query, "k": k}
        if filters and filters.to_api():
            body["filters"] = filters.to_api()
        return self._json(self._request("POST", "/v1/search", json=body))

    def list_documents(self) -> list[DocumentInfo]:
        data = self._json(self._request("GET", "/v1/documents"))
        items = data.get("documents", data) if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ApiError("bad_response", "サーバーから予期しない形式の応答がありました。")
        return [self._parse(DocumentInfo, item) for item in items]

    def upload_documents(self, files: Sequence[tuple[str, bytes]]) -> list[UploadResult]:
        """Upload and ingest files; one result per file (bad files fail alone, with a Japanese reason)."""
        if not files:
            raise ApiError("no_files", "ファイルが選択されていません。")
        multipart = [("files", (name, content, "application/octet-stream")) for name, content in files]
        data = self._json(self._request("POST", "/v1/documents", files=multipart, timeout_s=LONG_TIMEOUT_S))
        items = data.get("results", data) if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ApiError("bad_response", "サーバーから予期しない形式の応答がありました。")
        return [self._parse(UploadResult, item) for item in items]

    def delete_document(self, doc_id: str) -> None:
        from urllib.parse import quote

        self._request("DELETE", f"/v1/documents/{quote(doc_id, safe='')}")

    def draft_minutes(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._json(self._request("POST", "/v1/drafts/minutes", json=request, timeout_s=LONG_TIMEOUT_S))

    def draft_pr_article(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._json(
            self._request("POST", "/v1/drafts/pr-article", json=request, timeout_s=LONG_TIMEOUT_S)
        )

    def draft_pr_article_from_audio(
        self,
        filename: str,
        audio: bytes,
        fields: dict[str, Any],
        on_progress: Callable[[float, float], None] | None = None,
    ) -> dict[str, Any]:
        """Recording → transcript → draft in one streamed call; `on_progress(done_s, total_s)` as Whisper runs.

        Returns the draft (its `transcript` holds the role-labelled text to correct)."""
        data = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in fields.items() if v is not None}
        data["stream"] = "true"
        files = {"audio": (filename, audio, "application/octet-stream")}
        timeout = httpx.Timeout(LONG_TIMEOUT_S * 4, connect=CONNECT_TIMEOUT_S)
        try:
            with self._http.stream(
                "POST", "/v1/drafts/pr-article", data=data, files=files, headers=self._headers(), timeout=timeout
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise error_from_response(response, max_upload_mb=self.max_upload_mb)
                for line in response.iter_lines():
                    if not line.strip():
                        continue
                    try:
                        event = json.loads(line)
                    except ValueError as exc:
                        raise ApiError("bad_response", "サーバーから予期しない応答がありました。", detail=line[:200]) from exc
                    kind = event.get("event")
                    if kind == "progress" and on_progress is not None:
                        on_progress(float(event.get("done_s") or 0.0), float(event.get("total_s") or 0.0))
                    elif kind == "error":
                        raise ApiError(str(event.get("code") or "error"), str(event.get("message") or "エラーが発生しました。"))
                    elif kind == "draft":
                        return dict(event["draft"])
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        raise ApiError("bad_response", "サーバーの応答が途中で終わりました。もう一度お試しください。")

    def export_docx(self, markdown: str, title: str | None = None) -> bytes:
        body: dict[str, Any] = {"markdown": markdown}
        if title:
            body["title"] = title
        return self._request("POST", "/v1/drafts/export", json=body).content

    def transcribe(self, filename: str, audio: bytes) -> dict[str, Any]:
        files = {"file": (filename, audio, "application/octet-stream")}
        return self._json(self._request("POST", "/v1/transcribe", files=files, timeout_s=LONG_TIMEOUT_S))

    def list_reports(self) -> list[ReportInfo]:
        data = self._json(self._request("GET", "/v1/evals/reports"))
        items = data.get("reports", data) if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ApiError("bad_response", "サーバーから予期しない形式の応答がありました。")
        return [self._parse(ReportInfo, item) for item in items]

    def get_report(self, name: str) -> dict[str, Any]:
        from urllib.parse import quote

        return self._json(self._request("GET", f"/v1/evals/reports/{quote(name, safe='')}"))

    def report_file(self, name: str, filename: str) -> bytes:
        """A file of a report folder (plots, report.html)."""
        from urllib.parse import quote

        path = f"/v1/evals/reports/{quote(name, safe='')}/files/{quote(filename, safe='')}"
        return self._request("GET", path).content


    def analyze_survey(
        self,
        filename: str,
        content: bytes,
        *,
        options: dict[str, Any] | None = None,
        format: Literal["json", "md", "docx", "xlsx", "pptx"] = "json",
        charts: bool = True,
    ) -> Any:
        """A survey file → the analysis (dict with `analysis` and `charts`), or a report file's bytes."""
        import json

        files = {"file": (filename, content, "application/octet-stream")}
        data = {"format": format, "charts": "true" if charts else "false"}
        if options:
            data["options"] = json.dumps(options, ensure_ascii=False)
        response = self._request("POST", "/v1/surveys/analyze", files=files, data=data, timeout_s=LONG_TIMEOUT_S)
        return self._json(response) if format == "json" else response.content
