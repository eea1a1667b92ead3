"""The answer benchmark: unanswerable generation, timing, scoring, and the CLI's JSON contract."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from tests.helpers import DATA
from yakuba.assistant.schemas import Answer, AnswerEvent, AnswerRequest, Citation
from yakuba.cli.app import app
from yakuba.core.settings import Settings, get_settings
from yakuba.evals.answers import PlannedQuestion, ask, plan_unanswerable, score_question, select_questions
from yakuba.evals.datasets import Question, load_dataset
from yakuba.evals.report import load_report
from yakuba.evals.retrieval import EVAL_TENANT, index_dir
from yakuba.retriever.store import TenantStore

MINI = DATA / "jsquad-mini"
CONTRACT_KEYS = {
    "answer_contains", "char_f1", "citation_precision", "citation_recall", "groundedness", "abstention_accuracy",
    "japanese_only", "ttft_p50_ms", "ttft_p95_ms", "total_p50_ms", "total_p95_ms", "n_questions",
}  # fmt: skip


def _q(qid: str, gold: list[str], answerable: bool | None = None) -> Question:
    data: dict = {"id": qid, "question": f"{qid}?", "answers": ["x"], "gold_doc_ids": gold}
    if answerable is not None:
        data["answerable"] = answerable
    return Question.model_validate(data)


QUESTIONS = [
    _q("q1", ["a"]),
    _q("q2", ["a"]),  # shares its only gold document with q1
    _q("q3", ["b"]),
    _q("q4", ["c", "d"]),
    _q("q5", ["d"]),  # removing q5's gold leaves q4 with c
    _q("q6", ["e"]),
    _q("q7", [], answerable=False),  # unanswerable in the file
]


def _made_unanswerable(plan) -> set[str]:  # type: ignore[no-untyped-def]
    return {p.question.id for p in plan.questions if p.unanswerable == "removed"}


def test_plan_meets_the_share_exactly_and_counts_shared_gold() -> None:
    # 6 answerable candidates × 0.5 = 3 made unanswerable, whatever the seed picks first
    for seed in range(20):
        plan = plan_unanswerable(QUESTIONS, 0.5, seed)
        made = _made_unanswerable(plan)
        assert len(made) == 3, seed
        removed = set(plan.removed_doc_ids)
        # every made-unanswerable question lost all of its gold documents, the others kept some
        for planned in plan.questions:
            if planned.unanswerable == "removed":
                assert set(planned.question.gold_doc_ids) <= removed and planned.gold_doc_ids == []
                assert planned.should_abstain
            elif planned.unanswerable is None:
                assert planned.gold_doc_ids and not planned.should_abstain
                assert set(planned.gold_doc_ids) == set(planned.question.gold_doc_ids) - removed
        # shared gold: q1 and q2 go together or not at all
        assert ("q1" in made) == ("q2" in made)
        q7 = next(p for p in plan.questions if p.question.id == "q7")
        assert q7.should_abstain and q7.unanswerable == "dataset"


def test_plan_is_seeded_and_partial_removal_keeps_the_rest() -> None:
    first = plan_unanswerable(QUESTIONS, 0.5, 7)
    assert plan_unanswerable(QUESTIONS, 0.5, 7) == first
    assert len({tuple(sorted(_made_unanswerable(plan_unanswerable(QUESTIONS, 0.5, s)))) for s in range(20)}) > 1
    for seed in range(20):
        plan = plan_unanswerable(QUESTIONS, 0.5, seed)
        q4 = next(p for p in plan.questions if p.question.id == "q4")
        if "d" in plan.removed_doc_ids and "c" not in plan.removed_doc_ids:
            assert q4.gold_doc_ids == ["c"] and not q4.should_abstain
            break
    else:
        pytest.fail("no seed removed d alone; the partial-removal case went untested")


def test_select_first_or_a_seeded_sample_in_dataset_order() -> None:
    assert [q.id for q in select_questions(QUESTIONS, limit=2)] == ["q1", "q2"]
    picked = select_questions(QUESTIONS, sample=3, seed=5)
    assert len(picked) == 3 and picked == sorted(picked, key=QUESTIONS.index)
    assert select_questions(QUESTIONS, sample=3, seed=5) == picked
    assert len({tuple(q.id for q in select_questions(QUESTIONS, sample=3, seed=s)) for s in range(10)}) > 1
    assert select_questions(QUESTIONS, sample=50) == QUESTIONS
    with pytest.raises(ValueError):
        select_questions(QUESTIONS, limit=2, sample=2)


def test_plan_extremes_and_bad_share() -> None:
    none = plan_unanswerable(QUESTIONS, 0.0, 0)
    assert none.removed_doc_ids == [] and _made_unanswerable(none) == set()
    every = plan_unanswerable(QUESTIONS, 1.0, 0)
    assert _made_unanswerable(every) == {"q1", "q2", "q3", "q4", "q5", "q6"}
    with pytest.raises(ValueError, match="0〜1"):
        plan_unanswerable(QUESTIONS, 1.5, 0)


class FakeAssistant:
    """Stands in for assistant.service.Assistant to test timing and error handling only."""

    def __init__(self, events: list[AnswerEvent] | Exception) -> None:
        self.events = events

    def stream(self, request: AnswerRequest) -> Iterator[AnswerEvent]:
        if isinstance(self.events, Exception):
            raise self.events
        yield from self.events


def _answer(text: str, citations: list[Citation], abstained: bool = False) -> Answer:
    return Answer(answer=text, abstained=abstained, citations=citations, engine="fake")


def test_ask_times_first_token_and_records_errors() -> None:
    cite = Citation(n=1, doc_id="a", title="A", excerpt="任期は5年である。", score=1.0)
    final = _answer("任期は5年です[1]。", [cite])
    events = [
        AnswerEvent(type="sources", sources=[cite]),
        AnswerEvent(type="token", text="任期は"),
        AnswerEvent(type="token", text="5年です[1]。"),
        AnswerEvent(type="answer", answer=final),
    ]
    answer, ttft, total, error = ask(FakeAssistant(events), "任期は？")
    assert answer == final and error is None
    assert ttft is not None and 0 <= ttft <= total
    # no token event: the final answer is the first text
    answer, ttft, total, error = ask(FakeAssistant(events[:1] + events[-1:]), "任期は？")
    assert answer == final and ttft is not None
    _, _, _, error = ask(FakeAssistant([AnswerEvent(type="error", error="model crashed")]), "q")
    assert error == "model crashed"
    _, _, _, error = ask(FakeAssistant(RuntimeError("boom")), "q")
    assert error == "RuntimeError: boom"


def test_score_question_applies_each_metric_to_the_right_questions() -> None:
    cite = Citation(n=1, doc_id="a", title="A", excerpt="任期は5年である。", score=1.0)
    answerable = PlannedQuestion(question=_q("q", ["a"]).model_copy(update={"answers": ["5年"]}),
                                 gold_doc_ids=["a"], should_abstain=False)
    scores, verdicts = score_question(answerable, _answer("任期は5年です[1]。", [cite]))
    assert scores == {"answer_contains": 1.0, "char_f1": pytest.approx(4 / 9),  # P 2/7, R 1
                      "citation_precision": 1.0, "citation_recall": 1.0, "groundedness": 1.0,
                      "abstention_accuracy": 1.0, "japanese_only": 1.0}
    assert len(verdicts) == 1
    # abstaining on an answerable question: answer and citation metrics 0, groundedness n/a
    scores, _ = score_question(answerable, _answer("ご質問の内容は…", [], abstained=True))
    assert scores["answer_contains"] == 0.0 and scores["citation_recall"] == 0.0
    assert scores["groundedness"] is None and scores["abstention_accuracy"] == 0.0
    # a question that must be abstained on: only abstention (and groundedness of a wrong answer)
    removed = PlannedQuestion(question=_q("r", ["a"]), gold_doc_ids=[], should_abstain=True,
                              unanswerable="removed")
    scores, _ = score_question(removed, _answer("任期は5年です[1]。", [cite]))
    assert scores["answer_contains"] is None and scores["citation_precision"] is None
    assert scores["abstention_accuracy"] == 0.0 and scores["groundedness"] == 1.0
    # a failed question scores as an empty, non-abstaining answer
    scores, _ = score_question(answerable, None)
    assert scores["answer_contains"] == 0.0 and scores["groundedness"] == 0.0
    assert scores["abstention_accuracy"] == 1.0


def _run(*args: str):  # type: ignore[no-untyped-def]
    get_settings.cache_clear()
    return CliRunner().invoke(app, list(args))


@pytest.mark.slow
def test_eval_answers_json_contract_report_and_isolated_removal(settings: Settings, tmp_path) -> None:
    out = tmp_path / "report-hybrid"
    result = _run("eval", "answers", str(MINI), "--engine", "extractive", "--unanswerable-share", "0.25",
                  "--json", "--report", str(out))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(summary) >= CONTRACT_KEYS
    assert summary["n_questions"] == 24 and summary["n_unanswerable"] == 6  # round(0.25 × 24)
    assert summary["engine"] == "extractive" and summary["mode"] == "hybrid"
    for key in CONTRACT_KEYS - {"n_questions"}:
        assert isinstance(summary[key], float) and summary[key] >= 0, key
    for key in ("answer_contains", "char_f1", "citation_precision", "citation_recall", "groundedness",
                "abstention_accuracy", "japanese_only"):
        assert 0 <= summary[key] <= 1, key
    # the extractive engine copies passage sentences and cites them: grounded, and on these easy
    # questions usually right (a failing retriever or citation mapping would drop these)
    assert summary["groundedness"] >= 0.9
    assert summary["citation_recall"] >= 0.5 and summary["answer_contains"] >= 0.5

    report = load_report(out)
    assert {p.name for p in out.iterdir()} >= {"report.json", "report.md", "report.html", "scores.png",
                                               "latency.png", "breakdown.png"}
    assert report.summary() == summary
    removed = set(report.removed_doc_ids)
    assert removed
    for record in report.questions:
        assert not removed & set(record.cited_doc_ids)  # deleted documents are really gone
        assert not removed & {c.doc_id for c in (record.citations or [])}
    # ... from the copy only: the cached index still holds every document
    dataset = load_dataset(MINI)
    cached = TenantStore.open(settings.model_copy(update={"home": index_dir(settings, dataset)}), EVAL_TENANT)
    try:
        assert all(cached.chunk_ids(doc_id) for doc_id in removed)
        assert len(cached.list_documents()) == len(dataset.documents)
    finally:
        cached.close()

    # the same seed makes the same questions unanswerable, so two runs compare question by question
    other = tmp_path / "report-bm25"
    again = _run("eval", "answers", str(MINI), "--engine", "extractive", "--unanswerable-share", "0.25",
                 "--mode", "bm25", "--report", str(other))
    assert again.exit_code == 0, again.output
    assert load_report(other).removed_doc_ids == report.removed_doc_ids
    compared = _run("eval", "compare", str(out), str(other), "--out", str(tmp_path / "cmp"), "--json")
    assert compared.exit_code == 0, compared.output
    data = json.loads(compared.stdout.strip().splitlines()[-1])
    assert data["matched"] == 24 and not data["warnings"]
    assert (tmp_path / "cmp" / "compare.md").is_file() and (tmp_path / "cmp" / "compare.json").is_file()


def test_eval_answers_bad_input(settings: Settings, tmp_path) -> None:
    missing = _run("eval", "answers", str(tmp_path / "nope"), "--engine", "extractive")
    assert missing.exit_code == 2 and "見つかりません" in missing.output
    for args, needle in (
        (["--engine", "gpt"], "--engine"),
        (["--mode", "fuzzy"], "--mode"),
        (["--unanswerable-share", "2"], "0〜1"),
        (["--limit", "0"], "--limit"),
        (["--sample", "0"], "--sample"),
        (["--limit", "3", "--sample", "3"], "同時に"),
        (["--judge", "extractive"], "--judge"),
    ):
        result = _run("eval", "answers", str(MINI), *args)
        assert result.exit_code == 2, args
        assert needle in result.output, (args, result.output)
        assert "Traceback" not in result.output
