"""The chunker on real documents: sizes, overlap, pages, headings, and whole speaker turns."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import DATA, ROOT
from yakuba.core.types import DocType, LoadedDocument, PageText
from yakuba.ingest.chunk import chunk_document, chunk_ids
from yakuba.ingest.clean import clean_pages
from yakuba.ingest.loaders import load_path
from yakuba.ingest.minutes import parse_minutes

MINUTES = sorted((ROOT / "corpora" / "議会会議録").rglob("*第3号_一般質問.txt"))[0]


def _cleaned(path: Path) -> LoadedDocument:
    document = load_path(path)[0]
    return document.model_copy(update={"pages": clean_pages(document.pages)})


@pytest.fixture(scope="module")
def policy_speech() -> LoadedDocument:
    return _cleaned(DATA / "nankoku-shisei-houshin.pdf")


def test_chunks_respect_target_size_and_keep_pages(policy_speech: LoadedDocument) -> None:
    chunks = chunk_document(policy_speech, DocType.OTHER, size=500, overlap=80)
    assert len(chunks) > 10
    assert max(len(c.text) for c in chunks) <= 500 * 1.1
    pages = [c.page for c in chunks]
    assert pages == sorted(pages), "chunks follow the page order"
    last_page = max(c.page_end or c.page for c in chunks)
    assert pages[0] == 1 and last_page == len([p for p in policy_speech.pages if p.text.strip()])
    # Spaced-out PDF text came back joined: 「危 機 管 理」 is searchable as 危機管理.
    assert any("危機管理" in c.text for c in chunks)
    assert [c.chunk_index for c in chunks] == list(range(len(chunks)))


def test_chunks_end_on_sentence_boundaries(policy_speech: LoadedDocument) -> None:
    chunks = chunk_document(policy_speech, DocType.OTHER, size=400, overlap=60)
    body = [c for c in chunks[:-1] if len(c.text) > 200]
    ends = sum(c.text.rstrip().endswith(("。", "」", "）", ")")) for c in body)
    assert ends / len(body) > 0.8


def test_overlap_repeats_whole_sentences(policy_speech: LoadedDocument) -> None:
    chunks = chunk_document(policy_speech, DocType.OTHER, size=400, overlap=150)
    shared = 0
    for left, right in zip(chunks, chunks[1:], strict=False):
        last_sentence = left.text.rstrip().split("。")[-2] + "。" if "。" in left.text else ""
        if last_sentence and right.text.startswith(last_sentence.lstrip("\n")):
            shared += 1
    assert shared >= len(chunks) // 4
    no_overlap = chunk_document(policy_speech, DocType.OTHER, size=400, overlap=0)
    assert sum(len(c.text) for c in no_overlap) < sum(len(c.text) for c in chunks)


def test_headings_become_metadata(policy_speech: LoadedDocument) -> None:
    chunks = chunk_document(policy_speech, DocType.OTHER, size=500, overlap=80)
    headings = {c.heading for c in chunks if c.heading}
    assert "危機管理" in headings


def test_minutes_turns_are_never_mixed_or_split_when_they_fit() -> None:
    document = _cleaned(MINUTES)
    parsed = parse_minutes("\n".join(p.text for p in document.pages))
    chunks = chunk_document(document, DocType.COUNCIL_MINUTES, size=500, overlap=80)
    turn_chunks = [c for c in chunks if c.speaker]
    assert len(turn_chunks) >= len([t for t in parsed.turns if t.text.strip()])
    for chunk in turn_chunks:
        # Every chunk starts with exactly one speaker label and carries that speaker's metadata.
        first_line = chunk.text.split("\n", 1)[0]
        assert chunk.speaker in first_line
        assert sum(chunk.text.count(mark) for mark in "○◆") <= 1
        assert chunk.date and chunk.date.startswith("2022-12")
        assert chunk.session == "令和4年第4回定例会"
    short_turns = [t for t in parsed.turns if 50 < len(t.text) <= 600]
    assert short_turns
    for turn in short_turns[:20]:
        holding = [c for c in turn_chunks if turn.text.strip()[:40] in c.text]
        assert len(holding) == 1, "a turn that fits is one chunk"
        assert turn.text.strip()[-20:] in holding[0].text
    long_turns = [t for t in parsed.turns if len(t.text) > 2000]
    assert long_turns, "the 一般質問 day has long speeches"
    speaker = long_turns[0].speaker
    parts = [c for c in turn_chunks if c.speaker == speaker]
    assert len(parts) > 3


def test_chunk_ids_are_stable_and_content_derived() -> None:
    page = PageText(page=1, text="第1章 総則\n本町は住民の福祉の増進を図る。\n本町は住民の福祉の増進を図る。")
    document = LoadedDocument(doc_id="d.txt", title="t", file_format="txt", pages=[page])
    chunks = chunk_document(document, DocType.PLAN, size=12, overlap=0)
    ids = chunk_ids(chunks)
    assert len(set(ids)) == len(ids), "identical sentences still get distinct ids"
    assert ids == chunk_ids(chunk_document(document, DocType.PLAN, size=12, overlap=0))
    assert all(i.startswith("d.txt::") for i in ids)
