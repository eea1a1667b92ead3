"""The adaptive passage count: the model reads one passage when one clearly answers, all of them otherwise,
and the passages keep their source numbers so citations and the checks still work."""

from __future__ import annotations

import re
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from pydantic import Field

from yakuba.assistant.answer import AnswerPipeline
from yakuba.assistant.extractive import select_sentences
from yakuba.assistant.passage_budget import prompt_passages, prompt_windows
from yakuba.assistant.relevance import assess
from yakuba.assistant.schemas import AnswerRequest
from yakuba.retriever.search import Passage, SearchResult

BOUSAI = (
    "本町は、防災行政無線の更新と避難所の耐震化を令和5年度までに完了する。"
    "また、自主防災組織の結成率を令和7年度に80%とすることを目標とする。"
)
GOMI = [
    "ごみ処理施設の更新については、令和8年度の稼働を目指して用地の選定を進めております。",
    "ごみ処理施設の更新に伴い、令和8年度から収集体制と収集日を見直す予定です。",
    "新しいごみ処理施設の更新計画では、令和8年度の完成に向けて建設費を約120億円と見込んでいます。",
]
OTHERS = [
    "図書館の開館時間は、平日は午前9時から午後7時まで、土曜日・日曜日・祝日は午後5時までです。",
    "水道料金の改定は令和6年4月から実施し、基本料金を月額1,100円とします。",
    "住民票の写しの交付手数料は1通300円で、マイナンバーカードがあればコンビニでも取得できます。",
]


def passage(text: str, doc_id: str) -> Passage:
    return Passage(chunk_id=doc_id + "#0", doc_id=doc_id, title=doc_id, doc_type="計画", text=text, score=1.0)


def chosen_for(question: str, texts: list[str]) -> list[int]:
    """What the pipeline decides from its own signals: relevance coverage and the evidence passage."""
    numbered = {n: passage(t, f"d{n}.md") for n, t in enumerate(texts, start=1)}
    relevance = assess(question, list(numbered.values()))
    evidence = select_sentences(question, numbered)
    coverage = {n: relevance.passage_coverage[n - 1] for n in numbered}
    return prompt_passages(list(numbered), coverage, evidence[0].n if evidence else None)


def test_one_passage_when_it_clearly_answers() -> None:
    assert chosen_for("防災行政無線の更新はいつまでに完了しますか", [BOUSAI, *OTHERS]) == [1]


def test_all_passages_when_several_answer_about_as_well() -> None:
    assert chosen_for("ごみ処理施設の更新はいつですか", [*GOMI, OTHERS[0]]) == [1, 2, 3, 4]


def test_the_answering_passage_keeps_its_number() -> None:
    assert chosen_for("防災行政無線の更新はいつまでに完了しますか", [*OTHERS[:2], BOUSAI, OTHERS[2]]) == [3]


def test_rules_on_coverage() -> None:
    numbers = [1, 2, 3, 4]
    assert prompt_passages(numbers, {1: 0.3, 2: 0.95, 3: 0.4, 4: 0.2}, 2) == [2]
    assert prompt_passages(numbers, {1: 0.3, 2: 0.95, 3: 0.8, 4: 0.2}, 2) == [2, 3]  # one close contender
    assert prompt_passages(numbers, {1: 0.9, 2: 0.95, 3: 0.8, 4: 0.2}, 2) == numbers  # several: no clear answer
    assert prompt_passages(numbers, {1: 0.3, 2: 0.6, 3: 0.1, 4: 0.1}, 2) == numbers  # best holds too little
    assert prompt_passages(numbers, {1: 0.3, 2: 0.95}, None) == numbers  # no evidence sentence


class FixedSearcher:
    """Retrieval that returns the given passages in order (no BM25: coverage is unweighted)."""

    has_bm25 = False

    def __init__(self, passages: list[Passage]) -> None:
        self.passages = passages

    def search(self, query: str, *, k: int = 10, mode: str = "hybrid", filters: Any = None) -> SearchResult:
        return SearchResult(query=query, normalized_query=query, mode="hybrid", passages=self.passages[:k])


class RecordingModel(GenericFakeChatModel):
    """The scripted fake of test_answer.py that also keeps the prompts it was given."""

    prompts: list[list[BaseMessage]] = Field(default_factory=list)

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.prompts.append(list(messages))
        return super()._generate(messages, *args, **kwargs)


QUESTION = "防災行政無線の更新はいつまでに完了しますか"
RETRIEVED = [passage(OTHERS[0], "library.md"), passage(OTHERS[1], "water.md"), passage(BOUSAI, "bousai.md"),
             passage(OTHERS[2], "juminhyo.md"), passage(GOMI[0], "gomi.md")]


