"""Evaluation datasets (format v1, see docs/architecture.md / design.md).

A dataset is a folder with
- `corpus.jsonl`: `{"id", "title", "text", "metadata"}` per line, or a `docs/` folder of files whose
  ids are their paths relative to `docs/` (text files are read here; other formats keep only
  `source_path` and go through the ingest loaders);
- `questions.jsonl`: `{"id", "question", "answers", "gold_doc_ids", "answerable", "metadata"}`.

Mistakes in hand-made datasets are common, so errors name the file and line, in Japanese and English.
Soft problems (a gold id that is not in the corpus, an answerable question without gold) become
`Dataset.warnings` rather than errors: held-out sets must still load.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from yakuba.core.errors import InvalidInputError

CORPUS_FILE = "corpus.jsonl"
DOCS_DIR = "docs"
QUESTIONS_FILE = "questions.jsonl"
TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown"})


class DatasetError(InvalidInputError, ValueError):
    """A dataset that cannot be loaded; both messages end with the file (and line) to fix."""

    code = "invalid_dataset"

    def __init__(self, message_ja: str, message_en: str, *, path: Path, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(
            f"{message_ja}（{where}）", f"{message_en} ({where})", detail={"path": str(path), "line": line}
        )
        self.path = path
        self.line = line


class CorpusDocument(BaseModel):
    """One document of the corpus."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    title: str = ""
    text: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)
    source_path: Path | None = Field(None, description="Set for docs/ folder datasets: the file itself.")


