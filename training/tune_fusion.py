"""Choose hybrid fusion across datasets of different styles, so the default holds in every town.

Dense and BM25 top-50 lists are computed once per question from the cached eval indexes (`yakuba
eval retrieval` builds the same ones) and saved as JSON under `--cache`; every fusion setting is then
scored offline on them. A setting is judged by its *worst* margin over the better single mode across
all datasets (hybrid − max(dense, BM25)), and the pick is checked leave-one-dataset-out: chosen on
all sets but one, scored on the one left out — the situation of a town whose documents nobody tuned on.

    .venv/bin/python -m yakuba.training.tune_fusion ../shared/datasets/kiryu-r4 ../shared/datasets/jsquad-valid \\
        ../shared/datasets/kiryu-r4-ikkatsu ../shared/datasets/pdfs-ja ../shared/datasets/library-mixed

Each row also keeps the query coverage (search.query_coverage: the idf-weighted share of the question's
words) of each list's first hits, which the interleave's coverage rule reads; lists cached before that
field existed get it from the index on first use.

History: the per-document-type dense weight (3.0 for 議会会議録 chunks with the council model) was
chosen on one city's minutes; on 一括質問-style minutes it fell 0.05 below BM25 alone and in a mixed
library it ranked 桐生市 minutes above the 南国市 document a question named (issue #16).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from yakuba.core.settings import Settings
from yakuba.evals.datasets import Dataset, load_dataset
from yakuba.evals.metrics import dedupe, ndcg_at_k
from yakuba.evals.retrieval import index_dir, open_index
from yakuba.retriever.embeddings import embeddings_from_settings
from yakuba.retriever.fusion import ChunkInfo, collapse_duplicates
from yakuba.retriever.search import COVERAGE_DEPTH, FusionConfig, HybridSearcher, chunk_info, query_coverage
from yakuba.retriever.store import TenantStore
from yakuba.retriever.tokenize import query_normalize

CANDIDATES = 50
K = 10

Row = dict[str, Any]  # {"question", "gold", "rankings": {"dense": [[id, score]], "bm25": …}, "info": {id: …}}


def candidate_lists(dataset_dir: Path, settings: Settings, cache: Path | None = None) -> tuple[str, list[Row]]:
    """Per answerable question: the dense and BM25 top-50, what fusion may know of each chunk, and
    the query coverage of each list's first hits (added to older cached lists on first use)."""
    dataset = load_dataset(dataset_dir)
    key = hashlib.sha256(str(index_dir(settings, dataset)).encode()).hexdigest()[:12]
    cached = cache / f"{dataset.name}-{key}.json" if cache else None
    if cached and cached.is_file():
        rows: list[Row] = json.loads(cached.read_text(encoding="utf-8"))
        if all("coverage" in row and _has_years(row) for row in rows):
            return dataset.name, rows
        store, _ = open_index(settings, dataset)
        for row in rows:
            row["coverage"] = _coverage(store, row)
            row["info"] = {cid: i.model_dump() for cid, i in chunk_info(store, list(row["info"])).items()}
        store.close()
    else:
        rows = _lists(dataset, settings)
    if cached:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return dataset.name, rows


def _has_years(row: Row) -> bool:
    """Lists cached before ChunkInfo.years existed get their chunk info again from the index."""
    return all("years" in info for info in row["info"].values())


def _coverage(store: TenantStore, row: Row) -> dict[str, float]:
    ids = list(dict.fromkeys(cid for hits in row["rankings"].values() for cid, _ in hits[:COVERAGE_DEPTH]))
    texts = {chunk.chunk_id: chunk.text for chunk in store.get_chunks(ids)}
    return query_coverage(store, query_normalize(row["question"]) or row["question"], row["rankings"], texts)


