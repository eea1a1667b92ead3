"""`yakuba-static-ja`: a static (model2vec-style) embedding model distilled from multilingual-e5-small.

A static model keeps one vector per vocabulary entry and embeds a text as the mean of its tokens'
vectors, so encoding costs a tokenizer pass and a table lookup (no transformer at query or ingest time).

How it is built (`train_static_model`):

1. Vocabulary. XLM-R's subword pieces cut Japanese into short fragments whose isolated e5 vectors say
   little. We count SudachiPy (split mode B) words over the Kiryu council minutes (令和4年 sessions
   excluded: they are the kiryu-r4 development set) and add the most frequent ones as whole pieces next
   to the XLM-R pieces that occur in the same text. All pieces get corpus log-probabilities as Unigram
   scores, so the HF `tokenizers` Unigram model (no Sudachi needed at run time) segments Japanese text
   into those words by Viterbi, falling back to subwords and single characters.
2. Vectors. Each entry is run through e5 on its own (`<s> piece </s>`, mean pooling, like model2vec),
   reduced by PCA and weighted by SIF (a / (a + p(token))) with the *measured* corpus frequencies.
3. Optional fine-tuning: in-batch-negative contrastive training of the vector table on real pairs from
   the training minutes (a member's 質問 speech ↔ the 答弁 that follows it).

The result is a plain sentence-transformers folder (`StaticEmbedding` + `Normalize`): the default
install loads it without model2vec. No prompts are used: a fixed prefix would add the same vectors to
every text and only blur the mean.

Retrain: `python -m yakuba.training.static_model OUTPUT_DIR` (defaults = the committed model's recipe;
`--init DISTILLED_DIR` fine-tunes an existing distillation, `--finetune-steps 0` only distils).
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from yakuba.core.paths import PROJECT_ROOT, shared_dir

logger = logging.getLogger(__name__)

TRAINING_DIR = (shared_dir() or PROJECT_ROOT.parent / "shared") / "training"
DEFAULT_MINUTES = TRAINING_DIR / "kiryu-minutes-h15-r5.jsonl.gz"
# Session slugs never trained on: 令和4年 (2022) is the kiryu-r4 development set; 令和5年 (2023), the
# newest year in the training files, is the likeliest held-out year.
EXCLUDED_SLUG_PREFIXES: tuple[str, ...] = ("r4-", "r5-")
DEFAULT_QUESTIONS = TRAINING_DIR / "kiryu-questions-h27-r5.json.gz"
SPECIAL_TOKENS = ("<unk>",)


@dataclass
class StaticTrainConfig:
    """Everything that decides the trained model; written to `yakuba_static.json` beside it."""

    vocab_size: int = 48_000
    pca_dims: int = 256
    sudachi_words: bool = True
    sudachi_mode: str = "B"
    min_count: int = 3
    max_word_chars: int = 12
    max_chars: int | None = 20_000_000
    sif_coefficient: float = 1e-4
    finetune_steps: int = 0
    finetune_batch: int = 128
    finetune_lr: float = 0.02
    seed: int = 13
    excluded_slug_prefixes: tuple[str, ...] = EXCLUDED_SLUG_PREFIXES
    stats: dict[str, Any] = field(default_factory=dict)


def iter_minutes(
    path: Path, *, excluded_slug_prefixes: Sequence[str] = EXCLUDED_SLUG_PREFIXES
) -> Iterator[dict[str, Any]]:
    """Speech records of the training minutes (JSONL, optionally gzip), excluded sessions skipped."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            record = json.loads(line)
            if str(record.get("slug", "")).startswith(tuple(excluded_slug_prefixes)):
                continue
            if record.get("type") == "名簿" or not record.get("body"):
                continue
            yield record


def training_texts(records: Iterable[dict[str, Any]], max_chars: int | None) -> list[str]:
    """Speech bodies, whitespace-collapsed, up to `max_chars` characters in all."""
    texts: list[str] = []
    total = 0
    for record in records:
        text = " ".join(str(record["body"]).split())
        texts.append(text)
        total += len(text)
        if max_chars is not None and total >= max_chars:
            break
    return texts


