"""Answer-quality benchmark: the full assistant (retrieval + generation) on a dataset's questions.

The corpus is indexed once into the retrieval benchmark's cache (YAKUBA_HOME/eval-cache, see
evals/retrieval.py). To test abstention, a seeded share of the answerable questions is made
unanswerable by deleting their gold documents from a *copy* of that index; the cache itself is
never changed, and every other document stays, so the assistant still finds near misses and has
to decide that they do not answer the question.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from yakuba.assistant.schemas import Answer, AnswerRequest, Citation, EngineName
from yakuba.core.paths import PROJECT_ROOT
from yakuba.core.settings import Settings
from yakuba.evals.answer_metrics import (
    Judge,
    SentenceSupport,
    abstention_correct,
    answer_contains,
    char_f1,
    citation_precision,
    citation_recall,
    groundedness,
    japanese_only,
    mean_defined,
    sentence_support,
)
from yakuba.evals.datasets import QUESTIONS_FILE, Dataset, Question, corpus_hash, load_dataset
from yakuba.evals.metrics import percentile
from yakuba.evals.retrieval import EVAL_TENANT, index_dir, open_index
from yakuba.retriever.search import FusionConfig, HybridSearcher, Mode, SearchResult, set_query_threads
from yakuba.retriever.store import TenantStore

REPORT_VERSION = 1
METRICS: tuple[str, ...] = (
    "answer_contains",
    "char_f1",
    "citation_precision",
    "citation_recall",
    "groundedness",
    "abstention_accuracy",
    "japanese_only",
)
LATENCIES: tuple[str, ...] = ("ttft_ms", "total_ms")
# Question metadata keys that name a document type or category, for the report's breakdown.
GROUP_KEYS: tuple[str, ...] = ("doc_type", "type", "category")
SETTINGS_RECORDED: tuple[str, ...] = (
    "embedding_model", "chat_model", "llm_context", "llm_max_tokens", "llm_temperature", "openai_base_url",
    "answer_passages", "answer_passage_chars", "answer_prompt_chars", "answer_adaptive_passages",
    "answer_history_turns",
    "abstain_min_score", "fusion_method", "fusion_dense_weight", "fusion_bm25_weight", "fusion_rrf_k",
    "fusion_candidates", "chunk_size", "chunk_overlap",
)  # fmt: skip

Progress = Callable[[int, int], None]
"""progress(done, total) after each question."""


class PlannedQuestion(BaseModel):
    """A dataset question as this run asks it: which documents count as gold, must it abstain?"""

    question: Question
    gold_doc_ids: list[str] = Field(description="Gold documents still in the index.")
    should_abstain: bool
    unanswerable: Literal["dataset", "removed"] | None = Field(
        None, description="dataset: answerable=false in the file; removed: its gold documents were deleted."
    )


class UnanswerablePlan(BaseModel):
    questions: list[PlannedQuestion]
    removed_doc_ids: list[str]
    chosen_ids: list[str] = Field(description="Questions picked by the seed (others may follow: shared gold).")


def check_selection(limit: int | None, sample: int | None) -> None:
    """Reject what `select_questions` cannot do, with the message the CLI shows (ValueError)."""
    if limit is not None and sample is not None:
        raise ValueError("--limit と --sample は同時に指定できません / use --limit or --sample, not both")
    for name, value in (("--limit", limit), ("--sample", sample)):
        if value is not None and value < 1:
            raise ValueError(f"{name} は 1 以上で指定してください / {name} must be >= 1")


def select_questions(
    questions: Sequence[Question], *, limit: int | None = None, sample: int | None = None, seed: int = 0
) -> list[Question]:
    """The first `limit` questions, or `sample` drawn at random with `seed` (kept in dataset order).

    The head of a file need not be typical (jsquad-valid's first 80 questions are harder than the
    whole set); a seeded sample is representative and still reproducible.
    """
    check_selection(limit, sample)
    if sample is not None and sample < len(questions):
        keep = set(random.Random(seed).sample(range(len(questions)), sample))
        return [q for i, q in enumerate(questions) if i in keep]
    return list(questions[:limit]) if limit is not None else list(questions)


def plan_unanswerable(questions: Sequence[Question], share: float, seed: int) -> UnanswerablePlan:
    """Pick round(share × answerable) questions to make unanswerable by deleting their gold documents.

    Questions often share a gold document (several JSQuAD questions per paragraph), so deleting one
    question's gold can leave another with none: that one becomes unanswerable too and counts
    toward the share. Candidates are tried in a seeded random order and a candidate whose deletion
    would overshoot the target is skipped, so the share is met exactly whenever possible. A question
    that loses only some of its gold documents stays answerable against the rest.
    """
    if not 0 <= share <= 1:
        raise ValueError(f"回答不能にする割合は 0〜1 で指定してください: {share} / unanswerable share must be 0-1")
    candidates = [q for q in questions if q.answerable and q.gold_doc_ids]
    target = round(share * len(candidates))
    order = list(candidates)
    random.Random(seed).shuffle(order)
    removed: set[str] = set()
    emptied: set[str] = set()
    chosen: list[str] = []
    for question in order:
        if len(emptied) >= target:
            break
        trial = removed | set(question.gold_doc_ids)
        newly = {c.id for c in candidates if set(c.gold_doc_ids) <= trial}
        if len(newly) <= target:
            removed, emptied = trial, newly
            chosen.append(question.id)
    planned = []
    for question in questions:
        kept = [g for g in question.gold_doc_ids if g not in removed]
        if not question.answerable:
            planned.append(PlannedQuestion(question=question, gold_doc_ids=kept, should_abstain=True,
                                           unanswerable="dataset"))
        elif question.id in emptied:
            planned.append(PlannedQuestion(question=question, gold_doc_ids=[], should_abstain=True,
                                           unanswerable="removed"))
        else:
            planned.append(PlannedQuestion(question=question, gold_doc_ids=kept, should_abstain=False))
    return UnanswerablePlan(questions=planned, removed_doc_ids=sorted(removed), chosen_ids=chosen)


class QuestionRecord(BaseModel):
    """One question's answer and scores, as report.json stores it."""

    id: str
    question: str
    gold_answers: list[str]
    gold_doc_ids: list[str]
    should_abstain: bool
    unanswerable: Literal["dataset", "removed"] | None = None
    group: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    answer: str
    abstained: bool
    engine: str | None = None
    fallback: str | None = None
    abstain_reason: str | None = None
    citations: list[Citation] = Field(default_factory=list)
    cited_doc_ids: list[str] = Field(default_factory=list)
    scores: dict[str, float | None]
    sentences: list[SentenceSupport] = Field(default_factory=list)
    ttft_ms: float | None = None
    evidence_ms: float | None = Field(None, description="Request to the extractive evidence (issue #17).")
    total_ms: float
    error: str | None = None

    @model_validator(mode="after")
    def _score_language(self) -> QuestionRecord:
        """Reports written before `japanese_only` existed get it from their stored answer, so
        `eval compare` can set an old run against a new one on it."""
        if "japanese_only" not in self.scores:
            self.scores["japanese_only"] = japanese_only(self.answer)
        return self


