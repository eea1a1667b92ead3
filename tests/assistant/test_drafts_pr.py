"""PR article drafts: lengths, styles, citations from the corpus, flags for numbers nobody gave."""

from __future__ import annotations

import re

import pytest

from tests.assistant.test_drafts_minutes import ScriptedChatModel
from tests.helpers import DATA
from yakuba.assistant.drafts.common import number_values, unsupported_numbers
from yakuba.assistant.drafts.pr_article import PRArticleRequest, draft_pr_article, easy_japanese
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


def test_corpus_background_fills_thin_notes_with_citations() -> None:
    plain = draft_pr_article(PRArticleRequest(notes=NOTES, target_chars=500, contact=CONTACT, use_corpus=False))
    filled = draft_pr_article(PRArticleRequest(notes=NOTES, target_chars=500, contact=CONTACT), search=corpus_search)
    assert filled.char_count > plain.char_count
    added = [s for s in re.split(r"(?<=。)", filled.body) if re.search(r"\[\d\]", s) and s not in NOTES]
    assert added, filled.body
    for sentence in added:
        n = int(re.search(r"\[(\d)\]", sentence).group(1))
        source = next(c for c in filled.citations if c.n == n)
        assert re.sub(r"\[\d\]", "", sentence).strip() in next(p.text for p in CORPUS if p.chunk_id == source.chunk_id)
    assert filled.flags == []


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
    assert any("invented_numbers" in w for w in bad.warnings)
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
