"""The committed static model (`yakuba-static-ja`) and a tiny end-to-end training run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import yakuba.models
from yakuba.retriever.embeddings import SentenceTransformerEmbeddings, resolve_model
from yakuba.training.static_model import (
    build_vocabulary,
    question_answer_pairs,
    train_static_model,
)

ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = ROOT / "models" / "yakuba-static-ja"  # committed here, shipped inside yakuba.models


def _cos(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b))  # vectors are normalised


def test_alias_resolves_to_the_committed_folder_inside_the_package() -> None:
    assert Path(resolve_model("yakuba-static-ja")) == MODEL_DIR
    assert Path(resolve_model("yakuba-static-ja")).parent == Path(yakuba.models.__file__).resolve().parent


@pytest.mark.skipif(not (MODEL_DIR / "model.safetensors").is_file(), reason="model not committed")
def test_committed_model_loads_offline_and_ranks_related_text_higher() -> None:
    # conftest sets HF_HUB_OFFLINE=1 before anything is imported.
    size = sum(p.stat().st_size for p in MODEL_DIR.rglob("*") if p.is_file())
    assert size <= 40 * 1024 * 1024
    emb = SentenceTransformerEmbeddings("yakuba-static-ja")
    assert (emb.query_prompt, emb.passage_prompt) == ("", "")
    query = emb.embed_query("ごみの分別と収集日について")
    docs = emb.embed_documents(
        [
            "燃えるごみの収集は週二回です。資源ごみは分別して、指定の収集日に出してください。",
            "市立図書館の開館時間は午前九時から午後七時までです。",
            "",
        ]
    )
    assert len(query) == emb.dimension == len(docs[0])
    assert abs(float(np.linalg.norm(query)) - 1.0) < 1e-2
    assert _cos(query, docs[0]) > _cos(query, docs[1]) + 0.05
    assert not np.isnan(docs[2]).any()  # empty text: no crash, no NaN


def test_question_answer_pairs_skip_the_chair() -> None:
    records = [
        {"type": "質問", "body": "学校給食の無償化について市の考えを伺います。" * 3},
        {"type": "議長", "body": "教育長。"},
        {"type": "答弁", "body": "学校給食費の無償化につきましては、財源の確保が課題でございます。" * 2},
        {"type": "答弁", "body": "補足して御答弁申し上げます。" * 5},
    ]
    pairs = question_answer_pairs(records)
    assert len(pairs) == 1 and pairs[0][0].startswith("学校給食の無償化")


def test_vocabulary_keeps_single_characters_and_ranks_by_count() -> None:
    from collections import Counter

    pieces_counts, words = Counter({"▁": 50, "市": 9, "議会": 30, "x": 1}), Counter({"桐生市": 20})
    tight = [piece for piece, _ in build_vocabulary(pieces_counts, words, 4, 2)]
    assert tight[0] == "<unk>" and set(tight) == {"<unk>", "▁", "市", "x"}  # singles first, even past min_count
    one_more = [piece for piece, _ in build_vocabulary(pieces_counts, words, 5, 2)]
    assert "議会" in one_more and "桐生市" not in one_more  # the budget goes to the most frequent
    roomy = [piece for piece, _ in build_vocabulary(pieces_counts, words, 6, 2)]
    assert set(roomy) == {"<unk>", "▁", "市", "x", "議会", "桐生市"}  # a frequent word joins the pieces


@pytest.mark.slow
def test_tiny_training_run_produces_a_loadable_model(tmp_path: Path) -> None:
    body = "桐生市議会の一般質問で、学校給食の無償化と子育て支援について質問します。"
    records = [
        {"slug": "h30-1-teireikai", "type": "質問", "body": body * 2},
        {
            "slug": "h30-1-teireikai",
            "type": "答弁",
            "body": "子育て支援の充実に向けて、給食費の負担軽減を検討してまいります。" * 2,
        },
        {"slug": "r4-1-teireikai", "type": "質問", "body": "除外される令和四年の発言です。" * 3},
        {"slug": "r5-2-teireikai", "type": "質問", "body": "除外される令和五年の発言です。" * 3},
        {
            "slug": "h30-1-teireikai",
            "type": "質問",
            "body": "道路の補修と橋梁の長寿命化計画について伺います。" * 2,
        },
        {
            "slug": "h30-1-teireikai",
            "type": "答弁",
            "body": "橋梁長寿命化修繕計画に基づき、順次補修を進めております。" * 2,
        },
    ]
    out = train_static_model(
        tmp_path / "tiny", vocab_size=300, pca_dims=16, records=records, min_count=1, finetune_steps=2
    )
    stats = json.loads((out / "yakuba_static.json").read_text(encoding="utf-8"))["stats"]
    assert stats["texts"] == 4 and stats["pairs"] == 2  # the r4 and r5 speeches were dropped
    emb = SentenceTransformerEmbeddings(str(out))
    vectors = emb.embed_documents(["学校給食の無償化", "橋梁の補修"])
    assert len(vectors) == 2 and len(vectors[0]) == 16
