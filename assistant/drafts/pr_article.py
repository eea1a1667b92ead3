"""PR article draft (広報記事案) from notes or an interview transcript.

Deterministic path: the notes' 「日時：…」-style lines become the facts list, the other sentences are
ranked by LexRank; the best one(s) form the lead (リード), the rest fill the body up to the target
length (±20%), and the style decides the labels and wording (やさしい日本語 uses a rewrite table, short
sentences and no double negatives). With `search`, sentences that the corpus supports get `[n]`
citations, and when the notes are too thin for the target length, closely related corpus sentences
are added — always cited. Numbers and dates in the final text that appear in neither the notes nor a
cited passage are listed in `flags` for checking (a model rewrite that invents one is replaced by
the deterministic text before that).
"""

from __future__ import annotations

import re
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Literal

from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel, Field, field_validator

from yakuba.assistant.drafts import prompts
from yakuba.assistant.drafts.common import FALLBACK_NOTE, Masker, ModelUse, check_rewrite, unsupported_numbers
from yakuba.assistant.schemas import Citation
from yakuba.assistant.summarize import lexrank_scores, similarity_matrix
from yakuba.assistant.text import bigram_recall
from yakuba.assistant.transcript import clean_transcript, detect_format, ensure_period
from yakuba.core.text import split_sentences
from yakuba.retriever.search import Passage
from yakuba.retriever.tokenize import tokenize

PRStyle = Literal["広報誌", "ウェブお知らせ", "やさしい日本語"]
SearchFn = Callable[[str, int], Sequence[Passage]]

TO_CONFIRM = "（要確認）"
LENGTH_TOLERANCE = 0.2
# Headline words that say nothing about the topic (「〜を開催します」「〜のお知らせ」).
_GENERIC_TOPIC_WORDS = frozenset({"開催", "実施", "募集", "知らせ", "案内", "市", "町", "村", "区", "行う", "為る", "開く"})
SUPPORT_RECALL = 0.6  # share of a sentence's character bigrams a passage must contain to support it
MAX_SEARCHES = 6


