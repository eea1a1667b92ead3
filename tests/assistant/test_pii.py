"""PII masking: precise on real-looking Japanese text (no dates, amounts, 条例番号 or years masked)."""

from __future__ import annotations

import pytest

from yakuba.assistant.pii import find_pii, is_valid_my_number, mask_pii, my_number_check_digit


def _with_check_digit(first11: str) -> str:
    return first11 + str(my_number_check_digit(first11))


def _with_wrong_digit(first11: str) -> str:
    return first11 + str((my_number_check_digit(first11) + 1) % 10)


def test_check_digit_formula_by_hand() -> None:
    # 12345678901: P1..P11 from the right = 1,0,9,8,7,6,5,4,3,2,1; Q = 2..7, 2..6
    total = 1 * 2 + 0 * 3 + 9 * 4 + 8 * 5 + 7 * 6 + 6 * 7 + 5 * 2 + 4 * 3 + 3 * 4 + 2 * 5 + 1 * 6
    assert total % 11 == 3
    assert my_number_check_digit("12345678901") == 11 - 3
    assert my_number_check_digit("00000000000") == 0  # remainder 0 → 0
    assert is_valid_my_number("1234 5678 9018")
    assert not is_valid_my_number("1234 5678 9019")


@pytest.mark.parametrize("first11", ["12345678901", "98765432109", "40817263544", "31415926535"])
def test_my_number_valid_masked_invalid_kept(first11: str) -> None:
    valid, invalid = _with_check_digit(first11), _with_wrong_digit(first11)
    masked = mask_pii(f"申請者の個人番号は{valid}です。")
    assert masked.text == "申請者の個人番号は［マイナンバー］です。"
    assert [f.kind for f in masked.findings] == ["my_number"]
    kept = mask_pii(f"申請者の個人番号は{invalid}です。")
    assert kept.text == f"申請者の個人番号は{invalid}です。" and not kept.findings


def test_my_number_with_separators_and_full_width() -> None:
    v = _with_check_digit("40817263544")
    spaced, hyphened = f"{v[:4]} {v[4:8]} {v[8:]}", f"{v[:4]}-{v[4:8]}-{v[8:]}"
    full = "".join(chr(ord(c) + 0xFEE0) for c in v)
    for form in (spaced, hyphened, full):
        result = mask_pii(f"マイナンバー：{form}（通知カード）")
        assert result.text == "マイナンバー：［マイナンバー］（通知カード）", form
        # spans point into the original text
        f = result.findings[0]
        assert f"マイナンバー：{form}（通知カード）"[f.start : f.end] == form


def test_twelve_digit_amounts_and_longer_numbers_are_not_my_numbers() -> None:
    v = _with_check_digit("12345678901")
    for text in (f"歳出総額は{v}円です。", f"¥{v}", f"口座番号{v}3", f"{v},000"):
        assert not mask_pii(text).findings, text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("お問い合わせは 危機管理課（電話0277-46-1111）まで", "お問い合わせは 危機管理課（電話［電話番号］）まで"),
        ("携帯 090-1234-5678 にご連絡ください", "携帯 ［電話番号］ にご連絡ください"),
        ("TEL：(03)1234-5678", "TEL：［電話番号］"),
        ("代表 03(3581)4111", "代表 ［電話番号］"),
        ("０２７７－４６－１１１１", "［電話番号］"),
        ("フリーダイヤル 0120-123-456", "フリーダイヤル ［電話番号］"),
        ("0800-123-4567", "［電話番号］"),
        ("ナビダイヤル 0570-000-123", "ナビダイヤル ［電話番号］"),
        ("IP電話 050-1234-5678", "IP電話 ［電話番号］"),
        ("+81-90-1234-5678", "［電話番号］"),
        ("電話 0312345678", "電話 ［電話番号］"),
        ("連絡は09012345678へ", "連絡は［電話番号］へ"),
    ],
)
def test_phone_numbers(text: str, masked: str) -> None:
    result = mask_pii(text)
    assert result.text == masked
    assert {f.kind for f in result.findings} == {"phone"}


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("担当：taro.yamada@city.kiryu.lg.jp まで", "担当：［メール］ まで"),
        ("メール ｔａｒｏ＿ｙ＠ｅｘａｍｐｌｅ．ｃｏ．ｊｐ", "メール ［メール］"),
    ],
)
def test_email(text: str, masked: str) -> None:
    assert mask_pii(text).text == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("〒376-8501 群馬県桐生市織姫町1番1号", "［郵便番号］ 群馬県桐生市［住所］"),
        ("〒376-8501 桐生市織姫町1番1号", "［郵便番号］ 桐生市［住所］"),
        ("〒１００－８９２６", "［郵便番号］"),
        ("郵便番号 376-8501", "郵便番号 ［郵便番号］"),
        ("376-8501 群馬県桐生市織姫町1-1", "［郵便番号］ 群馬県桐生市［住所］"),
        ("住所は東京都千代田区霞が関2丁目1番2号です。", "住所は東京都千代田区［住所］です。"),
        ("大阪府大阪市北区中之島1-3-20 ○○マンション305号室に住む", "大阪府大阪市北区［住所］に住む"),
        ("北海道札幌市中央区北1条西2丁目", "北海道札幌市中央区［住所］"),
        ("自宅は前橋市大手町1丁目1番1号です", "自宅は前橋市［住所］です"),
    ],
)
def test_postal_codes_and_addresses_keep_prefecture_and_city(text: str, masked: str) -> None:
    assert mask_pii(text).text == masked


@pytest.mark.parametrize(
    "text",
    [
        "令和7年6月3日に開催し、2025-06-03付けで通知した。",
        "歳出予算は1,234,567円、前年度比12.5%増です。",
        "桐生市条例第12号及び規則第3-2号を改正する。",
        "平成30年度から2025年度までの計画",
        "第123-4567号の通知",
        "群馬県桐生市では、6月1日から受付を始めます。",
        "群馬県桐生市の人口は10万人です。",
        "桐生市民が3-4人で班をつくります。",
        "会議は3-4時間の予定です。",
        "資料p.12-13を参照。",
        "件数は12345678901件です。",
    ],
)
def test_not_personal_data(text: str) -> None:
    assert find_pii(text) == []
    assert mask_pii(text).text == text


def test_mixed_text_offsets_in_original() -> None:
    v = _with_check_digit("98765432109")
    text = f"氏名：山田太郎、個人番号：{v}、電話：０９０－１２３４－５６７８、〒376-8501 群馬県桐生市織姫町1番1号、mail: t.yamada@example.jp"
    result = mask_pii(text)
    assert [f.kind for f in result.findings] == ["my_number", "phone", "postal_code", "address", "email"]
    assert result.text == "氏名：山田太郎、個人番号：［マイナンバー］、電話：［電話番号］、［郵便番号］ 群馬県桐生市［住所］、mail: ［メール］"
    assert text[result.findings[1].start : result.findings[1].end] == "０９０－１２３４－５６７８"
