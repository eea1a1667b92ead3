"""The bundled corpora: manifest complete, size bounded, minutes parseable, conversions reproducible."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers import shared_dir
from yakuba.ingest.minutes import parse_minutes
from yakuba.ingest.pipeline import discover

CORPORA = Path(__file__).resolve().parents[2] / "corpora"
MANIFEST = CORPORA / "MANIFEST.md"
TOOLS = CORPORA / "tools"
MINUTES = CORPORA / "議会会議録"
HINO_MD = CORPORA / "総合計画" / "日野町_第6次総合計画.md"
HINO_JSON = TOOLS / "sources" / "hino-sogo6.json"
SHARED = (shared_dir() or Path("/nonexistent")) / "corpora"
MAX_BYTES = 30 * 1024 * 1024
PAGE_MARKER = re.compile(r"^<!-- page: (\d+) -->$")


def _documents() -> set[str]:
    """Every file `yakuba ingest corpora/` picks up (.yakubaignore keeps MANIFEST and tools/ out)."""
    return {item.doc_id for item in discover([CORPORA])}


def _manifest_paths() -> list[str]:
    """The first column of every table row, written as `path`."""
    rows = re.findall(r"^\| `([^`]+)` \|", MANIFEST.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return rows


def _load_tool(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_manifest_lists_every_file_and_nothing_else() -> None:
    listed = _manifest_paths()
    assert len(listed) == len(set(listed)), "duplicate rows in MANIFEST.md"
    documents = _documents()
    assert sorted(documents - set(listed)) == [], "files missing from MANIFEST.md"
    assert sorted(set(listed) - documents) == [], "MANIFEST.md rows without a file"


def test_manifest_rows_are_complete() -> None:
    for line in MANIFEST.read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            assert len(cells) == 7, line
            assert all(cells), f"empty cell in: {line}"


def test_corpora_size_is_bounded() -> None:
    total = sum(path.stat().st_size for path in CORPORA.rglob("*") if path.is_file())
    assert total < MAX_BYTES, f"corpora/ is {total / 2**20:.1f} MB"


def test_pdfs_are_pdfs() -> None:
    pdfs = sorted(CORPORA.rglob("*.pdf"))
    assert len(pdfs) == 10
    for path in pdfs:
        assert path.read_bytes()[:5] == b"%PDF-", path


@pytest.mark.parametrize("path", sorted(MINUTES.rglob("*.txt")), ids=lambda p: p.name)
def test_every_minutes_day_parses_with_turns_and_date(path: Path) -> None:
    parsed = parse_minutes(path.read_text(encoding="utf-8"))
    assert len(parsed.turns) > 0
    assert parsed.meeting_date == path.name[:10]
    assert parsed.session == path.parent.name
    assert parsed.title and parsed.title.endswith(f"会議録{path.name.split('_')[1]}")
    assert all(turn.speaker and turn.role for turn in parsed.turns)


def test_minutes_layout_counts() -> None:
    days = sorted(MINUTES.rglob("*.txt"))
    assert len(days) == 9
    by_session = {p.parent.name for p in days}
    assert by_session == {"令和4年第4回定例会", "令和5年第4回定例会"}


def test_hino_plan_markers_and_headings() -> None:
    lines = HINO_MD.read_text(encoding="utf-8").split("\n")
    assert lines[0] == "# 第6次日野町総合計画"
    pages = [int(m.group(1)) for line in lines if (m := PAGE_MARKER.match(line))]
    assert len(pages) > 40
    assert all(1 <= page <= 140 for page in pages)
    # Markers are exactly the loader's form: nothing like <!-- page:12--> slipped in.
    assert all(PAGE_MARKER.match(line) for line in lines if "<!-- page" in line)
    assert sum(line.startswith("## ") for line in lines) == 7
    assert "###### (1) 出産前から育児への切れ目のない支援の推進" in lines


def test_hino_source_is_the_full_file() -> None:
    raw = HINO_JSON.read_text(encoding="utf-8")
    assert len(raw) == 99_729
    plan = json.loads(raw)
    assert plan["id"] == "sogo6"
    assert [tab["id"] for tab in plan["tabs"]] == [
        "summary",
        "jinko",
        "kousou",
        "mokuhyo",
        "tomoni",
        "suishin",
        "koe",
    ]


def test_hino_conversion_is_reproducible() -> None:
    convert_hino = _load_tool("convert_hino")
    plan = json.loads(HINO_JSON.read_text(encoding="utf-8"))
    assert convert_hino.render(plan) == HINO_MD.read_text(encoding="utf-8")


def test_kiryu_conversion_is_reproducible(tmp_path: Path) -> None:
    if not all(
        (SHARED / name).exists()
        for name in ("kiryu-minutes-r4-4-teireikai.json", "kiryu-minutes-r5-4-teireikai.json")
    ):
        pytest.skip("shared kiryu JSON not present")
    convert_kiryu = _load_tool("convert_kiryu")
    written = convert_kiryu.convert(SHARED, tmp_path)
    assert len(written) == 9
    for path in written:
        committed = CORPORA / path.relative_to(tmp_path)
        assert path.read_bytes() == committed.read_bytes(), committed