def ask(reply: str, *, adaptive: bool = True) -> tuple[Any, str]:
    model = RecordingModel(messages=iter([AIMessage(reply)]))
    pipeline = AnswerPipeline(FixedSearcher(RETRIEVED), model, engine="local", passages=4, adaptive_passages=adaptive)
    answer = pipeline.answer(AnswerRequest(question=QUESTION))
    assert len(model.prompts) == 1
    return answer, str(model.prompts[0][-1].content)


def test_the_model_reads_only_the_answering_passage_under_its_source_number() -> None:
    answer, prompt = ask("防災行政無線の更新は令和5年度までに完了します[3]。")
    assert "[3] bousai.md" in prompt and "令和5年度" in prompt
    assert all(f"[{n}]" not in prompt for n in (1, 2, 4)) and "図書館" not in prompt
    assert answer.engine == "local" and answer.fallback is None
    assert [c.doc_id for c in answer.citations] == ["bousai.md"] and "[3]" in answer.answer
    assert [s.n for s in answer.sources][:5] == [1, 2, 3, 4, 5]  # the sources list is unchanged


def test_without_adaptive_passages_the_model_reads_all_k() -> None:
    _, prompt = ask("防災行政無線の更新は令和5年度までに完了します[3]。", adaptive=False)
    assert all(f"[{n}]" in prompt for n in (1, 2, 3, 4)) and "[5]" not in prompt


def test_a_marker_for_a_passage_the_model_did_not_read_is_replaced() -> None:
    """A small model writes [1] out of habit; passage 1 was not in its prompt, so the marker goes and
    the sentence gets the marker of the passage it read that supports it."""
    answer, _ = ask("防災行政無線の更新と避難所の耐震化は令和5年度までに完了します[1]。")
    assert answer.fallback is None and "[1]" not in answer.answer and "[3]" in answer.answer
    assert [c.doc_id for c in answer.citations] == ["bousai.md"]
    assert any("[1]" in notice for notice in answer.notices)


def test_a_failing_answer_still_falls_back_to_the_evidence() -> None:
    answer, _ = ask("防災行政無線の更新は2035年度までに完了します[3]。")
    assert answer.engine == "extractive" and answer.fallback == "facts"
    assert answer.evidence is not None and answer.answer == answer.evidence.text and "令和5年度" in answer.answer


# -- one character budget for the whole prompt ------------------------------------------------------
def test_windows_share_the_budget_equally() -> None:
    assert prompt_windows([1, 2], 1, passage_chars=300, prompt_chars=600) == {1: 300, 2: 300}
    assert prompt_windows([1, 2, 3, 4], 2, passage_chars=300, prompt_chars=600) == {1: 150, 2: 150, 3: 150, 4: 150}
    assert prompt_windows([3], 3, passage_chars=300, prompt_chars=600) == {3: 300}  # never above passage_chars
    assert prompt_windows([1, 2, 3, 4], 2, passage_chars=300, prompt_chars=None) == dict.fromkeys([1, 2, 3, 4], 300)


def test_a_tight_budget_leaves_out_the_lowest_ranked_but_never_the_evidence_passage() -> None:
    assert prompt_windows([1, 2, 3, 4], 4, passage_chars=300, prompt_chars=450) == {1: 150, 2: 150, 4: 150}
    assert prompt_windows([1, 2, 3, 4], 1, passage_chars=300, prompt_chars=450) == {1: 150, 2: 150, 3: 150}
    assert prompt_windows([2, 4], 4, passage_chars=300, prompt_chars=100) == {4: 150}  # one window at least
    assert prompt_windows([], None, passage_chars=300, prompt_chars=600) == {}


def test_the_budget_bounds_what_the_model_reads() -> None:
    """Four passages that all answer about as well: the model reads four short windows, not 4 × 300."""
    long_gomi = [text * 4 for text in GOMI] + [OTHERS[0] * 4]
    model = RecordingModel(messages=iter([AIMessage("令和8年度の稼働を目指しています[1]。")]))
    retrieved = [passage(t, f"g{n}.md") for n, t in enumerate(long_gomi, start=1)]
    pipeline = AnswerPipeline(FixedSearcher(retrieved), model, engine="local", passages=4, prompt_chars=600)
    pipeline.answer(AnswerRequest(question="ごみ処理施設の更新はいつですか"))
    quoted = re.findall(r"<資料>\n(.*?)\n</資料>", str(model.prompts[0][-1].content), re.S)
    assert len(quoted) == 4 and all(len(q) <= 150 for q in quoted) and sum(map(len, quoted)) <= 600
