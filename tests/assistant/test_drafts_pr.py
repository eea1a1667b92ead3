"""PR article drafts: lengths, styles, citations from the corpus, flags for numbers nobody gave."""

from __future__ import annotations

import re

import pytest

from tests.assistant.test_drafts_minutes import ScriptedChatModel
from tests.helpers import DATA
from yakuba.assistant.drafts.common import number_values, unsupported_numbers
from yakuba.assistant.drafts.pr_article import (
    SUGGEST_THRESHOLD,
    PRArticleRequest,
    draft_pr_article,
    easy_japanese,
)
from yakuba.retriever.search import Passage
from yakuba.retriever.tokenize import tokenize

NOTES = (DATA / "transcripts" / "pr_notes_bousai.txt").read_text(encoding="utf-8")
INTERVIEW = (DATA / "transcripts" / "pr_interview_bousai.txt").read_text(encoding="utf-8")
CONTACT = "危機管理課 防災係（電話 0277-46-1111）"

CORPUS = [
    Passage(
        chunk_id="bousai-guide::1", doc_id="bousai-guide.pdf", title="わが家の防災ガイド", doc_type="pdf", page=4,
        text="食料や飲料水などの家庭での備蓄は最低3日分、できれば1週間分が目安とされています。"
        "備蓄品は、ふだんの食品を少し多めに買い置きし、使った分を買い足すローリングストックで無理なく続けられます。",
        score=0.8,
    ),
    Passage(
        chunk_id="bousai-guide::2", doc_id="bousai-guide.pdf", title="わが家の防災ガイド", doc_type="pdf", page=9,
        text="市は、すべての指定避難所に段ボールベッドと携帯トイレを備蓄しています。"
        "段ボールベッドは床からの冷えやほこりを防ぎ、避難生活での体調悪化を防ぐ効果があります。",
        score=0.7,
    ),
    Passage(
        chunk_id="tax::1", doc_id="tax.pdf", title="市税のしおり", doc_type="pdf", page=2,
        text="固定資産税の納期は4月、7月、12月、2月の年4回です。", score=0.1,
    ),
]  # fmt: skip


def corpus_search(query: str, k: int) -> list[Passage]:
    wanted = set(tokenize(query))
    scored = sorted(CORPUS, key=lambda p: -len(wanted & set(tokenize(p.text))))
    return [p for p in scored if wanted & set(tokenize(p.text))][:k]


def _body_text(draft) -> str:  # noqa: ANN001
    return draft.headline + draft.lead + draft.body


@pytest.mark.parametrize("style", ["広報誌", "ウェブお知らせ", "やさしい日本語"])
@pytest.mark.parametrize("target", [200, 400])
def test_length_within_tolerance(style: str, target: int) -> None:
    draft = draft_pr_article(PRArticleRequest(notes=INTERVIEW, target_chars=target, style=style, contact=CONTACT))
    assert target * 0.8 <= draft.char_count <= target * 1.2, draft.markdown
    assert draft.flags == []
    assert draft.engine == "extractive"
    # the facts list is always there
    assert "7月26日" in draft.body and "30組" in draft.body


def test_short_notes_are_not_padded_without_a_corpus() -> None:
    draft = draft_pr_article(PRArticleRequest(notes=NOTES, target_chars=800, contact=CONTACT))
    assert draft.char_count < 800 * 0.8
    assert any("目標の800文字に届きませんでした" in w for w in draft.warnings)
    assert draft.citations == []


def test_interviewer_questions_and_fillers_left_out() -> None:
    draft = draft_pr_article(PRArticleRequest(notes=INTERVIEW, target_chars=600))
    text = _body_text(draft)
    assert "教えてください" not in text and "どんなことをするんですか" not in text
    assert not re.search(r"えー|えっと|うーん|あの、|まあ、", text)
    assert "60分" in text or "42組" in text


def test_supplied_headline_and_contact_verbatim() -> None:
    draft = draft_pr_article(
        PRArticleRequest(notes=NOTES, target_chars=300, title_hint="親子で学ぶ 夏休み防災教室", contact=CONTACT)
    )
    assert draft.headline == "親子で学ぶ 夏休み防災教室"
    assert draft.contact == CONTACT
    assert draft.markdown.startswith("# 親子で学ぶ 夏休み防災教室\n")
    assert f"## 問い合わせ先\n\n{CONTACT}" in draft.markdown


