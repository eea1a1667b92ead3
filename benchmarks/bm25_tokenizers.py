"""Tokenizer benchmark for BM25: speed and document-level retrieval quality on the dev sets.

    .venv/bin/pip install -e '.[bench]'     # fugashi + unidic-lite, only needed here
    .venv/bin/python benchmarks/bm25_tokenizers.py [--datasets ../shared/datasets] [--k 10]

For each tokenizer: milliseconds per 10,000 characters to tokenise the kiryu-r4 corpus (best of
`--repeat` runs, one thread), then BM25-only nDCG@10 / recall@10 / MRR@10 on every dev set, one
chunk per corpus document (chunk text = document text, as ingest stores it), with and without
`query_normalize`. Rows besides the two candidates are references: SudachiPy mode C (design.md says
it loses on reworded queries) and character bigrams (the crude baseline design.md quotes).
Results are written to docs/tokenizer.md by hand; this script prints a Markdown table.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from yakuba.core.paths import shared_dir  # noqa: E402
from yakuba.evals.datasets import Dataset, load_dataset  # noqa: E402
from yakuba.evals.metrics import mrr_at_k, ndcg_at_k, recall_at_k  # noqa: E402
from yakuba.retriever.bm25 import BM25Index  # noqa: E402
from yakuba.retriever.tokenize import (  # noqa: E402
    DROP_POS,
    STOPWORDS,
    TOKENIZER_VERSION,
    JapaneseTokenizer,
    Tokenizer,
    normalize_text,
    split_for_sudachi,
)


class FugashiTokenizer:
    """MeCab (fugashi) + unidic-lite with the same rules as JapaneseTokenizer: lemma, POS drop, stopwords.

    UniDic and SudachiDict share the POS scheme, so DROP_POS applies unchanged; lemmas are close to
    Sudachi's normalised forms, so most of STOPWORDS applies too.
    """

    def __init__(self) -> None:
        import fugashi  # imported here: a bench-only dependency

        self._tagger = fugashi.Tagger()

    @property
    def signature(self) -> str:
        return f"fugashi-unidic-lite-v{TOKENIZER_VERSION}"

    def tokenize(self, text: str) -> list[str]:
        out: list[str] = []
        for piece in split_for_sudachi(normalize_text(text)):
            for word in self._tagger(piece):
                feature = word.feature
                if feature.pos1 in DROP_POS:
                    continue
                form = feature.lemma or word.surface
                form = form.split("-", 1)[0] if "-" in form and not form.startswith("-") else form  # 'サービス-service'
                if form in STOPWORDS or not form.strip():
                    continue
                out.append(form.lower())
        return out

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]:
        return [self.tokenize(t) for t in texts]


class BigramTokenizer:
    """Overlapping character bigrams of the NFKC text without spaces and punctuation (baseline)."""

    _drop = re.compile(r"[\s\W_]+")

    @property
    def signature(self) -> str:
        return "char-bigram-v1"

    def tokenize(self, text: str) -> list[str]:
        parts = [p for p in self._drop.split(normalize_text(text)) if p]
        out: list[str] = []
        for part in parts:
            out.extend(part[i : i + 2] for i in range(max(1, len(part) - 1)))
        return out

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]:
        return [self.tokenize(t) for t in texts]


def speeds(tokenizers: dict[str, Tokenizer], texts: list[str], repeat: int) -> dict[str, float]:
    """Best-of-`repeat` milliseconds per 10k characters; runs interleaved so load spikes hit all alike."""
    chars = sum(len(t) for t in texts)
    best = {name: float("inf") for name in tokenizers}
    for tokenizer in tokenizers.values():
        tokenizer.tokenize_many(texts[:50])  # warm-up (dictionary load, per-thread state)
    for _ in range(repeat):
        for name, tokenizer in tokenizers.items():
            start = time.perf_counter()
            tokenizer.tokenize_many(texts)
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: seconds * 1000 / (chars / 10_000) for name, seconds in best.items()}


def evaluate(
    tokenizer: Tokenizer, dataset: Dataset, k: int, *, normalize: bool, phrases: bool, workdir: Path
) -> dict[str, float]:
    """BM25-only document retrieval: one chunk per document, averaged over answerable questions."""
    index = BM25Index(workdir / f"{dataset.name}-{tokenizer.signature}", tokenizer=tokenizer, phrases=phrases)
    if len(index) != len(dataset.documents):
        index.rebuild_from((d.id, d.text, {"doc_id": d.id}) for d in dataset.documents)
    index.ensure_built()
    rows: dict[str, list[float]] = {"ndcg": [], "recall": [], "mrr": [], "seconds": []}
    for question in dataset.answerable_questions():
        start = time.perf_counter()
        hits = index.search(question.question, k=k, normalize=normalize)
        rows["seconds"].append(time.perf_counter() - start)
        ranked = [chunk_id for chunk_id, _ in hits]  # chunk id == doc id here
        rows["ndcg"].append(ndcg_at_k(ranked, question.gold_doc_ids, k))
        rows["recall"].append(recall_at_k(ranked, question.gold_doc_ids, k))
        rows["mrr"].append(mrr_at_k(ranked, question.gold_doc_ids, k))
    index.close()
    return {name: statistics.fmean(values) for name, values in rows.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_datasets = (shared_dir() or ROOT) / "datasets"
    parser.add_argument("--datasets", type=Path, default=default_datasets)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    datasets = [load_dataset(p) for p in sorted(args.datasets.iterdir()) if (p / "questions.jsonl").is_file()]
    speed_texts = next(
        ([d.text for d in ds.documents] for ds in datasets if ds.name == "kiryu-r4"),
        [d.text for d in datasets[0].documents],
    )
    candidates: dict[str, Tokenizer] = {"sudachi A (chosen)": JapaneseTokenizer("A")}
    try:
        candidates["fugashi + unidic-lite"] = FugashiTokenizer()
    except ImportError:
        print("fugashi not installed: pip install -e '.[bench]'", file=sys.stderr)
    candidates["sudachi C (reference)"] = JapaneseTokenizer("C")
    candidates["char bigram (reference)"] = BigramTokenizer()

    print(f"speed corpus: {sum(map(len, speed_texts)):,} chars; datasets: {', '.join(d.name for d in datasets)}")
    ms = speeds(candidates, speed_texts, args.repeat)
    columns = ["tokenizer", "ms / 10k chars"]
    for d in datasets:
        columns += [f"{d.name} words", f"{d.name} +phrases", f"{d.name} +phrases, raw query"]
    columns += ["R@10 / MRR@10 (+phrases)", "ms / query"]
    print(f"nDCG@{args.k}, BM25 only, one chunk per document; query_normalize on unless 'raw query'")
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    with tempfile.TemporaryDirectory() as tmp:
        for name, tokenizer in candidates.items():
            cells = [name, f"{ms[name]:.1f}"]
            extra, latency = [], []
            for dataset in datasets:
                words = evaluate(tokenizer, dataset, args.k, normalize=True, phrases=False, workdir=Path(tmp))
                full = evaluate(tokenizer, dataset, args.k, normalize=True, phrases=True, workdir=Path(tmp))
                raw = evaluate(tokenizer, dataset, args.k, normalize=False, phrases=True, workdir=Path(tmp))
                cells += [f"{words['ndcg']:.3f}", f"{full['ndcg']:.3f}", f"{raw['ndcg']:.3f}"]
                extra.append(f"{full['recall']:.3f} / {full['mrr']:.3f}")
                latency.append(full["seconds"] * 1000)
            cells += [" ; ".join(extra), f"{statistics.fmean(latency):.2f}"]
            print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
