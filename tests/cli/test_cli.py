"""The `yakuba` CLI end to end (typer's runner, real store and model)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers import DATA
from yakuba.cli.app import app
from yakuba.core.settings import get_settings

runner = CliRunner()


def _run(*args: str):
    get_settings.cache_clear()
    return runner.invoke(app, list(args))


@pytest.mark.integration
def test_ingest_list_delete_info(settings, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(DATA / "soumu_dx_excerpt.md", folder / "soumu.md")
    result = _run("ingest", str(folder), "--tenant", "tobetsu")
    assert result.exit_code == 0, result.output
    assert "登録結果" in result.output

    listed = _run("docs", "list", "--tenant", "tobetsu", "--json")
    rows = json.loads(listed.stdout.strip().splitlines()[-1])
    assert [r["doc_id"] for r in rows] == ["soumu.md"]
    assert rows[0]["chunks"] > 0 and rows[0]["doc_type"]

    table = _run("docs", "list", "--tenant", "tobetsu")
    assert "soumu.md" in table.stdout

    info = _run("info", "--json")
    data = json.loads(info.stdout.strip().splitlines()[-1])
    assert {"embedding_model", "chat_model", "home", "tenants"} <= set(data)
    assert Path(data["embedding_model"]).is_dir()
    assert data["tenants"]["tobetsu"]["documents"] == 1

    again = _run("ingest", str(folder), "--tenant", "tobetsu")
    assert again.exit_code == 0
    assert "変更なし" in again.output

    deleted = _run("docs", "delete", "soumu.md", "--tenant", "tobetsu")
    assert deleted.exit_code == 0
    assert "削除しました" in deleted.stdout
    missing = _run("docs", "delete", "soumu.md", "--tenant", "tobetsu")
    assert missing.exit_code == 1
    assert "見つかりません" in missing.output


@pytest.mark.integration
def test_failed_file_exits_nonzero_but_ingests_the_rest(settings, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(DATA / "soumu_dx_excerpt.md", folder / "ok.md")
    (folder / "bad.pdf").write_bytes(b"not a pdf at all")
    result = _run("ingest", str(folder))
    assert result.exit_code == 1
    assert "bad.pdf" in result.output
    assert "Traceback" not in result.output
    rows = json.loads(_run("docs", "list", "--json").stdout.strip().splitlines()[-1])
    assert [r["doc_id"] for r in rows] == ["ok.md"]


def test_bad_arguments_give_clear_messages(settings, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _run("ingest", str(empty))
    assert result.exit_code == 2
    assert "見つかりません" in result.output
    result = _run("ingest", str(DATA / "soumu_dx_excerpt.md"), "--doc-type", "議事録もどき")
    assert result.exit_code == 2
    assert "不明な文書種別" in result.output
    result = _run("docs", "list", "--tenant", "当別町")
    assert result.exit_code == 2
    assert "テナント名" in result.output
    missing = _run("ingest", str(tmp_path / "nope.pdf"))
    assert missing.exit_code == 1
    assert "Traceback" not in missing.output


@pytest.mark.integration
def test_reindex_re_embeds_every_chunk_and_keeps_files_unchanged(settings, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(DATA / "soumu_dx_excerpt.md", folder / "soumu.md")
    assert _run("ingest", str(folder), "--tenant", "tobetsu").exit_code == 0
    [row] = json.loads(_run("docs", "list", "--tenant", "tobetsu", "--json").stdout.strip().splitlines()[-1])
    result = _run("reindex", "--tenant", "tobetsu")
    assert result.exit_code == 0, result.output
    assert f"再計算しました: {row['chunks']} チャンク" in result.stdout
    again = _run("ingest", str(folder), "--tenant", "tobetsu")
    assert again.exit_code == 0 and "変更なし" in again.output
