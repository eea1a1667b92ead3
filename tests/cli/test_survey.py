"""`yakuba survey analyze`: a survey file → summary, JSON, report folder, saved settings, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.assistant.surveys_support import csv_bytes, small_frame
from yakuba.cli.app import app

runner = CliRunner()
COLUMNS = ["性別", "年代", "満足度（旅行全体）", "訪問目的"]


@pytest.mark.integration
def test_analyze_prints_kinds_and_findings_and_writes_a_rerunnable_report(settings, tmp_path: Path) -> None:
    survey = tmp_path / "アンケート.csv"
    survey.write_bytes(csv_bytes(small_frame(120, COLUMNS), "cp932"))
    shown = runner.invoke(app, ["survey", "analyze", str(survey), "--by", "年代", "--no-themes",
                                "--exclude-rows", "1-2", "--kind", "性別=single", "--report", str(tmp_path / "out")])
    assert shown.exit_code == 0, shown.output
    assert "満足度（旅行全体）" in shown.stdout and "scale" in shown.stdout and "主な結果" in shown.stdout
    saved = json.loads((tmp_path / "out" / "settings.json").read_text(encoding="utf-8"))
    assert saved["by"] == ["年代"] and saved["exclude_rows"] == [1, 2] and saved["kinds"] == {"性別": "single"}
    assert (tmp_path / "out" / "report.docx").is_file() and list((tmp_path / "out" / "charts").glob("*.png"))
    again = runner.invoke(app, ["survey", "analyze", str(survey), "--settings", str(tmp_path / "out" / "settings.json"),
                                "--no-themes", "--json"])
    assert again.exit_code == 0, again.output
    analysis = json.loads(again.stdout.strip().splitlines()[-1])
    assert analysis["overview"]["respondents"] == 118 and analysis["settings"]["by"] == ["年代"]


def test_analyze_explains_bad_files_without_a_traceback(settings, tmp_path: Path) -> None:
    bad = tmp_path / "numbers.csv"
    bad.write_text("1,2,3\n4,5,6\n7,8,9\n", encoding="utf-8")
    result = runner.invoke(app, ["survey", "analyze", str(bad)])
    assert result.exit_code == 2 and "見出し" in result.output and "Traceback" not in result.output
    missing = runner.invoke(app, ["survey", "analyze", str(tmp_path / "none.csv")])
    assert missing.exit_code == 2 and "ファイルがありません" in missing.output