def _lists(dataset: Dataset, settings: Settings) -> list[Row]:
    store, _ = open_index(settings, dataset)
    searcher = HybridSearcher(store, embeddings_from_settings(settings), FusionConfig(candidates=CANDIDATES))
    rows: list[Row] = []
    for question in dataset.answerable_questions():
        rankings = {
            mode: [(p.chunk_id, p.score) for p in searcher.search(question.question, k=CANDIDATES, mode=mode).passages]
            for mode in ("dense", "bm25")
        }
        ids = list(dict.fromkeys(cid for hits in rankings.values() for cid, _ in hits))
        info = chunk_info(store, ids)
        row: Row = {
            "question": question.question, "gold": question.gold_doc_ids, "rankings": rankings,
            "info": {cid: i.model_dump() for cid, i in info.items()},
        }  # fmt: skip
        row["coverage"] = _coverage(store, row)
        rows.append(row)
    store.close()
    return rows


def fused(row: Row, config: FusionConfig | str) -> list[tuple[str, float]]:
    rankings = {name: [(cid, float(s)) for cid, s in hits] for name, hits in row["rankings"].items()}
    if isinstance(config, str):
        return rankings[config]
    info = {cid: ChunkInfo.model_validate(value) for cid, value in row["info"].items()}
    for cid, share in row.get("coverage", {}).items():
        if cid in info:
            info[cid].coverage = share
    hits, _ = collapse_duplicates(config.fuse(rankings, info, query=row["question"]), info)  # as search does
    return hits


# (id of a dataset's rows, setting) → nDCG: the report, the picks and the leave-one-out checks ask for
# the same scores many times, and each one re-fuses every question.
_SCORES: dict[tuple[int, str], float] = {}


def score(rows: Sequence[Row], config: FusionConfig | str) -> float:
    key = (id(rows), config if isinstance(config, str) else config.model_dump_json())
    if key not in _SCORES:
        total = 0.0
        for row in rows:
            hits = fused(row, config)
            docs = [row["info"].get(cid, {}).get("doc_id") or cid.rsplit("::", 1)[0] for cid, _ in hits]
            total += ndcg_at_k(dedupe(docs), row["gold"], K)
        _SCORES[key] = total / max(1, len(rows))
    return _SCORES[key]


def margin(rows: Sequence[Row], config: FusionConfig) -> float:
    """Hybrid − the better single mode on one dataset (the issue's bar: ≥ −0.01)."""
    return score(rows, config) - max(score(rows, "dense"), score(rows, "bm25"))


# A new default may lose this much to the one it replaces on any dataset (issue #16: kiryu-r4 −0.005).
REGRESSION_SLACK = 0.005


def harm_margin(rows: Sequence[Row], config: FusionConfig) -> float:
    """The tighter of the two bars a default must clear on one dataset: its margin over the better
    single mode, and its score against the old default plus REGRESSION_SLACK. A setting that only
    matches the better half everywhere but gives back what the old default won on minutes (the
    interleave: kiryu-r4 −0.010) scores below one that keeps both."""
    return min(margin(rows, config), score(rows, config) - score(rows, OLD_DEFAULT) + REGRESSION_SLACK)


def pick(grid: Sequence[FusionConfig], data: dict[str, list[Row]]) -> FusionConfig:
    """The setting whose worst harm margin across the datasets is largest (mean margin breaks ties)."""

    def key(config: FusionConfig) -> tuple[float, float]:
        harms = [harm_margin(rows, config) for rows in data.values()]
        margins = [margin(rows, config) for rows in data.values()]
        return round(min(harms), 4), sum(margins) / len(margins)

    return max(grid, key=key)


OLD_DEFAULT = FusionConfig(
    method="minmax", dense_weight=0.25, dense_weight_by_doc_type={"議会会議録": 3.0}, short_chunk_chars=0,
    prefer_named_town=False, prefer_named_year=False, rank_cap=None,
)


