"""Surveys as municipalities send them (cp932 / EUC-JP CSV, two-row Excel headers, code books, 0/1
flags), and the clear errors for files that cannot be analysed."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from tests.assistant.surveys_support import (
    SATISFACTION,
    SCALE,
    coded,
    csv_bytes,
    flags,
    multiple_counts,
    small_frame,
    xlsx_two_row_header,
)
from yakuba.assistant.surveys import SurveySettings, analyze
from yakuba.assistant.surveys.read import decode, read_survey
from yakuba.core.errors import ErrorKind, InvalidInputError, YakubaError

FAST = SurveySettings(themes=False)


def _counts(data: bytes, name: str, settings: SurveySettings = FAST) -> dict[str, dict[str, int]]:
    analysis = analyze(data, name, settings, charts=False).analysis
    return {t.question: {r.label: r.count for r in t.rows if r.count} for t in analysis.tables}


def _encodable(frame: pd.DataFrame, encoding: str) -> pd.DataFrame:
    ok = frame.apply(lambda row: all(pd.isna(v) or _fits(str(v), encoding) for v in row), axis=1)
    return frame[ok]


def _fits(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


@pytest.mark.parametrize("encoding", ["cp932", "euc_jp"])
def test_shift_jis_and_euc_jp_csv_give_the_same_counts_as_utf8(encoding: str) -> None:
    frame = _encodable(small_frame(), encoding)
    assert len(frame) > 250
    text, detected = decode(csv_bytes(frame, encoding))
    assert detected == encoding and "満足度（交通）" in text
    assert _counts(csv_bytes(frame, encoding), "a.csv") == _counts(csv_bytes(frame, "utf-8-sig"), "a.csv")
    assert _counts(csv_bytes(frame, encoding), "a.csv")["年代"] == frame["年代"].value_counts().to_dict()


def test_xlsx_with_two_header_rows_and_two_sheets() -> None:
    frame = small_frame(columns=["性別", "年代"] + [f"満足度（{s}）" for s in SATISFACTION])
    data = xlsx_two_row_header(frame)
    with pytest.raises(InvalidInputError) as raised:
        analyze(data, "survey.xlsx", FAST, charts=False)
    assert raised.value.code == "survey_choose_sheet" and raised.value.detail == {"sheets": ["回答", "説明"]}
    assert "シートが複数" in raised.value.message_ja
    raw = read_survey(data, "survey.xlsx", sheet="回答")
    assert raw.header_rows == 2
    assert raw.header == ["性別", "年代"] + [f"満足度（{s}）" for s in SATISFACTION]
    counts = _counts(data, "survey.xlsx", SurveySettings(sheet="回答", themes=False))
    for column in frame.columns:
        assert counts[column] == frame[column].value_counts().to_dict(), column
    analysis = analyze(data, "survey.xlsx", SurveySettings(sheet="回答", themes=False), charts=False).analysis
    assert [r.label for r in analysis.table("満足度（旅行全体）").rows] == SCALE


def test_code_book_turns_codes_into_labels_in_the_code_book_order() -> None:
    frame = small_frame()
    data, book = coded(frame)
    plain = analyze(data, "coded.csv", FAST, charts=False).analysis
    assert plain.table("年代").rows[0].label.isdigit()  # without the book the codes are all there is
    analysis = analyze(data, "coded.csv", FAST, codebook=(book, "codebook.csv"), charts=False).analysis
    satisfaction = analysis.table("満足度（旅行全体）")
    assert satisfaction.kind == "scale"
    assert [r.label for r in satisfaction.rows] == SCALE  # the book's order, codes never chosen included
    assert {r.label: r.count for r in satisfaction.rows if r.count} == frame["満足度（旅行全体）"].value_counts().to_dict()
    assert {r.label: r.count for r in analysis.table("年代").rows if r.count} == frame["年代"].value_counts().to_dict()
    assert analysis.settings.codebook["年代"]["1"] == "10代"  # saved with the analysis, so it can be rerun


def test_flag_columns_become_one_multiple_choice_question() -> None:
    frame = small_frame()
    data, options = flags(frame)
    analysis = analyze(data, "flags.csv", FAST, charts=False).analysis
    question = next(c for c in analysis.columns if c.name == "訪問目的")
    assert question.kind == "multiple" and len(question.flag_columns) == len(options)
    table = analysis.table("訪問目的")
    assert {r.label: r.count for r in table.rows if r.count} == multiple_counts(frame["訪問目的"])
    assert table.n == frame["訪問目的"].notna().sum() and table.base == "respondents"


def test_kind_overrides_and_saved_settings_rerun_the_same_analysis() -> None:
    data = csv_bytes(small_frame(), "utf-8")
    first = analyze(data, "a.csv", SurveySettings(themes=False, kinds={"おすすめ度": "single"}, by=["年代"]),
                    charts=False).analysis
    column = next(c for c in first.columns if c.name == "おすすめ度")
    assert (column.kind, column.detected) == ("single", "score")
    again = analyze(data, "a.csv", SurveySettings.model_validate_json(first.settings.model_dump_json()),
                    charts=False).analysis
    assert again.tables == first.tables and again.crosses == first.crosses


@pytest.mark.parametrize(
    ("data", "name", "code"),
    [
        (b"", "empty.csv", "survey_empty_file"),
        ("Größe,Maße\nä,ö\nü,ß\n".encode("latin-1"), "latin1.csv", "survey_encoding"),
        (b"\x00\x81\x00\xa0\xff\x10" * 50, "binary.csv", "survey_encoding"),
        (b"1,2,3\n4,5,6\n7,8,9\n", "noheader.csv", "survey_no_header"),
        (b"2025/4/1,20,3\n2025/4/2,30,4\n", "dates.csv", "survey_no_header"),
        ("性別,年代\n".encode(), "headeronly.csv", "survey_no_data"),
        ("性別,年代\n,\n,\n".encode(), "blank.csv", "survey_no_data"),
        (b"PK\x03\x04broken", "broken.xlsx", "survey_bad_xlsx"),
        (b"%PDF-1.7", "survey.pdf", "survey_unsupported_type"),
    ],
)
def test_bad_files_give_a_clear_japanese_and_english_error(data: bytes, name: str, code: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        analyze(data, name, FAST, charts=False)
    error = raised.value
    assert error.code == code and error.kind == ErrorKind.INVALID
    assert error.message_ja != error.message_en and " / " in str(error)


def test_utf16_from_excel_unicode_text_is_read() -> None:
    raw = read_survey("性別\t年代\n男性\t20代\n女性\t30代\n".encode("utf-16"), "export.txt")
    assert (raw.encoding, raw.header, raw.rows[1]) == ("utf-16", ["性別", "年代"], ["女性", "30代"])


def test_empty_columns_are_reported_not_tabulated() -> None:
    data = "性別,未使用,年代\n男性,,20代\n女性,,30代\n女性,,30代\n".encode()
    analysis = analyze(data, "a.csv", FAST, charts=False).analysis
    assert next(c for c in analysis.columns if c.name == "未使用").kind == "empty"
    assert "未使用" not in {t.question for t in analysis.tables}
    assert any("未使用" in w for w in analysis.warnings)


def test_too_large_unknown_column_and_bad_cross_attribute() -> None:
    data = csv_bytes(small_frame(50), "utf-8")
    with pytest.raises(YakubaError) as raised:
        analyze(data, "a.csv", FAST, max_bytes=100)
    assert raised.value.kind == ErrorKind.TOO_LARGE and "大きすぎ" in raised.value.message_ja
    with pytest.raises(InvalidInputError) as raised:
        analyze(data, "a.csv", SurveySettings(by=["居住地"], themes=False), charts=False)
    assert raised.value.code == "survey_no_column" and "性別" in raised.value.detail["columns"]
    with pytest.raises(InvalidInputError) as raised:
        analyze(data, "a.csv", SurveySettings(by=["訪問目的"], themes=False), charts=False)
    assert raised.value.code == "survey_bad_by"
    with pytest.raises(InvalidInputError) as raised:
        analyze(io.BytesIO(data).read(), "a.csv", SurveySettings(kinds={"性別": "number"}, themes=False), charts=False)
    assert raised.value.code == "survey_bad_kind"