def test_headline_from_notes_and_missing_contact_marked() -> None:
    draft = draft_pr_article(PRArticleRequest(notes=NOTES, target_chars=300))
    assert draft.headline == "夏休み親子防災教室を開催します"
    assert draft.contact == "（要確認）"
    assert any("問い合わせ先" in w for w in draft.warnings)


def test_styles_differ_in_structure_and_wording() -> None:
    paper = draft_pr_article(PRArticleRequest(notes=NOTES, target_chars=300, style="広報誌", contact=CONTACT))
    web = draft_pr_article(PRArticleRequest(notes=NOTES, target_chars=300, style="ウェブお知らせ", contact=CONTACT))
    easy = draft_pr_article(PRArticleRequest(notes=NOTES, target_chars=300, style="やさしい日本語", contact=CONTACT))
    assert "## 概要" in web.markdown and "## お問い合わせ" in web.markdown
    assert "## 概要" not in paper.markdown and "- 日時：7月26日(土)10時〜12時" in paper.body
    assert "- いつ：7月26日（土曜日）10時から12時まで" in easy.body
    assert "- お金：無料（お金はいりません）" in easy.body
    assert easy.headline == "夏休み親子防災教室を行います"
    roomy = draft_pr_article(PRArticleRequest(notes=NOTES, target_chars=400, style="やさしい日本語", contact=CONTACT))
    assert "来てください" in roomy.body and "お越しください" not in roomy.markdown
    assert "## 聞きたいことがあるとき" in easy.markdown


@pytest.mark.parametrize(
    ("hard", "easy"),
    [
        ("申込書を提出しなければなりません。", "申込書を提出してください。"),
        ("参加できないわけではありません。", "参加できることもあります。"),
        ("当日受付をしないわけではありません。", "当日受付をすることもあります。"),
        ("空きがないとは限りません。", "空きがあることもあります。"),
        ("市内在住の方が対象です。", "市内に住んでいる人が対象です。"),
        ("雨天の際は中止しますので、ご確認ください。", "雨天のときは中止します。だから、確かめてください。"),
        ("9時〜11時半", "9時から11時半まで"),
    ],
)
def test_easy_japanese_rewrites(hard: str, easy: str) -> None:
    assert easy_japanese(hard) == easy


def test_corpus_citations_for_supported_facts() -> None:
    draft = draft_pr_article(
        PRArticleRequest(notes=NOTES, target_chars=400, contact=CONTACT), search=corpus_search
    )
    assert draft.citations, draft.markdown
    first = draft.citations[0]
    assert first.doc_id == "bousai-guide.pdf" and first.n == 1 and first.page == 4
    assert "備蓄は最低3日分、できれば1週間分が目安とされています[1]。" in draft.body
    assert "## 関連資料\n\n- [1] わが家の防災ガイド p.4" in draft.markdown
    assert all(c.doc_id != "tax.pdf" for c in draft.citations)
    assert draft.flags == []


def test_related_corpus_sentences_are_suggested_not_merged() -> None:
    """Thin notes are not padded: related corpus sentences come back as suggestions with their source."""
    plain = draft_pr_article(PRArticleRequest(notes=NOTES, target_chars=500, contact=CONTACT, use_corpus=False))
    drafted = draft_pr_article(PRArticleRequest(notes=NOTES, target_chars=500, contact=CONTACT), search=corpus_search)
    assert drafted.char_count == plain.char_count  # nothing merged by itself
    assert drafted.suggestions, drafted
    cited = {c.chunk_id: c.n for c in drafted.citations}
    for suggestion in drafted.suggestions:
        assert suggestion.text not in drafted.markdown
        source = next(p for p in CORPUS if p.chunk_id == suggestion.chunk_id)
        assert suggestion.text in source.text and suggestion.label.startswith(source.title)
        # a passage already cited keeps its number; a new one continues after the citations
        assert suggestion.n == cited.get(suggestion.chunk_id, suggestion.n) and suggestion.n >= 1
        assert suggestion.chunk_id in cited or suggestion.n > len(drafted.citations)
        assert suggestion.relevance >= SUGGEST_THRESHOLD and suggestion.shared_terms
    assert any("追加候補" in w for w in drafted.warnings)
    assert drafted.flags == []


