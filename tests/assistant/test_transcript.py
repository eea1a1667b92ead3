"""Transcript parsing (VTT/SRT/text) and ケバ取り on meeting-like Japanese."""

from __future__ import annotations

import pytest

from tests.helpers import DATA
from yakuba.assistant.transcript import (
    TranscriptError,
    Utterance,
    clean_text,
    clean_transcript,
    clean_utterances,
    detect_format,
    normalize_speaker,
    parse_transcript,
)

TRANSCRIPTS = DATA / "transcripts"


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("えー、それでは定刻になりましたので、会議を始めます。", "それでは定刻になりましたので、会議を始めます。"),
        ("あのー、えー、本日はお忙しいところ", "本日はお忙しいところ"),
        ("その件については、あの、確認します。", "その件については、確認します。"),
        ("予算はえー300万円です", "予算は300万円です"),
        ("えっとですね、資料の3ページ", "資料の3ページ"),
        ("うーん、難しいですね", "難しいですね"),
        ("まあ、いいでしょう", "いいでしょう"),
        ("なんか、よくわからないですね", "よくわからないですね"),
        ("ええ、そうです。", "そうです。"),
        ("今回の件は えー 前回と 同じです", "今回の件は前回と同じです"),
        # stutters and repeated words keep the last copy
        ("これ、これは重要です。", "これは重要です。"),
        ("こ、これは", "これは"),
        ("で、で、予算は", "で、予算は"),
        ("なかなか、なかなか手が挙がらない", "なかなか手が挙がらない"),
        ("予算は、えー、三百万円、三百万円です", "予算は、三百万円です"),
    ],
)
def test_fillers_and_stutters_removed(raw: str, cleaned: str) -> None:
    assert clean_text(raw) == cleaned


@pytest.mark.parametrize(
    "text",
    [
        "あの人が来ました。",  # あの as a demonstrative
        "その件について確認します。",
        "その方針で進めます。",
        "なんか問題があるようです。",  # なんか = something
        "まあまあの出来です。",
        "へえー、そうなんですね",  # えー inside an interjection
        "国、県、市、市議会の順です。",  # a list, not a stutter
        "1、1、2の順に並べます。",  # numbers are never stutters
    ],
)
def test_real_words_survive(text: str) -> None:
    assert clean_text(text) == text


def test_inline_timestamps_removed() -> None:
    assert clean_text("[00:12:34] 次の議題に移ります。") == "次の議題に移ります。"


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("田中 太郎さん", "田中太郎"),
        ("【田中　太郎】", "田中太郎"),
        ("田中太郎様", "田中太郎"),
        ("ｻﾄｳ課長", "サトウ課長"),
        ("○山本君", "山本"),
        ("Tanaka Taro", "Tanaka Taro"),
    ],
)
def test_speaker_names_normalised(raw: str, name: str) -> None:
    assert normalize_speaker(raw) == name


def test_teams_vtt_voice_tags_duplicates_and_merging() -> None:
    text = (TRANSCRIPTS / "bousai_meeting.vtt").read_text(encoding="utf-8")
    assert detect_format(text) == "vtt"
    raw = parse_transcript(text)
    assert raw.format == "vtt"
    assert raw.utterances[0].speaker == "佐藤 課長"
    assert raw.utterances[0].start == pytest.approx(3.12)
    cleaned = clean_transcript(text).utterances
    speakers = [u.speaker for u in cleaned]
    assert speakers[:4] == ["佐藤課長", "高橋主任", "山本一郎", "高橋主任"]
    # consecutive cues of one speaker are one turn; the repeated cue (16-1) is gone
    takahashi = cleaned[1].text
    assert takahashi.count("緑ヶ丘小学校のグラウンドと体育館で実施する予定です") == 1
    assert "えー" not in takahashi and "あのー" not in takahashi
    assert cleaned[1].start == pytest.approx(22.3) and cleaned[1].end == pytest.approx(63.3)
    # a cue that ended mid-sentence is joined without a stray period
    assert "正午まで、緑ヶ丘小学校" in takahashi