class RunConfig(BaseModel):
    engine: str
    mode: Mode
    limit: int | None
    sample: int | None = Field(None, description="Questions drawn at random (seeded) instead of the first N.")
    unanswerable_share: float
    seed: int
    judge: str | None = Field(None, description="Engine of the LLM judge for groundedness; None = lexical.")
    support_method: str
    support_threshold: float
    chat_model: str | None
    embedding_model: str
    settings: dict[str, Any]
    git_commit: str | None
    git_dirty: bool | None
    yakuba_version: str


class AnswerReport(BaseModel):
    """Everything a report, `eval compare` or the UI needs: config, aggregate and every question."""

    kind: Literal["answers"] = "answers"
    version: int = REPORT_VERSION
    dataset: str
    dataset_path: str
    dataset_hash: str = Field(description="corpus_hash() of the dataset's documents.")
    questions_hash: str = Field(description="SHA-256 of questions.jsonl.")
    created_at: str
    config: RunConfig
    aggregate: dict[str, float | None]
    counts: dict[str, int] = Field(description="Questions each aggregate metric is over.")
    n_questions: int
    n_unanswerable: int
    n_errors: int
    removed_doc_ids: list[str] = Field(default_factory=list)
    index_build_s: float | None = None
    elapsed_s: float = 0.0
    warnings: list[str] = Field(default_factory=list)
    questions: list[QuestionRecord]

    def summary(self) -> dict[str, Any]:
        """The JSON contract of `yakuba eval answers --json` (the last line of stdout)."""
        out: dict[str, Any] = {}
        for key in (*METRICS, "ttft_p50_ms", "ttft_p95_ms", "total_p50_ms", "total_p95_ms"):
            value = self.aggregate.get(key)
            out[key] = None if value is None else round(value, 4 if key in METRICS else 1)
        out.update(
            n_questions=self.n_questions,
            n_unanswerable=self.n_unanswerable,
            n_errors=self.n_errors,
            engine=self.config.engine,
            mode=self.config.mode,
            dataset=self.dataset,
        )
        return out


