"""Build a kiryu-style question set (design.md's dataset format) for any year of the bundled minutes.

The dev set kiryu-r4 asks about each 一般質問 topic of 令和4年 「<topic>（<details>）について、議会で
どのような質問と答弁がありましたか。」 with the member's question speech as the gold document. The
held-out sets are "of the same kind", so calibrating anything on kiryu-r4 alone would tune to one
year. This script rebuilds the same kind of set for another year from ../shared/training (the
city's published topic lists + the minutes), so thresholds can be chosen on 令和3年 and checked on
令和4年. Run on r4 it reproduces kiryu-r4's corpus exactly, its question text for 114 of its 115
questions and its gold documents for 110.

    python -m yakuba.training.council_question_set r3 /tmp/kiryu-r3
    yakuba eval answers /tmp/kiryu-r3 --engine extractive
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from yakuba.training.static_model import DEFAULT_MINUTES, DEFAULT_QUESTIONS
from yakuba.training.static_model import _bigrams as _char_bigrams

MINUTES, TOPICS = DEFAULT_MINUTES, DEFAULT_QUESTIONS  # the training files, wherever shared/ is
QUESTION_TEMPLATE = "{topic}（{details}）について、議会でどのような質問と答弁がありましたか。"
DETAIL_CHARS = 40
MAX_DETAILS = 3
SOURCE = "桐生市議会 会議録 (via hsmch/kiryu-public-log)"


def _read_jsonl(path: Path) -> Iterable[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _member(name: str | None) -> str:
    return (name or "").replace(" ", "").replace("\u3000", "")


def _flat(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def _bigrams(text: str) -> set[str]:
    return _char_bigrams(_flat(text))


def doc_id(record: dict[str, Any]) -> str:
    return f"{record['slug']}/{record['schedule_id']}/{record['id']}"


def corpus_rows(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every speech and agenda line of the regular sessions (定例会), one document each."""
    rows = []
    for record in records:
        body = str(record.get("body") or "").strip()
        speaker, role = record.get("speaker") or "", record.get("role") or ""
        if record.get("type") == "名簿" or not (body or speaker) or "teireikai" not in record["slug"]:
            continue
        date = str(record.get("day", "")).split("\u3000")[0]
        rows.append({
            "id": doc_id(record),
            "title": f"桐生市議会 {record['session']} {date}",
            "text": "\n".join(part for part in (f"○{role}（{speaker}）" if speaker else "", body) if part),
            "metadata": {"doc_type": "council_minutes", "session": record["session"], "date": date,
                         "speaker": speaker, "role": role, "source": SOURCE},
        })
    return rows


def question_text(title: str, details: Sequence[str]) -> str:
    parts = []
    for detail in details[:MAX_DETAILS]:
        detail = unicodedata.normalize("NFKC", detail).strip().removesuffix("について").strip()
        if detail:
            parts.append(detail[:DETAIL_CHARS])
    if not parts:
        return f"{title}について、議会でどのような質問と答弁がありましたか。"
    return QUESTION_TEMPLATE.format(topic=title, details="、".join(parts))


def question_rows(records: Sequence[dict[str, Any]], sessions: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One question per topic whose member's question speech can be found (most shared bigrams)."""
    speeches: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in records:
        if record.get("type") == "質問" and record.get("speaker"):
            speeches.setdefault((record["slug"], _member(record["speaker"])), []).append(record)
    rows = []
    for session in sessions:
        slug = str(session.get("sessionSlug", ""))
        for question in session.get("questions", []):
            member = _member(question.get("memberName"))
            candidates = speeches.get((slug, member), [])
            for index, item in enumerate(question.get("items", [])):
                title = str(item.get("title", "")).strip()
                if not candidates or len(title) < 2 or "(不明)" in title:
                    continue
                key = _flat(title).removesuffix("について")
                gold = [r for r in candidates if key and key in _flat(str(r["body"]))]
                if not gold:
                    wanted = _bigrams(title)
                    shared, best = max(((len(wanted & _bigrams(str(r["body"]))), i) for i, r in enumerate(candidates)),
                                       key=lambda pair: (pair[0], -pair[1]))
                    if shared < max(2, len(wanted) // 4):
                        continue
                    gold = [candidates[best]]
                rows.append({
                    "id": f"{slug}/{question.get('order')}/{index}",
                    "question": question_text(unicodedata.normalize("NFKC", title), [str(d) for d in item.get("details", [])]),
                    "answers": [],
                    "gold_doc_ids": [doc_id(r) for r in gold],
                    "answerable": True,
                    "metadata": {"session": session.get("session"), "member": member,
                                 "key": title.removesuffix("について")},
                })
    return rows


def build(year: str, out: Path, *, sample: int | None = None, seed: int = 0,
          minutes: Path = MINUTES, topics: Path = TOPICS) -> tuple[int, int]:
    prefix = f"{year}-"
    records = [r for r in _read_jsonl(minutes) if str(r.get("slug", "")).startswith(prefix)]
    with gzip.open(topics, "rt", encoding="utf-8") as handle:
        sessions = [s for s in json.load(handle) if str(s.get("sessionSlug", "")).startswith(prefix)]
    corpus = corpus_rows(records)
    known = {row["id"] for row in corpus}
    questions = [q for q in question_rows(records, sessions) if set(q["gold_doc_ids"]) <= known]
    if sample is not None and sample < len(questions):
        questions = sorted(random.Random(seed).sample(questions, sample), key=lambda q: questions.index(q))
    if not corpus or not questions:
        raise SystemExit(f"no minutes or topics for year {year!r} in {minutes.parent}")
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("corpus.jsonl", corpus), ("questions.jsonl", questions)):
        with (out / name).open("w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    return len(corpus), len(questions)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("year", help="slug prefix of the year: r1, r2, r3, r4, r5, h30, ...")
    parser.add_argument("out", type=Path, help="dataset folder to write (corpus.jsonl, questions.jsonl)")
    parser.add_argument("--sample", type=int, default=None, help="keep this many questions (seeded)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--minutes", type=Path, default=MINUTES)
    parser.add_argument("--topics", type=Path, default=TOPICS)
    args = parser.parse_args(argv)
    n_docs, n_questions = build(args.year, args.out, sample=args.sample, seed=args.seed,
                                minutes=args.minutes, topics=args.topics)
    print(f"{args.out}: {n_docs} documents, {n_questions} questions")


if __name__ == "__main__":
    main()
