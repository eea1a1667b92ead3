"""Style-shifted validation sets: the 一括質問 join and the hand-written question files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from yakuba.evals.datasets import load_dataset
from yakuba.training.validation_sets import QUESTIONS_DIR, build_docs_set, ikkatsu


def speech(doc_id: str, speaker: str, role: str, text: str) -> dict:  # type: ignore[type-arg]
    return {"id": doc_id, "title": "桐生市議会", "text": text,
            "metadata": {"speaker": speaker, "role": role, "date": "12月22日"}}  # fmt: skip


def test_ikkatsu_joins_a_members_speeches_of_a_day() -> None:
    corpus = [
        speech("s/1/1", "北川久人", "議長", "○議長（北川久人）\n３番、飯島英規議員。"),
        speech("s/1/2", "飯島英規", "３番", "○３番（飯島英規）\n太陽光発電について伺います。"),
        speech("s/1/3", "鈴木一郎", "市民生活部長", "○市民生活部長（鈴木一郎）\nお答えいたします。"),
        speech("s/1/4", "飯島英規", "３番", "○３番（飯島英規）\n次に、ワクチン接種について伺います。"),
        speech("s/2/1", "飯島英規", "３番", "○３番（飯島英規）\n翌日の発言です。"),
    ]
    questions = [{"id": "q1", "question": "太陽光発電", "gold_doc_ids": ["s/1/2"]},
                 {"id": "q2", "question": "ワクチン", "gold_doc_ids": ["s/1/4", "s/2/1"]}]  # fmt: skip
    docs, mapped = ikkatsu(corpus, questions)
    assert [d["id"] for d in docs] == ["s/1/1", "s/1/2", "s/1/3", "s/2/1"]  # answers stay, order kept
    joined = docs[1]["text"]
    assert joined == "○３番（飯島英規）\n太陽光発電について伺います。\n次に、ワクチン接種について伺います。"
    assert [q["gold_doc_ids"] for q in mapped] == [["s/1/2"], ["s/1/2", "s/2/1"]]
    assert [q["question"] for q in mapped] == ["太陽光発電", "ワクチン"]  # questions unchanged
    assert corpus[1]["text"] == "○３番（飯島英規）\n太陽光発電について伺います。"  # input untouched


def test_docs_sets_load_and_name_existing_files(tmp_path: Path) -> None:
    files = tmp_path / "files"
    (files / "南国市").mkdir(parents=True)
    (files / "南国市" / "提案理由.txt").write_text("提案理由\n\n補正予算の規模は1,192,893千円です。\n", encoding="utf-8")
    (files / ".hidden.txt").write_text("x", encoding="utf-8")
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"id": "q", "question": "規模は？", "gold_doc_ids": ["南国市/提案理由.txt"]},
                                    ensure_ascii=False) + "\n", encoding="utf-8")  # fmt: skip
    assert build_docs_set(files, questions, tmp_path / "set") == 1
    dataset = load_dataset(tmp_path / "set")
    assert dataset.document_ids() == {"南国市/提案理由.txt"} and not dataset.warnings
    questions.write_text(json.dumps({"id": "q", "question": "?", "gold_doc_ids": ["typo.txt"]}) + "\n")
    with pytest.raises(SystemExit, match="typo.txt"):
        build_docs_set(files, questions, tmp_path / "set")


@pytest.mark.parametrize("name", ["pdfs-ja", "library-mixed"])
def test_hand_written_questions_are_well_formed(name: str) -> None:
    rows = [json.loads(line) for line in (QUESTIONS_DIR / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 20 and len({r["id"] for r in rows}) == len(rows)
    assert all(r["question"] and r["gold_doc_ids"] and r["answerable"] for r in rows)
    if name == "library-mixed":  # the issue's question is in, gold = 南国市's 提案理由
        issue = [r for r in rows if "南国市一般会計補正予算の歳入歳出補正予算の規模" in r["question"]]
        assert issue and issue[0]["gold_doc_ids"] == ["南国市/提案理由_第444回定例会.pdf"]
