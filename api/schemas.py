"""HTTP request and response bodies. The assistant's own types (assistant.schemas) are reused as
they are; what is defined here exists only because of HTTP (streaming flag, OpenAI wire format,
upload results, key info)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from yakuba.api.limits import (
    MAX_HISTORY_MESSAGES,
    MAX_MESSAGE_CHARS,
    MAX_OPENAI_MESSAGES,
    Count,
    Flag,
    MessageText,
    Name,
    Question,
    Text,
)
from yakuba.assistant.schemas import AnswerRequest, ChatMessage, Citation, Evidence
from yakuba.retriever.filters import SearchFilters
from yakuba.retriever.search import Mode, Passage, SearchResult

MAX_OPENAI_CONTENT_CHARS = 32_000  # a system prompt may be long; user/assistant turns are held to MAX_MESSAGE_CHARS
MAX_OPENAI_PARTS = 50
MAX_EXPORT_CHARS = 1_000_000

# --- /v1/chat ------------------------------------------------------------------------------------


class HistoryMessage(ChatMessage):
    content: MessageText


class ChatRequest(AnswerRequest):
    """`{"question", "history", "filters", "stream"}`; `k` and `engine` are optional overrides."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"question": "南国市手話言語条例の目的は何ですか？", "history": [], "filters": None, "stream": False}
            ]
        }
    )

    question: Question
    history: list[HistoryMessage] = Field(default_factory=list, max_length=MAX_HISTORY_MESSAGES)
    k: Count | None = Field(None, ge=1, le=20, description="Passages given to the engine; None = settings.")
    stream: Flag = Field(False, description="true: Server-Sent Events (`text/event-stream`) of AnswerEvent JSON.")


# --- /v1/chat/completions (OpenAI-compatible) -----------------------------------------------------


class OpenAIContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Name
    text: Annotated[Text, Field(max_length=MAX_OPENAI_CONTENT_CHARS)] | None = None


class OpenAIMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: (
        Annotated[Text, Field(max_length=MAX_OPENAI_CONTENT_CHARS)]
        | Annotated[list[OpenAIContentPart], Field(max_length=MAX_OPENAI_PARTS)]
        | None
    ) = None
    name: Name | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(part.text or "" for part in self.content if part.type == "text")


class ChatCompletionRequest(BaseModel):
    """The OpenAI Chat Completions request. Sampling fields are accepted and ignored: the answer
    engine is configured on the server and grounding rules decide what is said."""

    model_config = ConfigDict(extra="allow")

    model: Name | None = Field(None, description="Echoed back; the server's configured engine answers.")
    messages: list[OpenAIMessage] = Field(min_length=1, max_length=MAX_OPENAI_MESSAGES)
    stream: Flag = False
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: Count | None = None
    max_completion_tokens: Count | None = None
    n: Count | None = Field(None, ge=1, le=1)
    stop: Name | Annotated[list[Name], Field(max_length=4)] | None = None
    user: Name | None = None

    @model_validator(mode="after")
    def _bounded_turns(self) -> ChatCompletionRequest:
        """The question and history are what is searched and tokenised: each must stay within
        MAX_MESSAGE_CHARS (system prompts may be longer; they are not used)."""
        for index, message in enumerate(self.messages):
            if message.role in ("user", "assistant") and len(message.text()) > MAX_MESSAGE_CHARS:
                raise ValueError(
                    f"messages[{index}] が長すぎます（{len(message.text()):,} 文字、上限 {MAX_MESSAGE_CHARS:,} 文字） / "
                    f"messages[{index}] is longer than {MAX_MESSAGE_CHARS} characters"
                )
        return self


class YakubaExtra(BaseModel):
    """Yakuba's extra field on OpenAI responses: the sources behind the answer."""

    citations: list[Citation] = Field(description="Sources the answer cites, numbered as its [n] markers.")
    abstained: bool = Field(description="True when the documents do not answer the question.")
    sources: list[Citation] = Field(default_factory=list, description="Closest passages retrieved.")
    evidence: Evidence | None = Field(
        None, description="The quoted passage sentences (sent on an early chunk as soon as retrieval ends)."
    )


class CompletionMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class CompletionChoice(BaseModel):
    index: int = 0
    message: CompletionMessage
    finish_reason: Literal["stop", "length"] = "stop"


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: dict[str, int] | None = None
    yakuba: YakubaExtra


class ChunkDelta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: ChunkDelta
    finish_reason: Literal["stop", "length"] | None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    yakuba: YakubaExtra | None = Field(None, description="Only on the last chunk.")


class ModelInfo(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "yakuba"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelInfo]


# --- /v1/search ----------------------------------------------------------------------------------


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: Annotated[Question, Field(min_length=1)]
    k: Count = Field(10, ge=1, le=50)
    mode: Mode = "hybrid"
    filters: SearchFilters | None = None


class SearchPassage(Passage):
    label: str = Field(description="Human-readable citation: 「文書名 p.3」 or 「文書名 2022-12-01 議長 山田太郎」.")


class SearchResponse(SearchResult):
    """The retriever's result with a citation label on every passage."""

    passages: list[SearchPassage]


# --- /v1/drafts/export ---------------------------------------------------------------------------


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    markdown: Annotated[Text, Field(min_length=1, max_length=MAX_EXPORT_CHARS)] = Field(
        description="The (edited) draft as Markdown."
    )
    title: Name | None = Field(None, description="Document title; also the file name.")
    format: Literal["docx", "md"] = "docx"


# --- /v1/documents -------------------------------------------------------------------------------


class DocumentInfo(BaseModel):
    doc_id: str
    title: str
    doc_type: str
    file_format: str
    pages: int
    chunks: int
    ingested_at: str
    warnings: list[str] = Field(default_factory=list)


class DocumentList(BaseModel):
    tenant: str
    documents: list[DocumentInfo]


class UploadedDocument(BaseModel):
    doc_id: str
    title: str
    status: Literal["added", "updated", "unchanged"]
    doc_type: str | None = None
    pages: int
    chunks: int
    warnings: list[str] = Field(default_factory=list)


class UploadResult(BaseModel):
    """One uploaded file: ingested (its documents) or failed (the loader's Japanese message)."""

    filename: str = Field(description="The name as sent by the client.")
    saved_as: str | None = Field(None, description="The sanitised name the file is stored and cited under.")
    status: Literal["added", "updated", "unchanged", "failed"]
    documents: list[UploadedDocument] = Field(default_factory=list)
    error_code: str | None = None
    message: str | None = Field(None, description="Why the file failed, in Japanese.")
    message_en: str | None = None


class UploadResponse(BaseModel):
    tenant: str
    results: list[UploadResult]
    succeeded: int
    failed: int


class DeleteResponse(BaseModel):
    doc_id: str
    deleted_chunks: int


# --- misc ----------------------------------------------------------------------------------------


class MeResponse(BaseModel):
    key_id: str
    name: str
    role: str
    tenant: str
    permissions: list[str]


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    store: dict[str, Any]
    models: dict[str, Any]


class ReadyResponse(BaseModel):
    status: Literal["ready", "not_ready"]
    version: str
    checks: dict[str, dict[str, Any]] = Field(description="database, store (Chroma), models: each with `ok`.")


class ReportInfo(BaseModel):
    name: str
    modified: str
    files: list[str]


class ReportList(BaseModel):
    reports: list[ReportInfo]


class ReportDetail(ReportInfo):
    report: Any = Field(None, description="The content of report.json (None when the folder has none).")
