"""`Assistant`: one tenant's retrieval, answer engine and drafting behind one object.

The API and the evaluation runner use only this class, so neither knows how answers are made.
Models load lazily: creating an Assistant is cheap, the first answer pays for loading.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from langchain_core.language_models import BaseChatModel

from yakuba.assistant.answer import AnswerPipeline
from yakuba.assistant.schemas import Answer, AnswerEvent, AnswerRequest
from yakuba.core.settings import Settings, validate_tenant
from yakuba.retriever.filters import SearchFilters
from yakuba.retriever.search import HybridSearcher, Mode, Passage, SearchResult, open_searcher

if TYPE_CHECKING:
    from yakuba.assistant.drafts.minutes import MinutesDraft, MinutesRequest
    from yakuba.assistant.drafts.pr_article import PRArticleDraft, PRArticleRequest

_UNSET = object()


class Assistant:
    def __init__(
        self,
        settings: Settings,
        tenant: str,
        *,
        searcher: HybridSearcher | None = None,
        chat_model: BaseChatModel | None | object = _UNSET,
        engine: str | None = None,
    ) -> None:
        self.settings = settings
        self.tenant = validate_tenant(tenant)
        self.engine = engine or settings.chat_engine
        self._searcher = searcher
        self._chat_model = chat_model
        self._lock = threading.Lock()

    # -- lazily loaded parts ----------------------------------------------------------------
    @property
    def searcher(self) -> HybridSearcher:
        with self._lock:
            if self._searcher is None:
                self._searcher = open_searcher(self.settings, self.tenant)
            return self._searcher

    @property
    def chat_model(self) -> BaseChatModel | None:
        with self._lock:
            if self._chat_model is _UNSET:
                if self.engine == "extractive":
                    self._chat_model = None
                else:
                    from yakuba.assistant.llm import chat_model_for

                    self._chat_model = chat_model_for(self.settings, self.engine)
            return self._chat_model  # type: ignore[return-value]

    def _mask(self) -> Callable[[str], str] | None:
        """Personal data is masked before text leaves the machine (settings.pii_mask_remote)."""
        if self.engine != "openai" or not self.settings.pii_mask_remote:
            return None
        from yakuba.assistant.pii import mask_pii

        return lambda text: mask_pii(text).text

    def pipeline(self, engine: str | None = None) -> AnswerPipeline:
        chosen = engine or self.engine
        if chosen == self.engine:
            model = self.chat_model
        elif chosen == "extractive":
            model = None
        else:
            from yakuba.assistant.llm import chat_model_for

            model = chat_model_for(self.settings, chosen)
        return AnswerPipeline(
            self.searcher,
            model,
            engine=chosen,
            passages=self.settings.answer_passages,
            passage_chars=self.settings.answer_passage_chars,
            prompt_chars=self.settings.answer_prompt_chars,
            adaptive_passages=self.settings.answer_adaptive_passages,
            history_turns=self.settings.answer_history_turns,
            min_coverage=self.settings.abstain_min_score,
            mask=self._mask() if chosen == "openai" else None,
        )

    # -- answers ------------------------------------------------------------------------------
    def answer(self, request: AnswerRequest) -> Answer:
        return self.pipeline(request.engine).answer(request)

    def stream(self, request: AnswerRequest) -> Iterator[AnswerEvent]:
        return self.pipeline(request.engine).stream(request)

    def search(
        self, query: str, *, k: int = 10, mode: Mode = "hybrid", filters: SearchFilters | None = None
    ) -> SearchResult:
        return self.searcher.search(query, k=k, mode=mode, filters=filters)

    def search_passages(self, query: str, k: int) -> list[Passage]:
        return self.searcher.search(query, k=k).passages

    # -- drafting -----------------------------------------------------------------------------
    def draft_minutes(self, request: MinutesRequest) -> MinutesDraft:
        from yakuba.assistant.drafts.minutes import draft_minutes

        return draft_minutes(request, self.chat_model, mask=self._mask())

    def draft_pr_article(self, request: PRArticleRequest) -> PRArticleDraft:
        from yakuba.assistant.drafts.pr_article import draft_pr_article

        return draft_pr_article(request, self.chat_model, self.search_passages, mask=self._mask())

    # -- one per tenant per process ---------------------------------------------------------------
    _instances: dict[tuple[str, str, str], Assistant] = {}
    _instances_lock = threading.Lock()

    @classmethod
    def open(cls, settings: Settings, tenant: str) -> Assistant:
        key = (str(settings.home.resolve()), validate_tenant(tenant), settings.chat_engine)
        with cls._instances_lock:
            if key not in cls._instances:
                cls._instances[key] = cls(settings, tenant)
            return cls._instances[key]