class PRArticleRequest(BaseModel):
    notes: str = Field(min_length=1, max_length=50_000, description="Notes (箇条書き可) or an interview transcript.")
    target_chars: int = Field(600, ge=100, le=4000, description="Target length of 見出し+リード+本文 (±20%).")
    style: PRStyle = "広報誌"
    title_hint: str | None = Field(None, description="Used verbatim as the headline when given.")
    contact: str | None = Field(None, description="問い合わせ先, printed verbatim.")
    use_corpus: bool = Field(True, description="Cite corpus passages that support the notes.")

    @field_validator("title_hint", "contact", mode="before")
    @classmethod
    def _blank_is_missing(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("notes")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("メモが空です。 / notes are empty")
        return value


class FactFlag(BaseModel):
    """A number or date in the draft that no source confirms."""

    text: str = Field(description="The number as written in the draft (「50人」の「50」).")
    sentence: str = Field(description="The sentence it stands in.")
    reason: str = "要確認：メモにも引用した資料にも見当たらない数値です。"


class PRArticleDraft(BaseModel):
    headline: str
    lead: str
    body: str = Field(description="Body paragraphs and the facts list (Markdown list lines).")
    contact: str
    markdown: str
    citations: list[Citation] = Field(default_factory=list, description="Corpus passages cited as [n] in lead/body.")
    flags: list[FactFlag] = Field(default_factory=list)
    char_count: int = Field(description="Characters of 見出し+リード+本文 without spaces and Markdown marks.")
    target_chars: int
    style: PRStyle
    warnings: list[str] = Field(default_factory=list)
    engine: str


# ----------------------------------------------------------------------------- notes

_FACT_KEYS: dict[str, str] = {
    "日時": "日時", "日程": "日時", "とき": "日時", "開催日": "日時", "期間": "期間", "期日": "日時",
    "場所": "場所", "会場": "場所", "ところ": "場所",
    "対象": "対象", "定員": "定員", "費用": "費用", "参加費": "費用", "料金": "費用",
    "持ち物": "持ち物", "内容": "内容", "講師": "講師", "主催": "主催", "共催": "共催",
    "申込": "申込", "申し込み": "申込", "申込方法": "申込", "申し込み方法": "申込", "申込期限": "締切",
    "締切": "締切", "締め切り": "締切", "申込締切": "締切",
    "問い合わせ": "問い合わせ", "問合せ": "問い合わせ", "問い合わせ先": "問い合わせ", "お問い合わせ": "問い合わせ",
    "問合せ先": "問い合わせ",
}  # fmt: skip
_FACT_LINE = re.compile(r"^(?:[■□●○◆◇・\-*]\s*)?([^\s:：]{1,8})\s*[:：]\s*(.+)$")
_BULLET = re.compile(r"^\s*(?:[■□●○◆◇・\-*•]|\d{1,2}[.)．）]|[①-⑳])\s*")
_EASY_LABELS = {
    "日時": "いつ", "期間": "いつからいつまで", "場所": "どこ", "対象": "だれ", "定員": "人数", "費用": "お金",
    "持ち物": "持ってくるもの", "内容": "なにをするか", "申込": "申し込み", "締切": "しめきり",
}  # fmt: skip


_INTERVIEWER = re.compile(r"^(?:聞き手|インタビュアー|記者|司会|質問者|Q|広報(?:担当)?|編集部)$", re.IGNORECASE)
_QUESTION = re.compile(r"(?:か|ですか|ますか|でしょうか)[。？?]?$|[？?]$|(?:教えて|お願いし|聞かせて)(?:ください|ます)[。]?$|^(?:今日は|本日は)?よろしくお願い")


class _Notes(BaseModel):
    facts: dict[str, str]
    sentences: list[str]


def _parse_notes(notes: str) -> _Notes:
    """Split notes into labelled facts (日時：…) and content sentences; transcripts are cleaned first."""
    text = unicodedata.normalize("NFKC", notes)
    facts: dict[str, str] = OrderedDict()
    sentences: list[str] = []
    labelled = sum(1 for line in text.splitlines() if re.match(r"^[^:：]{1,12}[:：]", line.strip()))
    rest_lines: list[str] = []
    for line in text.splitlines():
        match = _FACT_LINE.match(line.strip())
        if match and match.group(1) in _FACT_KEYS:
            key = _FACT_KEYS[match.group(1)]
            facts[key] = (facts[key] + "、" + match.group(2).strip()) if key in facts else match.group(2).strip()
        else:
            rest_lines.append(line)
    rest = "\n".join(rest_lines)
    is_transcript = detect_format(rest) != "text" or labelled - len(facts) >= 3
    if is_transcript and rest.strip():
        utterances = clean_transcript(rest).utterances
        by_speaker: dict[str | None, list[str]] = {}
        for utt in utterances:
            by_speaker.setdefault(utt.speaker, []).extend(split_sentences(utt.text))
        # The interviewer's lines are questions, not facts for the article.
        asking = {
            speaker for speaker, said in by_speaker.items()
            if (speaker and _INTERVIEWER.match(speaker))
            or sum(1 for s in said if _QUESTION.search(s)) >= max(1, len(said) / 2)
        }  # fmt: skip
        for utt in utterances:
            if utt.speaker in asking and len(by_speaker) > 1:
                continue
            sentences.extend(ensure_period(s) for s in split_sentences(utt.text) if not _QUESTION.search(s))
    else:
        for line in rest_lines:
            line = _BULLET.sub("", line.strip())
            if line:
                sentences.extend(ensure_period(s) for s in split_sentences(line))
    return _Notes(facts=facts, sentences=[s for s in sentences if len(s) >= 4])


# ----------------------------------------------------------------------------- やさしい日本語

# Word-level rewrites that keep the grammar intact (the replaced forms are whole predicates or nouns).
EASY_REWRITES: tuple[tuple[str, str], ...] = (
    # Double negatives, where the verb's dictionary form is known (する, できる).
    (r"しない(?:わけでは|ことは)ありません|しないとは限りません", "することもあります"),
    (r"できない(?:わけでは|ことは)ありません|できないとは限りません", "できることもあります"),
    (r"(?<=[がは])ないわけではありません|(?<=[がは])ないとは限りません", "あることもあります"),
    (r"なくはありません", "あります"),
    (r"しなければなりません", "してください"),
    (r"開催(?:いた)?します", "行います"),
    (r"実施(?:いた)?します", "行います"),
    (r"開催(?:いた)?しました", "行いました"),
    (r"お越しください|ご来場ください", "来てください"),
    (r"ご参加ください", "参加してください"),
    (r"お申(?:し)?込みください", "申し込んでください"),
    (r"ご覧ください", "見てください"),
    (r"ご確認ください", "確かめてください"),
    (r"ご遠慮ください", "しないでください"),
    (r"持参してください", "持ってきてください"),
    (r"下さい", "ください"),
    (r"及び", "と"),
    (r"又は", "または"),
    (r"但し", "ただし"),
    (r"(?<=[一-龥ァ-ヺ])等(?=[のがをにはでも、。])", "など"),
    (r"の際(?=[、。はに])", "のとき"),
    (r"先着順", "申し込みが早い順"),
    (r"市内在住の方", "市内に住んでいる人"),
    (r"在住の方", "に住んでいる人"),
    (r"在住の", "に住んでいる"),
    (r"在勤の方", "で働いている人"),
    (r"(?<=[一-龥])の方(?=[はがをにもへ、。）])", "の人"),
    (r"無料(?!で|（)", "無料（お金はいりません）"),
    (r"\(月\)", "（月曜日）"), (r"\(火\)", "（火曜日）"), (r"\(水\)", "（水曜日）"), (r"\(木\)", "（木曜日）"),
    (r"\(金\)", "（金曜日）"), (r"\(土\)", "（土曜日）"), (r"\(日\)", "（日曜日）"), (r"\(祝\)", "（祝日）"),
    (r"(\d{1,2}(?::\d{2}|時(?:\d{1,2}分|半)?))\s*[〜~～\-ー]\s*(\d{1,2}(?::\d{2}|時(?:\d{1,2}分|半)?))", r"\1から\2まで"),
    # Long sentences: split where a polite predicate is followed by が/ので.
    (r"(ます|です)が、", r"\1。でも、"),
    (r"(ます|です)ので、", r"\1。だから、"),
)  # fmt: skip
_EASY_COMPILED = tuple((re.compile(p), r) for p, r in EASY_REWRITES)


def easy_japanese(text: str) -> str:
    """Apply the やさしい日本語 rewrite table (see docs/drafting.md)."""
    for pattern, replacement in _EASY_COMPILED:
        text = pattern.sub(replacement, text)
    return text


# ----------------------------------------------------------------------------- helpers


def _plain_len(text: str) -> int:
    text = re.sub(r"^#+\s*|^\s*-\s+|\*\*|\[\d+\]", "", text, flags=re.MULTILINE)
    return len(re.sub(r"\s", "", text))


def _headline(req: PRArticleRequest, notes: _Notes, ranked: list[int]) -> str:
    if req.title_hint:
        return req.title_hint.strip()
    candidates = [notes.sentences[0]] if notes.sentences else []
    candidates += [notes.sentences[i] for i in ranked[:3]]
    for sentence in candidates:
        head = sentence.rstrip("。")
        if len(head) <= 32:
            return head
    if candidates:
        first_clause = re.split(r"[、,]", candidates[0])[0].rstrip("。")
        return first_clause[:32]
    return notes.facts.get("内容", TO_CONFIRM)


def _fact_lines(facts: dict[str, str], style: PRStyle) -> list[str]:
    lines = []
    for key, value in facts.items():
        if key == "問い合わせ":
            continue
        if style == "やさしい日本語":
            lines.append(f"- {_EASY_LABELS.get(key, key)}：{easy_japanese(value)}")
        else:
            lines.append(f"- {key}：{value}")
    return lines


def _paragraphs(sentences: list[str], per: int = 3) -> list[str]:
    return ["".join(sentences[i : i + per]) for i in range(0, len(sentences), per)]


def _cite_marker(sentence: str, n: int) -> str:
    if f"[{n}]" in sentence:
        return sentence
    if sentence.endswith("。"):
        return sentence[:-1] + f"[{n}]。"
    return sentence + f"[{n}]"


class _Corpus:
    """Passages found for the notes, numbered in the order they are first cited."""

    def __init__(self, search: SearchFn | None, queries: list[str], warnings: list[str]) -> None:
        self.passages: list[Passage] = []
        self.cited: list[Passage] = []
        if search is None:
            return
        seen: set[str] = set()
        for query in queries[:MAX_SEARCHES]:
            try:
                found = search(query, 3)
            except Exception as exc:  # the corpus is optional: a failing search must not lose the draft
                warnings.append(f"資料の検索に失敗したため、引用なしで作成しました（{type(exc).__name__}）。")
                return
            for passage in found:
                if passage.chunk_id not in seen:
                    seen.add(passage.chunk_id)
                    self.passages.append(passage)

    def number(self, passage: Passage) -> int:
        if passage not in self.cited:
            self.cited.append(passage)
        return self.cited.index(passage) + 1

    def supporting(self, sentence: str) -> Passage | None:
        """The passage that contains most of the sentence, numbers included."""
        best: tuple[float, Passage] | None = None
        for passage in self.passages:
            recall = bigram_recall(sentence, [passage.text])
            if recall >= SUPPORT_RECALL and not unsupported_numbers(sentence, [passage.text]) and (
                best is None or recall > best[0]
            ):
                best = (recall, passage)
        return best[1] if best else None

    def related_sentences(
        self, note_tokens: set[str], exclude: list[str], topic_tokens: set[str] | None = None
    ) -> list[tuple[str, Passage]]:
        """Corpus sentences that share several content words with the notes (background facts).

        With `topic_tokens` (the headline's words), a sentence must also share one of them or come from
        a document already cited for the notes' own facts: notes and a vaccination notice share
        対象・市内・小学生・無料 without being about the same thing."""
        anchored = {p.doc_id for p in self.cited}
        out: list[tuple[float, str, Passage]] = []
        for passage in self.passages:
            for sentence in split_sentences(unicodedata.normalize("NFKC", passage.text)):
                if not 15 <= len(sentence) <= 120 or not sentence.endswith("。"):
                    continue
                tokens = set(tokenize(sentence))
                shared = tokens & note_tokens
                related = len(shared) >= 3 and len(shared) / max(len(tokens), 1) >= 0.3
                if topic_tokens:
                    related = related and (bool(tokens & topic_tokens) or passage.doc_id in anchored)
                if related and bigram_recall(sentence, exclude) < 0.7:  # not already said by the notes
                    out.append((len(shared) / len(tokens) + passage.score * 0.01, sentence, passage))
        out.sort(key=lambda item: -item[0])
        return [(s, p) for _, s, p in out]

    def citations(self, excerpts: dict[int, str]) -> list[Citation]:
        result = []
        for n, passage in enumerate(self.cited, 1):
            result.append(
                Citation(
                    n=n, doc_id=passage.doc_id, title=passage.title, page=passage.page,
                    excerpt=excerpts.get(n, passage.text[:200]), score=passage.score, chunk_id=passage.chunk_id,
                    doc_type=passage.doc_type, speaker=passage.speaker, role=passage.role, date=passage.date,
                    label=passage.citation,
                )
            )  # fmt: skip
        return result


# ----------------------------------------------------------------------------- entry point


def draft_pr_article(
    req: PRArticleRequest,
    chat_model: BaseChatModel | None = None,
    search: SearchFn | None = None,
    *,
    mask: Masker | None = None,
) -> PRArticleDraft:
    """Make a PR article draft; `mask` (e.g. PII masking) is applied to text sent to a remote model."""
    notes = _parse_notes(req.notes)
    warnings: list[str] = []
    if not notes.sentences and not notes.facts:
        warnings.append("メモから記事にできる文が見つかりませんでした。")
    sentences = notes.sentences
    scores = lexrank_scores(sentences, similarity=similarity_matrix(sentences)) if sentences else []
    ranked = sorted(range(len(sentences)), key=lambda i: (-scores[i], i))
    easy = req.style == "やさしい日本語"
    target = req.target_chars
    low, high = int(target * (1 - LENGTH_TOLERANCE)), int(target * (1 + LENGTH_TOLERANCE))

    headline = _headline(req, notes, ranked)
    fact_lines = _fact_lines(notes.facts, req.style)
    facts_len = sum(_plain_len(line) for line in fact_lines)

    # Lead: the notes' opening sentence(s) (notes and interviews start with the point), about a fifth
    # of the target.
    lead_budget = max(60, target // 5)
    lead_idx: list[int] = []
    for i in range(len(sentences)):
        if sentences[i].rstrip("。") == headline and len(sentences) > 1:
            continue
        if lead_idx and sum(len(sentences[j]) for j in lead_idx) + len(sentences[i]) > lead_budget:
            break
        lead_idx.append(i)
        if len(lead_idx) == 2:
            break
    lead_sentences = [sentences[i] for i in sorted(lead_idx)]

    # Body: the other sentences in their order, best first until the target is reached.
    room = target - len(headline) - sum(map(len, lead_sentences)) - facts_len
    body_idx: list[int] = []
    used = 0
    for i in ranked:
        if i in lead_idx or sentences[i].rstrip("。") == headline:
            continue
        if used + len(sentences[i]) > room + target * 0.05:
            continue
        body_idx.append(i)
        used += len(sentences[i])
    body_sentences = [sentences[i] for i in sorted(body_idx)]
    dropped = len(sentences) - len(lead_idx) - len(body_idx) - (1 if headline + "。" in sentences else 0)

    # Model rewrite of lead and body (short calls, checked; the extractive text stays on failure).
    model = ModelUse(chat_model, mask=mask, max_calls=4)
    style_label = req.style
    if model.available and (lead_sentences or body_sentences):
        source = "\n".join(list(notes.facts.values()) + sentences)
        out = model.invoke(
            prompts.PR_LEAD.format(style=style_label, max_chars=lead_budget),
            f"見出し：{headline}\nメモ：\n{source[:1500]}",
            max_tokens=int(lead_budget * 1.5) + 16,
        )
        reason = check_rewrite(out, [source, headline], max_chars=int(lead_budget * 1.4), min_chars=15)
        if reason is None and out:
            lead_sentences = [ensure_period(s) for s in split_sentences(out.replace("\n", ""))]
            model.accepted += 1
        elif out is not None:
            model.rejected += 1
            warnings.append(f"リード文のモデル出力を使いませんでした（{reason}）。")
        if body_sentences:
            body_target = sum(map(len, body_sentences))
            extra = prompts.EASY_JAPANESE_RULES if easy else ""
            out = model.invoke(
                prompts.PR_BODY.format(style=style_label, target=body_target, extra=extra),
                "".join(body_sentences),
                max_tokens=int(body_target * 1.5) + 32,
            )
            reason = check_rewrite(
                out, [source], max_chars=int(body_target * 1.4) + 20, min_chars=int(body_target * 0.5)
            )
            if reason is None and out:
                body_sentences = [ensure_period(s) for s in split_sentences(out.replace("\n", ""))]
                model.accepted += 1
            elif out is not None:
                model.rejected += 1
                warnings.append(f"本文のモデル出力を使いませんでした（{reason}）。")
    if model.rejected:
        warnings.append(FALLBACK_NOTE)

    # Corpus: cite what it supports; add related, cited background when the notes are too short.
    queries = [headline] + [sentences[i] for i in ranked[:MAX_SEARCHES - 1]]
    corpus = _Corpus(search if req.use_corpus else None, queries, warnings)
    excerpts: dict[int, str] = {}

    def cite(items: list[str]) -> list[str]:
        out = []
        for sentence in items:
            passage = corpus.supporting(sentence)
            if passage is not None:
                n = corpus.number(passage)
                excerpts.setdefault(n, passage.text[:200])
                sentence = _cite_marker(sentence, n)
            out.append(sentence)
        return out

    lead_sentences = cite(lead_sentences)
    body_sentences = cite(body_sentences)
    current = _plain_len(headline) + sum(_plain_len(s) for s in lead_sentences + body_sentences) + facts_len
    if current < low and corpus.passages:
        note_tokens = set(tokenize(" ".join(sentences + list(notes.facts.values()) + [headline])))
        topic = set(tokenize(headline)) - _GENERIC_TOPIC_WORDS
        for sentence, passage in corpus.related_sentences(note_tokens, sentences, topic):
            if current >= low:
                break
            if current + len(sentence) > high:
                continue
            n = corpus.number(passage)
            excerpts.setdefault(n, sentence)
            body_sentences.append(_cite_marker(sentence, n))
            current += len(sentence)

    if easy:
        headline = easy_japanese(headline)
        lead_sentences = [easy_japanese(s) for s in lead_sentences]
        body_sentences = [easy_japanese(s) for s in body_sentences]

    lead = "".join(lead_sentences)
    body_parts = _paragraphs(body_sentences, per=2 if easy else 3)
    if fact_lines:
        body_parts.append("\n".join(fact_lines))
    body = "\n\n".join(body_parts)
    contact = req.contact.strip() if req.contact else notes.facts.get("問い合わせ") or TO_CONFIRM
    char_count = _plain_len(headline) + _plain_len(lead) + _plain_len(body)
    if char_count < low:
        warnings.append(
            f"メモの情報が少ないため、目標の{target}文字に届きませんでした（{char_count}文字）。内容を追加してください。"
        )
    elif char_count > high:
        warnings.append(f"目標の{target}文字を超えています（{char_count}文字）。項目の整理を検討してください。")
    elif dropped > 0:
        warnings.append(f"目標の文字数に収めるため、メモの{dropped}文を本文に入れていません。")
    if contact == TO_CONFIRM:
        warnings.append("問い合わせ先が指定されていません（要確認）。")

    citations = corpus.citations(excerpts)
    sources = [req.notes, contact] + [c.excerpt for c in citations] + [p.text for p in corpus.cited]
    flags = []
    for part in [headline, lead, body]:
        for sentence in split_sentences(part):
            for mention in unsupported_numbers(re.sub(r"\[\d+\]", "", sentence), sources):
                flags.append(FactFlag(text=mention.surface, sentence=sentence))
    if flags:
        warnings.append(f"資料で確認できない数値・日付が{len(flags)}件あります（要確認）。")

    markdown = _markdown(headline, lead, body, contact, citations, req.style)
    return PRArticleDraft(
        headline=headline, lead=lead, body=body, contact=contact, markdown=markdown, citations=citations,
        flags=flags, char_count=char_count, target_chars=target, style=req.style, warnings=warnings,
        engine=model.engine(),
    )  # fmt: skip


def _markdown(headline: str, lead: str, body: str, contact: str, citations: list[Citation], style: PRStyle) -> str:
    contact_title = {"広報誌": "問い合わせ先", "ウェブお知らせ": "お問い合わせ", "やさしい日本語": "聞きたいことがあるとき"}[style]
    lines = [f"# {headline}", ""]
    if style == "ウェブお知らせ":
        lines += ["## 概要", ""]
    lines += [lead, ""]
    if style == "ウェブお知らせ" and body:
        lines += ["## 詳細", ""]
    if body:
        lines += [body, ""]
    lines += [f"## {contact_title}", "", contact, ""]
    if citations:
        lines += ["## 関連資料", ""]
        lines += [f"- [{c.n}] {c.label or c.title}" for c in citations]
    return "\n".join(lines).rstrip() + "\n"
