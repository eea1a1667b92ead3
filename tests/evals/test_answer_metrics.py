"""Answer metrics against hand-computed values (evals/answer_metrics.py)."""

from __future__ import annotations

import pytest

from yakuba.assistant.schemas import ABSTENTION_MESSAGE, Citation
from yakuba.evals.answer_metrics import (
    abstention_correct,
    answer_contains,
    char_bigrams,
    char_f1,
    citation_precision,
    citation_recall,
    groundedness,
    is_boilerplate,
    lexical_support,
    llm_judge,
    marker_numbers,
    mean_defined,
    normalize_chars,
    parse_judgement,
    sentence_support,
    split_sentences,
)


def _cite(n: int, doc_id: str, excerpt: str, title: str = "") -> Citation:
    return Citation(n=n, doc_id=doc_id, title=title, excerpt=excerpt, score=1.0)


# --- answer_contains ----------------------------------------------------------------------------


def test_answer_contains_after_nfkc_and_whitespace_removal() -> None:
    # full-width digits and a space inside the answer: NFKC folds １９５５ to 1955, spaces go
    assert answer_contains("気象庁は １９５５ 年ごろに始めました[1]。", ["1955年"]) == 1.0
    # the citation marker between the gold characters does not break the match
    assert answer_contains("任期は5[1]年です。", ["5年"]) == 1.0
    assert answer_contains("ｽﾍﾟｲﾝです", ["スペイン"]) == 1.0  # half-width kana
    assert answer_contains("フランスです", ["スペイン", "イタリア"]) == 0.0
    assert answer_contains("ISO と書かれています", ["iso"]) == 1.0  # case folded


def test_answer_contains_edge_cases() -> None:
    assert answer_contains("何でも", []) is None  # no gold answer → not applicable
    assert answer_contains("何でも", ["", "  "]) is None
    # an abstention never counts, even when its text would contain the gold string
    assert answer_contains(ABSTENTION_MESSAGE, ["資料"]) == 0.0
    assert answer_contains("スペインです", ["スペイン"], abstained=True) == 0.0


# --- char_f1 ------------------------------------------------------------------------------------


def test_char_f1_hand_computed() -> None:
    # answer 「5年です」 → chars 5 年 で す (4); gold 「5年」 (2); overlap 2
    # precision 2/4, recall 2/2 → F1 = 2·0.5·1/1.5 = 0.6667
    assert char_f1("5年です。[1]", ["5年"]) == pytest.approx(2 / 3)
    # best gold wins: 「1955年ごろ」 vs answer 「1955年ごろ」 = 1.0 beats 「1955年」 (F1 0.8)
    assert char_f1("1955年ごろ", ["1955年", "1955年ごろ"]) == pytest.approx(1.0)
    assert char_f1("1955年ごろ", ["1955年"]) == pytest.approx(2 * (5 / 7) * 1 / (5 / 7 + 1))
    # multiset overlap: answer あああ vs gold あい → overlap 1; P 1/3, R 1/2 → F1 0.4
    assert char_f1("あああ", ["あい"]) == pytest.approx(0.4)
    # punctuation and whitespace are not characters of the answer: 「スペイン。」 = 「スペイン」
    assert char_f1("「スペイン」。", ["スペイン"]) == pytest.approx(1.0)


def test_char_f1_no_shared_character() -> None:
    # フランス / イタリア share no character → 0; 「ロンドン」 vs 「ロンドン市」: P 4/4, R 4/5 → F1 8/9
    assert normalize_chars("フランス") == "フランス"
    assert char_f1("フランス", ["イタリア"]) == 0.0
    assert char_f1("ロンドン", ["ロンドン市"]) == pytest.approx(8 / 9)


def test_char_f1_edge_cases() -> None:
    assert char_f1("何か", []) is None
    assert char_f1("スペイン", ["スペイン"], abstained=True) == 0.0
    assert char_f1(ABSTENTION_MESSAGE, ["資料"]) == 0.0
    assert char_f1("", ["スペイン"]) == 0.0


# --- citations ----------------------------------------------------------------------------------


def test_citation_precision_and_recall_hand_computed() -> None:
    # cited {a, b, c} (a twice), gold {a, d}: precision 1/3, recall 1/2
    assert citation_precision(["a", "b", "a", "c"], ["a", "d"]) == pytest.approx(1 / 3)
    assert citation_recall(["a", "b", "a", "c"], ["a", "d"]) == pytest.approx(1 / 2)
    assert citation_precision(["a"], ["a", "d"]) == 1.0
    assert citation_recall(["a", "d", "x"], ["a", "d"]) == 1.0


def test_zero_citations_and_no_gold() -> None:
    # zero citations against gold: 0 for both (an uncited answer has no verified source)
    assert citation_precision([], ["a"]) == 0.0
    assert citation_recall([], ["a"]) == 0.0
    # no gold documents: not applicable
    assert citation_precision(["a"], []) is None
    assert citation_recall(["a"], []) is None


# --- sentences, boilerplate, support --------------------------------------------------------------


