"""The abstention decision's council-question refinements: topic outside brackets, member's speech."""

from __future__ import annotations

from yakuba.assistant.relevance import HEAD_MIN_COVERAGE, asks_member_question, assess, split_qualifier
from yakuba.core.types import MEMBER_ROLE
from yakuba.retriever.search import Passage

QUESTION = "水沼診療所について（水沼診療所の進捗状況、診療所の再開時期、診療再開時のスタッフ体制）について、議会でどのような質問と答弁がありましたか。"
MEMBER_SPEECH = "○3番議員（山田太郎）\n水沼診療所についてお伺いいたします。地域の方々から不安の声が寄せられております。"
OFFICIAL_ANSWER = "○保健福祉部長（佐藤花子）\n水沼診療所についてお答えいたします。地域の医療を守るため協議を続けております。"


def speech(text: str, role: str, n: int = 0) -> Passage:
    return Passage(chunk_id=f"m/{n}#0", doc_id=f"m/{n}", title="桐生市議会 令和4年第2回定例会", doc_type="議会会議録",
                   text=text, role=role, speaker="山田太郎", score=1.0)


def test_split_qualifier_handles_nested_and_cut_off_brackets() -> None:
    assert split_qualifier("今日の天気は") is None
    assert split_qualifier("ファド（Fado）発祥の国は") == ("ファド発祥の国は", " Fado ")
    head, inner = split_qualifier("御城印について（観光について(県内の事例)、周遊観光）について")  # type: ignore[misc]
    assert head == "御城印についてについて" and "県内の事例" in inner and "周遊観光" in inner
    # A detail cut off inside its own bracket: 「…6次産業化 (桐生）について」 never closes the outer one.
    head, inner = split_qualifier("生産力の向上について（新規就農、6次産業化 (桐生）について、議会で")  # type: ignore[misc]
    assert head == "生産力の向上についてについて、議会で" and inner.startswith("新規就農")
    assert split_qualifier("答え）は何か（") is None


def test_member_question_wording() -> None:
    assert asks_member_question(QUESTION)
    assert asks_member_question("一般質問で取り上げられた子育て支援は")
    assert asks_member_question("議員からどんな質問が出ましたか")
    assert not asks_member_question("水沼診療所の再開時期は")
    assert not asks_member_question("マイナンバーカードのよくある質問は")


def test_topic_outside_brackets_makes_a_passage_relevant() -> None:
    """The member's opening names the topic but not the listed details: relevant, not 60 % of all words."""
    relevance = assess(QUESTION, [speech(MEMBER_SPEECH, MEMBER_ROLE)])
    assert relevance.passage_coverage[0] < 0.6  # the details (進捗状況, 再開時期, スタッフ体制) are missing
    assert relevance.head_coverage == [1.0]
    assert relevance.abstain_reason(0.6) is None
    assert relevance.abstain_reason(0.6, head_threshold=HEAD_MIN_COVERAGE + 0.2) == "low_relevance"


def test_only_officials_answers_do_not_say_what_a_member_asked() -> None:
    officials = assess(QUESTION, [speech(OFFICIAL_ANSWER, "保健福祉部長")])
    assert officials.by_member == [False]
    assert officials.abstain_reason(0.6) == "member_question_not_found"
    assert officials.abstain_reason(0.6, member_rule=False) is None
    both = assess(QUESTION, [speech(OFFICIAL_ANSWER, "保健福祉部長", 1), speech(MEMBER_SPEECH, MEMBER_ROLE, 2)])
    assert both.abstain_reason(0.6) is None
    committee = assess(QUESTION, [speech(OFFICIAL_ANSWER, "保健福祉部長", 1), speech(MEMBER_SPEECH, "委員", 2)])
    assert committee.abstain_reason(0.6) is None  # a committee member's 質疑 is a member's question too
    chair = assess(QUESTION, [speech(OFFICIAL_ANSWER, "保健福祉部長", 1), speech(MEMBER_SPEECH, "委員長", 2)])
    assert chair.abstain_reason(0.6) == "member_question_not_found"


def test_member_rule_needs_a_question_about_questions_and_speakers() -> None:
    plain = assess("水沼診療所について教えてください", [speech(OFFICIAL_ANSWER, "保健福祉部長")])
    assert plain.by_member is None and plain.abstain_reason(0.6) is None
    no_roles = assess(QUESTION, [speech(OFFICIAL_ANSWER, "")])
    assert no_roles.by_member is None


def test_a_member_speech_on_another_topic_does_not_count() -> None:
    other = speech("○5番議員（鈴木一郎）\n学校給食の無償化についてお伺いします。", MEMBER_ROLE, 3)
    relevance = assess(QUESTION, [speech(OFFICIAL_ANSWER, "保健福祉部長", 1), other])
    assert relevance.abstain_reason(0.6) == "member_question_not_found"
