"""BM25 tokenisation and query clean-up, on sentences taken from the two dev corpora."""

from __future__ import annotations

import threading

import pytest

from yakuba.retriever.tokenize import (
    MAX_PIECE_BYTES,
    JapaneseTokenizer,
    default_tokenizer,
    query_normalize,
    split_for_sudachi,
    tokenize,
)

# kiryu-r4 (桐生市議会 会議録, r4-1-teireikai/2/3)
MINUTES = (
    "これより令和４年桐生市議会第１回定例会を開会いたします。\n"
    "ただいまの出席議員は21名であります。\n"
    "開議前に申し上げます。本定例会は、新型コロナウイルス感染拡大防止に配慮した議会運営を行いますので、"
    "御了承願います。"
)
# jsquad-valid (梅雨#0)
WIKIPEDIA = (
    "梅雨（つゆ、ばいう）は、北海道と小笠原諸島を除く日本、朝鮮半島南部、中国の南部から長江流域にかけての"
    "沿海部、および台湾など、東アジアの広範囲においてみられる特有の気象現象で、5月から7月にかけて来る"
    "曇りや雨の多い期間のこと。"
)


def test_content_words_kept_function_words_dropped() -> None:
    tokens = tokenize(MINUTES)
    for word in ("令和", "桐生", "議会", "定例", "開会", "出席", "議員", "感染", "防止", "運営"):
        assert word in tokens
    # particles, auxiliaries, punctuation, light verbs, honorific prefix
    for function_word in ("を", "は", "に", "の", "ます", "で", "。", "、", "為る", "致す", "御"):
        assert function_word not in tokens
    assert all(not t.isspace() for t in tokens)


def test_wikipedia_sentence() -> None:
    tokens = tokenize(WIKIPEDIA)
    for word in ("梅雨", "北海道", "小笠原", "諸島", "朝鮮", "半島", "台湾", "気象", "現象", "期間"):
        assert word in tokens
    assert "と" not in tokens and "から" not in tokens and "こと" not in tokens


def test_mode_a_splits_compounds_mode_c_does_not() -> None:
    text = "新型コロナウイルス感染拡大防止 桐生市議会"
    assert tokenize(text) == ["新型", "コロナ", "ウイルス", "感染", "拡大", "防止", "桐生", "市", "議会"]
    mode_c = JapaneseTokenizer("C").tokenize(text)
    assert "新型コロナウイルス" in mode_c and "市議会" in mode_c


def test_nfkc_lowercase_and_normalised_forms() -> None:
    # full-width, half-width katakana and case all fold to one term
    assert tokenize("ＤＸ dx Dx") == ["dx", "dx", "dx"]
    assert tokenize("ｺﾛﾅ") == ["コロナ"]
    # spelling variants share SudachiPy's normalised form
    assert tokenize("附属") == tokenize("付属") == ["付属"]
    assert tokenize("ただいま") == tokenize("只今")


def test_numbers_kept() -> None:
    tokens = tokenize("出席議員は21名、２０２２年度の予算は１０万円です。")
    assert "21" in tokens and "2022" in tokens
    assert "100000" in tokens  # 10万 → SudachiPy's numeric normalisation


def test_empty_and_symbol_only() -> None:
    assert tokenize("") == []
    assert tokenize("。、！？　 \n") == []


def test_long_text_over_sudachi_limit() -> None:
    long_text = (MINUTES + "\n") * 200  # ~26k chars, ~70 kB of UTF-8: over SudachiPy's 49,149 bytes
    assert len(long_text.encode("utf-8")) > 49_149
    tokens = tokenize(long_text)
    assert len(tokens) == 200 * len(tokenize(MINUTES))


def test_long_text_without_sentence_breaks() -> None:
    blob = "議会運営" * 6000  # 24k chars, no punctuation: hard cut
    pieces = list(split_for_sudachi(blob))
    assert len(pieces) > 1
    assert "".join(pieces) == blob
    assert all(len(p.encode("utf-8")) <= MAX_PIECE_BYTES for p in pieces)
    assert tokenize(blob).count("議会") >= 5990  # a cut may split one word


def test_split_keeps_text_and_prefers_sentence_ends() -> None:
    text = ("桐生市の財政について質問します。" * 1500) + "終わり"
    pieces = list(split_for_sudachi(text))
    assert "".join(pieces) == text
    assert all(p.endswith("。") for p in pieces[:-1])
    assert list(split_for_sudachi("短い文")) == ["短い文"]


def test_tokenize_many_matches_tokenize() -> None:
    tokenizer = default_tokenizer()
    assert tokenizer.tokenize_many([MINUTES, WIKIPEDIA, ""]) == [tokenize(MINUTES), tokenize(WIKIPEDIA), []]


def test_one_tokenizer_from_many_threads() -> None:
    tokenizer = JapaneseTokenizer()
    expected = tokenizer.tokenize(MINUTES + WIKIPEDIA)
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(30):
                results.append(tokenizer.tokenize(MINUTES + WIKIPEDIA))
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(results) == 120 and all(r == expected for r in results)


def test_signature_names_mode_and_rules() -> None:
    assert JapaneseTokenizer("A").signature != JapaneseTokenizer("C").signature
    assert JapaneseTokenizer(stopwords=()).signature.endswith("-custom")
    assert default_tokenizer().signature == JapaneseTokenizer().signature


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # kiryu-r4's template
        (
            "菱町地内、林野火災の対応について（活動総括及び今後の消防活動全般の取組）について、"
            "議会でどのような質問と答弁がありましたか。",
            "菱町地内、林野火災の対応について(活動総括及び今後の消防活動全般の取組)",
        ),
        ("防災について、委員会ではどんな議論が交わされましたか", "防災"),
        ("学校給食費の無償化について、市議会でどのような質疑がありましたか？", "学校給食費の無償化"),
        # requests
        ("マイナンバーカードの交付状況を教えてください", "マイナンバーカードの交付状況"),
        ("ごみの分別について詳しく教えていただけますか？", "ごみの分別"),
        ("子育て支援の制度について知りたいです", "子育て支援の制度"),
        ("すみません、空き家バンクの登録方法を教えて", "空き家バンクの登録方法"),
        # definitions and question words (jsquad-valid style)
        ("DXとは何ですか？", "DX"),
        ("総合計画の基本目標とはどういう意味ですか", "総合計画の基本目標"),
        ("日本共産党の都道府県組織の最高機関は何か。", "日本共産党の都道府県組織の最高機関"),
        ("国連の正式名称は？", "国連の正式名称"),
        ("ちょうが最初に飛来したのはいつ？", "ちょうが最初に飛来した"),
        ("どこの工場で作っているか", "どこの工場で作っている"),
        # content that looks like boilerplate is kept
        ("ぶどう", "ぶどう"),
        ("市長の発言", "市長の発言"),
        ("その他", "その他"),
        ("サーバー", "サーバー"),
    ],
)
def test_query_normalize(query: str, expected: str) -> None:
    assert query_normalize(query) == expected
    assert query_normalize(expected) == expected  # idempotent


def test_query_normalize_never_returns_empty() -> None:
    assert query_normalize("教えてください") == "教えてください"
    assert query_normalize("議会で質問はありましたか") == "議会で質問はありましたか"
    assert query_normalize("  ") == ""


def test_query_normalize_removes_boilerplate_terms() -> None:
    raw = "太陽光発電所の影響について、議会でどのような質問と答弁がありましたか。"
    assert set(tokenize(raw)) - set(tokenize(query_normalize(raw))) == {"議会", "質問", "答弁"}
