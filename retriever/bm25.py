"""Per-tenant BM25 index: the lexical half of hybrid retrieval.

Layout under `settings.bm25_path / <tenant>/`:
- `tokens.sqlite3`: one row per chunk (id, tokens, filterable metadata) plus a `meta` table with the
  tokenizer signature and a generation counter. Every add/remove is one SQLite transaction (WAL), so
  a killed process leaves the old or the new state, never a torn file, and a one-document ingest
  does not rewrite the whole store (temp file + rename of tens of MB each time would be the
  alternative).
- `matrix.npz`: a snapshot of the built score matrix tagged with the generation it was built from,
  written to a temp file, fsynced and renamed into place; a new process loads it instead of rebuilding.

Writes only touch SQLite and bump the generation; the next search (in this or any process sharing
the folder) sees a newer generation and rebuilds the matrix. Texts are not stored: Chroma holds them,
and `rebuild_from` re-tokenizes from there when the index is missing or out of sync
(`len(index) != store.count()`), or after the tokenizer changed (the index then opens empty).

Besides single words the matrix indexes *phrases*: each pair of adjacent content words (after
particles are dropped, 「太陽光 発電」→ 太陽光+発電). A query sharing a phrase with a passage then
outscores one that merely shares both words far apart — on the dev sets this lifted BM25 nDCG@10
from .937/.670 to .944/.705 (docs/tokenizer.md). Pairs are derived when the matrix is built, so the
stored tokens stay plain words.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from itertools import count, islice
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
import scipy.sparse as sp

from yakuba.core.settings import Settings, get_settings, validate_tenant
from yakuba.retriever.bm25_rows import SCHEMA_VERSION, PostgresRows, RowStore, SqliteRows
from yakuba.retriever.filters import SearchFilters, date_to_int, metadata_year, speaker_matches
from yakuba.retriever.tokenize import Tokenizer, default_tokenizer, query_normalize

log = logging.getLogger(__name__)

_SEP = "\x1f"  # joins stored tokens; never part of one
_DB_NAME = "tokens.sqlite3"
_MATRIX_NAME = "matrix.npz"
_NO_VALUE = -1  # a missing year/date/category in the filter columns
_ROW = tuple[str, str, str | None, int | None, str | None, str | None, str | None, str]


def bm25_matrix(
    terms: np.ndarray, docs: np.ndarray, n_docs: int, n_terms: int, *, k1: float, b: float
) -> dict[str, Any]:
    """Lucene-variant BM25 weights as bm25s's CSC `scores` dict (columns = terms, rows = docs).

    `terms[i]` occurs in document `docs[i]` (one entry per occurrence). Same formula as
    `bm25s.BM25(method="lucene").index(...)`: idf = ln(1 + (N - df + 0.5) / (df + 0.5)),
    weight = idf · tf / (tf + k1 · (1 - b + b · len / avg_len)); built with scipy's linear-time
    COO → CSC conversion instead of bm25s's per-document Python loop (0.26 s vs 2.0 s at 50k chunks).
    """
    lengths = np.bincount(docs, minlength=n_docs).astype(np.float64)
    counts = sp.csc_matrix(
        (np.ones(len(terms), dtype=np.float64), (docs, terms)), shape=(n_docs, n_terms)
    )
    counts.sum_duplicates()  # data = term frequency, indices = doc (sorted), indptr by term
    tf = counts.data
    df = np.diff(counts.indptr)
    idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
    avg_len = float(lengths.mean()) if n_docs and lengths.any() else 1.0
    term_of = np.repeat(np.arange(n_terms), df)
    data = idf[term_of] * tf / (tf + k1 * (1 - b + b * lengths[counts.indices] / avg_len))
    return {
        "data": data.astype(np.float32),
        "indices": counts.indices.astype(np.int32),
        "indptr": counts.indptr.astype(np.int64),
        "num_docs": n_docs,
    }


def _scorer(scores: dict[str, Any], k1: float, b: float) -> bm25s.BM25:
    """A bm25s object around a prebuilt matrix (its query-time scoring is all we use)."""
    bm25 = bm25s.BM25(k1=k1, b=b)
    bm25.scores = scores
    bm25.vocab_dict = {}
    bm25.nonoccurrence_array = None  # lucene BM25 has none; `index()` would have set it
    return bm25


@dataclass(frozen=True)
class _Built:
    """An immutable built index; searches hold a reference, so a rebuild never disturbs them."""

    generation: int
    ids: list[str]
    vocab: dict[str, int]  # word -> column 0 … len(vocab) - 1
    pairs: np.ndarray  # sorted phrase keys `left * len(vocab) + right`; column = len(vocab) + position
    bm25: bm25s.BM25 | None
    doc_type: np.ndarray  # filter columns: one code per chunk, _NO_VALUE when missing
    doc_type_codes: dict[str, int]
    doc_id: np.ndarray
    doc_id_codes: dict[str, int]
    speaker: np.ndarray
    speaker_codes: dict[str, int]
    role: np.ndarray
    role_codes: dict[str, int]
    year: np.ndarray
    date: np.ndarray  # YYYYMMDD

    def term_ids(self, terms: Sequence[str]) -> list[int]:
        """Query terms → matrix columns: known words, plus adjacent known pairs that are phrases."""
        words = np.asarray([self.vocab.get(t, -1) for t in terms], dtype=np.int64)
        columns = words[words >= 0].tolist()
        if len(self.pairs) and len(words) > 1:
            left, right = words[:-1], words[1:]
            keys = (left * len(self.vocab) + right)[(left >= 0) & (right >= 0)]
            position = np.searchsorted(self.pairs, keys)
            inside = position < len(self.pairs)
            hit = np.zeros(len(keys), dtype=bool)
            hit[inside] = self.pairs[position[inside]] == keys[inside]
            columns.extend((position[hit] + len(self.vocab)).tolist())
        return columns

    @cached_property
    def row_of(self) -> dict[str, int]:
        """Chunk id → row, built on first use (frozen dataclasses still allow cached_property)."""
        return {chunk_id: row for row, chunk_id in enumerate(self.ids)}

    def doc_types(self, chunk_ids: Iterable[str]) -> dict[str, str]:
        """Document type of each known chunk id (ids without one are left out)."""
        names = {code: name for name, code in self.doc_type_codes.items()}
        rows = self.row_of
        found = {cid: names.get(int(self.doc_type[rows[cid]])) for cid in chunk_ids if cid in rows}
        return {cid: name for cid, name in found.items() if name is not None}

    def mask(self, filters: SearchFilters | None) -> np.ndarray | None:
        """Boolean row mask for the filters; the same rules as `retriever.filters.matches`."""
        if filters is None or filters.is_empty():
            return None
        mask = np.ones(len(self.ids), dtype=bool)

        def one_of(column: np.ndarray, codes: dict[str, int], wanted: Iterable[str]) -> np.ndarray:
            chosen = [codes[v] for v in wanted if v in codes]
            return np.isin(column, np.asarray(chosen, dtype=column.dtype))

        if filters.doc_types is not None:
            mask &= one_of(self.doc_type, self.doc_type_codes, filters.doc_types)
        if filters.doc_ids is not None:
            mask &= one_of(self.doc_id, self.doc_id_codes, filters.doc_ids)
        if filters.role is not None:
            mask &= one_of(self.role, self.role_codes, [filters.role])
        if filters.speaker is not None:
            names = [n for n in self.speaker_codes if speaker_matches(filters.speaker, n)]
            mask &= one_of(self.speaker, self.speaker_codes, names)
        if filters.years is not None:
            # a year the column cannot hold matches no chunk (and must not overflow the cast)
            bounds = np.iinfo(self.year.dtype)
            years = [y for y in filters.years if bounds.min <= y <= bounds.max]
            mask &= np.isin(self.year, np.asarray(years, dtype=self.year.dtype))
        if filters.date_from is not None or filters.date_to is not None:
            mask &= self.date != _NO_VALUE
            if filters.date_from is not None:
                mask &= self.date >= date_to_int(filters.date_from)
            if filters.date_to is not None:
                mask &= self.date <= date_to_int(filters.date_to)
        return mask


def _clean_row(chunk_id: str, tokens: Sequence[str], metadata: Mapping[str, Any]) -> _ROW:
    """One SQLite row; `doc_id` falls back to the id's prefix (store ids are '<doc_id>::<hash>')."""

    def text(key: str) -> str | None:
        value = metadata.get(key)
        return None if value is None or value == "" else str(value)

    when = date_to_int(metadata.get("date"))
    return (
        str(chunk_id),
        text("doc_id") or str(chunk_id).split("::", 1)[0],
        text("doc_type"),
        metadata_year(metadata),
        f"{when // 10000:04d}-{when // 100 % 100:02d}-{when % 100:02d}" if when else None,
        text("speaker"),
        text("role"),
        _SEP.join(t for t in tokens if t and _SEP not in t),
    )


