"""Answer-level metrics: does the answer say the gold answer, cite the gold documents, stay grounded?

Every function scores ONE question and returns a float in [0, 1], or None when the metric does not
apply to that question (no gold answer, the question should be abstained on, the answer abstained).
Aggregates average the non-None values, so each metric is over the questions it is defined for; the
definitions, including the edge cases, are spelled out in docs/evals.md.

Japanese first: text is compared after NFKC (full-width digits, half-width kana), and characters are
counted rather than words; citation markers `[n]` are removed before comparing answer text.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from yakuba.assistant.charset import foreign_chars
from yakuba.assistant.schemas import ABSTENTION_MESSAGE, Citation

# `[1]`, `[1][2]`, `[1, 2]`, `[1、2]` and their full-width forms (NFKC folds ［１］ to [1]).
MARKER = re.compile(r"\[(\d+(?:\s*[,，、]\s*\d+)*)\]")
# Sentence ends for groundedness: 。！？ (and ASCII !?) and line breaks; the end mark stays with its
# sentence, and markers written after it (「…です。[1]」) are joined back by `split_sentences`.
_SENTENCE_END = re.compile(r"(?<=[。！？!?])|\n+")

# Sentences that connect or frame an answer but claim nothing checkable, after `normalize_chars`
# (so without punctuation or spaces). Anchored on both ends: 「次のとおりです」 is boilerplate,
# 「税率は次のとおり10%です」 is not.
BOILERPLATE = tuple(
    re.compile(pattern)
    for pattern in (
        r"^(?:(?:登録(?:されている|された)?|ご提供いただいた|提供された|参考)?資料(?:に|で|から)?(?:よると|よれば|は|では)?)?"
        r"(?:以下|次)の(?:とおり|通り|ようになります|ように)(?:です|でした|である|となります|なります|まとめます)?$",
        r"^(?:資料|登録資料|参考資料)(?:に|を)(?:よると|よれば|もとに|基に)(?:回答|お答え)(?:します|いたします)$",
        r"^(?:ご|お)?(?:質問|問い合わせ)(?:に|へ)(?:お答え|回答)(?:します|いたします)$",
        r"^(?:詳しく|詳細)(?:は|については).{0,20}(?:ご確認|ご覧|参照)(?:ください|下さい)$",
        r"^(?:以上|以上です|以上となります|参考になれば幸いです|ご参考まで|ご参考までに)$",
        r"^(?:まとめると|要約すると|つまり|なお|また)$",
    )
)

Judge = Callable[[str, str], bool]
"""An optional LLM judge: (sentence, cited passage text) → supported?"""


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def strip_markers(text: str) -> str:
    """The answer text without its `[n]` citation markers."""
    return MARKER.sub("", nfkc(text))


def marker_numbers(text: str) -> list[int]:
    """Citation numbers in `text`, in order of appearance, each once."""
    numbers: list[int] = []
    for group in MARKER.findall(nfkc(text)):
        for part in re.split(r"[,，、]", group):
            number = int(part.strip())
            if number not in numbers:
                numbers.append(number)
    return numbers


def normalize_compact(text: str) -> str:
    """NFKC, lower case, citation markers and all whitespace removed (for `answer_contains`)."""
    return "".join(strip_markers(text).lower().split())


def normalize_chars(text: str) -> str:
    """`normalize_compact` minus punctuation (Unicode P*) and symbols (S*): the characters F1 counts."""
    return "".join(ch for ch in normalize_compact(text) if unicodedata.category(ch)[0] not in "PS")


def is_abstention_text(text: str) -> bool:
    """The assistant's fixed abstention message (markers, spaces and punctuation ignored)."""
    return normalize_chars(text) == normalize_chars(ABSTENTION_MESSAGE)


# --- answer text ------------------------------------------------------------------------------


def answer_contains(answer: str, gold_answers: Sequence[str], *, abstained: bool = False) -> float | None:
    """1.0 when some gold answer appears in the answer (NFKC, case and whitespace ignored), else 0.0.

    None when there is no non-empty gold answer. An abstention scores 0 even if the abstention text
    happened to contain a gold string: saying "not found" is not answering.
    """
    golds = [g for g in (normalize_compact(a) for a in gold_answers) if g]
    if not golds:
        return None
    if abstained or is_abstention_text(answer):
        return 0.0
    text = normalize_compact(answer)
    return 1.0 if any(g in text for g in golds) else 0.0


