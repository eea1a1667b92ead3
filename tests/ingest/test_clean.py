"""Tests for ingest.clean on real extracted PDF text (南国市 statements, letter-spaced by pypdf) and
on small hand-made cases. Expected strings were checked by hand against the PDFs."""

from __future__ import annotations

from pathlib import Path

import pytest
from pypdf import PdfReader

from yakuba.core.types import PageText
from yakuba.ingest.clean import (
    clean_pages,
    clean_text,
    heading_level,
    is_heading,
    join_spaced_cjk,
    mojibake_score,
    normalize,
    remove_mojibake,
    split_sentences,
)

DATA = Path(__file__).resolve().parents[1] / "data"


def _pdf_pages(name: str) -> list[PageText]:
    reader = PdfReader(DATA / name)
    return [PageText(page=i, text=page.extract_text()) for i, page in enumerate(reader.pages, start=1)]


@pytest.fixture(scope="module")
def houshin() -> list[PageText]:
    """施政方針 (南国市, 17 pages): pypdf returns 「お は よ う ご ざ い ま す 。」."""
    return _pdf_pages("nankoku-shisei-houshin.pdf")


@pytest.fixture(scope="module")
def houshin_clean(houshin: list[PageText]) -> list[PageText]:
    return clean_pages(houshin)


@pytest.fixture(scope="module")
def teian() -> list[PageText]:
    """提案理由（444回）: numbers broken by the spacing, 「2 90 ,6 74 千 円」."""
    return _pdf_pages("nankoku-teian-riyu-444.pdf")


# --- normalize ---------------------------------------------------------------------------------


def test_normalize_nfkc_newlines_zero_width():
    text = "ＤＸ推進　令和４年\r\n第１２条\u200b（目的）\rｶﾀｶﾅ\ufeff\tタブ"
    assert normalize(text) == "DX推進 令和4年\n第12条(目的)\nカタカナ タブ"


def test_normalize_keeps_circled_numbers_and_strips_trailing_space():
    assert normalize("①出生の状況  \n② 死亡の状況\u3000") == "①出生の状況\n② 死亡の状況"


def test_normalize_removes_control_characters():
    assert normalize("令和\x002年\x0c4月") == "令和2年\n4月"


# --- join_spaced_cjk ---------------------------------------------------------------------------


def test_join_spaced_real_page(houshin: list[PageText]):
    joined = join_spaced_cjk(normalize(houshin[0].text))
    lines = joined.split("\n")
    assert lines[1] == "おはようございます。"
    assert lines[2] == "本日、議員の皆様の御出席をいただき、第425回南国市議会定例"
    assert " " not in "".join(lines[1:6])


def test_join_spaced_latin_words_on_spaced_page(houshin: list[PageText]):
    # p.11: 「「 海 洋 堂 S pa c e Fa c to ry な ん こ く 」」: the word boundary survives.
    joined = join_spaced_cjk(normalize(houshin[10].text))
    assert "「海洋堂Space Factoryなんこく」" in joined


def test_join_spaced_numbers(teian: list[PageText]):
    joined = join_spaced_cjk(normalize(teian[0].text))
    assert "障害者自立支援給付事業費290,674千円、民営保育" in joined
    assert "所等費95,062千円、認定こども園事業費140,901千円" in joined
    assert "歳入歳出補正予算の規模は、1,192,893千円の増額計上であります。" in joined


def test_join_spaced_keeps_deliberate_spaces():
    text = "担当 山田 太郎\nSociety 5.0 の実現に向けて、DX 推進 を図る。\n南国市長 平山耕三"
    assert join_spaced_cjk(text) == text


def test_join_spaced_single_line_is_decided_alone():
    text = "第1章 総  則\n本文は普通の文章です。山田 太郎が担当します。"
    assert join_spaced_cjk(text) == "第1章 総則\n本文は普通の文章です。山田 太郎が担当します。"


def test_join_spaced_restores_space_after_article_number():
    text = "第 １ 条 こ の 条 例 は 、 手 話\n( 1 ) ろ う 者 手 話 を"
    assert join_spaced_cjk(normalize(text)) == "第1条 この条例は、手話\n(1) ろう者手話を"


def test_join_spaced_latin_in_spaced_line():
    text = "「 T e a m S e n d a i 」 と S o c i e t y 5 . 0 に つ い て"
    assert join_spaced_cjk(text) == "「Team Sendai」とSociety 5.0について"


# --- clean_pages on a real document -------------------------------------------------------------


