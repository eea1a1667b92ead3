"""Minutes drafts on a realistic meeting transcript (VTT and plain text), both styles, long input."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from tests.helpers import DATA
from yakuba.assistant.drafts.minutes import MODEL_POOL_FACTOR, MinutesRequest, draft_minutes

TRANSCRIPTS = DATA / "transcripts"
VTT = (TRANSCRIPTS / "bousai_meeting.vtt").read_text(encoding="utf-8")
TEXT = (TRANSCRIPTS / "bousai_meeting.txt").read_text(encoding="utf-8")
AGENDA = ["総合防災訓練の実施計画について", "要配慮者の避難支援について", "広報の進め方について"]


class ScriptedChatModel(BaseChatModel):
    """A real LangChain chat model whose reply is computed from the prompt (for the check logic)."""

    reply: Callable[[str, str], str]
    seen: list[dict[str, Any]] = []

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        system, user = messages[0].text, messages[-1].text
        self.seen.append({"system": system, "user": user, **kwargs})
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self.reply(system, user)))])


def _first_sentence(_: str, user: str) -> str:
    return re.split(r"(?<=。)", user)[0]


def _invent_number(_: str, user: str) -> str:
    return "参加者は999人を見込んでいます。" + re.split(r"(?<=。)", user)[0]


@pytest.mark.parametrize("transcript", [VTT, TEXT], ids=["vtt", "text"])
def test_summary_style_sections(transcript: str) -> None:
    draft = draft_minutes(MinutesRequest(transcript=transcript))
    md = draft.markdown
    for title in ("会議名", "日時", "場所", "出席者", "議題", "発言要旨", "決定事項", "今後の対応"):
        assert f"## {title}" in md
    s = draft.sections
    # inferred from what the chair said, and labelled as such
    assert s.meeting_name.startswith("令和7年度第2回地域防災訓練実行委員会") and "要確認" in s.meeting_name
    assert s.date.startswith("令和7年6月3日")
    assert s.place.startswith("市役所本庁舎3階の第1会議室")
    assert draft.field_sources["attendees"] == "inferred"
    assert s.attendees[0] == "佐藤課長" and "高橋主任" in s.attendees and "小林係長" in s.attendees
    assert s.agenda == AGENDA
    # one block per agenda item (plus the opening), speakers under each
    topics = [block.topic for block in s.summary]
    assert topics[-3:] == AGENDA
    second = s.summary[topics.index(AGENDA[1])]
    assert [sp.speaker for sp in second.speakers][0] == "小林係長"
    assert any("1,286人" in p for sp in second.speakers for p in sp.points)
    # no fillers in the summary
    assert not re.search(r"えー|あのー|えっと|うーん", md)
    for block in s.summary:
        for sp in block.speakers:
            assert sum(map(len, sp.points)) <= 200 or len(sp.points) == 1
    assert draft.engine == "extractive" and draft.parts == 1


def test_decisions_and_actions_with_owner_and_due() -> None:
    draft = draft_minutes(MinutesRequest(transcript=VTT))
    decisions = [d.text for d in draft.sections.decisions]
    assert decisions[0].startswith("放水訓練は30分確保する方向で、実施計画は事務局案のとおりとする。")
    assert "異議なしと認めます" in decisions[0]
    assert "12世帯での避難支援訓練を実施することとします。" in decisions
    assert "広報は事務局案で進めることとします。" in decisions
    actions = {a.text: a for a in draft.sections.actions}
    schedule = actions["小林の方で、日程案を6月20日までに作成して、委員の皆さんに共有します。"]
    assert (schedule.owner, schedule.due) == ("小林係長", "6月20日までに")
    notice = actions["次回の会議までに、各自治会長に周知しておきます。"]
    assert notice.owner == "山本一郎" and notice.due == "次回の会議までに"
    assert actions["山本さん、自治会への周知をお願いできますか。"].owner == "山本一郎"
    assert actions["SNSの投稿計画は、事務局で検討します。"].owner == "事務局"
    # procedural requests are not action items
    assert not any("説明をお願いします" in text or "ご覧ください" in text for text in actions)
    assert "（担当：小林係長／期限：6月20日までに）" in draft.markdown


def test_user_fields_are_used_verbatim() -> None:
    request = MinutesRequest(
        transcript=TEXT,
        meeting_name="第2回 地域防災訓練実行委員会",
        date="令和7年6月3日（火）14時00分～15時10分",
        place="本庁舎 第1会議室",
        attendees=[
            "佐藤 危機管理課長",
            "高橋 主任",
            "山本 委員（自治会連合会）",
            "中村 委員（消防団）",
            "小林 福祉課係長",
            "伊藤 委員（欠席）",
        ],
        agenda=AGENDA,
    )
    draft = draft_minutes(request)
    s = draft.sections
    assert (s.meeting_name, s.date, s.place) == (request.meeting_name, request.date, request.place)
    assert s.attendees == request.attendees and s.agenda == AGENDA
    assert set(draft.field_sources.values()) == {"user"}
    md = draft.markdown
    assert "## 日時\n令和7年6月3日（火）14時00分～15時10分\n" in md
    assert "- 伊藤 委員（欠席）" in md
    assert "推定" not in md.split("## 発言要旨")[0]


def test_missing_fields_marked_to_confirm() -> None:
    transcript = "田中：えー、資料の修正について確認します。\n鈴木：はい、来週までに修正版を共有します。\n"
    draft = draft_minutes(MinutesRequest(transcript=transcript))
    assert draft.sections.meeting_name == "（要確認）"
    assert draft.sections.date == "（要確認）" and draft.sections.place == "（要確認）"
    assert draft.field_sources["agenda"] == "missing"
    assert "## 議題\n（要確認）" in draft.markdown
    actions = {a.speaker: a for a in draft.sections.actions}
    assert (actions["鈴木"].owner, actions["鈴木"].due) == ("鈴木", "来週までに")
    assert actions["田中"].text == "資料の修正について確認します。" and actions["田中"].due is None


def test_verbatim_style() -> None:
    draft = draft_minutes(MinutesRequest(transcript=VTT, style="逐語整文", include_timestamps=True))
    assert "## 発言内容（逐語整文）" in draft.markdown and "## 発言要旨" not in draft.markdown
    verbatim = draft.sections.verbatim
    assert verbatim[0].speaker == "佐藤課長"
    assert verbatim[0].text.startswith("定刻になりましたので、ただいまから")
    assert "［00:00:03］**佐藤課長**：定刻になりましたので" in draft.markdown
    # every substantive sentence of the meeting is kept in order
    joined = "".join(u.text for u in verbatim)
    assert joined.index("1,286人") < joined.index("2万3千部")
    assert "こ、これは" not in joined and "受付は、これは4か所設ける予定です。" in joined


def test_long_transcript_processed_in_parts_and_merged() -> None:
    # ~27,000 characters: the same committee meeting over twenty sessions (numbers differ per session)
    sessions = []
    for n in range(1, 21):
        sessions.append(TEXT.replace("第2回", f"第{n + 1}回").replace("600人", f"{600 + n * 10}人"))
    transcript = "\n".join(sessions)
    assert len(transcript) > 25_000
    draft = draft_minutes(MinutesRequest(transcript=transcript, part_chars=4000, summary_chars=240))
    assert draft.parts >= 4
    assert any("分割" in w for w in draft.warnings)
    for block in draft.sections.summary:
        for sp in block.speakers:
            assert sum(map(len, sp.points)) <= 240 * 1.2 or len(sp.points) == 1
            # reduce keeps no duplicate points
            assert len(set(sp.points)) == len(sp.points)
    speakers = {sp.speaker for block in draft.sections.summary for sp in block.speakers}
    assert {"佐藤課長", "高橋主任", "小林係長"} <= speakers


def test_model_rewrites_accepted_when_faithful() -> None:
    model = ScriptedChatModel(reply=_first_sentence, seen=[])
    draft = draft_minutes(MinutesRequest(transcript=VTT, summary_chars=60), model)
    assert model.seen, "long speaker groups go to the model"
    assert all(call["max_tokens"] <= 60 * 1.5 + 16 for call in model.seen)
    assert draft.engine == "llm"
    assert not draft.warnings


def test_model_reads_the_central_sentences_not_the_whole_turn() -> None:
    # A long turn costs the local model ~1 s of reading per 70 tokens: it gets the turn's best
    # sentences worth MODEL_POOL_FACTOR budgets (one sentence more at most), never the whole turn.
    sentences = [f"{topic}について、第{n}期の計画では地域の皆さまと協議を重ねてまいりました。" for n, topic in
                 enumerate(["防災訓練", "避難所", "給水車", "広報紙", "要配慮者", "自主防災組織", "備蓄倉庫",
                            "ハザードマップ", "防災無線", "避難経路"] * 3)]  # fmt: skip
    turn = "".join(sentences)
    model = ScriptedChatModel(reply=_first_sentence, seen=[])
    draft_minutes(MinutesRequest(transcript=f"佐藤課長: {turn}", summary_chars=60), model)
    first = model.seen[0]["user"]
    longest = max(map(len, sentences))
    assert len(turn) > 10 * 60 and len(first) <= 60 * MODEL_POOL_FACTOR + longest
    assert all(s in turn for s in re.split(r"(?<=。)", first) if s)


def test_model_inventing_numbers_falls_back_to_extractive() -> None:
    model = ScriptedChatModel(reply=_invent_number, seen=[])
    draft = draft_minutes(MinutesRequest(transcript=VTT, summary_chars=60), model)
    assert model.seen
    assert "999人" not in draft.markdown
    assert draft.engine == "extractive"
    assert any("抽出による文に置き換えました" in w for w in draft.warnings)


def test_mask_applied_to_model_input() -> None:
    model = ScriptedChatModel(reply=_first_sentence, seen=[])
    draft_minutes(
        MinutesRequest(transcript=VTT, summary_chars=60),
        model,
        mask=lambda t: t.replace("緑ヶ丘", "［地名］"),
    )
    assert all("緑ヶ丘" not in call["user"] for call in model.seen)


def test_bad_requests() -> None:
    from pydantic import ValidationError

    from yakuba.assistant.transcript import TranscriptError

    with pytest.raises(ValidationError):
        MinutesRequest(transcript="")
    with pytest.raises(ValidationError):
        MinutesRequest(transcript="x", style="自由形式")
    with pytest.raises(TranscriptError):
        draft_minutes(MinutesRequest(transcript="WEBVTT\n\n"))


RAW_VTT = """WEBVTT

