"""Take the README screenshots of a running UI (`make run`, or `yakuba up`) with Debian's chromium.

    python docs/screenshots/capture.py http://127.0.0.1:8501 [--only chat library ...]

It asks a question, uploads a small file, drafts minutes and a PR article, analyses 200 answers of
the Toyama survey (corpora/surveys) and opens the evaluation screen (which shows a report only when
one exists under $YAKUBA_HOME/reports), then writes one small palette PNG per screen next to this file.
"""

from __future__ import annotations

import argparse
import io
import itertools
import tempfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, expect, sync_playwright

HERE = Path(__file__).resolve().parent
TOYAMA = HERE.parents[1] / "corpora" / "surveys" / "toyama-kanko" / "toyama.csv"
WIDTH, HEIGHT = 1280, 860
TIMEOUT_MS = 180_000

TRANSCRIPT = """司会: えー、それでは第3回地域公共交通会議を始めます。
田中課長: あの、デマンド交通の実証運行について報告します。3か月の利用者は延べ420人でした。
山本委員: えっと、土曜日の運行も必要だと思います。高齢の方から要望が多いです。
田中課長: 土曜日の運行は、車両と運転手の確保ができれば可能です。
司会: では、土曜日の運行を来年度から試行することに決定します。
田中課長: 6月末までに運行事業者と調整します。"""

NOTES = """・市立図書館が令和7年5月1日にリニューアルオープン
・開館時間は午前9時から午後8時（月曜休館）
・学習室（40席）と子ども向けの読み聞かせコーナーを新設
・オープン当日は館内ツアーを実施（申込不要）"""


def save(page: Page, name: str) -> None:
    page.wait_for_timeout(800)  # let Streamlit finish painting
    image = Image.open(io.BytesIO(page.screenshot()))
    small = image.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    small.save(HERE / f"{name}.png", optimize=True)
    print(f"{name}.png: {(HERE / f'{name}.png').stat().st_size // 1024} KiB")


def heading(page: Page, name: str):  # type: ignore[no-untyped-def]
    found = page.get_by_role("heading", name=name, exact=True)
    expect(found).to_be_visible()
    return found


def scroll_to_top_of(locator) -> None:  # type: ignore[no-untyped-def]
    locator.evaluate("e => e.scrollIntoView({block: 'start'})")


def chat(page: Page, url: str, question: str) -> None:
    page.goto(url + "/")
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(question)
    box.press("Enter")
    expect(page.locator('[class*="st-key-source-"]').first).to_be_visible()
    scroll_to_top_of(heading(page, "チャット"))
    save(page, "chat")


def library(page: Page, url: str) -> None:
    page.goto(url + "/library")
    heading(page, "資料ライブラリ")
    with tempfile.TemporaryDirectory() as folder:
        good = Path(folder) / "窓口案内.md"
        good.write_text("# 市民課窓口のご案内\n\n市民課の窓口は平日の午前8時30分から午後5時15分まで開いています。\n")
        bad = Path(folder) / "空のファイル.pdf"
        bad.write_bytes(b"")
        page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files([str(good), str(bad)])
        page.get_by_role("button", name="登録する").click()
        expect(page.get_by_text("件の資料を登録しました", exact=False)).to_be_visible()
    page.set_viewport_size({"width": WIDTH, "height": 1400})  # results and the table together
    save(page, "library")
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})


def minutes(page: Page, url: str) -> None:
    page.goto(url + "/minutes")
    heading(page, "議事録作成")
    box = page.get_by_label("「話者: 発言」の形式", exact=False)
    box.fill(TRANSCRIPT)
    box.press("Control+Enter")
    page.get_by_label("会議名").fill("第3回 地域公共交通会議")
    page.get_by_label("会議名").press("Enter")
    page.get_by_label("場所").fill("市役所 3階 第1会議室")
    page.get_by_label("場所").press("Enter")
    page.get_by_role("button", name="議事録の下書きを作成").click()
    scroll_to_top_of(heading(page, "下書き"))
    save(page, "minutes")


def pr_article(page: Page, url: str) -> None:
    page.goto(url + "/pr-article")
    heading(page, "広報記事作成")
    box = page.get_by_label("取材メモ・文字起こし")
    box.fill(NOTES)
    box.press("Control+Enter")
    contact = page.get_by_label("問い合わせ先")
    contact.fill("生涯学習課 図書館係 電話 088-000-0000")
    contact.press("Control+Enter")
    page.get_by_role("button", name="記事の下書きを作成").click()
    scroll_to_top_of(heading(page, "下書き"))
    save(page, "pr-article")


def survey(page: Page, url: str) -> None:
    page.goto(url + "/survey")
    heading(page, "アンケート集計")
    with tempfile.TemporaryDirectory() as folder:
        with TOYAMA.open(encoding="utf-8-sig", newline="") as source:
            lines = list(itertools.islice(source, 1 + 3 + 200))  # the header, 3 test entries, 200 answers
        path = Path(folder) / "富山県観光アンケート.csv"
        path.write_text("".join(lines), encoding="utf-8-sig", newline="")
        page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(path))
        excluded = page.get_by_role("textbox", name="除外する行（例: 1-3）")
        excluded.fill("1-3")
        excluded.press("Enter")
        page.get_by_role("button", name="集計する").click()
        expect(page.get_by_text("回答者 200人", exact=False)).to_be_visible()
    page.get_by_role("tab", name="集計表・グラフ").click()
    table = page.get_by_test_id("stExpander").filter(has_text="満足度（交通）（n=").first
    table.get_by_text("満足度（交通）（n=", exact=False).click()
    expect(table.locator("img").first).to_be_visible()
    page.set_viewport_size({"width": WIDTH, "height": 1200})  # the five satisfaction scales and a table
    scroll_to_top_of(table)
    save(page, "survey")
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})


def evals(page: Page, url: str) -> None:
    page.goto(url + "/evals")
    heading(page, "評価")
    page.wait_for_timeout(2000)
    save(page, "evals")


SCREENS = {"chat": chat, "library": library, "minutes": minutes, "pr-article": pr_article, "survey": survey,
           "evals": evals}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", default="http://127.0.0.1:8501")
    parser.add_argument("--question", default="南国市手話言語条例の目的は何ですか？")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--only", nargs="*", choices=sorted(SCREENS), help="capture only these screens")
    args = parser.parse_args()
    url = args.url.rstrip("/")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium)
        context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, locale="ja-JP")
        context.set_default_timeout(TIMEOUT_MS)
        expect.set_options(timeout=TIMEOUT_MS)
        page = context.new_page()
        for name in args.only or SCREENS:
            if name == "chat":
                chat(page, url, args.question)
            else:
                SCREENS[name](page, url)
        browser.close()


if __name__ == "__main__":
    main()