def question_answer_pairs(records: Iterable[dict[str, Any]], max_chars: int = 600) -> list[tuple[str, str]]:
    """(question speech, the answer speech right after it) pairs, each cut to `max_chars`."""
    pairs: list[tuple[str, str]] = []
    question: str | None = None
    for record in records:
        kind = record.get("type")
        if kind == "議長":  # the chair only hands the floor over
            continue
        text = " ".join(str(record["body"]).split())[:max_chars]
        if kind == "答弁" and question is not None and len(question) > 40 and len(text) > 40:
            pairs.append((question, text))
        question = text if kind == "質問" else None
    return pairs


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


def topic_speech_pairs(
    records: Sequence[dict[str, Any]],
    questions_path: Path,
    *,
    excluded_slug_prefixes: Sequence[str] = EXCLUDED_SLUG_PREFIXES,
    max_chars: int = 600,
) -> list[tuple[str, str]]:
    """(一般質問 topic line, that member's 質問 speech sharing most character bigrams with it) pairs.

    Topics come from the city's published question lists (`kiryu-questions-*.json.gz`); sessions
    whose slug starts with an excluded prefix are skipped on both sides.
    """
    opener = gzip.open if str(questions_path).endswith(".gz") else open
    with opener(questions_path, "rt", encoding="utf-8") as handle:
        sessions = json.load(handle)
    speeches: dict[tuple[str, str], list[str]] = {}
    for record in records:
        if record.get("type") == "質問" and record.get("speaker"):
            key = (str(record.get("slug")), str(record["speaker"]).replace(" ", "").replace("\u3000", ""))
            speeches.setdefault(key, []).append(" ".join(str(record["body"]).split()))
    pairs: list[tuple[str, str]] = []
    for session in sessions:
        slug = str(session.get("sessionSlug", ""))
        if slug.startswith(tuple(excluded_slug_prefixes)):
            continue
        for question in session.get("questions", []):
            member = str(question.get("memberName", "")).replace(" ", "").replace("\u3000", "")
            candidates = speeches.get((slug, member))
            if not candidates:
                continue
            grams = [_bigrams(text) for text in candidates]
            for item in question.get("items", []):
                for topic in [item.get("title", ""), *item.get("details", [])]:
                    topic = str(topic).strip()
                    if len(topic) < 6 or "(不明)" in topic:
                        continue
                    wanted = _bigrams(topic)
                    best = max(range(len(candidates)), key=lambda i: len(wanted & grams[i]))
                    if len(wanted & grams[best]) >= max(2, len(wanted) // 4):
                        pairs.append((topic, candidates[best][:max_chars]))
    return pairs


def _base_tokenizer_json(base_model: Path) -> dict[str, Any]:
    return json.loads((base_model / "tokenizer.json").read_text(encoding="utf-8"))


def count_pieces(texts: Sequence[str], tokenizer_json: dict[str, Any]) -> Counter[str]:
    """How often each base (XLM-R) piece occurs when the texts are tokenised by the base tokenizer."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(json.dumps(tokenizer_json))
    counts: Counter[str] = Counter()
    for start in range(0, len(texts), 512):
        for encoding in tokenizer.encode_batch(list(texts[start : start + 512]), add_special_tokens=False):
            counts.update(encoding.tokens)
    return counts


def count_words(
    texts: Sequence[str], normalize: Any, *, mode: str = "B", max_chars: int = 12
) -> Counter[str]:
    """SudachiPy word surfaces (on base-normalised text) of 2..max_chars characters, with counts."""
    from sudachipy import Dictionary, SplitMode

    tokenizer = Dictionary().tokenizer(mode=getattr(SplitMode, mode), fields={"pos"})
    counts: Counter[str] = Counter()
    for text in texts:
        normalized = normalize(text)
        for start in range(0, len(normalized), 4000):
            for morpheme in tokenizer.tokenize(normalized[start : start + 4000]):
                surface = morpheme.surface()
                if 2 <= len(surface) <= max_chars and not surface.isspace() and " " not in surface:
                    counts[surface] += 1
    return counts


def build_vocabulary(
    piece_counts: Counter[str], word_counts: Counter[str], vocab_size: int, min_count: int
) -> list[tuple[str, float]]:
    """Unigram (piece, log-probability) list: the special token, frequent base pieces, then words.

    Every observed single character is kept (no unknowns for text like the training text); the rest
    of the budget goes to the most frequent pieces and words together, ranked by count.
    """
    singles = {piece for piece in piece_counts if len(piece.lstrip("▁")) <= 1}
    candidates: Counter[str] = Counter()
    for piece, count in piece_counts.items():
        if count >= min_count or piece in singles:
            candidates[piece] = count
    for word, count in word_counts.items():
        if count >= min_count and word not in candidates:
            candidates[word] = count
    budget = vocab_size - len(SPECIAL_TOKENS)
    chosen = [piece for piece in singles if piece in candidates]
    chosen_set = set(chosen)
    for piece, _ in candidates.most_common():
        if len(chosen) >= budget:
            break
        if piece not in chosen_set:
            chosen.append(piece)
            chosen_set.add(piece)
    total = float(sum(candidates[piece] for piece in chosen))
    scored = sorted(((piece, math.log(candidates[piece] / total)) for piece in chosen), key=lambda x: -x[1])
    return [(token, 0.0) for token in SPECIAL_TOKENS] + scored


def make_tokenizer(base_json: dict[str, Any], vocab: list[tuple[str, float]]) -> Any:
    """A `tokenizers.Tokenizer` with the base normaliser/pre-tokeniser and a new Unigram vocabulary."""
    from tokenizers import Tokenizer

    spec = dict(base_json)
    spec["model"] = {
        "type": "Unigram",
        "unk_id": 0,
        "vocab": [[p, s] for p, s in vocab],
        "byte_fallback": False,
    }
    spec["added_tokens"] = [
        {"id": 0, "content": "<unk>", "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}
    ]  # fmt: skip
    spec["post_processor"] = None
    spec["padding"] = None
    spec["truncation"] = None
    return Tokenizer.from_str(json.dumps(spec, ensure_ascii=False))


def embed_pieces(base_model: Path, pieces: Sequence[str], batch_size: int = 512) -> np.ndarray:
    """e5 output (mean over `<s> piece </s>`) for each piece, as float32 rows."""
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModel

    base_tokenizer = Tokenizer.from_file(str(base_model / "tokenizer.json"))
    base_tokenizer.no_padding()
    base_tokenizer.no_truncation()
    vocab = base_tokenizer.get_vocab()
    bos, eos, pad = vocab["<s>"], vocab["</s>"], vocab["<pad>"]
    ids: list[list[int]] = []
    for piece in pieces:
        if piece in vocab:
            ids.append([bos, vocab[piece], eos])
        else:
            ids.append(base_tokenizer.encode(piece.replace("▁", " ").strip() or piece).ids[:30])
            if ids[-1][0] != bos:
                ids[-1] = [bos, *ids[-1], eos]
    model = AutoModel.from_pretrained(str(base_model)).eval()
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = np.zeros((len(ids), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            width = max(len(ids[i]) for i in batch)
            input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, index in enumerate(batch):
                input_ids[row, : len(ids[index])] = torch.tensor(ids[index])
                mask[row, : len(ids[index])] = 1
            hidden = model(input_ids=input_ids, attention_mask=mask).last_hidden_state
            pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
            out[batch] = pooled.numpy()
    return out


def pca_sif(vectors: np.ndarray, probabilities: np.ndarray, dims: int, sif: float) -> np.ndarray:
    """Centre, project on the top `dims` principal axes, scale each row by SIF a / (a + p)."""
    centred = vectors - vectors.mean(axis=0)
    dims = min(dims, centred.shape[1])
    _, eigvecs = np.linalg.eigh(np.cov(centred, rowvar=False))
    projected = centred @ eigvecs[:, ::-1][:, :dims]
    return projected * (sif / (sif + probabilities))[:, None]


def assemble(tokenizer: Any, weights: np.ndarray) -> Any:
    """A SentenceTransformer of `StaticEmbedding` + `Normalize` over the given table."""
    import torch
    from sentence_transformers import SentenceTransformer

    try:
        from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding
    except ImportError:  # sentence-transformers 5
        from sentence_transformers.models import Normalize, StaticEmbedding

    static = StaticEmbedding(
        tokenizer, embedding_weights=torch.from_numpy(np.asarray(weights, dtype=np.float32))
    )
    return SentenceTransformer(modules=[static, Normalize()], device="cpu")


def finetune(model: Any, pairs: Sequence[tuple[str, str]], config: StaticTrainConfig) -> list[float]:
    """Contrastive (in-batch negatives, symmetric InfoNCE) training of the static table; returns losses."""
    import torch

    static = model[0]
    rng = random.Random(config.seed)
    optimiser = torch.optim.Adagrad(static.parameters(), lr=config.finetune_lr)
    losses: list[float] = []
    scale = 20.0
    static.train()
    for _ in range(config.finetune_steps):
        batch = rng.sample(list(pairs), min(config.finetune_batch, len(pairs)))
        left = static(static.preprocess([q for q, _ in batch]))["sentence_embedding"]
        right = static(static.preprocess([a for _, a in batch]))["sentence_embedding"]
        left = torch.nn.functional.normalize(left, dim=-1)
        right = torch.nn.functional.normalize(right, dim=-1)
        logits = scale * left @ right.T
        target = torch.arange(len(batch))
        loss = (
            torch.nn.functional.cross_entropy(logits, target)
            + torch.nn.functional.cross_entropy(logits.T, target)
        ) / 2
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    static.eval()
    return losses


def save_model(model: Any, output_dir: Path, config: StaticTrainConfig, dtype: str = "float32") -> Path:
    """Save as a sentence-transformers folder, the table in `dtype`, plus the training config.

    float32 by default: sentence-transformers keeps the stored dtype, and a float16 table makes
    `Normalize` return NaN for an empty text (its epsilon underflows) at no speed gain on CPU.
    """
    import torch

    output_dir.mkdir(parents=True, exist_ok=True)
    static = model[0]
    if dtype == "float16":
        static.embedding.weight.data = static.embedding.weight.data.to(torch.float16)
    model.save(str(output_dir))
    (output_dir / "README.md").unlink(missing_ok=True)  # generic card; MODEL_CARD.md documents the model
    static.embedding.weight.data = static.embedding.weight.data.float()
    (output_dir / "yakuba_static.json").write_text(
        json.dumps(asdict(config), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return output_dir


def load_training_pairs(
    records: Sequence[dict[str, Any]], questions_path: Path | None
) -> list[tuple[str, str]]:
    """Question→answer pairs plus, when the topic list exists, topic→member-speech pairs."""
    pairs = question_answer_pairs(records)
    if questions_path is not None and Path(questions_path).is_file():
        pairs += topic_speech_pairs(records, Path(questions_path))
    return pairs


def train_static_model(
    output_dir: str | Path,
    *,
    vocab_size: int = 48_000,
    pca_dims: int = 256,
    sudachi_words: bool = True,
    minutes_path: str | Path = DEFAULT_MINUTES,
    questions_path: str | Path | None = DEFAULT_QUESTIONS,
    base_model: str | Path | None = None,
    init_model: str | Path | None = None,
    max_chars: int | None = 20_000_000,
    min_count: int = 3,
    finetune_steps: int = 0,
    finetune_lr: float = 0.02,
    records: Sequence[dict[str, Any]] | None = None,
) -> Path:
    """Distil (and optionally fine-tune) a static model from e5 on the training minutes; return its folder.

    `records` replaces reading `minutes_path` (tests); `base_model` defaults to the rebuilt e5 folder;
    `init_model` skips distillation and fine-tunes an already distilled folder.
    """
    config = StaticTrainConfig(
        vocab_size=vocab_size, pca_dims=pca_dims, sudachi_words=sudachi_words, max_chars=max_chars,
        min_count=min_count, finetune_steps=finetune_steps, finetune_lr=finetune_lr,
    )  # fmt: skip
    started = time.perf_counter()
    all_records = list(records) if records is not None else list(iter_minutes(Path(minutes_path)))
    all_records = [
        r for r in all_records if not str(r.get("slug", "")).startswith(config.excluded_slug_prefixes)
    ]
    if init_model is not None:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(init_model), device="cpu")
        model[0].embedding.weight.data = model[0].embedding.weight.data.float()
        previous = json.loads((Path(init_model) / "yakuba_static.json").read_text(encoding="utf-8"))
        for key in ("vocab_size", "pca_dims", "sudachi_words", "sudachi_mode", "min_count", "max_chars"):
            setattr(config, key, previous[key])
        config.stats = dict(previous.get("stats", {}))
    else:
        model = _distil(all_records, config, base_model)
    if finetune_steps > 0:
        pairs = load_training_pairs(all_records, Path(questions_path) if questions_path else None)
        losses = finetune(model, pairs, config)
        config.stats.update(
            {
                "pairs": len(pairs),
                "loss_first": round(losses[0], 4),
                "loss_last": round(float(np.mean(losses[-20:])), 4),
            }
        )
    config.stats["total_seconds"] = round(time.perf_counter() - started, 1)
    return save_model(model, Path(output_dir), config)


def _distil(
    records: Sequence[dict[str, Any]], config: StaticTrainConfig, base_model: str | Path | None
) -> Any:
    """Vocabulary + e5 vectors + PCA/SIF → an untrained static SentenceTransformer."""
    if base_model is None:
        from yakuba.models.e5 import ensure_e5_model

        base_model = ensure_e5_model()  # in settings.model_cache
    base_model = Path(base_model)
    started = time.perf_counter()
    texts = training_texts(records, config.max_chars)
    base_json = _base_tokenizer_json(base_model)
    from tokenizers import Tokenizer

    normalizer = Tokenizer.from_str(json.dumps(base_json)).normalizer
    piece_counts = count_pieces(texts, base_json)
    word_counts = (
        count_words(texts, normalizer.normalize_str, mode=config.sudachi_mode)
        if config.sudachi_words
        else Counter()
    )
    vocab = build_vocabulary(piece_counts, word_counts, config.vocab_size, config.min_count)
    tokenizer = make_tokenizer(base_json, vocab)
    pieces = [piece for piece, _ in vocab]
    n_words = sum(p not in piece_counts for p in pieces[len(SPECIAL_TOKENS) :])
    logger.info("vocabulary: %d entries (%d Sudachi words)", len(pieces), n_words)
    vectors = embed_pieces(base_model, pieces)
    probabilities = np.exp(np.array([score for _, score in vocab], dtype=np.float64))
    probabilities[: len(SPECIAL_TOKENS)] = 1.0  # special tokens: weight ~0
    weights = pca_sif(vectors, probabilities, config.pca_dims, config.sif_coefficient).astype(np.float32)
    config.stats = {
        "texts": len(texts),
        "chars": sum(len(t) for t in texts),
        "vocab_entries": len(pieces),
        "sudachi_word_entries": n_words,
        "distil_seconds": round(time.perf_counter() - started, 1),
    }
    return assemble(tokenizer, weights)


def main(argv: Sequence[str] | None = None) -> None:
    """CLI: `python -m yakuba.training.static_model OUTPUT_DIR [--vocab-size N] [--pca-dims D] ...`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir", type=Path)
    parser.add_argument("--vocab-size", type=int, default=48_000)
    parser.add_argument("--pca-dims", type=int, default=256)
    parser.add_argument("--no-sudachi", action="store_true", help="XLM-R pieces only (the baseline)")
    parser.add_argument("--minutes", type=Path, default=DEFAULT_MINUTES)
    parser.add_argument("--max-chars", type=int, default=20_000_000)
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--finetune-steps", type=int, default=1000, help="0: distil only")
    parser.add_argument("--finetune-lr", type=float, default=0.02)
    parser.add_argument("--init", type=Path, help="fine-tune this distilled folder instead of distilling")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    path = train_static_model(
        args.output_dir, vocab_size=args.vocab_size, pca_dims=args.pca_dims, sudachi_words=not args.no_sudachi,
        minutes_path=args.minutes, questions_path=args.questions, max_chars=args.max_chars,
        finetune_steps=args.finetune_steps, finetune_lr=args.finetune_lr, init_model=args.init,
    )  # fmt: skip
    print(json.dumps(json.loads((path / "yakuba_static.json").read_text(encoding="utf-8"))["stats"]))


if __name__ == "__main__":
    main()