def _char_f1(prediction: str, gold: str) -> float:
    if not prediction or not gold:
        return 0.0
    common = Counter(prediction) & Counter(gold)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(prediction)
    recall = overlap / len(gold)
    return 2 * precision * recall / (precision + recall)


def char_f1(answer: str, gold_answers: Sequence[str], *, abstained: bool = False) -> float | None:
    """Character-level F1 (multiset overlap, as JGLUE scores JSQuAD) against the best gold answer.

    Text is NFKC-normalised and stripped of markers, whitespace and punctuation first. None without
    a gold answer; 0.0 for an abstention. A long answer that contains the gold string scores low on
    purpose: F1 rewards saying the answer and little else, `answer_contains` only saying it.
    """
    golds = [g for g in (normalize_chars(a) for a in gold_answers) if g]
    if not golds:
        return None
    if abstained or is_abstention_text(answer):
        return 0.0
    text = normalize_chars(answer)
    return max(_char_f1(text, gold) for gold in golds)


# --- citations --------------------------------------------------------------------------------


def citation_precision(cited_doc_ids: Iterable[str], gold_doc_ids: Iterable[str]) -> float | None:
    """Share of the distinct cited documents that are gold.

    None when there are no gold documents (nothing to judge against). Zero citations score 0.0: an
    answer to an answerable question that cites nothing has no verified source (an abstention on an
    answerable question therefore costs precision and recall as well as abstention accuracy).
    """
    gold = set(gold_doc_ids)
    if not gold:
        return None
    cited = set(cited_doc_ids)
    if not cited:
        return 0.0
    return len(cited & gold) / len(cited)


def citation_recall(cited_doc_ids: Iterable[str], gold_doc_ids: Iterable[str]) -> float | None:
    """Share of the gold documents that are cited; None without gold, 0.0 with zero citations."""
    gold = set(gold_doc_ids)
    if not gold:
        return None
    return len(set(cited_doc_ids) & gold) / len(gold)


# --- groundedness -----------------------------------------------------------------------------


class SentenceSupport(BaseModel):
    """How one answer sentence was judged (kept in reports so a reader can check the verdict)."""

    sentence: str
    cited: list[int]
    score: float | None = None
    supported: bool | None = None
    reason: str


def split_sentences(text: str) -> list[str]:
    """Sentences ending in 。！？ or a line break; markers after the end mark join their sentence."""
    pieces = [p.strip() for p in _SENTENCE_END.split(nfkc(text)) if p and p.strip()]
    sentences: list[str] = []
    for piece in pieces:
        if sentences and not normalize_chars(piece):
            sentences[-1] += piece  # 「…です。」「[1]」 or 「…！」「[1]。」 → one sentence citing [1]
        else:
            sentences.append(piece)
    return sentences


def is_boilerplate(sentence: str) -> bool:
    """Connective sentences (「以下のとおりです。」) that claim nothing; see BOILERPLATE."""
    text = normalize_chars(sentence)
    return not text or any(p.fullmatch(text) for p in BOILERPLATE)


def char_bigrams(text: str) -> set[str]:
    """Character bigrams of the normalised text (a single character counts as its own unit)."""
    chars = normalize_chars(text)
    if len(chars) == 1:
        return {chars}
    return {chars[i : i + 2] for i in range(len(chars) - 1)}


def _content_tokens(text: str) -> set[str]:
    from yakuba.retriever.tokenize import tokenize  # SudachiPy: loaded only when groundedness runs

    return set(tokenize(strip_markers(text)))


def lexical_support(sentence: str, passage_text: str, *, method: str = "tokens") -> float:
    """Recall of the sentence's units in the passage: tokens = SudachiPy content words (particles and
    auxiliaries dropped, normalised forms), bigrams = character bigrams. A sentence with no content
    word (「5年。」 has one; 「はい。」 none) falls back to bigrams."""
    if method not in ("tokens", "bigrams"):
        raise ValueError(f"unknown support method {method!r}: use 'tokens' or 'bigrams'")
    if method == "tokens":
        units = _content_tokens(sentence)
        if units:
            return len(units & _content_tokens(passage_text)) / len(units)
    units = char_bigrams(sentence)
    if not units:
        return 0.0
    return len(units & char_bigrams(passage_text)) / len(units)


def citation_evidence(citation: Citation, passage_text: str | None = None) -> str:
    """What a citation vouches for: its label and title (「…市長の発言によると」 names them) and the
    passage, in full when the caller has it (a Citation's excerpt may be cut short)."""
    return "\n".join(part for part in (citation.label, citation.title, passage_text or citation.excerpt) if part)