def _vocabulary(rows: Sequence[tuple[Any, ...]]) -> tuple[dict[str, int], np.ndarray]:
    """Word → id in order of first appearance, and the id of every stored token in row order.

    One C-level split and `map(dict.setdefault)` instead of a Python loop per token (5M tokens at
    50k chunks): each new word is stored with the running position as a provisional id, and the
    provisional ids are then renumbered 0 … V-1 through a lookup array.
    """
    stream = _SEP.join(r[7] for r in rows if r[7])
    if not stream:
        return {}, np.zeros(0, dtype=np.int64)
    tokens = stream.split(_SEP)
    first_seen: dict[str, int] = {}
    provisional = np.fromiter(map(first_seen.setdefault, tokens, count()), dtype=np.int64, count=len(tokens))
    renumber = np.empty(len(tokens), dtype=np.int64)
    renumber[np.fromiter(first_seen.values(), dtype=np.int64, count=len(first_seen))] = np.arange(len(first_seen))
    return dict(zip(first_seen, range(len(first_seen)), strict=True)), renumber[provisional]


def rows_for(settings: Settings, tenant: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`{"rows": PostgresRows}` when YAKUBA_DATABASE_URL is set (else `{}`: SQLite in the folder)."""
    if not settings.database_url or (options and "rows" in options):
        return {}
    tokenizer = (options or {}).get("tokenizer") or default_tokenizer()
    return {"rows": PostgresRows(settings.database_url, validate_tenant(tenant), tokenizer.signature)}


def _batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _codes(values: Sequence[str | None]) -> tuple[np.ndarray, dict[str, int]]:
    codes: dict[str, int] = {}
    column = np.fromiter(
        (_NO_VALUE if v is None else codes.setdefault(v, len(codes)) for v in values),
        dtype=np.int32,
        count=len(values),
    )
    return column, codes


def _pack(strings: Sequence[str]) -> np.ndarray:
    """Strings → one uint8 array (fixed-width '<U' arrays would pad every entry to the longest)."""
    return np.frombuffer(_SEP.join(strings).encode("utf-8"), dtype=np.uint8)


def _unpack(packed: np.ndarray) -> list[str]:
    text = packed.tobytes().decode("utf-8")
    return text.split(_SEP) if text else []


class BM25Index:
    """BM25 over one tenant's chunks, kept in step with the Chroma collection by the ingest pipeline.

    Thread-safe; several processes may share the folder (SQLite serialises writers, and every
    process notices the others' changes through the generation counter).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        tokenizer: Tokenizer | None = None,
        k1: float = 1.5,
        b: float = 0.75,
        phrases: bool = True,
        snapshot: bool = True,
        rows: RowStore | None = None,
    ) -> None:
        """`path`: the tenant's folder (its SQLite rows and this process's matrix snapshot); `rows`:
        another row store (PostgresRows for a shared database), else SQLite in `path`."""
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.tokenizer: Tokenizer = tokenizer or default_tokenizer()
        self.k1 = k1
        self.b = b
        self.phrases = phrases
        self.snapshot = snapshot
        self._lock = threading.RLock()
        self._built: _Built | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bm25-snapshot")
        self.rows: RowStore = rows or SqliteRows(self.path / _DB_NAME, self.tokenizer.signature)
        self._instance = self.rows.instance
        self._remove_stale_temp_files()

    @classmethod
    def for_tenant(cls, tenant: str, settings: Settings | None = None, **kwargs: Any) -> BM25Index:
        """The index of one tenant under `settings.bm25_path`."""
        settings = settings or get_settings()
        return cls(settings.bm25_path / validate_tenant(tenant), **kwargs, **rows_for(settings, tenant, kwargs))

    # -- storage -------------------------------------------------------------------------------
    def _remove_stale_temp_files(self, older_than_s: float = 3600.0) -> None:
        """Snapshot temp files of a process killed mid-write (recent ones may still be in use)."""
        now = time.time()
        for tmp in self.path.glob(".matrix-*.npz.tmp"):
            with contextlib.suppress(OSError):
                if now - tmp.stat().st_mtime > older_than_s:
                    tmp.unlink()

    def _generation(self) -> int:
        return self.rows.generation()

    def generation(self) -> int:
        """The tenant's store version: bumped by every write of any process sharing this folder
        (retriever/store.py reopens Chroma on a change it did not make itself). One indexed read."""
        return self._generation()

    def touch(self) -> None:
        """Bump the generation without changing rows: a store change BM25 does not see (a reindex
        swapping the dense collection) still reaches every other process."""
        with self.rows.write():
            pass

    def flush(self) -> None:
        """Wait until a snapshot write in flight (if any) is on disk."""
        self._writer.submit(lambda: None).result()

    def close(self) -> None:
        """Finish a pending snapshot write, then close the database."""
        self._writer.shutdown(wait=True)
        self.rows.close()

    def __enter__(self) -> BM25Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes --------------------------------------------------------------------------------
    def add(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        metadatas: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        """Insert or replace chunks (upsert by id; an id repeated within the call: the last wins)."""
        metadatas = metadatas if metadatas is not None else [{}] * len(ids)
        if not len(ids) == len(texts) == len(metadatas):
            raise ValueError(
                f"ids / texts / metadatas の件数が一致しません（{len(ids)}/{len(texts)}/{len(metadatas)}） / "
                "ids, texts and metadatas must have the same length"
            )
        if not ids:
            return
        tokens = self.tokenizer.tokenize_many(texts)  # the slow part, outside the write lock
        rows = [_clean_row(i, t, m or {}) for i, t, m in zip(ids, tokens, metadatas, strict=True)]
        with self.rows.write() as db:
            db.upsert(rows)

    def remove(self, ids: Iterable[str]) -> int:
        """Delete chunks by id; unknown ids are ignored. Returns the number removed."""
        ids = list(ids)
        if not ids:
            return 0
        with self.rows.write() as db:
            return db.remove(ids)

    def remove_document(self, doc_id: str) -> int:
        """Delete every chunk of a document. Returns the number removed."""
        with self.rows.write() as db:
            return db.remove_document(doc_id)

    def clear(self) -> None:
        with self.rows.write() as db:
            db.clear()

    def rebuild_from(
        self, chunks: Iterable[tuple[str, str, Mapping[str, Any] | None]], *, batch_size: int = 512
    ) -> int:
        """Replace the whole index with `(id, text, metadata)` triples (e.g. read back from Chroma).

        One transaction: if the process dies half-way, the previous index is still there.
        Returns the number of chunks indexed.
        """
        with self.rows.write() as db:
            db.clear()
            for batch in _batched(chunks, batch_size):
                tokens = self.tokenizer.tokenize_many([text for _, text, _ in batch])
                db.upsert([_clean_row(i, t, m or {}) for (i, _, m), t in zip(batch, tokens, strict=True)])
            return db.count()

    # -- reads ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.rows.count()

    def ids(self) -> list[str]:
        return self.rows.ids()

    def doc_ids(self) -> list[str]:
        return self.rows.doc_ids()

    def speakers(self) -> list[str]:
        """Distinct speaker names, for `to_chroma_where(filters, known_speakers=...)`."""
        return self.rows.speakers()

    def tokens(self, chunk_id: str) -> list[str] | None:
        """Stored words of one chunk (debugging, tests); None for an unknown id."""
        stored = self.rows.tokens(chunk_id)
        return None if stored is None else (stored.split(_SEP) if stored else [])

    def search(
        self, query: str, k: int = 10, filters: SearchFilters | None = None, *, normalize: bool = True
    ) -> list[tuple[str, float]]:
        """Top-k `(chunk_id, score)` among chunks passing `filters`, best first; positive scores only.

        The filter masks the score vector before top-k, so a narrow filter still returns up to k
        hits. `normalize` first strips question boilerplate (`query_normalize`).
        """
        if k <= 0:
            return []
        terms = self.tokenizer.tokenize(query_normalize(query) if normalize else query)
        built = self.ensure_built()
        if built.bm25 is None or not terms:
            return []
        columns = built.term_ids(terms)
        if not columns:
            return []
        scores = built.bm25.get_scores_from_ids(columns)
        mask = built.mask(filters)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) > k:
            candidates = candidates[np.argpartition(-scores[candidates], k - 1)[:k]]
        order = np.lexsort((candidates, -scores[candidates]))  # score desc, then insertion order
        return [(built.ids[i], float(scores[i])) for i in candidates[order]]

    def idf(self, terms: Sequence[str]) -> dict[str, float]:
        """BM25's idf per term (unknown terms get the largest value): how telling a word is here.

        The assistant weighs question words with it when deciding whether anything retrieved is
        about the question: sharing 「費用」 with a passage says little, sharing 「宇宙」 says much.
        """
        built = self.ensure_built()
        n_docs = len(built.ids)
        indptr = built.bm25.scores["indptr"] if built.bm25 is not None else None
        weights: dict[str, float] = {}
        for term in terms:
            column = built.vocab.get(term)
            df = 0 if column is None or indptr is None else int(indptr[column + 1] - indptr[column])
            weights[term] = math.log1p((n_docs - df + 0.5) / (df + 0.5))
        return weights

    def documents_mentioning(self, term: str, doc_ids: Sequence[str]) -> set[str]:
        """Which of `doc_ids` have a chunk containing `term` (a normalised token), from the matrix.

        The assistant asks this of place names: a passage says 本市 where the question names the
        city, but the document it comes from names the city somewhere.
        """
        built = self.ensure_built()
        column = built.vocab.get(term)
        if column is None or built.bm25 is None:
            return set()
        indptr = built.bm25.scores["indptr"]
        rows = built.bm25.scores["indices"][indptr[column] : indptr[column + 1]]
        present = set(np.unique(built.doc_id[rows]).tolist())
        return {d for d in doc_ids if built.doc_id_codes.get(d) in present}

    def doc_types(self, chunk_ids: Iterable[str]) -> dict[str, str]:
        """Document type of each known chunk id, from the in-memory column (fusion weighs by it)."""
        return self.ensure_built().doc_types(chunk_ids)

    def matching_ids(self, filters: SearchFilters | None) -> set[str] | None:
        """Ids of the chunks passing `filters` (None when nothing is filtered), from in-memory columns:
        far cheaper than a metadata scan in Chroma, so dense search can post-filter with it."""
        built = self.ensure_built()
        mask = built.mask(filters)
        if mask is None:
            return None
        return {built.ids[i] for i in np.flatnonzero(mask)}

    # -- the score matrix ----------------------------------------------------------------------
    def ensure_built(self) -> _Built:
        """The matrix for the current generation: kept, loaded from the snapshot, or rebuilt."""
        built = self._built
        if built is not None and built.generation == self._generation():
            return built
        with self._lock:
            generation = self._generation()
            if self._built is None or self._built.generation != generation:
                self._built = self._load_snapshot(generation) or self._build(generation)
            return self._built

    def _read_rows(self, *, tokens: bool = True) -> tuple[int, list[tuple[Any, ...]]]:
        """All rows in insertion order, with the generation they belong to (one read transaction)."""
        return self.rows.read(tokens=tokens)

    def _build(self, generation: int) -> _Built:
        generation, rows = self._read_rows()
        vocab, words = _vocabulary(rows)
        lengths = np.fromiter((r[7].count(_SEP) + 1 if r[7] else 0 for r in rows), np.int64, len(rows))
        doc_of = np.repeat(np.arange(len(rows), dtype=np.int64), lengths)
        terms, docs = words, doc_of
        pairs = np.zeros(0, dtype=np.int64)
        if self.phrases and len(words) > 1:
            # adjacent words of the same chunk form a phrase term, numbered after the words
            same_doc = doc_of[:-1] == doc_of[1:]
            keys = (words[:-1] * len(vocab) + words[1:])[same_doc]
            pairs, pair_column = np.unique(keys, return_inverse=True)
            terms = np.concatenate([words, pair_column.ravel() + len(vocab)])
            docs = np.concatenate([doc_of, doc_of[:-1][same_doc]])
        bm25 = None
        if rows:
            matrix = bm25_matrix(terms, docs, len(rows), len(vocab) + len(pairs), k1=self.k1, b=self.b)
            bm25 = _scorer(matrix, self.k1, self.b)
        built = self._assemble(generation, [r[0] for r in rows], vocab, pairs, bm25, rows)
        if self.snapshot and bm25 is not None:
            # off the search path: a 50k-chunk snapshot is ~70 MB to write and fsync
            self._writer.submit(self._write_snapshot, built)
        return built

    @staticmethod
    def _assemble(
        generation: int,
        ids: list[str],
        vocab: dict[str, int],
        pairs: np.ndarray,
        bm25: bm25s.BM25 | None,
        rows: Sequence[tuple[Any, ...]],
    ) -> _Built:
        doc_type, doc_type_codes = _codes([r[2] for r in rows])
        doc_id, doc_id_codes = _codes([r[1] for r in rows])
        speaker, speaker_codes = _codes([r[5] for r in rows])
        role, role_codes = _codes([r[6] for r in rows])
        year = np.fromiter((_NO_VALUE if r[3] is None else r[3] for r in rows), np.int32, len(rows))
        dates = np.fromiter((date_to_int(r[4]) or _NO_VALUE for r in rows), np.int64, len(rows))
        return _Built(
            generation, ids, vocab, pairs, bm25,
            doc_type, doc_type_codes, doc_id, doc_id_codes, speaker, speaker_codes, role, role_codes,
            year, dates,
        )  # fmt: skip

    def _snapshot_key(self) -> str:
        return (
            f"{SCHEMA_VERSION}|{self._instance}|{self.tokenizer.signature}|k1={self.k1}|b={self.b}"
            f"|phrases={self.phrases}"
        )

    def _write_snapshot(self, built: _Built) -> None:
        """Atomic: write a temp file in the same folder, fsync, rename over the old snapshot."""
        assert built.bm25 is not None
        if self._built is not None and self._built.generation > built.generation:
            return  # already superseded by a newer build
        scores = built.bm25.scores
        fd, tmp = tempfile.mkstemp(prefix=".matrix-", suffix=".npz.tmp", dir=self.path)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(
                    fh,
                    key=_pack([self._snapshot_key()]),
                    generation=np.array(built.generation, dtype=np.int64),
                    data=scores["data"],
                    indices=scores["indices"],
                    indptr=scores["indptr"],
                    num_docs=np.array(scores["num_docs"], dtype=np.int64),
                    vocab=_pack(list(built.vocab)),
                    pairs=built.pairs,
                    ids=_pack(built.ids),
                )
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path / _MATRIX_NAME)
        except OSError as exc:  # e.g. a read-only folder: only costs a rebuild next time
            log.warning("could not write BM25 snapshot in %s: %s", self.path, exc)
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    def _load_snapshot(self, generation: int) -> _Built | None:
        """The saved matrix if it was built from exactly this generation and these rows; else None."""
        path = self.path / _MATRIX_NAME
        if not self.snapshot or not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as saved:
                if _unpack(saved["key"]) != [self._snapshot_key()] or int(saved["generation"]) != generation:
                    return None
                scores = {
                    "data": saved["data"],
                    "indices": saved["indices"],
                    "indptr": saved["indptr"],
                    "num_docs": int(saved["num_docs"]),
                }
                vocab = {term: i for i, term in enumerate(_unpack(saved["vocab"]))}
                pairs = saved["pairs"]
                ids = _unpack(saved["ids"])
        except Exception as exc:  # noqa: BLE001 - a damaged snapshot is simply rebuilt
            log.warning("ignoring unreadable BM25 snapshot %s: %s", path, exc)
            return None
        current, rows = self._read_rows(tokens=False)
        if current != generation or [r[0] for r in rows] != ids or scores["num_docs"] != len(ids):
            return None
        return self._assemble(generation, ids, vocab, pairs, _scorer(scores, self.k1, self.b), rows)