def test_clean_pages_keeps_page_numbers_and_drops_page_number_lines(houshin_clean: list[PageText]):
    assert [p.page for p in houshin_clean] == list(range(1, 18))
    for page in houshin_clean:
        assert f"- {page.page} -" not in page.text
        assert page.text.split("\n")[0] != str(page.page)


def test_clean_pages_rebuilds_paragraphs(houshin_clean: list[PageText]):
    lines = houshin_clean[0].text.split("\n")
    assert lines[0] == "おはようございます。"
    assert (
        lines[1]
        == "本日、議員の皆様の御出席をいただき、第425回南国市議会定例会が開かれますことを厚く御礼申し上げます。"
    )
    assert lines[2] == (
        "開会に当たり、提案いたしました議案の説明に先立ちまして、令和4年度に向けた市政運営について、"
        "所信の一端と主要施策を申し上げ、議員並びに市民の皆様の御理解と御協力を賜りたいと存じます。"
    )


def test_clean_pages_keeps_section_headings_on_their_own_line(houshin_clean: list[PageText]):
    page2 = houshin_clean[1].text.split("\n")
    index = page2.index("総務")
    assert page2[index + 1] == "まず、総務関係につきまして、申し上げます。"
    assert is_heading("総務")


def test_clean_pages_drops_furigana_lines(houshin_clean: list[PageText]):
    # p.12 has the readings 「じんじゃ いけ かみ いけ」 on lines of their own, inside a sentence.
    text = houshin_clean[11].text
    assert (
        "定林寺地区上池が完成いたしました。今後につきましては、滝本地区毘沙門池及び定林寺地区下池の工事、"
        "植田地区上池及び下池の詳細設計が予定されています。"
    ) in text
    assert "じんじゃ" not in text and "かみいけ" not in text


def test_clean_pages_output_is_stable(houshin_clean: list[PageText]):
    assert clean_pages(houshin_clean) == houshin_clean


# --- clean_pages: headers, page numbers, line joins ----------------------------------------------


def _pages(*texts: str) -> list[PageText]:
    return [PageText(page=i, text=t) for i, t in enumerate(texts, start=1)]


BODY = "村は、防災の第一次的責務を有する基礎的な地方公共団体として、村域並びに住民の生命、身体及び\n財産を地震災害から保護するため、防災活動を実施する。"


def test_running_header_and_footer_removed_but_first_kept():
    pages = _pages(
        *[f"第2章 災害予防計画\n- {n} -\n{BODY}\n音威子府村地域防災計画 {n}" for n in (231, 232, 233, 234)]
    )
    cleaned = clean_pages(pages)
    assert cleaned[0].text.startswith("第2章 災害予防計画\n")
    for page in cleaned[1:]:
        assert "災害予防計画" not in page.text
        assert "音威子府村地域防災計画" not in page.text
    for page in cleaned:
        assert "- 23" not in page.text
        assert (
            "村は、防災の第一次的責務を有する基礎的な地方公共団体として、村域並びに住民の生命、身体及び財産を"
            in page.text
        )


def test_headers_need_three_pages():
    cleaned = clean_pages(_pages(f"広報やくば\n{BODY}", f"広報やくば\n{BODY}"))
    assert all(p.text.startswith("広報やくば\n") for p in cleaned)


@pytest.mark.parametrize(
    "line", ["- 3 -", "－３－", "― 12 ―", "３", "P.3", "p. 12", "3/40", "3 / 40", "12ページ"]
)
def test_page_number_lines_dropped(line: str):
    cleaned = clean_text(f"{line}\n{BODY}")
    assert cleaned.startswith("村は、")


@pytest.mark.parametrize("line", ["(3)", "2020", "第3条", "3 月", "1,234"])
def test_numbers_that_are_not_page_numbers_kept(line: str):
    assert clean_text(f"{line}\n{BODY}").startswith(normalize(line))


def test_plain_number_in_the_middle_of_a_page_is_kept():
    text = "\n".join(["表1 人口", "区分", "人口", "村民", "668", "世帯", "425", "注記", "出典"])
    assert "668" in clean_text(text)


def test_line_joins_japanese_without_space_latin_with_space():
    text = (
        "この計画は、災害対策基本法に基づき、村における地震災害の防災対策に関し、必要な体制を\n"
        "確立するとともに、防災に関してとるべき措置を定める。AI技術の研究開発は、Artificial\n"
        "Intelligence の略称であり、第1次ブームの段階から人工知能研究が行われてきたとされる。\n"
        "詳細はhttps://www.example.jp/plan を参照。研究は、自然言語処理や機械翻訳の分野での研究のinforma-\n"
        "tion retrieval から始まり、様々な研究開発が行われてきたことが知られている。"
    )
    lines = clean_text(text).split("\n")
    assert lines[0] == (
        "この計画は、災害対策基本法に基づき、村における地震災害の防災対策に関し、必要な体制を確立するとともに、"
        "防災に関してとるべき措置を定める。AI技術の研究開発は、Artificial Intelligence の略称であり、"
        "第1次ブームの段階から人工知能研究が行われてきたとされる。"
    )
    assert lines[1].endswith(
        "機械翻訳の分野での研究のinformation retrieval から始まり、様々な研究開発が行われてきたことが知られている。"
    )


