"""Free-text answers → themes, each traceable to the answers it summarises.

The steps follow 広聴AI (kouchou-ai) and Talk to the City — embed every answer, cluster, label each
cluster — with what municipal reports need on top: personal data masked before anything else sees
the text (yakuba.assistant.pii), 「特になし」-style answers counted apart instead of forming a theme,
labels from the answers' own words (Sudachi nouns weighted per cluster, c-TF-IDF) rather than a
model's paraphrase, three representative quotes with their row ids, and themes broken down by the
chosen attributes.

Embeddings come from the committed static model `yakuba-static-ja` (no transformer runs: thousands of
answers embed in about a second on 2 cores; its folder is found through yakuba.retriever.embeddings); clustering is spherical k-means (numpy) with a fixed seed,
so the same file gives the same themes.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np

from yakuba.assistant.pii import mask_pii
from yakuba.assistant.surveys.kinds import Question, key
from yakuba.assistant.surveys.schema import Quote, Theme, ThemeCross, ThemeSet
from yakuba.assistant.surveys.tables import pct
from yakuba.retriever.tokenize import STOPWORDS

THEME_MODEL = "yakuba-static-ja"
OTHER = "その他"
MIN_ANSWERS = 6  # fewer answers are read, not clustered
# An answer this far from its cluster's centre (cosine) fits no theme and goes to その他. Measured on the
# Toyama free text: about 4% of answers, the one-offs (「3年越しの計画でした。」「安らぎ」「やどもにま」).
OUTLIER_SIMILARITY = 0.25
_NOTHING = re.compile(
    r"^(特に|とくに|今のところ|今は|現在)?(なし|無し|ナシ|ない|無い|ありません|ございません|なかった|無かった|"
    r"思いつかない|思い当たらない|わからない|分からない|不明|とくになし|特になし|特に無し)(です|でした)?$"
)
_LABEL_POS_DROP = frozenset({"動詞", "副詞", "接頭辞", "接尾辞", "助詞", "助動詞", "補助記号", "記号", "空白",
                             "代名詞", "連体詞", "接続詞", "感動詞"})
_LABEL_STOP = STOPWORDS | frozenset({"無い", "有る", "良い", "人", "侭", "今", "通り", "物", "ます", "特に", "とても", "また", "こと", "もの", "ところ", "方", "感じ", "為", "様", "時", "等", "所",
                         "今回", "非常", "色々", "沢山", "大変", "本当", "少し", "一番", "全て", "皆", "他", "中"})


def is_nothing(text: str) -> bool:
    """「特になし」「ありません。」「ない」… : an answer that says there is nothing to say."""
    core = re.sub(r"[\s。．.!！、,・ー-]+", "", key(text))
    return not core or bool(_NOTHING.match(core))


class StaticVectors:
    """The committed static model read directly: token vectors averaged, then normalised.

    This is exactly what sentence-transformers' StaticEmbedding + Normalize compute (tests check it),
    without importing sentence-transformers and transformers, which takes 10–25 s on 2 shared cores —
    longer than embedding every answer of a survey.
    """

    def __init__(self, folder: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.weights = load_file(str(folder / "model.safetensors"))["embedding.weight"].astype(np.float32)

    def encode(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        out = np.zeros((len(texts), self.weights.shape[1]), dtype=np.float32)
        for i, encoding in enumerate(encodings):
            if encoding.ids:
                out[i] = self.weights[encoding.ids].mean(axis=0)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


@lru_cache(maxsize=1)
def _encoder():  # noqa: ANN202 - StaticVectors, or a SentenceTransformerEmbeddings for another model
    from yakuba.retriever.embeddings import SentenceTransformerEmbeddings, resolve_model

    folder = Path(resolve_model(THEME_MODEL))
    if (folder / "tokenizer.json").is_file() and (folder / "model.safetensors").is_file():
        try:
            return StaticVectors(folder)
        except KeyError:  # not a plain static table: let sentence-transformers load it
            pass
    return SentenceTransformerEmbeddings(THEME_MODEL, batch_size=256)


@lru_cache(maxsize=1)
def _label_tokenizer():  # noqa: ANN202 - JapaneseTokenizer
    from yakuba.retriever.tokenize import JapaneseTokenizer

    # Mode C keeps compounds whole (駐車場, 立山黒部アルペンルート); only nouns, adjectives and 形状詞 label a theme.
    return JapaneseTokenizer(mode="C", drop_pos=_LABEL_POS_DROP, stopwords=_LABEL_STOP)


def embed(texts: list[str]) -> np.ndarray:
    """Unit vectors of `texts` with the theme model (exposed for the benchmark and tests)."""
    encoder = _encoder()
    if isinstance(encoder, StaticVectors):
        return encoder.encode(texts)
    return np.asarray(encoder.embed_documents(texts), dtype=np.float32)


def find_themes(
    question: Question, row_ids: list[str], *, max_themes: int = 8, by: list[Question] | None = None
) -> ThemeSet:
    """Themes of one free-text question: count, share, label, keywords, quotes with row ids, crosses."""
    rows = [i for i, v in enumerate(question.values) if v is not None]
    texts = {i: mask_pii(str(question.values[i])).text.strip() for i in rows}
    nothing = [i for i in rows if is_nothing(texts[i])]
    kept = [i for i in rows if not is_nothing(texts[i])]
    result = ThemeSet(question=question.name, answers=len(rows), nothing=len(nothing), themes=[], coverage=0.0)
    if len(kept) < MIN_ANSWERS:
        return result
    vectors = embed([texts[i] for i in kept])
    labels, centroids = _cluster(vectors, _theme_count(len(kept), max_themes))
    tokens = _label_tokenizer().tokenize_many([texts[i] for i in kept])
    keywords = _keywords(tokens, labels, len(centroids))
    minimum = max(3, math.ceil(0.02 * len(kept)))
    themes: list[tuple[Theme, list[int]]] = []
    other: list[int] = []
    similarity = np.sum(vectors * centroids[labels], axis=1)
    for c in range(len(centroids)):
        members = [k for k in range(len(kept)) if labels[k] == c and similarity[k] >= OUTLIER_SIMILARITY]
        other.extend(k for k in range(len(kept)) if labels[k] == c and similarity[k] < OUTLIER_SIMILARITY)
        if len(members) < minimum or not keywords[c]:
            other.extend(members)
            continue
        theme = Theme(
            label="・".join(keywords[c][:2]), keywords=keywords[c], count=len(members),
            share=pct(len(members), len(kept)),
            quotes=_quotes(members, vectors, centroids[c], kept, texts, row_ids),
            row_ids=[row_ids[kept[k]] for k in members],
        )
        themes.append((theme, members))
    themes.sort(key=lambda t: -t[0].count)
    _unique_labels([t for t, _ in themes])
    if other:
        other.sort()
        centroid = vectors[other].mean(axis=0)
        themes.append((Theme(label=OTHER, keywords=[], count=len(other), share=pct(len(other), len(kept)),
                             quotes=_quotes(other, vectors, centroid, kept, texts, row_ids),
                             row_ids=[row_ids[kept[k]] for k in other]), other))
    result.themes = [t for t, _ in themes]
    result.coverage = pct(len(kept) - len(other), len(kept))
    for attribute in by or []:
        result.crosses.append(_cross(attribute, themes, kept))
    return result


def _theme_count(n: int, max_themes: int) -> int:
    return max(2, min(max_themes, round(math.sqrt(n / 3))))


def _cluster(vectors: np.ndarray, k: int, iterations: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Spherical k-means (cosine), k-means++ seeding with a fixed seed: same answers, same themes.

    Plain numpy: on 2 shared cores it is several times faster than scikit-learn's threaded k-means
    for a few thousand 256-dimensional vectors, and needs no extra dependency.
    """
    rng = np.random.default_rng(0)
    n = len(vectors)
    k = max(1, min(k, len({v.tobytes() for v in vectors})))
    centroids = [vectors[int(rng.integers(n))]]
    distance = 1.0 - vectors @ centroids[0]
    for _ in range(1, k):
        weights = np.clip(distance, 0, None) ** 2
        pick = int(rng.choice(n, p=weights / weights.sum())) if weights.sum() > 0 else int(rng.integers(n))
        centroids.append(vectors[pick])
        distance = np.minimum(distance, 1.0 - vectors @ vectors[pick])
    centers = np.stack(centroids)
    labels = np.full(n, -1)
    for _ in range(iterations):
        new = np.argmax(vectors @ centers.T, axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
        for c in range(k):
            members = vectors[labels == c]
            if len(members):
                mean = members.sum(axis=0)
                centers[c] = mean / (np.linalg.norm(mean) or 1.0)
    return labels, centers


def _keywords(tokens: list[list[str]], labels: np.ndarray, k: int, top: int = 5) -> list[list[str]]:
    """Per cluster, the words its answers use more than the others do (c-TF-IDF on answer frequency)."""
    document_frequency: Counter[str] = Counter()
    per_cluster: list[Counter[str]] = [Counter() for _ in range(k)]
    sizes = Counter(int(c) for c in labels)
    for words, c in zip(tokens, labels, strict=True):
        unique = {w for w in words if len(w) >= 2 or _is_kanji(w)}
        document_frequency.update(unique)
        per_cluster[int(c)].update(unique)
    n = len(tokens)
    out: list[list[str]] = []
    for c in range(k):
        scored = sorted(
            ((df / sizes[c]) * math.log((n + 1) / (document_frequency[w] + 1)), w)
            for w, df in per_cluster[c].items() if df >= 2
        )
        chosen: list[str] = []
        for _, word in reversed(scored):
            if any(word in other or other in word for other in chosen):
                continue
            chosen.append(word)
            if len(chosen) == top:
                break
        out.append(chosen)
    return out


def _is_kanji(word: str) -> bool:
    return len(word) == 1 and "\u4e00" <= word <= "\u9fff"


def _quotes(members: list[int], vectors: np.ndarray, centroid: np.ndarray, kept: list[int],
            texts: dict[int, str], row_ids: list[str], count: int = 3) -> list[Quote]:
    """The answers nearest the theme's centre, preferring ones long enough to say something."""
    order = sorted(members, key=lambda k: -float(vectors[k] @ centroid))
    readable = [k for k in order[:40] if 8 <= len(texts[kept[k]]) <= 160] + order
    quotes: list[Quote] = []
    seen: set[str] = set()
    for k in readable:
        text = texts[kept[k]]
        if text in seen:
            continue
        seen.add(text)
        quotes.append(Quote(row_id=row_ids[kept[k]], text=text))
        if len(quotes) == count:
            break
    return quotes


def _unique_labels(themes: list[Theme]) -> None:
    used: set[str] = set()
    for theme in themes:
        extra = iter(theme.keywords[2:])
        while theme.label in used:
            word = next(extra, None)
            theme.label = f"{theme.label}・{word}" if word else f"{theme.label}（{len(used) + 1}）"
        used.add(theme.label)


def _cross(attribute: Question, themes: list[tuple[Theme, list[int]]], kept: list[int]) -> ThemeCross:
    groups = list(attribute.options)
    index = {g: j for j, g in enumerate(groups)}
    counts = [[0] * len(groups) for _ in themes]
    for t, (_, members) in enumerate(themes):
        for k in members:
            group = attribute.values[kept[k]]
            if group in index:
                counts[t][index[group]] += 1
    group_n = [sum(counts[t][j] for t in range(len(themes))) for j in range(len(groups))]
    return ThemeCross(by=attribute.name, groups=groups, group_n=group_n, counts=counts)
