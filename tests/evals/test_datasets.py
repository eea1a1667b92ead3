"""Evaluation dataset loading: small temporary datasets, error messages, and the real dev sets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import shared_dir
from yakuba.evals.datasets import DatasetError, corpus_hash, load_dataset

DOCS = [
    {"id": "d1", "title": "梅雨", "text": "梅雨は東アジアの気象現象である。", "metadata": {"doc_type": "wikipedia"}},
    {"id": "d2", "title": "台風", "text": "台風は熱帯低気圧の一種である。"},
]
QUESTIONS = [
    {"id": "q1", "question": "梅雨とは何か", "answers": ["気象現象"], "gold_doc_ids": ["d1"], "answerable": True},
    {"id": "q2", "question": "台風の定義は？", "gold_doc_ids": ["d2"]},
    {"id": "q3", "question": "市長の好物は？", "gold_doc_ids": [], "answerable": False},
]


def write_jsonl(path: Path, rows: list[dict] | list[str]) -> None:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def make_dataset(root: Path, docs: list | None = None, questions: list | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write_jsonl(root / "corpus.jsonl", DOCS if docs is None else docs)
    write_jsonl(root / "questions.jsonl", QUESTIONS if questions is None else questions)
    return root


def test_loads_corpus_jsonl(tmp_path: Path) -> None:
    dataset = load_dataset(make_dataset(tmp_path / "mini"))
    assert dataset.name == "mini" and dataset.corpus_format == "jsonl"
    assert [d.id for d in dataset.documents] == ["d1", "d2"]
    assert dataset.documents[0].metadata == {"doc_type": "wikipedia"}
    assert dataset.documents[1].title == "台風" and dataset.documents[1].metadata == {}
    q1, q2, q3 = dataset.questions
    assert q1.answers == ["気象現象"] and q1.answerable
    assert q2.answerable and q2.answers == []  # answerable defaults to "has gold"
    assert not q3.answerable
    assert [q.id for q in dataset.answerable_questions()] == ["q1", "q2"]
    assert dataset.warnings == []


def test_blank_lines_and_bom_are_fine(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "bom")
    text = (root / "corpus.jsonl").read_text(encoding="utf-8")
    (root / "corpus.jsonl").write_text("\ufeff" + text.replace("\n", "\n\n"), encoding="utf-8")
    assert len(load_dataset(root).documents) == 2


def test_docs_folder(tmp_path: Path) -> None:
    root = tmp_path / "folder"
    (root / "docs" / "sub").mkdir(parents=True)
    (root / "docs" / "a.md").write_text("# 見出し\n本文", encoding="utf-8")
    (root / "docs" / "sub" / "b.txt").write_text("テキスト", encoding="utf-8")
    (root / "docs" / "sub" / "c.pdf").write_bytes(b"%PDF-1.4 fake")
    (root / "docs" / ".hidden").write_text("x", encoding="utf-8")
    write_jsonl(root / "questions.jsonl", [{"id": "q", "question": "見出し？", "gold_doc_ids": ["sub/b.txt"]}])
    dataset = load_dataset(root)
    assert dataset.corpus_format == "docs"
    assert [d.id for d in dataset.documents] == ["a.md", "sub/b.txt", "sub/c.pdf"]
    assert dataset.documents[0].text.startswith("# 見出し") and dataset.documents[0].title == "a"
    assert dataset.documents[2].text == "" and dataset.documents[2].source_path is not None
    assert dataset.warnings == []


def test_missing_folder_and_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="dataset folder not found") as info:
        load_dataset(tmp_path / "nope")
    assert "見つかりません" in str(info.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"neither corpus.jsonl nor a docs/ folder"):
        load_dataset(tmp_path / "empty")
    root = make_dataset(tmp_path / "noq")
    (root / "questions.jsonl").unlink()
    with pytest.raises(DatasetError, match="questions.jsonl is missing"):
        load_dataset(root)


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ('{"id": "d3", "title": "x", "text": ', "invalid JSON"),
        ('["not", "an", "object"]', "must be a JSON object"),
        ('{"title": "no id"}', "id: Field required"),
        ('{"id": "d1", "text": "again"}', "duplicate document id 'd1' (first on line 1)"),
    ],
)
def test_bad_corpus_line_names_file_and_line(tmp_path: Path, bad_line: str, message: str) -> None:
    root = make_dataset(tmp_path / "bad", docs=[*DOCS, bad_line])
    with pytest.raises(DatasetError) as info:
        load_dataset(root)
    assert message in str(info.value)
    assert info.value.line == 3
    assert str(info.value).count("corpus.jsonl:3") == 2  # Japanese and English halves
    assert info.value.message_ja.endswith("corpus.jsonl:3）") and info.value.message_en.endswith("corpus.jsonl:3)")
    assert info.value.detail == {"path": str(root / "corpus.jsonl"), "line": 3}
    assert info.value.code == "invalid_dataset"


def test_bad_question_line(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "badq", questions=[QUESTIONS[0], {"id": "q9", "gold_doc_ids": "d1"}])
    with pytest.raises(DatasetError) as info:
        load_dataset(root)
    assert info.value.line == 2 and "question" in str(info.value) and "項目が正しくありません" in str(info.value)


def test_not_utf8(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "sjis")
    (root / "corpus.jsonl").write_bytes(json.dumps(DOCS[0], ensure_ascii=False).encode("shift_jis"))
    with pytest.raises(DatasetError, match="UTF-8"):
        load_dataset(root)


def test_soft_problems_become_warnings(tmp_path: Path) -> None:
    questions = [
        {"id": "q1", "question": "?", "gold_doc_ids": ["d1", "ghost"]},
        {"id": "q2", "question": "?", "gold_doc_ids": [], "answerable": True},
    ]
    dataset = load_dataset(make_dataset(tmp_path / "warn", questions=questions))
    assert len(dataset.warnings) == 2
    assert "ghost" in dataset.warnings[0]
    assert "no gold_doc_ids" in dataset.warnings[1]


def test_corpus_hash(tmp_path: Path) -> None:
    first = corpus_hash(load_dataset(make_dataset(tmp_path / "a")))
    assert len(first) == 64
    # file order and questions do not matter
    reordered = corpus_hash(load_dataset(make_dataset(tmp_path / "b", docs=DOCS[::-1], questions=QUESTIONS[:1])))
    assert reordered == first
    # text, title and metadata do
    changed_text = [DOCS[0], {**DOCS[1], "text": DOCS[1]["text"] + "。"}]
    assert corpus_hash(load_dataset(make_dataset(tmp_path / "c", docs=changed_text))) != first
    changed_meta = [{**DOCS[0], "metadata": {"doc_type": "other"}}, DOCS[1]]
    assert corpus_hash(load_dataset(make_dataset(tmp_path / "d", docs=changed_meta))) != first


def test_corpus_hash_docs_folder_reads_file_bytes(tmp_path: Path) -> None:
    root = tmp_path / "folder"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "x.pdf").write_bytes(b"one")
    write_jsonl(root / "questions.jsonl", [{"id": "q", "question": "?", "gold_doc_ids": ["x.pdf"]}])
    before = corpus_hash(load_dataset(root))
    (root / "docs" / "x.pdf").write_bytes(b"two")
    assert corpus_hash(load_dataset(root)) != before


@pytest.mark.parametrize(("name", "documents", "questions"), [("jsquad-valid", 1145, 600), ("kiryu-r4", 5400, 115)])
def test_real_dev_sets_load(name: str, documents: int, questions: int) -> None:
    shared = shared_dir()
    if shared is None or not (shared / "datasets" / name).is_dir():
        pytest.skip("dev datasets not available")
    dataset = load_dataset(shared / "datasets" / name)
    assert len(dataset.documents) == documents
    assert len(dataset.questions) == questions
    assert dataset.warnings == []
    assert all(q.gold_doc_ids for q in dataset.answerable_questions())
    assert len(corpus_hash(dataset)) == 64