def test_headings_and_list_items_stay_on_their_own_lines():
    text = (
        "第1節 計画策定の目的\n"
        "この計画は、災害対策基本法第42条の規定及び北海道地域防災計画に基づき、村における地震災害の\n"
        "防災対策に関し、必要な体制を確立することを目的とする\n"
        "1 村、道及び防災関係機関は、避難路、避難地、延焼遮断帯、防災活動拠点となる幹線道路、一時避\n"
        "難地としての公園など骨格的な都市基盤施設の整備を図る。\n"
        "(1) 村及び防災上重要な施設の管理者による施設の耐震化\n"
        "震災時における活動の拠点となる役場庁舎、診療所、学校、不特定多数の者が利用する施設等の\n"
        "防災上重要な施設の管理者は、計画的に耐震診断を行う。\n"
        "■ 避難所の一覧\n"
        "・ 小学校の体育館は、指定避難所として、地震の際にも使用できるよう耐震化が完了している。\n"
        "\n\n\n"
        "【第18条 遅刻、早退、欠勤等】"
    )
    assert clean_text(text).split("\n") == [
        "第1節 計画策定の目的",
        "この計画は、災害対策基本法第42条の規定及び北海道地域防災計画に基づき、村における地震災害の"
        "防災対策に関し、必要な体制を確立することを目的とする",
        "1 村、道及び防災関係機関は、避難路、避難地、延焼遮断帯、防災活動拠点となる幹線道路、一時避"
        "難地としての公園など骨格的な都市基盤施設の整備を図る。",
        "(1) 村及び防災上重要な施設の管理者による施設の耐震化",
        "震災時における活動の拠点となる役場庁舎、診療所、学校、不特定多数の者が利用する施設等の"
        "防災上重要な施設の管理者は、計画的に耐震診断を行う。",
        "■ 避難所の一覧",
        "・ 小学校の体育館は、指定避難所として、地震の際にも使用できるよう耐震化が完了している。",
        "",
        "【第18条 遅刻、早退、欠勤等】",
    ]


def test_short_lines_are_not_glued_together():
    text = "モデル就業規則\n\n令和4年 11 月版\n厚生労働省労働基準局監督課"
    assert clean_text(text) == "モデル就業規則\n\n令和4年 11 月版\n厚生労働省労働基準局監督課"


def test_vertical_text_and_overprint_and_leaders():
    text = "第\n２\n章\n森森森森とととと水水水水とととと人人人人がががが織織織織りなすりなすりなすりなす匠匠匠匠のののの里里里里\n策定の趣旨 ・・・・・・・・・・・・ １"
    assert clean_text(text).split("\n") == ["第2章", "森と水と人が織りなす匠の里", "策定の趣旨 … 1"]
    assert not is_heading("策定の趣旨 … 1")


def test_empty_pages_are_dropped():
    assert clean_pages(_pages("- 1 -", "  \n\n", "本文。")) == [PageText(page=3, text="本文。")]


# --- is_heading ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("# はじめに", 1),
        ("### 3.1 基本方針", 3),
        ("第1章 総則", 1),
        ("第２節 計画の構成", 2),
        ("第3条", 3),
        ("第1 地震に強いまちづくり", 3),
        ("議案第18号 南国市手話言語条例", 2),
        ("1. はじめに", 2),
        ("6.賃金台帳の適正な調製", 2),
        ("1-2 計画の位置付け", 3),
        ("(1) 労働時間関係", 3),
        ("（１）人口動向", 3),
        ("① 出生の状況", 4),
        ("(ア) 避難所の運営", 3),
        ("■ お知らせ", 3),
        ("●産業技術総合研究所の設立", 3),
        ("【第18条 遅刻、早退、欠勤等】", 2),
        ("(遅刻、早退、欠勤等)", 4),
        ("子育て支援", 4),
        ("地域おこし協力隊活動報告", 4),
    ],
)
def test_is_heading_positive(line: str, level: int):
    normalized = normalize(line)
    assert is_heading(normalized)
    assert heading_level(normalized) == level