def test_zoom_vtt_speaker_prefix_and_rolling_captions() -> None:
    vtt = (
        "WEBVTT\n\n1\n00:00:01.000 --> 00:00:03.000\n山田 花子: えー、本日の議題は2点です。\n\n"
        "2\n00:00:03.000 --> 00:00:05.500\n山田 花子: 本日の議題は2点です。まず、予算の執行状況です。\n\n"
        "3\n00:00:06.000 --> 00:00:08.000\n鈴木: 了解しました。\n"
    )
    cleaned = clean_transcript(vtt).utterances
    assert [u.speaker for u in cleaned] == ["山田花子", "鈴木"]
    assert cleaned[0].text == "本日の議題は2点です。まず、予算の執行状況です。"


def test_srt() -> None:
    srt = (
        "1\n00:00:01,000 --> 00:00:04,000\n田中：えっと、資料の説明をします。\n\n"
        "2\n00:00:04,500 --> 00:00:07,000\n田中：3ページをご覧ください。\n\n"
        "3\n00:00:08,000 --> 00:00:09,000\n- 佐藤：質問があります。\n"
    )
    parsed = clean_transcript(srt)
    assert parsed.format == "srt"
    assert [(u.speaker, u.text) for u in parsed.utterances] == [
        ("田中", "資料の説明をします。3ページをご覧ください。"),
        ("佐藤", "質問があります。"),
    ]
    assert parsed.utterances[0].start == 1.0 and parsed.utterances[0].end == 7.0


def test_plain_text_forms_and_header_metadata() -> None:
    text = (
        "会議名：第1回 庁内DX推進会議\n日時：令和7年5月12日（月）10時\n"
        "【司会】えー、ただいまから始めます。\n"
        "鈴木課長: あの、まず報告です。\n"
        "報告の続きです。\n"
        "佐藤：質問があります。\n"
    )
    parsed = clean_transcript(text)
    assert parsed.metadata == {"meeting_name": "第1回 庁内DX推進会議", "date": "令和7年5月12日(月)10時"}
    assert [(u.speaker, u.text) for u in parsed.utterances] == [
        ("司会", "ただいまから始めます。"),
        ("鈴木課長", "まず報告です。報告の続きです。"),
        ("佐藤", "質問があります。"),
    ]


def test_teams_text_export_speaker_header_lines() -> None:
    text = "田中 太郎   0:03\nえー、それでは始めます。\n\n佐藤 花子   1:15\nよろしくお願いします。\n"
    parsed = clean_transcript(text)
    assert [(u.speaker, u.text, u.start) for u in parsed.utterances] == [
        ("田中太郎", "それでは始めます。", 3.0),
        ("佐藤花子", "よろしくお願いします。", 75.0),
    ]


def test_unlabelled_whisper_text_keeps_paragraphs() -> None:
    parsed = clean_transcript("えー それでは 始めます\nあの 予算について\n\nうーん 次に 移ります")
    assert [u.speaker for u in parsed.utterances] == [None, None]
    assert parsed.utterances[0].text == "それでは始めます。予算について。"


def test_url_is_not_a_speaker_and_clock_time_is_not_a_label() -> None:
    parsed = clean_transcript("詳しくは https://www.city.example.lg.jp をご覧ください\n10:30 から再開します")
    assert all(u.speaker is None for u in parsed.utterances)


def test_identical_consecutive_turns_collapse_but_different_speakers_do_not() -> None:
    turns = [
        Utterance(speaker="A", text="異議なし。"),
        Utterance(speaker="A", text="異議なし。"),
        Utterance(speaker="B", text="異議なし。"),
    ]
    assert [(u.speaker, u.text) for u in clean_utterances(turns)] == [("A", "異議なし。"), ("B", "異議なし。")]


def test_bad_input_errors() -> None:
    with pytest.raises(TranscriptError) as err:
        parse_transcript("   \n")
    assert err.value.code == "empty_transcript"
    with pytest.raises(TranscriptError) as err:
        parse_transcript("WEBVTT\n\nNOTE only a note\n", "vtt")
    assert err.value.code == "bad_transcript"
    assert "VTT" in err.value.message_ja
