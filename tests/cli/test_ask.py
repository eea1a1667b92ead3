"""`yakuba ask` end to end: ingest a small document, ask, get a cited answer (JSON contract too)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from yakuba.cli.app import app

runner = CliRunner()


@pytest.mark.integration
def test_ask_answers_with_citation_and_json(settings, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("YAKUBA_CHAT_ENGINE", "extractive")
    doc = tmp_path / "gomi.md"
    doc.write_text("# ごみ収集\n燃やせるごみの収集日は毎週月曜日と木曜日です。祝日も収集します。\n", encoding="utf-8")
    assert runner.invoke(app, ["ingest", str(doc)]).exit_code == 0
    result = runner.invoke(app, ["ask", "燃やせるごみの収集日は何曜日ですか", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert not data["abstained"] and "月曜日" in data["answer"]
    assert data["citations"][0]["doc_id"] == "gomi.md"
    shown = runner.invoke(app, ["ask", "燃やせるごみの収集日は何曜日ですか"])
    assert shown.exit_code == 0 and "出典" in shown.stdout and "ごみ収集" in shown.stdout


def test_ask_explains_empty_store_and_empty_question(settings, monkeypatch) -> None:
    monkeypatch.setenv("YAKUBA_CHAT_ENGINE", "extractive")
    empty = runner.invoke(app, ["ask", "何か"])
    assert empty.exit_code == 1 and "登録されていません" in empty.output
    assert "Traceback" not in empty.output