def test_split_sentences_keeps_trailing_markers_with_their_sentence() -> None:
    text = "資料によると、次のとおりです。\n任期は5年です[1]。1955年に始まりました。[2]\n- 箇条書き[1]"
    assert split_sentences(text) == [
        "資料によると、次のとおりです。",
        "任期は5年です[1]。",
        "1955年に始まりました。[2]",
        "- 箇条書き[1]",
    ]
    assert split_sentences("本当ですか？はい！") == ["本当ですか?", "はい!"]  # NFKC folds ？ to ?
    # a marker after 「！」 with its own 。 belongs to the exclamation, not to a sentence of its own
    assert split_sentences("番組名はしんけん！[1]。次の文[2]。") == ["番組名はしんけん![1]。", "次の文[2]。"]
    assert marker_numbers("a[1][2] b[3, 1] ［４］") == [1, 2, 3, 4]


def test_boilerplate_is_anchored() -> None:
    assert is_boilerplate("資料によると、次のとおりです。")
    assert is_boilerplate("以下のとおりです。")
    assert is_boilerplate("以上です。")
    assert not is_boilerplate("税率は次のとおり10%です。")
    assert not is_boilerplate("はい。")
    assert not is_boilerplate("任期は5年です。")


def test_bigram_and_token_support_hand_computed() -> None:
    # bigrams of 「任期は5年」: 任期 期は は5 5年 (4); passage 「国家主席の任期は5年である」 has all 4
    assert char_bigrams("任期は5年") == {"任期", "期は", "は5", "5年"}
    assert lexical_support("任期は5年", "国家主席の任期は5年である", method="bigrams") == 1.0
    # 「任期は7年」: 任期 期は hit, は7 7年 miss → 2/4
    assert lexical_support("任期は7年", "国家主席の任期は5年である", method="bigrams") == 0.5
    # tokens: 任期 / 7 / 年 (は is a particle, dropped); passage has 任期 and 年 → 2/3
    assert lexical_support("任期は7年です。", "国家主席の任期は5年である", method="tokens") == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        lexical_support("a", "b", method="nli")


def test_sentence_support_and_groundedness_hand_computed() -> None:
    citations = [
        _cite(1, "laos", "ラオスの国家主席の任期は5年である。国会で選出される。", title="ラオス"),
        _cite(2, "spain", "スペインでは建築家が建築管理を行う。"),
    ]
    answer = (
        "以下のとおりです。\n"  # boilerplate: not judged
        "ラオスの国家主席の任期は5年です[1]。"  # supported by [1]
        "建築管理は建築家が行います[2]。"  # supported by [2]
        "首都はビエンチャンです[1]。"  # cited, but [1] does not say it → unsupported
        "人口は約700万人です。"  # no citation → unsupported
        "財政は黒字です[9]。"  # cites a number that does not exist → unsupported
    )
    verdicts = sentence_support(answer, citations)
    reasons = [v.reason for v in verdicts]
    assert reasons == ["boilerplate", "lexical-tokens", "lexical-tokens", "lexical-tokens", "no citation",
                       "unknown citation number"]
    assert [v.supported for v in verdicts] == [None, True, True, False, False, False]
    # 2 supported of 5 judged sentences
    assert groundedness(verdicts) == pytest.approx(2 / 5)
    assert groundedness(verdicts, abstained=True) is None
    # only boilerplate → nothing to judge
    assert groundedness(sentence_support("以下のとおりです。", citations)) is None
    # the abstention message is neither supported nor unsupported
    abstain = sentence_support(ABSTENTION_MESSAGE, [])
    assert [v.reason for v in abstain] == ["abstention"] and groundedness(abstain) is None


def test_full_passage_text_overrides_short_excerpt() -> None:
    citations = [_cite(1, "d", "前半だけの抜粋。")]
    sentence = "後半には補助金の上限が30万円と書かれています[1]。"
    assert groundedness(sentence_support(sentence, citations)) == 0.0
    full = {1: "前半だけの抜粋。後半には補助金の上限が30万円と書かれている。"}
    assert groundedness(sentence_support(sentence, citations, passage_texts=full)) == 1.0


def test_llm_judge_hook_replaces_lexical_check() -> None:
    seen: list[tuple[str, str]] = []

    def judge(sentence: str, evidence: str) -> bool:
        seen.append((sentence, evidence))
        return "5年" in sentence

    citations = [_cite(1, "laos", "任期は5年である。")]
    verdicts = sentence_support("任期は5年です[1]。任期は9年です[1]。根拠なし。", citations, judge=judge)
    assert [v.supported for v in verdicts] == [True, False, False]
    assert [v.reason for v in verdicts] == ["judge", "judge", "no citation"]
    assert len(seen) == 2 and seen[0][0] == "任期は5年です。" and "任期は5年である。" in seen[0][1]
    assert parse_judgement("はい。裏付けられます") and parse_judgement("Yes")
    assert not parse_judgement("いいえ") and not parse_judgement("判断できません")


# --- abstention and aggregation -------------------------------------------------------------------


def test_abstention_and_mean() -> None:
    assert abstention_correct(True, True) == 1.0
    assert abstention_correct(False, False) == 1.0
    assert abstention_correct(True, False) == 0.0
    assert abstention_correct(False, True) == 0.0
    assert mean_defined([1.0, None, 0.0, 0.5]) == pytest.approx(0.5)
    assert mean_defined([None, None]) is None


def test_llm_judge_asks_a_chat_model_yes_or_no() -> None:
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    judge = llm_judge(FakeListChatModel(responses=["はい。根拠文に書かれています。", "いいえ"]))
    citations = [_cite(1, "laos", "任期は5年である。")]
    verdicts = sentence_support("任期は5年です[1]。首都はパリです[1]。", citations, judge=judge)
    assert [v.supported for v in verdicts] == [True, False]
    assert groundedness(verdicts) == 0.5