00:00:00.000 --> 00:00:04.000
<v 話者1>えー ただいまの出席議員は二十二名であります</v>

00:00:04.300 --> 00:00:08.000
<v 話者1>会期は本日から三月十八日までの二十六日間といたしたいと思います</v>

00:00:08.300 --> 00:00:12.000
<v 話者2>あの 報告第一号について三点ほどお伺いします まず一点目 給付金の支給状況は</v>
"""
LONG_TURN = (
    "本市の公共交通については路線バスの利用者が年々減少しておりデマンド交通の導入を含めて地域の実情に合った"
    "移動手段の確保を検討していく必要があると考えておりその具体的な方策として来年度に実証運行を行う予定であり"
    "地域の皆様の御意見を伺いながら進めてまいる所存であります"
)


def test_verbatim_from_a_raw_transcript_gets_digits_and_sentences() -> None:
    """Whisper-like input: no punctuation, spoken numerals, tool labels, fillers → a readable record."""
    draft = draft_minutes(MinutesRequest(transcript=RAW_VTT, style="逐語整文"))
    turns = draft.sections.verbatim
    assert [u.speaker for u in turns] == ["話者1", "話者2"]
    assert (
        turns[0].text
        == "ただいまの出席議員は22名であります。会期は本日から3月18日までの26日間といたしたいと思います。"
    )
    assert turns[1].text.startswith("報告第1号について3点ほどお伺いします。まず1点目、給付金")
    assert "えー" not in draft.markdown and "あの" not in draft.markdown
    assert draft.engine == "extractive"


@pytest.mark.parametrize(
    ("reply", "accepted"),
    [
        (lambda _s, user: user.replace("しており", "しており、").replace("考えており", "考えており、"), True),
        (lambda _s, user: user.replace("検討", "研究"), False),  # a changed word: never in a 逐語 record
    ],
    ids=["punctuation-only", "changed-word"],
)
def test_verbatim_model_may_only_add_punctuation(reply: Callable[[str, str], str], accepted: bool) -> None:
    model = ScriptedChatModel(reply=reply)
    draft = draft_minutes(MinutesRequest(transcript=f"佐藤課長: {LONG_TURN}", style="逐語整文"), model)
    text = draft.sections.verbatim[0].text
    if accepted:
        assert "減少しており、デマンド" in text and draft.engine == "llm"
    else:
        assert text == LONG_TURN + "。" and "研究" not in text
        assert draft.engine == "extractive" and any("抽出" in w for w in draft.warnings)