def grid() -> list[FusionConfig]:
    """Settings compared: the old default, then weighted RRF, min-max and z-score fusion (z-scores
    weigh each list by how far its top stands out: a peaked list speaks louder) and the confident
    interleave (a capped rank fusion), each with the short-chunk rule and the town preference."""
    configs = [OLD_DEFAULT]
    configs += [FusionConfig(method="minmax", dense_weight=w, rank_cap=None) for w in (0.25, 0.5, 0.75, 1.0, 1.5, 2.0)]
    configs += [FusionConfig(method="zscore", dense_weight=w, rank_cap=None) for w in (0.5, 0.75, 1.0, 1.25, 1.5)]
    configs += [FusionConfig(method="rrf", dense_weight=w, rrf_k=k, rank_cap=None)
                for w in (0.5, 1.0, 2.0, 3.0) for k in (10, 60)]  # fmt: skip
    # score fusion with the council model's minutes weight, uncapped and capped (fusion.cap_ranks)
    configs += [FusionConfig(method=m, dense_weight=0.25 if m == "minmax" else 1.0, rank_cap=cap,
                             dense_weight_by_doc_type={"議会会議録": w})
                for m in ("minmax", "zscore") for w in (2.0, 3.0) for cap in (None, 3, 4)]  # fmt: skip
    configs += [FusionConfig(method="interleave", interleave_dense_bias=b, interleave_coverage_margin=None)
                for b in (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)]  # fmt: skip
    configs += [FusionConfig(method="interleave", interleave_dense_bias=b, interleave_coverage_margin=m)
                for b in (0.5, 1.0, 1.5) for m in (0.0, 0.05, 0.1, 0.2)]  # fmt: skip
    return configs


def ablations(chosen: FusionConfig) -> list[tuple[str, FusionConfig]]:
    return [
        ("chosen", chosen),
        ("without the short-chunk rule", chosen.model_copy(update={"short_chunk_chars": 0})),
        ("without the town preference", chosen.model_copy(update={"prefer_named_town": False})),
    ]


def label(config: FusionConfig) -> str:
    extra = f" by_type={config.dense_weight_by_doc_type}" if config.dense_weight_by_doc_type else ""
    if config == OLD_DEFAULT:
        extra += " (old default)"
    k = f" k={config.rrf_k}" if config.method == "rrf" else ""
    if config.rank_cap is not None:
        k += f" cap={config.rank_cap}"
    if config.method == "interleave":
        margin = config.interleave_coverage_margin
        cover = "" if margin is None else f" coverage_margin={margin}"
        return f"interleave dense_bias={config.interleave_dense_bias}{cover}"
    return f"{config.method} w_dense={config.dense_weight}{k}{extra}"


def report(data: dict[str, list[Row]], configs: Sequence[FusionConfig], out: Callable[[str], None] = print) -> None:
    out(f"nDCG@{K} (document level) per dataset; margin = hybrid − max(dense, BM25); "
        f"harm = min(margin, hybrid − old default + {REGRESSION_SLACK})")
    out("| setting | " + " | ".join(f"{n} ({len(r)})" for n, r in data.items()) + " | worst margin | worst harm |")
    out("|---|" + "---|" * (len(data) + 2))
    for name in ("dense", "bm25"):
        out(f"| {name} only | " + " | ".join(f"{score(rows, name):.4f}" for rows in data.values()) + " | | |")
    for config in configs:
        cells = " | ".join(f"{score(rows, config):.4f}" for rows in data.values())
        worst = min(margin(rows, config) for rows in data.values())
        harm = min(harm_margin(rows, config) for rows in data.values())
        out(f"| {label(config)} | {cells} | {worst:+.4f} | {harm:+.4f} |")
    if len(data) > 2:
        out("\nleave-one-dataset-out: chosen on the others, margin on the one left out")
        for held in data:
            chosen = pick(configs, {n: r for n, r in data.items() if n != held})
            out(f"- {held}: {label(chosen)} -> margin {margin(data[held], chosen):+.4f}, "
                f"harm {harm_margin(data[held], chosen):+.4f}")
    chosen = pick(configs, data)
    out(f"\nchosen on all: {label(chosen)}")
    for name, config in ablations(chosen):
        out(f"| {name} | " + " | ".join(f"{score(rows, config):.4f}" for rows in data.values()) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", type=Path, nargs="+")
    parser.add_argument("--cache", type=Path, default=None, help="folder for the candidate lists (JSON)")
    args = parser.parse_args()
    settings = Settings()
    data = dict(candidate_lists(path, settings, args.cache) for path in args.datasets)
    print(f"embedding model: {settings.embedding_model}")
    report(data, grid())


if __name__ == "__main__":
    main()