class Question(BaseModel):
    """One evaluation question; `answerable` defaults to "has gold documents"."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    answers: list[str] = Field(default_factory=list)
    gold_doc_ids: list[str] = Field(default_factory=list)
    answerable: bool = True
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _default_answerable(cls, data: Any) -> Any:
        if isinstance(data, dict) and "answerable" not in data:
            data = {**data, "answerable": bool(data.get("gold_doc_ids"))}
        return data


class Dataset(BaseModel):
    """A loaded dataset: documents in file order, questions in file order."""

    name: str
    path: Path
    corpus_format: Literal["jsonl", "docs"]
    documents: list[CorpusDocument]
    questions: list[Question]
    warnings: list[str] = Field(default_factory=list)

    def document_ids(self) -> set[str]:
        return {doc.id for doc in self.documents}

    def answerable_questions(self) -> list[Question]:
        return [q for q in self.questions if q.answerable and q.gold_doc_ids]


Model = TypeVar("Model", CorpusDocument, Question)


def _read_jsonl(path: Path, model: type[Model]) -> Iterator[tuple[int, Model]]:
    """Parse and validate every non-blank line; the first bad line raises DatasetError."""
    try:
        handle = path.open(encoding="utf-8-sig")
    except OSError as exc:
        raise DatasetError("ファイルを読めません", f"cannot read file: {exc}", path=path) from exc
    with handle:
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DatasetError(
                        f"JSON として読めない行があります（{exc.msg}）",
                        f"invalid JSON ({exc.msg})",
                        path=path,
                        line=number,
                    ) from None
                if not isinstance(data, dict):
                    raise DatasetError(
                        "各行は JSON オブジェクトにしてください", "each line must be a JSON object", path=path, line=number
                    )
                try:
                    yield number, model.model_validate(data)
                except ValidationError as exc:
                    problems = "; ".join(
                        f"{'.'.join(str(p) for p in err['loc']) or '(row)'}: {err['msg']}" for err in exc.errors()
                    )
                    raise DatasetError(
                        f"項目が正しくありません: {problems}", f"invalid record: {problems}", path=path, line=number
                    ) from None
        except UnicodeDecodeError as exc:
            raise DatasetError(
                "UTF-8 で保存してください", f"file is not UTF-8: {exc}", path=path
            ) from None


def _unique(items: Iterator[tuple[int, Model]], path: Path, kind: str) -> list[Model]:
    seen: dict[str, int] = {}
    out: list[Model] = []
    for number, item in items:
        if item.id in seen:
            raise DatasetError(
                f"{kind} の id が重複しています: {item.id!r}（最初は {seen[item.id]} 行目）",
                f"duplicate {kind} id {item.id!r} (first on line {seen[item.id]})",
                path=path,
                line=number,
            )
        seen[item.id] = number
        out.append(item)
    return out


def _docs_folder(folder: Path) -> list[CorpusDocument]:
    """Every non-hidden file under docs/, id = relative POSIX path; text read for plain-text formats."""
    documents: list[CorpusDocument] = []
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = file.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):
            continue
        text = ""
        if file.suffix.lower() in TEXT_SUFFIXES:
            try:
                text = file.read_text(encoding="utf-8-sig")
            except UnicodeDecodeError as exc:
                raise DatasetError("UTF-8 で保存してください", f"file is not UTF-8: {exc}", path=file) from None
        documents.append(
            CorpusDocument(id=relative.as_posix(), title=file.stem, text=text, source_path=file.resolve())
        )
    return documents


def load_dataset(path: str | Path) -> Dataset:
    """Load and check a dataset folder; raises DatasetError when it cannot be used."""
    root = Path(path)
    if not root.is_dir():
        raise DatasetError(
            "データセットのフォルダが見つかりません", "dataset folder not found", path=root
        )
    corpus_file, docs_dir, questions_file = root / CORPUS_FILE, root / DOCS_DIR, root / QUESTIONS_FILE
    warnings: list[str] = []
    if corpus_file.is_file():
        documents = _unique(_read_jsonl(corpus_file, CorpusDocument), corpus_file, "document")
        corpus_format: Literal["jsonl", "docs"] = "jsonl"
        if docs_dir.is_dir():
            warnings.append(f"{CORPUS_FILE} と {DOCS_DIR}/ の両方があります: {CORPUS_FILE} を使います / "
                            f"both {CORPUS_FILE} and {DOCS_DIR}/ exist: using {CORPUS_FILE}")
    elif docs_dir.is_dir():
        documents = _docs_folder(docs_dir)
        corpus_format = "docs"
    else:
        raise DatasetError(
            f"{CORPUS_FILE} も {DOCS_DIR}/ フォルダもありません",
            f"neither {CORPUS_FILE} nor a {DOCS_DIR}/ folder exists",
            path=root,
        )
    if not documents:
        raise DatasetError("コーパスが空です", "the corpus has no documents", path=corpus_file if corpus_format == "jsonl" else docs_dir)
    if not questions_file.is_file():
        raise DatasetError(f"{QUESTIONS_FILE} がありません", f"{QUESTIONS_FILE} is missing", path=questions_file)
    questions = _unique(_read_jsonl(questions_file, Question), questions_file, "question")

    known = {doc.id for doc in documents}
    for question in questions:
        missing = [g for g in question.gold_doc_ids if g not in known]
        if missing:
            warnings.append(
                f"質問 {question.id} の正解文書がコーパスにありません: {missing} / "
                f"question {question.id}: gold ids not in corpus: {missing}"
            )
        if question.answerable and not question.gold_doc_ids:
            warnings.append(
                f"質問 {question.id} は回答可能ですが正解文書がありません / "
                f"question {question.id} is answerable but has no gold_doc_ids"
            )
    return Dataset(
        name=root.resolve().name,
        path=root,
        corpus_format=corpus_format,
        documents=documents,
        questions=questions,
        warnings=warnings,
    )


def corpus_hash(dataset: Dataset) -> str:
    """SHA-256 over the documents (id, title, text, metadata, file bytes), independent of file order.

    Used to tell whether an index built for a dataset can be reused; questions are not part of it.
    """
    digest = hashlib.sha256()
    for doc in sorted(dataset.documents, key=lambda d: d.id):
        record = {"id": doc.id, "title": doc.title, "text": doc.text, "metadata": doc.metadata}
        digest.update(json.dumps(record, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8"))
        if doc.source_path is not None and doc.source_path.is_file():
            digest.update(hashlib.sha256(doc.source_path.read_bytes()).digest())
        digest.update(b"\n")
    return digest.hexdigest()
