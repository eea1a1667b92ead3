"""Drafting benchmark: the raw-transcript generator, the scores, and a small slice that must meet the targets.

The slice runs on the real sources (Kiryu's 令和4年 minutes and question lists in ../shared/training,
the Otoineppu newsletters in ../shared/corpora/pdfs). The "local" column is produced by a scripted
LangChain chat model (a test double: the 1.5B GGUF takes minutes per case on two cores); the full
numbers with the real model come from `yakuba eval drafts`.
"""

from __future__ import annotations

import re

import pytest

from tests.assistant.test_drafts_minutes import ScriptedChatModel
from yakuba.assistant.drafts.common import arabic_numerals
from yakuba.evals.draft_sources import MINUTES_FILE, NEWSLETTER_DIR, Turn, raw_transcript, spoken_numbers
from yakuba.evals.drafts import (
    article_facts,
    cer,
    render_markdown,
    run_drafts_eval,
    topic_mentioned,
    write_report,
)

TURNS = [
    Turn(speaker="北川久人", text="ただいまの出席議員は22名であります。会期は本日から3月18日までの26日間といたしたいと思います。"),
    Turn(speaker="関口直久", text="報告第1号について、3点ほどお伺いします。まず1点目、給付金の支給状況はどのようになっているのか。"),
    Turn(speaker="北川久人", text="総務部長。"),
]  # fmt: skip


def test_raw_transcript_looks_like_a_tool_wrote_it_and_is_seeded() -> None:
    raw = raw_transcript(TURNS, seed=3)
    assert raw == raw_transcript(TURNS, seed=3)
    assert raw.vtt != raw_transcript(TURNS, seed=4).vtt
    assert raw.vtt.startswith("WEBVTT") and "<v 話者1>" in raw.vtt and "<v 話者2>" in raw.vtt
    assert raw.labels == {"話者1": "北川久人", "話者2": "関口直久"}
    assert not re.search(r"[。、]", raw.plain)
    assert "二十二名" in raw.plain and "三月十八日" in raw.plain and not re.search(r"\d", raw.plain)
    fillers = raw_transcript(TURNS * 4, seed=0, filler_rate=1.0).plain
    assert all(f in fillers for f in ("えー", "あの", "まあ"))


@pytest.mark.parametrize(
    "digits", ["22名", "令和4年第1回定例会", "3月18日までの26日間", "14,801世帯", "24.5%", "第79条", "2022年"]
)
def test_spoken_numbers_come_back_as_digits(digits: str) -> None:
    spoken = spoken_numbers(digits)
    assert not re.search(r"\d", spoken)
    assert arabic_numerals(spoken).replace(",", "") == digits.replace(",", "")


def test_words_that_look_like_numbers_stay() -> None:
    for word in ("一般質問", "十分に検討", "一人ひとり", "一部の地域", "万一の場合"):
        assert arabic_numerals(word) == word


def test_scores() -> None:
    assert cer("本日は晴れです。", "本日は、晴れです") == 0.0  # punctuation does not count
    assert cer("あいうえお", "あいうえ") == pytest.approx(0.2)
    assert topic_mentioned("住宅団地の世帯数について", "市内の住宅団地の世帯数は減っています。")
    assert not topic_mentioned("カッコソウの保護について", "住宅団地の世帯数は減っています。")
    facts = dict((fact, kind) for kind, fact in article_facts("7月12日(金)午前9時から保健福祉センターで。費用は1,000円、定員30人。☎ 9 ‐ 3050"))
    assert facts == {
        "7月12日(金)": "date", "午前9時": "time", "1,000円": "amount", "30人": "count", "9-3050": "phone",
        "保健福祉センター": "place",
    }  # fmt: skip


@pytest.mark.integration
@pytest.mark.skipif(not MINUTES_FILE.exists() or not NEWSLETTER_DIR.exists(), reason="../shared sources missing")
def test_benchmark_slice_meets_the_targets(tmp_path) -> None:  # noqa: ANN001
    """Both drafters on real texts: the issue's targets, and the local column beside the extractive one."""

    def punctuate_or_rewrite(system: str, user: str) -> str:
        if "句読点" in system:  # a careful model: punctuation only
            return re.sub(r"(ます|です)(?!。)", r"\1。", user)
        return "本文の書き換えで、9999年に始まった新しい事業です。"  # invents a date: must be rejected

    model = ScriptedChatModel(reply=punctuate_or_rewrite)
    report = run_drafts_eval(
        None, verbatim_cases=4, summary_days=1, articles=5, local_sample=1, chat_model=model, seed=1,
    )  # fmt: skip
    extractive = [r for r in report.verbatim if r.engine == "extractive"]
    assert len(extractive) == 4 and all(r.draft_cer <= r.raw_cer / 2 for r in extractive), extractive
    assert all(r.turn_accuracy >= 0.9 for r in extractive)
    summary = report.summary[0]
    assert summary.topics >= 10 and summary.topic_coverage >= 0.3 and summary.length_ratio < 0.2
    pr = [r for r in report.pr if r.engine == "extractive"]
    assert len(pr) == 5
    assert sum(len(r.invented) for r in pr) == 0 and sum(len(r.off_topic) for r in pr) == 0
    assert sum(r.fact_recall for r in pr) / len(pr) >= 0.9
    local = [r for r in report.pr if r.engine == "local"]
    assert local and not local[0].invented  # the invented 9999年 was caught and replaced
    aggregates = report.aggregates()
    assert set(aggregates["verbatim"]) == {"extractive", "local"}
    assert aggregates["verbatim"]["extractive"]["cer_ratio"] <= 0.5
    assert report.calibration and report.calibration[0].recall == 1.0
    written = write_report(report, tmp_path / "drafts")
    markdown = written["md"].read_text(encoding="utf-8")
    assert markdown == render_markdown(report)
    assert "| 指標 | extractive | local |" in markdown and "逐語整文" in markdown and "広報記事" in markdown


@pytest.mark.integration
@pytest.mark.skipif(not NEWSLETTER_DIR.exists(), reason="../shared newsletters missing")
def test_cli_runs_one_task_and_writes_the_report(settings, tmp_path) -> None:  # noqa: ANN001
    import json

    from typer.testing import CliRunner

    from yakuba.cli.app import app

    out = tmp_path / "drafts"
    result = CliRunner().invoke(
        app, ["eval", "drafts", "--task", "pr", "--articles", "3", "--local-sample", "0", "--json", "--report", str(out)]
    )
    assert result.exit_code == 0, result.output
    aggregates = json.loads(result.stdout.strip().splitlines()[-1])
    assert aggregates["pr"]["extractive"]["cases"] == 3 and aggregates["pr"]["extractive"]["invented_facts"] == 0
    assert json.loads((out / "report.json").read_text(encoding="utf-8"))["aggregates"] == aggregates
    bad = CliRunner().invoke(app, ["eval", "drafts", "--task", "minutes"])
    assert bad.exit_code != 0 and "--task" in bad.output