# --- scoring ----------------------------------------------------------------------------------


def score_question(
    planned: PlannedQuestion,
    answer: Answer | None,
    *,
    passage_texts: dict[int, str] | None = None,
    support_threshold: float = 0.5,
    support_method: str = "tokens",
    judge: Judge | None = None,
) -> tuple[dict[str, float | None], list[SentenceSupport]]:
    """All metrics of one question; a failed answer (None) scores as an empty, non-abstaining one."""
    text = answer.answer if answer else ""
    abstained = answer.abstained if answer else False
    citations = answer.citations if answer else []
    cited = [c.doc_id for c in citations]
    golds = planned.question.answers
    scores: dict[str, float | None] = {key: None for key in METRICS}
    if not planned.should_abstain:
        scores["answer_contains"] = answer_contains(text, golds, abstained=abstained)
        scores["char_f1"] = char_f1(text, golds, abstained=abstained)
        scores["citation_precision"] = citation_precision(cited, planned.gold_doc_ids)
        scores["citation_recall"] = citation_recall(cited, planned.gold_doc_ids)
    verdicts = [] if abstained else sentence_support(
        text, citations, passage_texts=passage_texts, threshold=support_threshold, method=support_method,
        judge=judge,
    )
    scores["groundedness"] = groundedness(verdicts, abstained=abstained) if text or abstained else 0.0
    scores["abstention_accuracy"] = abstention_correct(abstained, planned.should_abstain)
    scores["japanese_only"] = japanese_only(text)
    return scores, verdicts


def aggregate(records: Sequence[QuestionRecord]) -> tuple[dict[str, float | None], dict[str, int]]:
    """Mean of each metric over the questions it is defined for, plus latency percentiles."""
    values: dict[str, float | None] = {}
    counts: dict[str, int] = {}
    for key in METRICS:
        defined = [r.scores.get(key) for r in records if r.scores.get(key) is not None]
        values[key] = mean_defined(defined)
        counts[key] = len(defined)
    for key, name in (("ttft_ms", "ttft"), ("evidence_ms", "evidence"), ("total_ms", "total")):
        latencies = [getattr(r, key) for r in records if getattr(r, key) is not None and r.error is None]
        counts[key] = len(latencies)
        for p in (50, 95):
            values[f"{name}_p{p}_ms"] = percentile(latencies, p) if latencies else None
    return values, counts


# --- the run ----------------------------------------------------------------------------------


class _FixedModeSearcher(HybridSearcher):
    """The assistant always asks for hybrid search; `--mode` swaps the retrieval mode underneath."""

    def __init__(self, searcher: HybridSearcher, mode: Mode) -> None:
        super().__init__(searcher.store, searcher.embeddings, searcher.fusion)
        self.forced_mode: Mode = mode

    def search(self, query: str, *, k: int = 10, mode: Mode = "hybrid", filters=None) -> SearchResult:  # type: ignore[no-untyped-def, override]
        return super().search(query, k=k, mode=self.forced_mode, filters=filters)


@contextmanager
def isolated_index(
    settings: Settings,
    dataset: Dataset,
    removed_doc_ids: Sequence[str],
    *,
    progress: Callable[[int], None] | None = None,
) -> Iterator[tuple[TenantStore, float | None]]:
    """The cached dataset index, or a temporary copy of it without `removed_doc_ids`."""
    store, build_s = open_index(settings, dataset, progress=progress)
    if not removed_doc_ids:
        try:
            yield store, build_s
        finally:
            store.close()
        return
    store.close()  # flush the BM25 snapshot before copying the folder
    with tempfile.TemporaryDirectory(prefix="yakuba-eval-answers-") as tmp:
        copy = Path(tmp) / "index"
        shutil.copytree(index_dir(settings, dataset), copy)
        isolated = settings.model_copy(update={"home": copy, "chroma_url": None})
        work = TenantStore.open(isolated, EVAL_TENANT)
        try:
            for doc_id in removed_doc_ids:
                work.delete_document(doc_id)
            work.sync_bm25()
            yield work, build_s
        finally:
            work.close()


