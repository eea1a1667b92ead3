"""Council-minutes parser, wareki dates and doc-type detection, on the real bundled minutes.

Expectations on corpora/ files were checked by hand against the text (and, for the counts, against
the per-speech JSON the files were converted from).
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pypdf
import pytest

from tests.helpers import shared_dir
from yakuba.core.types import DocType
from yakuba.ingest.minutes import (
    MinutesParse,
    detect_doc_type,
    looks_like_minutes,
    parse_minutes,
    wareki_to_iso,
)

CORPORA = Path(__file__).resolve().parents[2] / "corpora"
KIRYU = CORPORA / "議会会議録" / "桐生市議会"
R4 = KIRYU / "令和4年第4回定例会"
R5 = KIRYU / "令和5年第4回定例会"
SHARED_PDFS = (shared_dir() or Path("/nonexistent")) / "corpora" / "pdfs"


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def ippan_r4() -> MinutesParse:
    """令和4年第4回定例会 第3号 (2022-12-22, 一般質問)."""
    return parse_minutes(_read(R4 / "2022-12-22_第3号_一般質問.txt"))


# ------------------------------------------------------------------ real minutes


def test_header_facts(ippan_r4: MinutesParse) -> None:
    assert ippan_r4.session == "令和4年第4回定例会"
    assert ippan_r4.meeting_date == "2022-12-22"
    assert ippan_r4.title == "令和4年桐生市議会第4回定例会会議録第3号"
    assert "出席議員（２２名）" in ippan_r4.preamble
    assert "議事日程第３号" in ippan_r4.preamble
    assert "○議長" not in ippan_r4.preamble


def test_turn_count_matches_the_source_records(ippan_r4: MinutesParse) -> None:
    # 325 議長/質問/答弁 records in schedule 4 of kiryu-minutes-r4-4-teireikai.json
    assert len(ippan_r4.turns) == 325
    assert sum(t.speaker == "丹羽孝志" for t in ippan_r4.turns) == 10


def test_member_turn_keeps_seat_and_role(ippan_r4: MinutesParse) -> None:
    turn = ippan_r4.turns[3]
    assert (turn.marker, turn.role, turn.seat, turn.speaker) == ("◆", "議員", 13, "丹羽孝志")
    assert turn.label == "13番議員（丹羽孝志）"
    assert turn.text.startswith(
        "公明クラブ、丹羽孝志です。それでは、通告に従い一般質問をさせていただきます。"
    )
    assert turn.agenda == "日程第1 一般質問 ／ 丹羽孝志議員"
    lines = _read(R4 / "2022-12-22_第3号_一般質問.txt").split("\n")
    assert lines[turn.line_start] == "◆13番（丹羽孝志）"
    assert lines[turn.line_end].strip().endswith("お示しください。")


def test_executive_and_chair_turns(ippan_r4: MinutesParse) -> None:
    first = ippan_r4.turns[0]
    assert (first.marker, first.role, first.speaker, first.text) == (
        "○",
        "議長",
        "北川久人",
        "これより本日の会議を開きます。",
    )
    answer = ippan_r4.turns[5]
    assert (answer.role, answer.seat, answer.speaker) == ("市民生活部長", None, "関口泰")
    mayor = [t for t in ippan_r4.turns if t.role == "市長"]
    assert mayor and {t.speaker for t in mayor} == {"荒木恵司"}
    assert {t.speaker for t in ippan_r4.turns if t.role == "副議長"} == {"岡部純朗"}


def test_agenda_markers_end_turns_and_are_not_speakers(ippan_r4: MinutesParse) -> None:
    texts = [item.text.split("\n")[0] for item in ippan_r4.agenda]
    assert texts[:6] == ["開議", "日程第１　一般質問", "丹羽孝志議員", "休憩", "再開", "一般質問（続行）"]
    assert [item.procedural for item in ippan_r4.agenda[:6]] == [True, False, False, True, True, True]
    # The chair's 「暫時休憩します。」 ends at △再開; the time line belongs to the chair's body.
    pause = next(t for t in ippan_r4.turns if t.text.startswith("暫時休憩します。"))
    assert pause.text.endswith("休憩")
    assert "再開" not in pause.text
    assert all("△" not in t.text for t in ippan_r4.turns)
    # A procedural △ (休憩/再開/続行) does not replace the agenda item in force.
    after = ippan_r4.turns[ippan_r4.turns.index(pause) + 1]
    assert after.agenda == "日程第1 一般質問 ／ 丹羽孝志議員"


def test_bill_day_headings_combine_item_and_step() -> None:
    parsed = parse_minutes(_read(R4 / "2022-11-30_第1号_議案説明・質疑・委員会付託.txt"))
    assert len(parsed.turns) == 273
    question = next(t for t in parsed.turns if t.speaker == "丹羽孝志")
    assert question.agenda is not None
    assert question.agenda.startswith(
        "日程第4 議案第61号 桐生市職員の定年等に関する条例の一部を改正する条例案"
    )
    assert question.agenda.endswith("／ 質疑(議案第61号)")


def test_restored_chair_turn_is_not_glued_to_the_previous_speaker() -> None:
    parsed = parse_minutes(_read(R5 / "2023-11-29_第1号_議案説明・質疑・委員会付託.txt"))
    assert len(parsed.turns) == 260  # 259 records + the chair's words recovered from a 議題 record
    index = next(
        i
        for i, t in enumerate(parsed.turns)
        if t.text.startswith("ただいま日程第５の質疑続行中であります。議案第83号")
    )
    assert (parsed.turns[index].role, parsed.turns[index].speaker) == ("議長", "人見武男")
    assert "質疑続行中であります。議案第83号" not in parsed.turns[index - 1].text


def test_parse_survives_nfkc_and_stripped_lines() -> None:
    """The cleaner may NFKC the text and strip lines before chunking: same turns, same speakers."""
    raw = _read(R5 / "2023-12-01_第2号_議案説明・質疑・委員会付託.txt")
    cleaned = "\n".join(line.strip() for line in unicodedata.normalize("NFKC", raw).split("\n"))
    a, b = parse_minutes(raw), parse_minutes(cleaned)
    assert len(a.turns) == len(b.turns) == 21
    assert [(t.role, t.seat, t.speaker) for t in a.turns] == [(t.role, t.seat, t.speaker) for t in b.turns]
    assert (b.session, b.meeting_date) == ("令和5年第4回定例会", "2023-12-01")


# ------------------------------------------------------------------ marker variants


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("○議長（北川久人）", ("○", "議長", None, "北川久人")),
        ("○議長（山田太郎君）", ("○", "議長", None, "山田太郎")),
        ("○市長(荒木恵司)", ("○", "市長", None, "荒木恵司")),
        ("◆１３番（丹羽孝志）", ("◆", "議員", 13, "丹羽孝志")),
        ("◆十三番（丹羽孝志君）", ("◆", "議員", 13, "丹羽孝志")),
        ("○１番（石　渡　宏　明君）", ("○", "議員", 1, "石渡宏明")),
        ("◎教育長（小林一弘）", ("◎", "教育長", None, "小林一弘")),
        ("○健康長寿課長（須藤まりこ）", ("○", "健康長寿課長", None, "須藤まりこ")),
        ("　○議　長　（ 北川 久人 ）", ("○", "議長", None, "北川久人")),
        ("〇子どもすこやか部長（小山敏恵）", ("〇", "子どもすこやか部長", None, "小山敏恵")),
    ],
)
def test_speaker_line_variants(line: str, expected: tuple[str, str, int | None, str]) -> None:
    parsed = parse_minutes(f"{line}\n本文です。")
    assert len(parsed.turns) == 1
    turn = parsed.turns[0]
    assert (turn.marker, turn.role, turn.seat, turn.speaker) == expected
    assert turn.text == "本文です。"
    assert (turn.line_start, turn.line_end) == (0, 1)


def test_body_on_the_same_line_and_continuation() -> None:
    text = "◆１３番（丹羽孝志君）　公明クラブ、丹羽孝志です。\n　　通告に従い質問します。\n○議長（北川久人君）　市民生活部長。"
    turns = parse_minutes(text).turns
    assert [t.speaker for t in turns] == ["丹羽孝志", "北川久人"]
    assert turns[0].text == "公明クラブ、丹羽孝志です。\n通告に従い質問します。"
    assert (turns[0].line_start, turns[0].line_end) == (0, 1)
    assert turns[1].text == "市民生活部長。"
    assert (turns[1].line_start, turns[1].line_end) == (2, 2)


def test_chair_without_name() -> None:
    turns = parse_minutes("○議長　これより会議を開きます。\n○議長（北川久人）　休憩します。").turns
    assert [(t.role, t.speaker, t.text) for t in turns] == [
        ("議長", "", "これより会議を開きます。"),
        ("議長", "北川久人", "休憩します。"),
    ]
    assert turns[0].label == "議長"


@pytest.mark.parametrize(
    "line",
    [
        "○補正予算（第８号）について",
        "○出席議員（２１名）",
        "○欠席議員（なし）",
        "○子育て支援（保育所の整備）",
        "△日程第１　一般質問",
        "◎日程第２　会期決定の件",
        "◇",
    ],
)
def test_lines_that_are_not_speakers(line: str) -> None:
    parsed = parse_minutes(f"{line}\n続きの行")
    assert parsed.turns == []


def test_agenda_markers_in_various_forms_end_a_turn() -> None:
    text = "\n".join(
        [
            "○議長（北川久人君）",
            "日程第１を議題とします。",
            "◎日程第２　会期決定の件",
            "○議長（北川久人君）",
            "お諮りいたします。",
            "――――――――――――――",
            "△散会",
            "午後１時４１分　散会",
        ]
    )
    parsed = parse_minutes(text)
    assert [t.text for t in parsed.turns] == ["日程第１を議題とします。", "お諮りいたします。"]
    assert parsed.turns[1].agenda == "日程第2 会期決定の件"
    assert [a.text for a in parsed.agenda] == ["日程第２　会期決定の件", "散会\n午後１時４１分　散会"]


def test_session_forms() -> None:
    assert parse_minutes("令和５年第１回臨時会会議録\n○議長（某某）\nはい").session == "令和5年第1回臨時会"
    assert (
        parse_minutes("令和　４年　１２月定例会（第４回）\n○議長（某某）\nはい").session
        == "令和4年第4回定例会"
    )
    assert parse_minutes("令和元年９月定例会\n○議長（某某）\nはい").session == "令和元年9月定例会"
    committee = parse_minutes("令和５年桐生市議会予算特別委員会会議録\n○委員長（某某）\nはい")
    assert committee.session == "令和5年予算特別委員会"
    assert parse_minutes("ただの文章です。").session is None


# ------------------------------------------------------------------ wareki


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("令和４年１１月３０日（水曜日）", "2022-11-30"),
        ("令和　４年　１２月定例会（第４回）\n令和４年１２月２２日（木曜日）", "2022-12-22"),
        ("令和元年５月１日", "2019-05-01"),
        ("令和四年十二月一日", "2022-12-01"),
        ("平成二十三年三月十一日", "2011-03-11"),
        ("昭和六十四年一月七日", "1989-01-07"),
        ("平成31年4月30日", "2019-04-30"),
        ("令和 4 年 12 月 1 日", "2022-12-01"),
        ("２０２２年１２月１日", "2022-12-01"),
        ("平成32年3月31日", "2020-03-31"),  # pre-2019 documents wrote future dates in 平成
        ("令和4年2月30日", None),
        ("令和4年13月1日", None),
        ("令和0年1月1日", None),
        ("令和元年4月1日", None),  # 令和 began on 2019-05-01
        ("平成元年1月7日", None),  # 平成 began on 1989-01-08
        ("令和４年１２月定例会", None),
        ("日付のない文", None),
    ],
)
def test_wareki_to_iso(text: str, expected: str | None) -> None:
    assert wareki_to_iso(text) == expected


def test_month_day_needs_a_year() -> None:
    assert wareki_to_iso("来る12月21日午前10時に御参集願います。") is None
    assert wareki_to_iso("来る12月21日午前10時に御参集願います。", year=2022) == "2022-12-21"
    assert wareki_to_iso("十二月二十一日", year=2022) == "2022-12-21"
    assert wareki_to_iso("2月29日", year=2023) is None


# ------------------------------------------------------------------ detection on real texts


def _first_page(path: Path) -> str:
    if path.suffix == ".pdf":
        reader = pypdf.PdfReader(path)
        if reader.is_encrypted:
            reader.decrypt("")
        return reader.pages[0].extract_text() or ""
    return _read(path)[:5000]


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        (
            "議会会議録/桐生市議会/令和4年第4回定例会/2022-11-30_第1号_議案説明・質疑・委員会付託.txt",
            DocType.COUNCIL_MINUTES,
        ),
        ("議会会議録/桐生市議会/令和5年第4回定例会/2023-12-21_第4号_一般質問.txt", DocType.COUNCIL_MINUTES),
        ("総合計画/日野町_第6次総合計画.md", DocType.COMPREHENSIVE_PLAN),
        ("総務省/自治体DX推進に向けた総務省の施策について_2026年3月.txt", DocType.DX_GUIDEBOOK),
        ("南国市/令和4年度_施政方針.pdf", DocType.OTHER),
        ("南国市/市政報告_第444回定例会.pdf", DocType.OTHER),
        ("南国市/提案理由_第444回定例会.pdf", DocType.OTHER),
        ("南国市/議案第18号_南国市手話言語条例.pdf", DocType.OTHER),
        ("南国市/議案第12号_南国市立図書館設置条例_全部改正.pdf", DocType.OTHER),
        ("文部科学省/令和6年版_科学技術・イノベーション白書_第2章.pdf", DocType.OTHER),
        ("厚生労働省/モデル就業規則_令和4年11月版.pdf", DocType.OTHER),
    ],
)
def test_detect_doc_type_on_corpus_files(relative: str, expected: DocType) -> None:
    path = CORPORA / relative
    text = _first_page(path)
    assert detect_doc_type(path.stem, text) is expected
    # The first page alone must be enough: loaders do not always have a useful title.
    assert detect_doc_type("", text) is expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("議案第２１号：第５次南国市総合計画基本構想の策定について.pdf", DocType.COMPREHENSIVE_PLAN),
        ("南国市ＤＸ推進方針_R040224.pdf", DocType.DX_GUIDEBOOK),
        ("政務活動費の手引き（H28.4.1）.pdf", DocType.DX_GUIDEBOOK),
        ("otoineppu/jishin202003.pdf", DocType.PLAN),
        ("議案第７号：令和８年度一般会計予算.pdf", DocType.OTHER),
    ],
)
def test_detect_doc_type_on_local_only_files(name: str, expected: DocType) -> None:
    """Files we may not ship (terms not stated): checked where the shared folder exists."""
    path = SHARED_PDFS / name
    if not path.exists():
        pytest.skip(f"local-only source file not present: {path}")
    assert detect_doc_type("", _first_page(path)) is expected


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("令和5年第1回定例会 会議録", DocType.COUNCIL_MINUTES),
        ("日野町基本構想", DocType.COMPREHENSIVE_PLAN),
        ("第3次日野町後期基本計画", DocType.COMPREHENSIVE_PLAN),
        ("日野町食育推進基本計画", DocType.PLAN),
        ("まち・ひと・しごと創生総合戦略", DocType.PLAN),
        ("南国市都市計画マスタープラン", DocType.PLAN),
        ("自治体ＤＸ推進手順書", DocType.DX_GUIDEBOOK),
        ("窓口業務ガイドブック", DocType.DX_GUIDEBOOK),
        ("令和8年度施政方針", DocType.OTHER),
        ("令和6年版 科学技術・イノベーション白書", DocType.OTHER),
        ("広報おといねっぷ 2024年6月号", DocType.OTHER),
    ],
)
def test_detect_doc_type_by_title(title: str, expected: DocType) -> None:
    assert detect_doc_type(title, "") is expected


def test_looks_like_minutes_is_false_for_prose_with_bullets() -> None:
    plan = "\n".join(
        [
            "第２章　基本計画",
            "○子育て支援（保育所の整備）",
            "○地域福祉推進員（ボランティア）",
            "○安全安心まちづくり推進員（地域の皆様）",
            "○防災（自主防災組織）",
            "本計画は、令和３年度から令和７年度までの５年間を期間とします。",
        ]
    )
    assert not looks_like_minutes(plan)
    statement = _first_page(CORPORA / "南国市" / "令和4年度_施政方針.pdf")
    assert not looks_like_minutes(statement)


def test_looks_like_minutes_needs_several_speakers() -> None:
    one_speaker = (
        "議事の経過\n○議長（北川久人）\nはい。\n○議長（北川久人）\nはい。\n○議長（北川久人）\nはい。"
    )
    assert not looks_like_minutes(one_speaker)
    assert looks_like_minutes(one_speaker + "\n◆１３番（丹羽孝志）\n質問します。")
    assert looks_like_minutes("令和５年第１回臨時会会議録\n本日の会議に付した事件")


def test_looks_like_minutes_for_one_record() -> None:
    """Per-speech exports (the kiryu eval records) hold one turn or one △ line per document."""
    assert looks_like_minutes("○議長（北川久人）\nこれより会議を開きます。")
    assert looks_like_minutes("△開会\n午前　９時５８分　開会")
    assert not looks_like_minutes("△1,234千円\n前年度比の減")  # △ as a minus sign


def test_minus_sign_triangle_does_not_end_a_turn() -> None:
    turn = parse_minutes("○議長（北川久人）\n予算は\n△1,234千円の減です。").turns[0]
    assert turn.text == "予算は\n△1,234千円の減です。"


def test_session_plus_day_gives_a_date() -> None:
    """The eval records carry session 「令和4年第1回定例会」 and date 「02月21日」 separately."""
    assert wareki_to_iso("令和4年第1回定例会02月21日") == "2022-02-21"
    assert wareki_to_iso("2023年度 5月1日") == "2023-05-01"
    assert wareki_to_iso("令和元年第1回定例会4月1日") is None


# ------------------------------------------------------------------ other cities' layouts (issue #15)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("○議長　山田太郎君", ("○", "議長", None, "山田太郎")),
        ("○市長　鈴木 一郎君　お答えします。", ("○", "市長", None, "鈴木一郎")),
        ("〇３番　佐藤花子君", ("〇", "議員", 3, "佐藤花子")),
        ("〇山田太郎君　質問いたします。", ("〇", "議員", None, "山田太郎")),
        ("◎田中委員長　ただいまから委員会を開きます。", ("◎", "委員長", None, "田中")),
        ("◆佐々木委員　質疑します。", ("◆", "委員", None, "佐々木")),
    ],
)
def test_other_speaker_layouts(line: str, expected: tuple[str, str, int | None, str]) -> None:
    parsed = parse_minutes(f"{line}\n本文です。")
    [turn] = parsed.turns
    assert (turn.marker, turn.role, turn.seat, turn.speaker) == expected
    assert turn.text.endswith("本文です。")


@pytest.mark.parametrize(
    "line",
    ["○副議長　これより会議を開きます。", "○総務部長君", "○補正予算（第８号）の概要について君"],
)
def test_other_layouts_do_not_take_non_speakers(line: str) -> None:
    turns = parse_minutes(f"{line}\n本文").turns
    assert all(t.speaker != "総務部長" and "補正予算" not in t.speaker for t in turns)
    if line.startswith("○副議長"):
        assert [(t.role, t.speaker) for t in turns] == [("副議長", "")]


BARE_LAYOUT = """令和６年第２回やくば町議会定例会会議録（第１号）
開議　午前１０時

