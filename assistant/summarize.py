"""Extractive summarisation: continuous LexRank over the retriever's Japanese tokens.

Why extractive: a summary made of the speakers' own (cleaned) sentences cannot invent a number or a
decision, so it is the safe default and the fallback whenever a model's rewrite fails its checks.
Why LexRank: sentences that many others resemble are the ones a meeting keeps returning to; it needs
no training data, and the SudachiPy tokens (normalised forms, function words dropped) give it the
same notion of "shared content word" that BM25 retrieval uses.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from yakuba.retriever.tokenize import tokenize

DAMPING = 0.85


def _tfidf(token_lists: Sequence[Sequence[str]]) -> np.ndarray:
    vocab: dict[str, int] = {}
    for tokens in token_lists:
        for token in tokens:
            vocab.setdefault(token, len(vocab))
    matrix = np.zeros((len(token_lists), max(len(vocab), 1)), dtype=np.float64)
    df: Counter[str] = Counter()
    for tokens in token_lists:
        df.update(set(tokens))
    n = len(token_lists)
    for row, tokens in enumerate(token_lists):
        for token, count in Counter(tokens).items():
            matrix[row, vocab[token]] = count * (math.log((1 + n) / (1 + df[token])) + 1.0)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


def similarity_matrix(sentences: Sequence[str]) -> np.ndarray:
    """Cosine similarity of the sentences' TF-IDF vectors (SudachiPy content words)."""
    vectors = _tfidf([tokenize(s) for s in sentences])
    return vectors @ vectors.T


def lexrank_scores(sentences: Sequence[str], *, similarity: np.ndarray | None = None) -> np.ndarray:
    """Centrality of each sentence (continuous LexRank, power iteration); sums to 1."""
    n = len(sentences)
    if n == 0:
        return np.zeros(0)
    if n == 1:
        return np.ones(1)
    sim = similarity_matrix(sentences) if similarity is None else similarity
    weights = sim.copy()
    np.fill_diagonal(weights, 0.0)
    row_sums = weights.sum(axis=1, keepdims=True)
    # A sentence that shares nothing with the others links to all evenly (no dangling rows).
    transition = np.where(row_sums > 0, weights / np.where(row_sums == 0, 1.0, row_sums), 1.0 / n)
    scores = np.full(n, 1.0 / n)
    for _ in range(100):
        updated = (1 - DAMPING) / n + DAMPING * transition.T @ scores
        if np.abs(updated - scores).sum() < 1e-9:
            scores = updated
            break
        scores = updated
    return scores / scores.sum()


def select(
    sentences: Sequence[str],
    max_chars: int,
    *,
    scores: np.ndarray | None = None,
    similarity: np.ndarray | None = None,
    redundancy: float = 0.6,
    min_sentences: int = 1,
) -> list[int]:
    """Indexes (in original order) of the best sentences that fit `max_chars`.

    Greedy by score; a sentence too similar (cosine > `redundancy`) to one already chosen is skipped,
    so a speaker who repeats a point gets it once. At least `min_sentences` are kept even when the
    first is longer than the budget (a summary is never empty when there is text).
    """
    if not sentences:
        return []
    sim = similarity_matrix(sentences) if similarity is None else similarity
    ranks = lexrank_scores(sentences, similarity=sim) if scores is None else scores
    order = sorted(range(len(sentences)), key=lambda i: (-ranks[i], i))
    chosen: list[int] = []
    used = 0
    for i in order:
        if any(sim[i, j] > redundancy for j in chosen):
            continue
        length = len(sentences[i])
        if used + length > max_chars and len(chosen) >= min_sentences:
            continue
        chosen.append(i)
        used += length
    return sorted(chosen)


def summarize(sentences: Sequence[str], max_chars: int) -> list[str]:
    """The central sentences that fit `max_chars`, in their original order."""
    return [sentences[i] for i in select(sentences, max_chars)]