def test_use_corpus_false_and_failing_search() -> None:
    def broken(query: str, k: int) -> list[Passage]:
        raise RuntimeError("index missing")

    draft = draft_pr_article(PRArticleRequest(notes=NOTES, target_chars=300), search=broken)
    assert draft.citations == [] and any("検索に失敗" in w for w in draft.warnings)
    off = draft_pr_article(PRArticleRequest(notes=NOTES, target_chars=300, use_corpus=False), search=corpus_search)
    assert off.citations == []


def test_flags_numbers_that_no_source_gives() -> None:
    draft = draft_pr_article(
        PRArticleRequest(notes=NOTES, target_chars=300, title_hint="親子防災教室 参加者50組募集", contact=CONTACT)
    )
    assert [f.text for f in draft.flags] == ["50"]
    assert draft.flags[0].sentence == "親子防災教室 参加者50組募集"
    assert any("要確認" in w for w in draft.warnings)


def test_unsupported_numbers_normalises_forms() -> None:
    sources = ["定員は三十組、参加費は1,500円。令和7年7月26日（土）10時から。予算は120万円。"]
    assert unsupported_numbers("定員30組、参加費1500円、2025年7月26日10時〜。予算1,200,000円。", sources) == []
    invented = unsupported_numbers("定員40組、参加費1,500円。", sources)
    assert [m.surface for m in invented] == ["40"]
    assert {"30", "1500", "2025", "7", "26", "10", "1200000"} <= number_values(sources[0])
    # words with 一 are not counts
    assert unsupported_numbers("一層の周知を図り、一部を変更します。", sources) == []


def test_model_rewrite_accepted_or_rejected() -> None:
    def faithful(system: str, user: str) -> str:
        if "リード" in system:
            return "市は、夏休みに親子で災害への備えを学ぶ教室を開きます。"
        return user  # the body as given

    def inventive(system: str, user: str) -> str:
        if "リード" in system:
            return "市は、8月30日に親子100組を招いて防災教室を開きます。"
        return user.replace("42組", "420組")

    good = draft_pr_article(PRArticleRequest(notes=NOTES, target_chars=300, contact=CONTACT),
                            ScriptedChatModel(reply=faithful, seen=[]))
    assert good.engine == "llm"
    assert good.lead == "市は、夏休みに親子で災害への備えを学ぶ教室を開きます。"
    model = ScriptedChatModel(reply=inventive, seen=[])
    bad = draft_pr_article(PRArticleRequest(notes=NOTES, target_chars=300, contact=CONTACT), model)
    assert len(model.seen) == 2 and all("max_tokens" in call for call in model.seen)
    assert bad.engine == "extractive"
    assert "100組" not in bad.markdown and "420組" not in bad.markdown and "8月30日" not in bad.markdown
    assert any("元の文にない数値" in w for w in bad.warnings)
    assert bad.flags == []


def test_bad_requests() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        PRArticleRequest(notes="   ")
    with pytest.raises(ValidationError):
        PRArticleRequest(notes="メモ", target_chars=10)
    with pytest.raises(ValidationError):
        PRArticleRequest(notes="メモ", style="新聞")


def test_background_skips_sentences_that_share_only_generic_words() -> None:
    """Real corpora are full of policy sentences sharing 市・実施・事業・参加 with any notice."""
    generic = Passage(
        chunk_id="shisei::1", doc_id="shisei.pdf", title="施政方針", doc_type="pdf", page=3,
        text="キャッチアップ接種の対象は市内在住の小学生とその保護者で、費用は無料、先着順で受け付けます。", score=0.9,
    )  # fmt: skip

    def search(query: str, k: int) -> list[Passage]:
        return [generic, *corpus_search(query, k)][:k]

    filled = draft_pr_article(PRArticleRequest(notes=NOTES, target_chars=500, contact=CONTACT), search=search)
    assert "キャッチアップ" not in filled.body
    assert all(c.doc_id != "shisei.pdf" for c in filled.citations)
    assert all("キャッチアップ" not in s.text for s in filled.suggestions)