議長（山田太郎君）
ただいまから本日の会議を開きます。
日程第１、一般質問を行います。

３番（佐藤花子君）
防災行政無線について伺います。
聞こえにくい地区があると聞いています。

町長（鈴木一郎君）
お答えします。
戸別受信機の配布を進めます。
"""


def test_speaker_alone_on_a_line_without_marker() -> None:
    parsed = parse_minutes(BARE_LAYOUT)
    assert [(t.role, t.seat, t.speaker) for t in parsed.turns] == [
        ("議長", None, "山田太郎"),
        ("議員", 3, "佐藤花子"),
        ("町長", None, "鈴木一郎"),
    ]
    assert parsed.turns[1].text == "防災行政無線について伺います。\n聞こえにくい地区があると聞いています。"
    assert parsed.session == "令和6年第2回定例会"
    assert looks_like_minutes(BARE_LAYOUT.split("\n", 1)[1])  # without the 会議録 title line too
    # A plan's member list in the same shape is no minutes: no council words, no speeches.
    roster = "推進委員会名簿\n会長（山田太郎）\n副会長（鈴木一郎）\n委員（佐藤花子）"
    assert not looks_like_minutes(roster.replace("委員会", "協議"))


def test_bare_lines_are_ignored_in_marked_minutes() -> None:
    text = "○議長（北川久人）\n開会します。\n議長（北川久人）\n説明員の欄です。"
    assert [t.speaker for t in parse_minutes(text).turns] == ["北川久人"]


@pytest.mark.parametrize(
    "title",
    ["令和6年第1回定例会 議決結果", "議案等審議結果・議員別賛否一覧", "表決結果（令和6年3月定例会）"],
)
def test_vote_records_are_council_documents(title: str) -> None:
    assert detect_doc_type(title, "") is DocType.COUNCIL_MINUTES
    assert detect_doc_type("", f"{title}\n議案第1号 やくば町税条例の一部改正 原案可決") is DocType.COUNCIL_MINUTES


def test_a_vote_table_makes_a_council_document() -> None:
    assert detect_doc_type("R6-03.pdf", "本会議の結果") is DocType.OTHER
    assert detect_doc_type("R6-03.pdf", "本会議の結果", has_vote_table=True) is DocType.COUNCIL_MINUTES