def _git_state() -> tuple[str | None, bool | None]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT, capture_output=True,
            text=True, timeout=10, check=True,
        ).stdout.strip()
        return commit or None, bool(dirty)
    except (OSError, subprocess.SubprocessError):
        return None, None


def _group_of(planned: PlannedQuestion, dataset: Dataset, key: str | None) -> str:
    if key is None:
        return "unanswerable" if planned.should_abstain else "answerable"
    value = planned.question.metadata.get(key)
    if value is None and key == "doc_type":
        value = next((d.metadata.get("doc_type") for d in dataset.documents
                      if d.id in planned.question.gold_doc_ids and d.metadata.get("doc_type")), None)
    return str(value) if value not in (None, "") else "(none)"


def group_key(dataset: Dataset) -> str | None:
    """The question metadata key to break results down by, or the gold documents' doc_type when the
    corpus has several; None = answerable vs unanswerable."""
    for key in GROUP_KEYS:
        if any(key in q.metadata for q in dataset.questions):
            return key
    doc_types = {str(d.metadata.get("doc_type")) for d in dataset.documents if d.metadata.get("doc_type")}
    return "doc_type" if len(doc_types) > 1 else None


def _chunk_texts(store: TenantStore, citations: Sequence[Citation]) -> dict[int, str]:
    """Full passage text per citation number (a Citation's excerpt may be shortened)."""
    ids = [c.chunk_id for c in citations if c.chunk_id]
    if not ids:
        return {}
    by_id = {row.chunk_id: row.text for row in store.get_chunks(list(dict.fromkeys(ids)))}
    return {c.n: by_id[c.chunk_id] for c in citations if c.chunk_id in by_id}


def ask(assistant: Any, question: str) -> tuple[Answer | None, float | None, float, str | None]:
    """Stream one answer; returns (answer, time to first text ms, total ms, error).

    Time to first token = the first `token` event with text; an engine that streams no tokens
    (extractive, abstentions) shows its first text with the final `answer` event.
    """
    start = time.perf_counter()
    first: float | None = None
    answer: Answer | None = None
    error: str | None = None
    try:
        for event in assistant.stream(AnswerRequest(question=question)):
            if first is None and (event.type == "token" and event.text or event.type == "answer"):
                first = time.perf_counter()
            if event.type == "answer" and event.answer is not None:
                answer = event.answer
            elif event.type == "error":
                error = event.error or "error"
    except Exception as exc:  # noqa: BLE001 - one failing question must not end the benchmark
        error = f"{type(exc).__name__}: {exc}"
    end = time.perf_counter()
    if answer is None and error is None:
        error = "no answer event"
    ttft = (first - start) * 1000 if first is not None else None
    return answer, ttft, (end - start) * 1000, error


