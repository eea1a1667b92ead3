"""Grounded answers: retrieve → evidence → prompt → generate → check → answer, fall back or abstain.

Grounding, citation checks and abstention are the same for every engine; only the text generator
differs (issue #5). As soon as retrieval ends the extractive evidence (the best passage sentences
with their [n]) is sent, so staff read the sources' own words within a second while the model
writes (issue #17). A small local model does not follow instructions perfectly, so its output is
checked rather than trusted: markers that point nowhere are dropped, forgotten markers are attached
where one passage clearly supports a sentence, sentences in another script (simplified Chinese,
Hangul) or whose numbers, dates and names belong to another item than the one asked about are
dropped (facts.py), and an answer that obeys an instruction planted in a document, or whose
sentences the passages do not support, is replaced by the evidence (the reason in `fallback` and
`notices`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from langchain_core.language_models import BaseChatModel

from yakuba.assistant.charset import foreign_chars
from yakuba.assistant.citations import (
    anchor_evidence,
    attach_missing_markers,
    check_support,
    cited_numbers,
    claim_pieces,
    clean_markers,
    drop_sentences,
    to_citation,
)
from yakuba.assistant.condense import condense
from yakuba.assistant.extractive import compose_selected, select_sentences
from yakuba.assistant.extractive_tables import asked_words
from yakuba.assistant.facts import check_facts
from yakuba.assistant.injection import obeys_planted, planted_instructions
from yakuba.assistant.passage_budget import prompt_passages, prompt_windows
from yakuba.assistant.prompts import MODEL_ABSTAIN_PHRASE, answer_messages, answer_tokens, focus
from yakuba.assistant.relevance import DEFAULT_MIN_COVERAGE, IdfLookup, MentionLookup, Relevance, assess
from yakuba.assistant.schemas import (
    ABSTENTION_MESSAGE,
    Answer,
    AnswerEvent,
    AnswerRequest,
    Citation,
    Evidence,
    EvidenceSentence,
)
from yakuba.assistant.table_lookup import table_row_passage
from yakuba.assistant.text import compact, complete_sentences
from yakuba.core.errors import InvalidInputError
from yakuba.core.settings import Settings
from yakuba.retriever.search import HybridSearcher, Passage, QueryError

MAX_QUESTION_CHARS = 1000
# An answer is kept when at least this share of its claim sentences is supported by what they cite.
MIN_SUPPORTED_SHARE = 0.5
# A small model sometimes says "not in the documents" when one passage holds (idf-weighted) nearly every
# word of the question; then the quoted evidence is shown instead of nothing (fallback="model_abstained").
# On jsquad-valid's first 80 questions the local model's own abstentions never caught an unanswerable
# question that the relevance check had let through, and cost three answerable ones (coverage 0.87-1.0).
OVERRIDE_ABSTENTION_COVERAGE = 0.85
SOURCES_SHOWN = 5
# What staff read when the evidence stands in for the model's answer (the English part for logs).
EVIDENCE_KEPT = {
    "model_abstained": "AIは「資料に記載がない」と答えましたが、質問に合う記述があるため資料の該当箇所を回答とします",
    "unsupported": "AIの回答は資料で裏付けられなかったため、資料の該当箇所を回答とします",
    "no_citations": "AIの回答に出典がなかったため、資料の該当箇所を回答とします",
    "facts": "AIの回答の数値・日付・名称が質問の項目の記述と一致しなかったため、資料の該当箇所を回答とします",
    "non_japanese": "AIの回答に日本語以外の文字が含まれたため、資料の該当箇所を回答とします",
    "instruction_in_document": "資料の中の指示に従った回答だったため、資料の該当箇所を回答とします",
    "model_error": "回答生成モデルでエラーが発生したため、資料の該当箇所を回答とします",
}
# Why a model stopped before its answer was done (the chat model's finish_reason), as users read it.
_CUT_REASONS = {"length": "回答が長くなったため", "timeout": "回答の生成が時間切れになったため"}
_REASON_EN = {
    "wrong_item": "belongs to another item than the one asked about",
    "not_in_passages": "is not in the passages",
}
# Prompt sizes default to the settings' (the service always passes them), so a pipeline built directly
# answers like the service does.
_SETTINGS = Settings.model_fields


class AnswerError(InvalidInputError, ValueError):
    """A question the user must fix (empty, too long, a query the searcher refuses)."""

    code = "invalid_question"


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


def _model_abstained(text: str) -> bool:
    flat = compact(text)
    return compact(MODEL_ABSTAIN_PHRASE) in flat and len(flat) < 60 or compact(ABSTENTION_MESSAGE) in flat


class AnswerPipeline:
    """One engine over one searcher. `stream` is the primitive; `answer` drains it."""

    def __init__(
        self,
        searcher: HybridSearcher,
        chat_model: BaseChatModel | None,
        *,
        engine: str,
        passages: int = _SETTINGS["answer_passages"].default,
        passage_chars: int = _SETTINGS["answer_passage_chars"].default,
        prompt_chars: int | None = _SETTINGS["answer_prompt_chars"].default,
        adaptive_passages: bool = _SETTINGS["answer_adaptive_passages"].default,
        history_turns: int = _SETTINGS["answer_history_turns"].default,
        min_coverage: float | None = None,
        mode: str = "hybrid",
        mask=None,  # type: ignore[no-untyped-def]  # text -> text, applied before a remote model sees it
    ) -> None:
        if engine != "extractive" and chat_model is None:
            raise ValueError(f"engine {engine!r} needs a chat model")
        self.searcher = searcher
        self.chat_model = chat_model if engine != "extractive" else None
        self.engine = engine
        self.passages = passages
        self.passage_chars = passage_chars
        self.prompt_chars = prompt_chars
        self.adaptive_passages = adaptive_passages
        self.history_turns = history_turns
        self.min_coverage = DEFAULT_MIN_COVERAGE if min_coverage is None else min_coverage
        self.mode = mode
        self.mask = mask

    # -- public -------------------------------------------------------------------------------
    def answer(self, request: AnswerRequest) -> Answer:
        final: Answer | None = None
        for event in self.stream(request):
            if event.type == "answer":
                final = event.answer
            elif event.type == "error":
                raise RuntimeError(event.error)
        assert final is not None
        return final

    def stream(self, request: AnswerRequest) -> Iterator[AnswerEvent]:
        started = time.perf_counter()
        timings: dict[str, float] = {}
        question = self._validated(request.question)
        notices: list[str] = []

        step = time.perf_counter()
        standalone = condense(question, request.history, self.chat_model, max_turns=self.history_turns)
        if request.history:
            timings["condense"] = _ms(step)

        step = time.perf_counter()
        k = request.k or self.passages
        try:
            result = self.searcher.search(standalone, k=max(k, SOURCES_SHOWN), mode=self.mode, filters=request.filters)
        except QueryError as exc:
            raise AnswerError(exc.message_ja, exc.message_en, code="invalid_query") from exc
        timings["retrieve"] = _ms(step)
        notices.extend(result.notices)
        retrieved = result.passages
        if self.mode != "dense":  # a value question's table row that retrieval ranked low (table_lookup)
            step = time.perf_counter()
            row = table_row_passage(standalone, retrieved[:k], self.searcher, filters=request.filters)
            if row is not None:
                retrieved = [row, *(p for p in retrieved if p.chunk_id != row.chunk_id)][: len(retrieved)]
                timings["table_lookup"] = _ms(step)
        relevance = assess(standalone, retrieved, *self._corpus_lookups())
        numbered = {n: p for n, p in enumerate(retrieved[:k], start=1)}
        sources = [to_citation(n, p) for n, p in enumerate(retrieved, start=1)]
        yield AnswerEvent(type="sources", sources=sources)

        base = {
            "sources": sources,
            "standalone_question": standalone,
            "notices": notices,
        }
        if not retrieved:
            notices.append("検索対象の資料が見つかりませんでした / no documents matched")
        reason = relevance.abstain_reason(self.min_coverage)
        if reason is not None:
            if reason == "place_not_found":
                names = "、".join(relevance.missing_places)
                notices.append(f"「{names}」について書かれた資料が見つかりませんでした / no document names {names}")
            elif reason == "member_question_not_found":
                notices.append(
                    "この件についての議員の質問の発言が見つかりませんでした（答弁のみ） / "
                    "no member's question on this topic was found, only officials' answers"
                )
            answer = self._abstain(base, timings, started, reason=reason)
            yield AnswerEvent(type="token", text=answer.answer)
            yield AnswerEvent(type="answer", answer=answer)
            return

        evidence = self._evidence(standalone, numbered, started)
        timings["evidence"] = evidence.ms
        base["evidence"] = evidence if evidence.text else None
        if evidence.text:
            yield AnswerEvent(type="evidence", evidence=evidence)

        if self.chat_model is None:
            timings["ttft"] = _ms(started)
            yield AnswerEvent(type="token", text=evidence.text)
            yield AnswerEvent(
                type="answer", answer=self._finish(evidence.text, numbered, base, timings, started, "extractive")
            )
            return

        step = time.perf_counter()
        shown = self._shown(numbered, relevance, evidence)
        windows = prompt_windows(
            list(shown), evidence.sentences[0].n if evidence.sentences else None,
            passage_chars=self.passage_chars, prompt_chars=self.prompt_chars,
        )
        shown = {n: shown[n] for n in windows}
        prompt_texts = {n: focus(shown[n].text, relevance.question_tokens, chars) for n, chars in windows.items()}
        prompt_question = standalone
        if self.mask is not None:
            prompt_texts = {n: self.mask(t) for n, t in prompt_texts.items()}
            prompt_question = self.mask(standalone)
        messages = answer_messages(prompt_question, prompt_texts, numbered)
        pieces: list[str] = []
        finish: str | None = None
        model = self._sized_model(standalone)
        try:
            for chunk in model.stream(messages):
                finish = (getattr(chunk, "response_metadata", None) or {}).get("finish_reason") or finish
                delta = str(chunk.content)
                if not delta:
                    continue
                if not pieces:
                    timings["ttft"] = _ms(started)
                pieces.append(delta)
                yield AnswerEvent(type="token", text=delta)
        except Exception as exc:  # noqa: BLE001 - the model failing must still give a grounded answer
            notices.append(f"{EVIDENCE_KEPT['model_error']} / model error: {exc}")
            answer = self._finish(evidence.text, numbered, base, timings, started, "extractive", fallback="model_error")
            yield AnswerEvent(type="answer", answer=answer)
            return
        timings["generate"] = _ms(step)
        raw = "".join(pieces).strip()
        if finish in _CUT_REASONS and (whole := complete_sentences(raw)) != raw:
            # the token limit or llm_timeout_s stopped the model mid-sentence: that sentence says nothing yet
            notices.append(f"{_CUT_REASONS[finish]}、途中で切れた最後の文を省きました / dropped the unfinished last "
                           f"sentence ({finish})")  # fmt: skip
            raw = whole
        checked = self._check(
            raw, standalone, numbered, base, timings, started, relevance.coverage,
            evidence=evidence, question_tokens=relevance.question_tokens, shown=shown,
        )
        yield AnswerEvent(type="answer", answer=checked)

    # -- steps --------------------------------------------------------------------------------
    def _corpus_lookups(self) -> tuple[IdfLookup | None, MentionLookup | None]:
        """The searcher's BM25 statistics weigh the question's words and find places named elsewhere
        in a document; without BM25 (a dense-only store) coverage is unweighted and places are looked
        for in the passages only."""
        if not self.searcher.has_bm25:
            return None, None
        return self.searcher.idf, self.searcher.documents_mentioning

    @staticmethod
    def _validated(question: str) -> str:
        text = (question or "").strip()
        if not text:
            raise AnswerError("質問を入力してください", "the question is empty", code="empty_question")
        if len(text) > MAX_QUESTION_CHARS:
            raise AnswerError(
                f"質問は {MAX_QUESTION_CHARS} 文字以内で入力してください（{len(text)} 文字）",
                f"question longer than {MAX_QUESTION_CHARS} characters",
                code="question_too_long",
            )
        return text

    def _sized_model(self, question: str):  # type: ignore[no-untyped-def]
        """The chat model, with fewer tokens allowed when the question asks for one value."""
        limit = answer_tokens(question)
        current = getattr(self.chat_model, "max_tokens", None)
        if limit is None or (isinstance(current, int) and current <= limit):
            return self.chat_model
        return self.chat_model.bind(max_tokens=limit)  # type: ignore[union-attr]

    def _shown(self, numbered: dict[int, Passage], relevance: Relevance, evidence: Evidence) -> dict[int, Passage]:
        """The passages the model reads: all of them, or fewer when one clearly answers (passage_budget.py)."""
        if not self.adaptive_passages or not evidence.sentences:
            return numbered
        coverage = {n: relevance.passage_coverage[n - 1] for n in numbered if n <= len(relevance.passage_coverage)}
        chosen = prompt_passages(list(numbered), coverage, evidence.sentences[0].n)
        return {n: numbered[n] for n in chosen}

    @staticmethod
    def _evidence(question: str, numbered: dict[int, Passage], started: float) -> Evidence:
        chosen = select_sentences(question, numbered)
        return Evidence(
            text=compose_selected(chosen, numbered),
            sentences=[EvidenceSentence(n=c.n, text=c.sentence, section=c.section) for c in chosen],
            ms=_ms(started),
        )

    def _check(
        self,
        raw: str,
        question: str,
        numbered: dict[int, Passage],
        base: dict,
        timings: dict,
        started: float,
        coverage: float = 0.0,
        *,
        evidence: Evidence,
        question_tokens: list[str] | None = None,
        shown: dict[int, Passage] | None = None,
    ) -> Answer:
        """Check the model's answer against the passages it read (`shown`, default all of `numbered`);
        the evidence, drawn from all of them, stands in when it fails."""
        notices: list[str] = base["notices"]
        read = numbered if shown is None else shown

        def keep_evidence(reason: str) -> Answer:
            if evidence.text:
                notices.append(f"{EVIDENCE_KEPT[reason]} / the evidence stands as the answer ({reason})")
            return self._finish(evidence.text, numbered, base, timings, started, "extractive", fallback=reason)

        if not raw or _model_abstained(raw):
            if coverage >= OVERRIDE_ABSTENTION_COVERAGE and evidence.text:
                return keep_evidence("model_abstained")
            return self._abstain(base, timings, started, reason="model_abstained")
        obeyed = obeys_planted(raw, planted_instructions(numbered), question)
        if obeyed is not None:
            notices.append(f"資料[{obeyed.n}]に含まれる指示は無視しました / ignored an instruction inside passage [{obeyed.n}]")
            return keep_evidence("instruction_in_document")
        text, dropped = clean_markers(raw, set(read))
        if dropped:
            notices.append(f"存在しない出典番号 {dropped} を削除しました / dropped markers {dropped}")
        if not cited_numbers(text):
            text = attach_missing_markers(text, read)
        text, reason = self._drop_unchecked(text, question, read, notices, question_tokens or [])
        if reason is not None:
            return keep_evidence(reason)
        support = check_support(text, read)
        if cited_numbers(text) and support.ratio >= MIN_SUPPORTED_SHARE:
            if evidence.sentences:
                text = anchor_evidence(text, question, evidence.sentences[0].n, read)
            return self._finish(text, numbered, base, timings, started, self.engine)
        return keep_evidence("no_citations" if not cited_numbers(text) else "unsupported")

    @staticmethod
    def _drop_unchecked(
        text: str, question: str, numbered: dict[int, Passage], notices: list[str], question_tokens: list[str]
    ) -> tuple[str, str | None]:
        """Drop sentences in another script and sentences whose facts belong to another item.

        Returns the remaining text and, when the answer's first sentence or most of it failed (what is
        left would no longer answer the question), the reason to show the evidence instead."""
        pieces = claim_pieces(text)
        foreign = {body for body, _ in pieces if foreign_chars(body)}
        if foreign:
            chars = "".join(dict.fromkeys(ch for body in foreign for ch in foreign_chars(body)))
            notices.append(f"日本語以外の文字（{chars}）を含む文を削除しました / dropped sentences in another script")
        report = check_facts(
            [p for p in pieces if p[0] not in foreign], question, numbered, question_tokens, asked_words(question)
        )
        for issue in report.issues:
            where = "質問の項目の記述にない" if issue.reason == "wrong_item" else "資料にない"
            notices.append(
                f"「{issue.fact.text}」は{where}ため、その文を削除しました / dropped a sentence: "
                f"{issue.fact.text} {_REASON_EN[issue.reason]}"
            )
        failing = foreign | set(report.failing_sentences)
        if not failing:
            return text, None
        kept = drop_sentences(text, failing)
        remaining = claim_pieces(kept)
        if remaining and pieces[0][0] not in failing and 2 * len(remaining) >= len(pieces):
            return kept, None
        return kept, "facts" if report.issues else "non_japanese"

    def _finish(
        self,
        text: str,
        numbered: dict[int, Passage],
        base: dict,
        timings: dict,
        started: float,
        engine: str,
        fallback: str | None = None,
    ) -> Answer:
        if not text.strip():
            return self._abstain(base, timings, started, reason="nothing_extractable")
        used = [n for n in cited_numbers(text) if n in numbered]
        citations: list[Citation] = [to_citation(n, numbered[n]) for n in used]
        timings["total"] = _ms(started)
        return Answer(
            answer=text.strip(),
            abstained=False,
            citations=citations,
            engine=engine,
            fallback=fallback,
            timings_ms=dict(timings),
            **base,
        )

    def _abstain(self, base: dict, timings: dict, started: float, *, reason: str) -> Answer:
        sources: list[Citation] = base["sources"]
        text = ABSTENTION_MESSAGE
        if sources:
            closest = "\n".join(f"- {c.label}" for c in sources[:3])
            text += f"\n\n関連する可能性のある資料:\n{closest}"
        timings.setdefault("ttft", _ms(started))
        timings["total"] = _ms(started)
        notices = list(base["notices"]) + [f"abstained: {reason}"]
        return Answer(
            answer=text,
            abstained=True,
            citations=[],
            engine=self.engine,
            fallback=None,
            abstain_reason=reason,
            timings_ms=dict(timings),
            sources=sources,
            standalone_question=base["standalone_question"],
            notices=notices,
        )