@pytest.mark.parametrize(
    "line",
    [
        "",
        "おはようございます。",
        "第18条 労働者は遅刻、早退若しくは欠勤をし、又は勤務時間中に私用で事業場から外出する際は、事前に申し出る。",
        "1 村、道及び防災関係機関は、避難路、避難地、延焼遮断帯、防災活動拠点となる幹線道路を整備する",
        "2 前項の場合は、第45条に定めるところにより、原則として不就労分に対応する賃金は控除する。",
        "3 月 11 日(水)より利用できます",
        "しかしながら、長年にわたって",
        "は有する疑いのある家畜に対する",
        "世帯数 425 戸",
        "668 人",
        "5.126 ×勤続年数",
        "・ 小学校の体育館",
        "| 地区 | 収集日 |",
        "策定の趣旨 … 1",
        "本市の財政状況は依然として厳しく、",
        "Otoineppu",
    ],
)
def test_is_heading_negative(line: str):
    assert not is_heading(normalize(line))
    assert heading_level(normalize(line)) is None


def test_is_heading_on_real_paragraphs(houshin_clean: list[PageText]):
    lines = [line for page in houshin_clean for line in page.text.split("\n") if line]
    headings = [line for line in lines if is_heading(line)]
    # The 施政方針 has 16 section titles (総務, 企画, …) and nothing else that looks like one.
    assert all(len(h) <= 8 for h in headings), headings
    assert not any(line.endswith("。") for line in headings)
    assert 12 <= len(headings) <= 20


# --- split_sentences -----------------------------------------------------------------------------


def test_split_sentences():
    text = "おはようございます。本日は「まん延防止等重点措置」の適用について、説明します!よろしいですか?\n次に「はい。」と答えた。Society 5.0 の実現\n\n"
    assert split_sentences(text) == [
        "おはようございます。",
        "本日は「まん延防止等重点措置」の適用について、説明します!",
        "よろしいですか?",
        "次に「はい。」",
        "と答えた。",
        "Society 5.0 の実現",
    ]


def test_split_sentences_brackets_and_fullwidth_period():
    assert split_sentences("研究を行った(2023年)。次に.評価する.No.3 を参照。") == [
        "研究を行った(2023年)。",
        "次に.",
        "評価する.",
        "No.3 を参照。",
    ]
    assert split_sentences("(以下「手話の普及等」という。)に関する") == [
        "(以下「手話の普及等」という。)",
        "に関する",
    ]


@pytest.mark.parametrize("text", ["", "   ", "\n\n", "。", "。。!?"])
def test_split_sentences_never_empty(text: str):
    assert all(s.strip() for s in split_sentences(text))


# --- mojibake ------------------------------------------------------------------------------------


def test_mojibake_score_on_real_files(houshin: list[PageText]):
    kampo = PdfReader(DATA / "pdfminer-sample-kampo.pdf")
    kampo.decrypt("")
    garbage = kampo.pages[0].extract_text()
    assert mojibake_score(garbage) > 0.9
    assert mojibake_score("".join(p.text for p in houshin)) < 0.001


def test_mojibake_score_cases():
    assert mojibake_score("") == 0.0
    assert mojibake_score("住民票の写しの交付について、窓口で受け付けます。㈱ ① ☎ ■ ㎡") == 0.0
    # Newsletter headline fonts with a broken map (広報おといねっぷ 2020-04).
    assert mojibake_score("͓ͱ͍Ͷͬ΀ΉΒͷ") > 0.9
    assert mojibake_score("ݧࢼ೔ ݄ ೔ʢ೔ʣɾ ೔ʢ݄ʣ") == 1.0
    # A broken map that points at random ideographs: outside JIS X 0208, rarely seen in Japanese.
    assert mojibake_score("乪乭乮乯乲乴乵乶乷乸") > 0.5
    assert mojibake_score("\ufffd\ufffd\ufffd本") == 0.75
    # One Wingdings bullet (private use) in a good line stays small.
    assert mojibake_score("\uf06c 避難とは[難]を[避]けること。") < 0.1
    assert mojibake_score("α線とβ線の測定") < 0.3


def test_remove_mojibake_keeps_good_lines_and_cuts_garbage_runs():
    text = "暮らしの掲示板\n͓ͱ͍Ͷͬ΀ΉΒͷ\nりの職員数 257.87 人ձܭ෦ެӦۀا 水道 110\n\uf06c 避難とは[難]を[避]けること。\n国务院の通知"
    kept, removed = remove_mojibake(text)
    assert kept.split("\n") == [
        "暮らしの掲示板",
        "りの職員数 257.87 人 水道 110",
        "\uf06c 避難とは[難]を[避]けること。",
        "国务院の通知",
    ]
    assert removed == 9 + 7