def run_answers_eval(
    dataset_dir: Path | str,
    settings: Settings,
    *,
    engine: EngineName | None = None,
    mode: Mode = "hybrid",
    limit: int | None = None,
    sample: int | None = None,
    unanswerable_share: float = 0.2,
    seed: int = 0,
    judge_engine: str | None = None,
    support_method: str = "tokens",
    support_threshold: float = 0.5,
    progress: Progress | None = None,
    assistant_factory: Callable[..., Any] | None = None,
) -> AnswerReport:
    """Ask every question (or the first `limit`, or a seeded `sample`) and score it; see the module docstring.

    `assistant_factory(settings, tenant, searcher=..., chat_model=..., engine=...)` defaults to
    `assistant.service.Assistant`; tests may pass another with the same signature.
    """
    from yakuba.retriever.embeddings import embeddings_from_settings

    started = time.perf_counter()
    dataset = load_dataset(dataset_dir)
    questions = select_questions(dataset.questions, limit=limit, sample=sample, seed=seed)
    if not questions:
        raise ValueError("評価できる質問がありません / the dataset has no questions")
    plan = plan_unanswerable(questions, unanswerable_share, seed)
    engine_name: str = engine or settings.chat_engine
    chat_model, judge = _models(settings, engine_name, judge_engine)
    if assistant_factory is None:
        from yakuba.assistant.service import Assistant

        assistant_factory = Assistant
    key = group_key(dataset)
    records: list[QuestionRecord] = []
    with isolated_index(settings, dataset, plan.removed_doc_ids) as (store, build_s):
        set_query_threads(settings.query_threads)
        searcher: HybridSearcher = HybridSearcher(
            store, embeddings_from_settings(settings), FusionConfig.from_settings(settings)
        )
        if mode != "hybrid":
            searcher = _FixedModeSearcher(searcher, mode)
        assistant = assistant_factory(
            settings, EVAL_TENANT, searcher=searcher, chat_model=chat_model, engine=engine_name
        )
        ask(assistant, questions[0].question)  # warm-up (model load, BM25 snapshot): not timed
        for done, planned in enumerate(plan.questions, start=1):
            answer, ttft, total, error = ask(assistant, planned.question.question)
            citations = answer.citations if answer else []
            scores, verdicts = score_question(
                planned, answer, passage_texts=_chunk_texts(store, citations),
                support_threshold=support_threshold, support_method=support_method, judge=judge,
            )
            records.append(
                QuestionRecord(
                    id=planned.question.id,
                    question=planned.question.question,
                    gold_answers=planned.question.answers,
                    gold_doc_ids=planned.gold_doc_ids,
                    should_abstain=planned.should_abstain,
                    unanswerable=planned.unanswerable,
                    group=_group_of(planned, dataset, key),
                    metadata=planned.question.metadata,
                    answer=answer.answer if answer else "",
                    abstained=answer.abstained if answer else False,
                    engine=answer.engine if answer else None,
                    fallback=answer.fallback if answer else None,
                    abstain_reason=answer.abstain_reason if answer else None,
                    citations=citations,
                    cited_doc_ids=list(dict.fromkeys(c.doc_id for c in citations)),
                    scores=scores,
                    sentences=verdicts,
                    ttft_ms=ttft,
                    evidence_ms=answer.timings_ms.get("evidence") if answer else None,
                    total_ms=total,
                    error=error,
                )
            )
            if progress:
                progress(done, len(plan.questions))
    values, counts = aggregate(records)
    commit, dirty = _git_state()
    from yakuba import __version__

    config = RunConfig(
        engine=engine_name,
        mode=mode,
        limit=limit,
        sample=sample,
        unanswerable_share=unanswerable_share,
        seed=seed,
        judge=judge_engine,
        support_method=support_method,
        support_threshold=support_threshold,
        chat_model=None if engine_name == "extractive" else settings.chat_model,
        embedding_model=settings.embedding_model,
        settings={name: _plain(getattr(settings, name)) for name in SETTINGS_RECORDED},
        git_commit=commit,
        git_dirty=dirty,
        yakuba_version=__version__,
    )
    return AnswerReport(
        dataset=dataset.name,
        dataset_path=str(Path(dataset_dir).resolve()),
        dataset_hash=corpus_hash(dataset),
        questions_hash=hashlib.sha256((dataset.path / QUESTIONS_FILE).read_bytes()).hexdigest(),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        config=config,
        aggregate=values,
        counts=counts,
        n_questions=len(records),
        n_unanswerable=sum(1 for r in records if r.should_abstain),
        n_errors=sum(1 for r in records if r.error),
        removed_doc_ids=plan.removed_doc_ids,
        index_build_s=build_s,
        elapsed_s=time.perf_counter() - started,
        warnings=list(dataset.warnings[:20]),
        questions=records,
    )


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)


def _models(settings: Settings, engine: str, judge_engine: str | None) -> tuple[Any, Judge | None]:
    """The chat model for the engine (None for extractive) and the optional LLM judge."""
    from yakuba.assistant.llm import chat_model_for

    chat_model = None if engine == "extractive" else chat_model_for(settings, engine)
    if judge_engine is None:
        return chat_model, None
    if judge_engine == "extractive":
        raise ValueError("判定には local か openai を指定してください / the judge needs a model: local or openai")
    from yakuba.evals.answer_metrics import llm_judge

    judge_model = chat_model if judge_engine == engine and chat_model is not None else chat_model_for(
        settings, judge_engine
    )
    if judge_model is None:
        raise ValueError(f"判定モデルを読み込めません: {judge_engine} / no judge model for {judge_engine}")
    return chat_model, llm_judge(judge_model)
