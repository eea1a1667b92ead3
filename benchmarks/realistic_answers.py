"""Realistic-documents answer set (issue #17): right / confidently wrong / abstained per engine.

The questions (benchmarks/realistic_answers/questions.jsonl, evals format v1) are what staff ask of
real municipal PDFs nobody tuned on: amounts per 議案 and account in a 提案理由 that lists a dozen
議案, counts and rates in a 市政報告, figures in a 施政方針, the totals of a 一般会計予算, a 総合計画's
period and vision, an ordinance's purpose — with neighbouring values that a careless answer quotes
instead (the next 議案's amount, last year's rate, the previous plan's period) — plus questions the
documents cannot answer. The PDFs are not all shippable, so they are linked at run time from
`--pdfs` (default ../shared/corpora/pdfs) into a dataset folder under the eval cache.

A right answer contains a gold string (NFKC, whitespace ignored); an answered question without one
is *confidently wrong*; an abstention on an answerable question is *abstained*. For the questions
the documents cannot answer, abstaining is right and answering is confidently wrong.

    nice -n 10 .venv/bin/python benchmarks/realistic_answers.py --engine extractive
    nice -n 10 .venv/bin/python benchmarks/realistic_answers.py --engine local --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
from collections import Counter
from pathlib import Path

from yakuba.core.paths import PROJECT_ROOT
from yakuba.core.settings import Settings
from yakuba.evals.answer_metrics import normalize_compact
from yakuba.evals.answers import QuestionRecord, run_answers_eval

HERE = Path(__file__).resolve().parent / "realistic_answers"
DEFAULT_PDFS = PROJECT_ROOT.parent / "shared" / "corpora" / "pdfs"


def dataset_folder(pdfs: Path, target: Path) -> Path:
    """questions.jsonl plus docs/ linking every PDF a question names (a clear error when one is missing)."""
    lines = (HERE / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    names = sorted({d for line in lines if line.strip() for d in json.loads(line)["gold_doc_ids"]})
    missing = [n for n in names if not (pdfs / n).is_file()]
    if missing:
        sys.exit(f"資料が見つかりません / PDFs not found under {pdfs}: {missing}")
    shutil.rmtree(target, ignore_errors=True)
    (target / "docs").mkdir(parents=True)
    shutil.copy(HERE / "questions.jsonl", target / "questions.jsonl")
    for name in names:
        os.symlink((pdfs / name).resolve(), target / "docs" / name)
    return target


def verdict(record: QuestionRecord) -> str:
    if record.error:
        return "error"
    if record.should_abstain:
        return "right" if record.abstained else "confidently_wrong"
    if record.abstained:
        return "abstained"
    text = normalize_compact(record.answer)
    golds = [normalize_compact(a) for a in record.gold_answers if a.strip()]
    return "right" if any(g and g in text for g in golds) else "confidently_wrong"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", default="extractive", choices=("extractive", "local", "openai"))
    parser.add_argument("--pdfs", type=Path, default=DEFAULT_PDFS)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the per-question verdicts here")
    args = parser.parse_args()

    settings = Settings()
    dataset = dataset_folder(args.pdfs, settings.home / "eval-cache" / "realistic-answers-dataset")
    report = run_answers_eval(dataset, settings, engine=args.engine, unanswerable_share=0.0, limit=args.limit)
    rows = [(r, verdict(r)) for r in report.questions]
    answerable = [(r, v) for r, v in rows if not r.should_abstain]
    unanswerable = [(r, v) for r, v in rows if r.should_abstain]
    counts = Counter(v for _, v in answerable)
    answered = counts["right"] + counts["confidently_wrong"]
    print(f"engine={args.engine}  questions={len(rows)} (answerable {len(answerable)}, unanswerable {len(unanswerable)})")
    print(f"answerable: right {counts['right']}  confidently wrong {counts['confidently_wrong']}  "
          f"abstained {counts['abstained']}  errors {counts['error']}")
    if answered:
        print(f"  right {counts['right'] / len(answerable):.0%} of answerable; "
              f"confidently wrong {counts['confidently_wrong'] / answered:.0%} of answered")
    unanswered = Counter(v for _, v in unanswerable)
    print(f"unanswerable: abstained (right) {unanswered['right']}  answered (confidently wrong) "
          f"{unanswered['confidently_wrong']}")
    evidence = [r.evidence_ms for r in report.questions if r.evidence_ms is not None]
    totals = [r.total_ms for r in report.questions]
    if evidence:
        print(f"evidence p50 {statistics.median(evidence):.0f} ms (n={len(evidence)}); "
              f"total p50 {statistics.median(totals):.0f} ms")
    fallbacks = Counter(r.fallback for r in report.questions if r.fallback)
    if fallbacks:
        print("fallbacks:", dict(fallbacks))
    for record, v in rows:
        if v != "right":
            print(f"  [{v}] {record.id} {record.question}\n      → {record.answer[:160]!r}")
    if args.json:
        args.json.write_text(json.dumps(
            [{"id": r.id, "verdict": v, "answer": r.answer, "fallback": r.fallback, "evidence_ms": r.evidence_ms,
              "total_ms": r.total_ms} for r, v in rows], ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