def sentence_support(
    answer: str,
    citations: Sequence[Citation],
    *,
    passage_texts: Mapping[int, str] | None = None,
    threshold: float = 0.5,
    method: str = "tokens",
    judge: Judge | None = None,
) -> list[SentenceSupport]:
    """Judge every sentence of an answer against the passages its own `[n]` markers cite.

    `passage_texts` maps citation numbers to the full passage text (else the excerpt is used).
    """
    texts = passage_texts or {}
    by_number = {c.n: citation_evidence(c, texts.get(c.n)) for c in citations}
    verdicts: list[SentenceSupport] = []
    for sentence in split_sentences(answer):
        numbers = marker_numbers(sentence)
        if is_abstention_text(sentence):
            verdicts.append(SentenceSupport(sentence=sentence, cited=numbers, reason="abstention"))
            continue
        if not numbers:
            if is_boilerplate(sentence):
                verdicts.append(SentenceSupport(sentence=sentence, cited=[], reason="boilerplate"))
            else:
                verdicts.append(
                    SentenceSupport(sentence=sentence, cited=[], supported=False, score=0.0, reason="no citation")
                )
            continue
        passages = [by_number[n] for n in numbers if n in by_number]
        if not passages:
            verdicts.append(
                SentenceSupport(
                    sentence=sentence, cited=numbers, supported=False, score=0.0, reason="unknown citation number"
                )
            )
            continue
        evidence = "\n".join(passages)
        if judge is not None:
            supported = judge(strip_markers(sentence), evidence)
            verdicts.append(
                SentenceSupport(
                    sentence=sentence, cited=numbers, supported=supported, score=float(supported), reason="judge"
                )
            )
            continue
        score = lexical_support(sentence, evidence, method=method)
        verdicts.append(
            SentenceSupport(
                sentence=sentence, cited=numbers, supported=score >= threshold, score=round(score, 4),
                reason=f"lexical-{method}",
            )
        )
    return verdicts


def groundedness(verdicts: Sequence[SentenceSupport], *, abstained: bool = False) -> float | None:
    """Share of the judged sentences that are supported; None for an abstention or when no sentence
    makes a claim (only boilerplate). Uncited claims count as unsupported."""
    if abstained:
        return None
    judged = [v for v in verdicts if v.supported is not None]
    if not judged:
        return None
    return sum(1 for v in judged if v.supported) / len(judged)


# --- abstention -------------------------------------------------------------------------------


def japanese_only(answer: str) -> float:
    """1.0 when the answer holds no character a Japanese answer never uses (simplified-only hanzi,
    Hangul, Cyrillic …, assistant.charset); small multilingual models slip into Chinese (issue #17)."""
    return 0.0 if foreign_chars(answer) else 1.0


def abstention_correct(abstained: bool, should_abstain: bool) -> float:
    """1.0 when the assistant abstained exactly when it should have."""
    return 1.0 if abstained == should_abstain else 0.0


def mean_defined(values: Iterable[float | None]) -> float | None:
    """Mean of the values that are not None; None when there are none."""
    defined = [v for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None


# --- LLM judge (optional) ---------------------------------------------------------------------

JUDGE_SYSTEM = (
    "あなたは回答の根拠を確認する審査員です。与えられた根拠文だけを読み、主張がその根拠文で裏付けられるかを判定します。"
    "裏付けられるなら「はい」、そうでなければ「いいえ」とだけ答えてください。"
)


def parse_judgement(text: str) -> bool:
    """はい/yes at the start of the reply means supported; anything else (いいえ, no, rambling) does not."""
    head = nfkc(text).strip().lstrip("「『\"'*").lower()
    return head.startswith(("はい", "yes", "支持", "裏付けられる"))


def llm_judge(chat_model: Any, *, max_evidence_chars: int = 1500) -> Judge:
    """A Judge backed by a LangChain chat model (the local GGUF or an OpenAI-compatible server)."""
    from langchain_core.messages import HumanMessage, SystemMessage

    def judge(sentence: str, evidence: str) -> bool:
        prompt = f"根拠文:\n{evidence[:max_evidence_chars]}\n\n主張: {sentence}\n\n主張は根拠文で裏付けられますか。はい/いいえ:"
        reply = chat_model.invoke([SystemMessage(JUDGE_SYSTEM), HumanMessage(prompt)])
        return parse_judgement(str(getattr(reply, "content", reply)))

    return judge
