"""The assistant's boundary types: what callers (api/, evals/, the CLI) send in and get back.

They carry no HTTP or storage details so that the API can expose them as they are and the
evaluation runner can score them without a server.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from yakuba.retriever.filters import SearchFilters

ABSTENTION_MESSAGE = "ご質問の内容は、登録されている資料からは確認できませんでした。"

EngineName = Literal["local", "extractive", "openai"]


class ChatMessage(BaseModel):
    role: Literal["user", "assistant", "system"]
    content: str


class Citation(BaseModel):
    """One numbered source an answer cites (`[n]` in the text)."""

    n: int = Field(description="The number used in the answer's [n] markers (1-based).")
    doc_id: str = Field(description="Document id as ingested (for JSONL records, their `id`).")
    title: str
    page: int | None = None
    excerpt: str = Field(description="The passage text (or its supporting part) shown to the user.")
    score: float = Field(description="Retrieval relevance of the passage (fused score).")
    chunk_id: str | None = None
    doc_type: str | None = None
    speaker: str | None = None
    role: str | None = None
    date: str | None = None
    label: str = Field("", description="Human-readable citation: 「文書名 p.3」 or 「会議録 2022-12-01 市長 …」.")
    table: int | None = Field(None, description="Table number in the document when the passage is a table.")
    table_markdown: str | None = Field(None, description="The cited table (part) as Markdown, to show as a table.")
    ocr_confidence: float | None = Field(None, description="Mean OCR confidence (0-100) when read by OCR.")


class AnswerRequest(BaseModel):
    question: str
    history: list[ChatMessage] = Field(default_factory=list)
    filters: SearchFilters | None = None
    k: int | None = Field(None, ge=1, le=20, description="Passages given to the engine; None = settings.")
    engine: EngineName | None = Field(None, description="Override the configured engine (evals, tests).")


class EvidenceSentence(BaseModel):
    """One quoted passage sentence: what the answer rests on, with its `[n]`."""

    n: int = Field(description="The passage number, as in the answer's [n] markers.")
    text: str
    section: str | None = Field(None, description="The heading (議案, 見出し) the sentence sits under.")


class Evidence(BaseModel):
    """The extractive evidence, ready as soon as retrieval ends (shown before the model's answer)."""

    text: str = Field(description="The evidence as readable Japanese with [n] markers.")
    sentences: list[EvidenceSentence] = Field(default_factory=list)
    ms: float = Field(0.0, description="Milliseconds from the request to the evidence.")


class Answer(BaseModel):
    answer: str
    abstained: bool
    citations: list[Citation] = Field(description="Sources the answer cites, numbered as in the text.")
    sources: list[Citation] = Field(
        default_factory=list,
        description="Closest passages retrieved (shown with an abstention; a superset of citations otherwise).",
    )
    engine: str = Field(description="Engine that produced the final text (after any fallback).")
    fallback: str | None = Field(None, description="Why the extractive fallback replaced the model's answer.")
    abstain_reason: str | None = Field(
        None,
        description="Why it abstained: low_relevance, place_not_found, member_question_not_found, "
        "model_abstained, nothing_extractable.",
    )
    standalone_question: str = Field("", description="The question as searched (follow-ups condensed).")
    notices: list[str] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    evidence: Evidence | None = Field(
        None, description="The quoted passage sentences the answer rests on (None when it abstained)."
    )


class AnswerEvent(BaseModel):
    """One event of a streamed answer.

    Order: `sources` (what was retrieved) → `evidence` (the quoted sentences, as soon as retrieval
    ends; absent when the question is refused) → `token`* (the engine's text deltas) → `answer` (the
    final, checked Answer; its text may differ from the streamed tokens when markers were dropped or
    the evidence replaced an unsupported answer) → end. `error` replaces the rest when the engine fails.
    """

    type: Literal["sources", "evidence", "token", "answer", "error"]
    text: str | None = None
    sources: list[Citation] | None = None
    evidence: Evidence | None = None
    answer: Answer | None = None
    error: str | None = None
    data: dict[str, Any] | None = None