def test_interview_quotes_are_verbatim_with_the_speaker() -> None:
    """The 話し手's remark in 「」 as said (fillers aside), with who said it; the 聞き手 is never quoted."""
    draft = draft_pr_article(PRArticleRequest(notes=INTERVIEW, target_chars=600, contact=CONTACT))
    assert draft.quotes and all(q.speaker == "鈴木" for q in draft.quotes)
    spoken = re.sub(r"えー、|えっと、|あの、|その、|まあ、|うーん、", "", INTERVIEW)
    for quote in draft.quotes:
        assert quote.text in spoken  # verbatim
        assert f"「{quote.text}」" in draft.body
        assert draft.body.count(quote.text) == 1  # not repeated as a plain body sentence
    assert "鈴木は「ぜひ、親子で気軽に参加してください」と話しています。" in draft.body
    assert "教えてください" not in draft.markdown  # the interviewer's questions are left out


def test_quote_survives_the_easy_japanese_rewrite_and_takes_the_given_name() -> None:
    draft = draft_pr_article(
        PRArticleRequest(notes=INTERVIEW, target_chars=400, style="やさしい日本語", speaker_name="防災士の鈴木さん")
    )
    assert [q.speaker for q in draft.quotes] == ["防災士の鈴木さん"]
    assert f"防災士の鈴木さんは「{draft.quotes[0].text}」と話しています。" in draft.body


@pytest.mark.integration
def test_library_notes_are_not_padded_with_other_subjects() -> None:
    """The screenshot case (docs/screenshots/pr-article.png) on the documents it was taken with: library
    reopening notes over Nankoku's 市政報告 (介護人材の育成), the library ordinance and a Kiryu 一般質問
    day (キャッチアップ接種, 学習室). Nothing from them is merged, and nothing off the subject is offered."""
    import unicodedata

    from pypdf import PdfReader

    from yakuba.evals.drafts import passage_search, sentence_passages

    corpora = DATA.parents[1] / "corpora"
    passages = []
    for name in ("南国市/市政報告_第444回定例会.pdf", "南国市/議案第12号_南国市立図書館設置条例_全部改正.pdf"):
        for n, page in enumerate(PdfReader(corpora / name).pages, 1):
            text = unicodedata.normalize("NFKC", page.extract_text() or "")
            text = re.sub(r"(?<=[^\x00-\x7f])\s+(?=[^\x00-\x7f])", "", text)
            passages += sentence_passages(name, name.split("/")[1], text, n)
    kiryu = corpora / "議会会議録" / "桐生市議会" / "令和4年第4回定例会" / "2022-12-22_第3号_一般質問.txt"
    passages += sentence_passages(kiryu.stem, kiryu.stem, kiryu.read_text(encoding="utf-8"))
    passages += sentence_passages("窓口案内.md", "市民課窓口のご案内", "市民課の窓口は平日の午前8時30分から午後5時15分まで開いています。")
    notes = (
        "・市立図書館が令和7年5月1日にリニューアルオープン\n・開館時間は午前9時から午後8時（月曜休館）\n"
        "・学習室（40席）と子ども向けの読み聞かせコーナーを新設\n・オープン当日は館内ツアーを実施（申込不要）"
    )
    draft = draft_pr_article(
        PRArticleRequest(notes=notes, contact="生涯学習課 図書館係 電話 088-000-0000"), search=passage_search(passages)
    )
    for foreign in ("介護", "キャッチアップ", "市民課の窓口", "全部を改正"):
        assert foreign not in draft.markdown
        assert all(foreign not in s.text for s in draft.suggestions)
    assert "開館時間は午前9時から午後8時(月曜休館)。学習室(40席)" in draft.lead  # one note line, one sentence
    assert all(s.relevance >= SUGGEST_THRESHOLD for s in draft.suggestions)


def test_model_rewrite_that_drops_a_fact_is_not_used() -> None:
    """A fluent rewrite without 「42組」 reads well and loses a fact: the extractive body stays."""

    def forgetful(system: str, user: str) -> str:
        if "リード" in system:
            return "市は、夏休みに親子で災害への備えを学ぶ教室を開きます。"
        return re.sub(r"昨年は42組の親子が参加し、", "", user)

    draft = draft_pr_article(
        PRArticleRequest(notes=NOTES, target_chars=300, contact=CONTACT), ScriptedChatModel(reply=forgetful, seen=[])
    )
    assert "42組" in draft.markdown and draft.engine == "llm+extractive"
    assert any("元の文の数値「42」が抜けていました" in w for w in draft.warnings)
