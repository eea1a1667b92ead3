"""Report folders (report.json/md/html + plots) and the paired-bootstrap comparison, on hand-made runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from yakuba.assistant.schemas import Citation
from yakuba.cli.app import app
from yakuba.evals.answers import METRICS, AnswerReport, QuestionRecord, RunConfig, aggregate
from yakuba.evals.compare import compare_reports, paired_bootstrap, run_compare
from yakuba.evals.report import ReportError, abstention_table, breakdown, load_report, write_report

PNG = b"\x89PNG\r\n\x1a\n"


def _record(qid: str, *, contains: float | None, grounded: float | None = 1.0, should_abstain: bool = False,
            abstained: bool = False, group: str = "answerable", ttft: float = 100.0,
            question: str = "質問", reason: str | None = None) -> QuestionRecord:
    scores: dict[str, float | None] = dict.fromkeys(METRICS)
    scores.update(answer_contains=contains, char_f1=contains, citation_precision=contains, citation_recall=contains,
                  groundedness=grounded, abstention_accuracy=float(abstained == should_abstain))
    return QuestionRecord(
        id=qid, question=question, gold_answers=["答え"], gold_doc_ids=[] if should_abstain else ["d1"],
        should_abstain=should_abstain, unanswerable="removed" if should_abstain else None, group=group,
        answer="答えです[1]。" if not abstained else "確認できませんでした。", abstained=abstained,
        citations=[] if abstained else [Citation(n=1, doc_id="d1", title="文書1", excerpt="答えである。", score=1.0)],
        cited_doc_ids=[] if abstained else ["d1"], scores=scores, ttft_ms=ttft, total_ms=ttft * 2,
        abstain_reason=reason if abstained else None,
    )


def _report(records: list[QuestionRecord], *, engine: str = "extractive", dataset_hash: str = "h") -> AnswerReport:
    values, counts = aggregate(records)
    config = RunConfig(engine=engine, mode="hybrid", limit=None, unanswerable_share=0.2, seed=0, support_method="tokens",
                       support_threshold=0.5, chat_model=None, embedding_model="m", settings={}, git_commit="abc",
                       git_dirty=False, yakuba_version="0")
    return AnswerReport(dataset="toy", dataset_path="/toy", dataset_hash=dataset_hash, questions_hash="q",
                        created_at="2026-01-01T00:00:00+00:00", config=config, aggregate=values, counts=counts,
                        n_questions=len(records), n_unanswerable=sum(r.should_abstain for r in records),
                        n_errors=0, questions=records)


def test_aggregate_is_over_defined_values_only() -> None:
    records = [
        _record("a", contains=1.0, ttft=100),
        _record("b", contains=0.0, ttft=200),
        _record("c", contains=None, grounded=None, should_abstain=True, abstained=True, ttft=300),
        _record("d", contains=None, grounded=1.0, should_abstain=True, abstained=False, ttft=400),
    ]
    values, counts = aggregate(records)
    assert values["answer_contains"] == pytest.approx(0.5) and counts["answer_contains"] == 2
    assert values["groundedness"] == pytest.approx(1.0) and counts["groundedness"] == 3
    assert values["abstention_accuracy"] == pytest.approx(0.75) and counts["abstention_accuracy"] == 4
    # p50 of [100, 200, 300, 400] = 250; p95 = 100 + 0.95·3·100... position 2.85 → 300 + 0.85·100 = 385
    assert values["ttft_p50_ms"] == pytest.approx(250) and values["ttft_p95_ms"] == pytest.approx(385)
    assert values["total_p50_ms"] == pytest.approx(500)
    assert abstention_table(records) == {
        "answerable": {"n": 2, "abstained": 0, "accuracy": 1.0},
        "removed": {"n": 2, "abstained": 1, "accuracy": 0.5},
    }


@pytest.mark.integration
def test_write_report_folder(tmp_path: Path) -> None:
    records = [
        _record("a", contains=1.0, group="議会会議録", question="<script>alert(1)</script>の件"),
        _record("b", contains=0.0, group="計画"),
        _record("c", contains=None, grounded=None, should_abstain=True, abstained=True, group="計画",
                reason="member_question_not_found"),
        _record("e", contains=0.0, abstained=True, group="計画", reason="low_relevance"),
        _record("f", contains=0.0, abstained=True, group="計画", reason="low_relevance"),
    ]
    report = _report(records)
    written = write_report(report, tmp_path / "r")
    names = {p.name for p in (tmp_path / "r").iterdir()}
    assert names == {"report.json", "report.md", "report.html", "scores.png", "latency.png", "breakdown.png"}
    for key in ("scores", "latency", "breakdown"):
        data = written[key].read_bytes()
        assert data.startswith(PNG) and len(data) > 5000
    assert load_report(tmp_path / "r") == report
    assert load_report(tmp_path / "r" / "report.json").summary() == report.summary()
    md = written["md"].read_text(encoding="utf-8")
    assert "| answer_contains | 正解を含む | 0.250 | 4 |" in md
    assert "| 計画 | 4 |" in md and "| 議会会議録 | 1 |" in md  # per-type breakdown
    assert "![scores](scores.png)" in md
    assert "理由 / reasons: low_relevance 2, member_question_not_found 1" in md
    assert "(保留: member_question_not_found)" in md
    html = written["html"].read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;の件" in html and "<script>" not in html
    assert html.count("data:image/png;base64,") == 3  # plots embedded: the file stands alone
    assert "理由 / reasons: low_relevance 2, member_question_not_found 1" in html
    assert breakdown(records)["計画"] == {"n": 4, "answer_contains": 0.0, "char_f1": 0.0,
                                          "citation_precision": 0.0, "citation_recall": 0.0,
                                          "groundedness": 1.0, "abstention_accuracy": pytest.approx(0.5),
                                          "japanese_only": None}


def test_load_report_errors(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="見つかりません"):
        load_report(tmp_path)
    (tmp_path / "report.json").write_text(json.dumps({"dataset": "x"}), encoding="utf-8")
    with pytest.raises(ReportError, match="読めません"):
        load_report(tmp_path)


def test_paired_bootstrap_matches_the_binomial_interval() -> None:
    # 100 questions, 30 improved by 1 and 70 unchanged: the mean difference is 0.3 and its resampled
    # means follow Binomial(100, 0.3)/100, whose 95% interval is about 0.3 ± 1.96·0.0458 = [0.21, 0.39]
    diff = np.array([1.0] * 30 + [0.0] * 70)
    low, high = paired_bootstrap(diff, n_boot=20_000, seed=0)
    assert low == pytest.approx(0.21, abs=0.015) and high == pytest.approx(0.39, abs=0.015)
    assert paired_bootstrap(diff, n_boot=2000, seed=5) == paired_bootstrap(diff, n_boot=2000, seed=5)
    assert paired_bootstrap(np.array([0.5, 0.5, 0.5]), n_boot=500) == (0.5, 0.5)
    with pytest.raises(ValueError):
        paired_bootstrap(np.array([]))


def test_compare_matches_by_id_and_flags_real_changes(tmp_path: Path) -> None:
    a = _report([_record(f"q{i}", contains=0.0, ttft=100) for i in range(40)])
    # B: same questions in reverse order plus one more; every answer now right, latency +50 ms
    b_records = [_record(f"q{i}", contains=1.0, ttft=150) for i in reversed(range(40))]
    b = _report([*b_records, _record("extra", contains=1.0)], engine="local")
    comparison = compare_reports(a, b)
    assert comparison.matched == 40 and comparison.only_a == 0 and comparison.only_b == 1
    by_metric = {m.metric: m for m in comparison.metrics}
    contains = by_metric["answer_contains"]
    assert (contains.a, contains.b, contains.delta) == (0.0, 1.0, 1.0)
    assert (contains.ci_low, contains.ci_high, contains.excludes_zero) == (1.0, 1.0, True)
    assert contains.verdict == "B better"
    assert by_metric["ttft_ms"].delta == pytest.approx(50) and by_metric["ttft_ms"].verdict == "B worse"
    same = by_metric["groundedness"]
    assert same.delta == 0 and same.excludes_zero is False and same.verdict == "n.s."
    assert not comparison.warnings

    identical = compare_reports(a, a)
    assert all(m.delta in (0, None) and not m.excludes_zero for m in identical.metrics)


def test_compare_warns_about_different_datasets_and_plans() -> None:
    a = _report([_record("q1", contains=1.0), _record("q2", contains=0.0)])
    b = _report([_record("q1", contains=1.0),
                 _record("q2", contains=None, should_abstain=True, abstained=True)], dataset_hash="other")
    comparison = compare_reports(a, b)
    assert len(comparison.warnings) == 2
    assert any("dataset" in w for w in comparison.warnings) and any("abstained on" in w for w in comparison.warnings)
    with pytest.raises(ValueError, match="共通の質問"):
        compare_reports(a, _report([_record("zz", contains=1.0)]))


@pytest.mark.integration
def test_compare_cli_writes_files(tmp_path: Path) -> None:
    write_report(_report([_record(f"q{i}", contains=float(i % 2)) for i in range(10)]), tmp_path / "a")
    write_report(_report([_record(f"q{i}", contains=1.0) for i in range(10)]), tmp_path / "b")
    result = CliRunner().invoke(app, ["eval", "compare", str(tmp_path / "a"), str(tmp_path / "b"),
                                      "--out", str(tmp_path / "cmp")])
    assert result.exit_code == 0, result.output
    assert "answer_contains" in result.stdout and "95% CI" in result.stdout
    md = (tmp_path / "cmp" / "compare.md").read_text(encoding="utf-8")
    assert "| answer_contains | 10 | 0.500 | 1.000 | +0.500 |" in md
    data = json.loads((tmp_path / "cmp" / "compare.json").read_text(encoding="utf-8"))
    assert data["matched"] == 10
    _, files = run_compare(tmp_path / "a", tmp_path / "b")
    assert files == {}
    missing = CliRunner().invoke(app, ["eval", "compare", str(tmp_path / "a"), str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "見つかりません" in missing.output


def test_japanese_only_scores_answers_and_fills_reports_written_before_it() -> None:
    record = _record("q1", contains=1.0)
    old = record.model_dump()
    old["scores"].pop("japanese_only")
    assert QuestionRecord.model_validate(old).scores["japanese_only"] == 1.0
    old["answer"] = "这个条例的目的是普及手话[1]。"  # simplified-only hanzi: a slip into Chinese
    assert QuestionRecord.model_validate(old).scores["japanese_only"] == 0.0
    old["answer"] = "남국시 조례입니다[1]。"  # Hangul
    assert QuestionRecord.model_validate(old).scores["japanese_only"] == 0.0
