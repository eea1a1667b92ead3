"""Style-shifted validation sets for fusion: the same questions over differently written corpora.

The two dev sets are one style each (桐生市's 一問一答 minutes, Wikipedia). A fusion default tuned on
them met another city's minutes, where members ask every topic in one long opening speech
(一括質問方式), and lost to BM25 alone by 0.05 nDCG@10 (issue #16). These builders make sets of
other styles from what is at hand, in the eval format (design.md), so fusion is chosen across styles:

- `kiryu-r4-ikkatsu`: kiryu-r4 with each member's speeches on a day joined into one opening speech
  at the first one's place (answers untouched); gold ids follow the join, questions are unchanged;
- `pdfs-ja`: the shared real PDFs (南国市 statements and bills, 白書, モデル就業規則, …) with hand-written
  questions (training/validation_questions/pdfs-ja.jsonl), gold = the file answering it;
- `library-mixed`: the bundled corpora/ as one tenant's mixed library (plans, 提案理由, 白書, minutes)
  with hand-written questions (validation_questions/library-mixed.jsonl), including issue #16's
  第444回 議案第１号 補正予算 question that the old per-type dense weight answered from 桐生市 minutes.

    .venv/bin/python -m yakuba.training.validation_sets --out ../shared/datasets

Never imported by serving code (training/ sits above everything it uses).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUESTIONS_DIR = Path(__file__).resolve().parent / "validation_questions"
MEMBER_ROLE = re.compile(r"^[0-9０-９]+番$")
PDF_SUFFIXES = {".pdf"}
# 408 pages of budget tables: an hour of e5 on 2 cores for no question; 議案第７号 (143 pages) stays as
# the long tabular distractor.
# pdfminer's 官報 sample has broken font maps: its text layer is mojibake and ingest refuses it with
# its "re-export" message, so it cannot be part of a searchable set.
PDF_EXCLUDE = ("setagaya-r8-yosan-allpage.pdf", "pdfminer-sample-kampo.pdf")


def _read_jsonl(path: Path) -> list[dict]:  # type: ignore[type-arg]
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _write_jsonl(path: Path, rows: Iterable[dict]) -> int:  # type: ignore[type-arg]
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def _day(doc_id: str) -> str:
    """kiryu ids are '<session>/<day>/<n>': speeches of one meeting day share the prefix."""
    return doc_id.rsplit("/", 1)[0]


def _body(text: str) -> str:
    """A speech without its 「○３番（飯島英規）」 header line (the joined speech keeps the first one)."""
    first, _, rest = text.partition("\n")
    return rest if first.startswith("○") and rest else text


def ikkatsu(corpus: list[dict], questions: list[dict]) -> tuple[list[dict], list[dict]]:  # type: ignore[type-arg]
    """Join every member's speeches of a day into one speech at the first one's place (一括質問方式).

    Returns the new corpus (file order kept) and the questions with gold ids mapped to joined ids.
    Speeches of officials, the chair and members on other days are untouched.
    """
    first_of: dict[tuple[str, str], dict] = {}  # type: ignore[type-arg]
    joined_into: dict[str, str] = {}
    out: list[dict] = []  # type: ignore[type-arg]
    for doc in corpus:
        meta = doc.get("metadata", {})
        speaker, role = meta.get("speaker", ""), meta.get("role", "")
        if not speaker or not MEMBER_ROLE.match(role or ""):
            out.append(doc)
            continue
        key = (_day(doc["id"]), speaker)
        if key not in first_of:
            first_of[key] = {**doc, "metadata": dict(meta)}
            out.append(first_of[key])
            joined_into[doc["id"]] = doc["id"]
            continue
        head = first_of[key]
        head["text"] = head["text"].rstrip() + "\n" + _body(doc["text"]).strip()
        joined_into[doc["id"]] = head["id"]
    mapped = []
    for question in questions:
        gold = list(dict.fromkeys(joined_into.get(g, g) for g in question.get("gold_doc_ids", [])))
        mapped.append({**question, "gold_doc_ids": gold})
    return out, mapped


def build_ikkatsu(source: Path, target: Path) -> tuple[int, int]:
    corpus, questions = ikkatsu(_read_jsonl(source / "corpus.jsonl"), _read_jsonl(source / "questions.jsonl"))
    return _write_jsonl(target / "corpus.jsonl", corpus), _write_jsonl(target / "questions.jsonl", questions)


def build_docs_set(
    files: Path, questions_file: Path, target: Path, *, suffixes: set[str] | None = None, exclude: tuple[str, ...] = ()
) -> int:
    """A `docs/` dataset: the files under `files` (ids = paths relative to it) and hand-written
    questions whose gold ids must name those files (a typo fails here, not as a silent 0)."""
    from yakuba.ingest.pipeline import discover  # what `yakuba ingest` would take (.yakubaignore honoured)

    docs = target / "docs"
    if docs.exists():
        shutil.rmtree(docs)
    copied: set[str] = set()
    for item in discover([files]):
        if (suffixes is not None and item.path.suffix.lower() not in suffixes) or item.doc_id in exclude:
            continue
        (docs / item.doc_id).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(item.path, docs / item.doc_id)
        copied.add(item.doc_id)
    questions = _read_jsonl(questions_file)
    unknown = sorted({g for q in questions for g in q["gold_doc_ids"]} - copied)
    if unknown:
        raise SystemExit(f"gold ids not among the files of {files}: {unknown}")
    return _write_jsonl(target / "questions.jsonl", questions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO.parent / "shared" / "datasets")
    parser.add_argument("--kiryu", type=Path, default=REPO.parent / "shared" / "datasets" / "kiryu-r4")
    parser.add_argument("--pdfs", type=Path, default=REPO.parent / "shared" / "corpora" / "pdfs")
    parser.add_argument("--corpora", type=Path, default=REPO / "corpora")
    args = parser.parse_args()
    docs, questions = build_ikkatsu(args.kiryu, args.out / "kiryu-r4-ikkatsu")
    print(f"kiryu-r4-ikkatsu: {docs} documents, {questions} questions")
    count = build_docs_set(
        args.pdfs, QUESTIONS_DIR / "pdfs-ja.jsonl", args.out / "pdfs-ja", suffixes=PDF_SUFFIXES, exclude=PDF_EXCLUDE
    )
    print(f"pdfs-ja: {count} questions")
    count = build_docs_set(args.corpora, QUESTIONS_DIR / "library-mixed.jsonl", args.out / "library-mixed")
    print(f"library-mixed: {count} questions")


if __name__ == "__main__":
    main()
