"""PR article draft (広報記事案) from notes or an interview transcript.

Deterministic path: the notes' 「日時：…」-style lines become the facts list, the other sentences are
ranked by LexRank; the best one(s) form the lead (リード), the rest fill the body up to the target
length (±20%), and the style decides the labels and wording (やさしい日本語 uses a rewrite table, short
sentences and no double negatives). From an interview transcript, the 話し手's most central remark is
quoted verbatim in 「」 with the speaker's name; the 聞き手's questions are left out.

With `search`, sentences that the corpus supports get `[n]` citations. Corpus sentences about the same
subject (they share the headline's topic words and enough of the notes' words: `relevance` ≥
`SUGGEST_THRESHOLD`, calibrated on real newsletter articles by `yakuba eval drafts`) are returned as
`suggestions` that the user may accept; they are never merged into the draft by themselves. Numbers and
dates in the final text that appear in neither the notes nor a cited passage are listed in `flags` for
checking (a model rewrite that invents one is replaced by the deterministic text before that).
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
from yakuba.assistant.drafts.common import (
    FALLBACK_NOTE,
    Masker,
    ModelUse,
    check_rewrite,
    dropped_numbers,
    reason_ja,
    unsupported_numbers,
)
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
# Words every notice uses (who may apply, how, when): shared, they say nothing about the subject.
_NOTICE_WORDS = frozenset({
    "参加", "対象", "市内", "町内", "村内", "在住", "在勤", "保護", "小学", "中学", "高校", "住民", "市民", "申込", "申し込む",
    "申し込み", "受付", "受け付ける", "受ける", "付ける", "無料", "有料", "先着", "費用", "定員", "時間", "場所", "日時", "期間",
    "事業", "予定", "利用", "必要", "詳細", "確認", "電話", "連絡", "問い合わせ", "問い合わせる", "内容", "今年", "今年度",
    "来年度", "年度", "お願い", "皆様", "皆さん", "方", "者", "人", "回", "日", "月", "年", "組", "名", "生", "等", "など",
    "出来る", "有る", "居る", "成る", "思う", "ござる", "致す", "下さる", "頂く", "もらう", "くれる", "午前", "午後",
    "令和", "平成", "毎週", "毎月", "以上", "以下", "未満", "から", "まで",
})  # fmt: skip


def content_words(tokens: set[str]) -> set[str]:
    """Words that can carry a subject: no numbers, no one-character words, no notice boilerplate."""
    return {t for t in tokens if len(t) >= 2 and not t.isdigit() and not re.fullmatch(r"[\d.,]+", t)} - _NOTICE_WORDS


SUPPORT_RECALL = 0.6  # share of a sentence's character bigrams a passage must contain to support it
MAX_SEARCHES = 6
# Share of a corpus sentence's words that the notes also use, once it shares a topic word with the
# headline. Calibrated with `yakuba eval drafts` on the newsletter articles (same-article sentences
# versus other articles'): see docs/drafting.md.
SUGGEST_THRESHOLD = 0.3
MAX_SUGGESTIONS = 5
MAX_NOTES_CHARS = 50_000
MAX_QUOTES = 2


class PRArticleRequest(BaseModel):
    notes: str = Field(
        min_length=1, max_length=MAX_NOTES_CHARS, description="Notes (箇条書き可) or an interview transcript."
    )
    target_chars: int = Field(600, ge=100, le=4000, description="Target length of 見出し+リード+本文 (±20%).")
    style: PRStyle = "広報誌"
    title_hint: str | None = Field(None, description="Used verbatim as the headline when given.")
    contact: str | None = Field(None, description="問い合わせ先, printed verbatim.")
    use_corpus: bool = Field(True, description="Cite corpus passages that support the notes; suggest related ones.")
    speaker_name: str | None = Field(
        None, max_length=60, description="話し手の名前・肩書き for quotes (default: the transcript's label)."
    )

    @field_validator("title_hint", "contact", "speaker_name", mode="before")
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


class Suggestion(BaseModel):
    """A corpus sentence about the same subject as the notes, offered to the user, not in the draft."""

    n: int = Field(description="The [n] it gets when accepted (continues the draft's citation numbers).")
    text: str = Field(description="The sentence, verbatim from the source.")
    doc_id: str
    title: str
    label: str = Field(description="How the source is listed under 関連資料.")
    page: int | None = None
    chunk_id: str
    relevance: float = Field(description="Share of the sentence's words the notes use (≥ SUGGEST_THRESHOLD).")
    shared_terms: list[str] = Field(default_factory=list, description="Words it shares with the notes.")


class Quote(BaseModel):
    speaker: str
    text: str = Field(description="The remark as said (fillers removed), without 「」.")


class PRArticleDraft(BaseModel):
    headline: str
    lead: str
    body: str = Field(description="Body paragraphs and the facts list (Markdown list lines).")
    contact: str
    markdown: str
    citations: list[Citation] = Field(default_factory=list, description="Corpus passages cited as [n] in lead/body.")
    flags: list[FactFlag] = Field(default_factory=list)
    suggestions: list[Suggestion] = Field(
        default_factory=list, description="Related corpus sentences to add only if the user accepts them."
    )
    quotes: list[Quote] = Field(default_factory=list, description="Interview remarks quoted in the body.")
    char_count: int = Field(description="Characters of 見出し+リード+本文 without spaces and Markdown marks.")
    target_chars: int
    style: PRStyle
    warnings: list[str] = Field(default_factory=list)
    engine: str
    transcript: str | None = Field(
        None, description="The role-labelled transcript the draft was made from, when a recording was uploaded."
    )


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
_ROLE_LINE = re.compile(r"^(?:聞き手|話し手)\s*[:：]")
_QUESTION = re.compile(r"(?:か|ですか|ますか|でしょうか)[。？?]?$|[？?]$|(?:教えて|お願いし|聞かせて)(?:ください|ます)[。]?$|^(?:今日は|本日は)?よろしくお願い")


class _Notes(BaseModel):
    facts: dict[str, str]
    sentences: list[str]
    remarks: list[tuple[str, str]] = Field(default_factory=list, description="(speaker, sentence) of the 話し手.")


def _parse_notes(notes: str) -> _Notes:
    """Split notes into labelled facts (日時：…) and content sentences; transcripts are cleaned first."""
    text = unicodedata.normalize("NFKC", notes)
    facts: dict[str, str] = OrderedDict()
    sentences: list[str] = []
    remarks: list[tuple[str, str]] = []
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
    roles = any(_ROLE_LINE.match(line.strip()) for line in rest_lines)  # 聞き手／話し手 lines (interview flow)
    is_transcript = detect_format(rest) != "text" or labelled - len(facts) >= 3 or roles
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
            said = [ensure_period(s) for s in split_sentences(utt.text) if not _QUESTION.search(s)]
            sentences.extend(said)
            if utt.speaker and (len(by_speaker) > 1 or roles):
                remarks.extend((utt.speaker, sentence) for sentence in said)
    else:
        for line in rest_lines:
            line = _BULLET.sub("", line.strip())
            if line:  # a note line is a sentence, also when it ends in a bracket (「…実施（申込不要）」)
                sentences.extend(ensure_period(s) + ("。" if s.endswith((")", "）")) else "") for s in split_sentences(line))
    keep = [s for s in sentences if len(s) >= 4]
    return _Notes(facts=facts, sentences=keep, remarks=[(who, s) for who, s in remarks if s in keep])


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

    def suggestions(
        self, note_tokens: set[str], exclude: list[str], topic_tokens: set[str]
    ) -> list[tuple[float, str, Passage, list[str]]]:
        return rank_suggestions(self.passages, note_tokens, exclude, topic_tokens)

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


_DATE = re.compile(r"\d{1,2}月\d{1,2}日|(?:令和|平成|昭和)\s*(?:\d+|元)\s*年|\d{4}年")


def rank_suggestions(
    passages: Sequence[Passage],
    note_tokens: set[str],
    exclude: list[str],
    topic_tokens: set[str],
    threshold: float = SUGGEST_THRESHOLD,
) -> list[tuple[float, str, Passage, list[str]]]:
    """Corpus sentences about the notes' subject, most relevant first, not already said by the notes.

    Notes and a vaccination notice share 対象・市内・小学生・無料 without being about the same thing,
    so a sentence must share a headline topic word as well as enough of the notes' words."""
    out: list[tuple[float, str, Passage, list[str]]] = []
    seen: set[str] = set()
    said = unicodedata.normalize("NFKC", "".join(exclude))
    for passage in passages:
        for sentence in split_sentences(unicodedata.normalize("NFKC", passage.text)):
            if not 15 <= len(sentence) <= 120 or not sentence.endswith("。") or sentence in seen:
                continue
            seen.add(sentence)
            if any(date not in said for date in _DATE.findall(sentence)):
                continue  # another event's (or year's) date: a stale fact, whatever the words
            tokens = content_words(set(tokenize(sentence)))
            score = relevance(tokens, note_tokens, topic_tokens)
            if score > 0 and score >= threshold and bigram_recall(sentence, exclude) < 0.7:
                out.append((score, sentence, passage, sorted(tokens & note_tokens)))
    out.sort(key=lambda item: (-item[0], -item[2].score))
    return out


def note_terms(note_sentences: Sequence[str], headline: str) -> tuple[set[str], set[str]]:
    """(words of the notes and headline, topic words) as relevance compares them.

    Topic words are the headline's and those the notes come back to (in two sentences or more): the
    subject of a notice recurs, a passing detail does not."""
    counts: dict[str, int] = {}
    for sentence in note_sentences:
        for token in content_words(set(tokenize(sentence))):
            counts[token] = counts.get(token, 0) + 1
    headline_words = content_words(set(tokenize(headline)))
    topic = (headline_words | {t for t, n in counts.items() if n >= 2}) - _GENERIC_TOPIC_WORDS
    return set(counts) | headline_words, topic


def relevance(sentence_tokens: set[str], note_tokens: set[str], topic_tokens: set[str]) -> float:
    """How much a corpus sentence is about the notes' subject (0–1).

    0 unless it shares a topic word and three content words with the notes; otherwise the share of its
    content words that the notes use."""
    shared = sentence_tokens & note_tokens
    if not sentence_tokens or len(shared) < 3 or not (sentence_tokens & topic_tokens):
        return 0.0
    return len(shared) / len(sentence_tokens)


_GENERIC_SPEAKER = re.compile(r"^(?:話し手|回答者|話者\s*\d*|[A-ZＡ-Ｚ]|スピーカー\s*\d*|Speaker\s*\d*|不明)$", re.IGNORECASE)
_REMARK = re.compile(r"(?:思います|思っています|たいです|ください|ほしい|欲しい|うれしい|嬉しい|楽しみ|願って)")


def _quotes(req: PRArticleRequest, notes: _Notes, scores: list[float], headline: str) -> list[Quote]:
    """The 話し手's most central remarks (feelings and appeals first), verbatim, with who said them."""
    remarks = [(who, s) for who, s in notes.remarks if s.rstrip("。") != headline]  # the headline says it already
    if not remarks:
        return []
    index = {sentence: i for i, sentence in enumerate(notes.sentences)}
    ranked = sorted(
        remarks,
        key=lambda item: (not _REMARK.search(item[1]), -scores[index[item[1]]] if item[1] in index else 0.0),
    )
    count = 1 if req.target_chars < 600 else MAX_QUOTES
    quotes = []
    for speaker, sentence in ranked[:count]:
        name = req.speaker_name or ("" if _GENERIC_SPEAKER.match(speaker) else speaker) or "担当者"
        quotes.append(Quote(speaker=name, text=sentence.rstrip("。")))
    return quotes


def _quote_sentence(quote: Quote, again: bool = False) -> str:
    return f"「{quote.text}」とも話しています。" if again else f"{quote.speaker}は「{quote.text}」と話しています。"


def _quote_paragraph(quotes: list[Quote]) -> str:
    """「鈴木さんは「…」と話しています。「…」とも話しています。」: the name once per speaker in a row."""
    return "".join(_quote_sentence(q, again=i > 0 and quotes[i - 1].speaker == q.speaker) for i, q in enumerate(quotes))


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
    quotes = _quotes(req, notes, list(scores), headline)
    quoted = {i for i, sentence in enumerate(sentences) if sentence.rstrip("。") in {q.text for q in quotes}}
    quotes_len = sum(len(_quote_sentence(q)) for q in quotes)

    # Lead: the notes' opening sentence(s) (notes and interviews start with the point), about a fifth
    # of the target.
    lead_budget = max(60, target // 5)
    lead_idx: list[int] = []
    for i in range(len(sentences)):
        if (sentences[i].rstrip("。") == headline and len(sentences) > 1) or i in quoted:
            continue
        if lead_idx and sum(len(sentences[j]) for j in lead_idx) + len(sentences[i]) > lead_budget:
            break
        lead_idx.append(i)
        if len(lead_idx) == 2:
            break
    lead_sentences = [sentences[i] for i in sorted(lead_idx)]

    # Body: the other sentences in their order, best first until the target is reached.
    room = target - len(headline) - sum(map(len, lead_sentences)) - facts_len - quotes_len
    body_idx: list[int] = []
    used = 0
    for i in ranked:
        if i in lead_idx or i in quoted or sentences[i].rstrip("。") == headline:
            continue
        if used + len(sentences[i]) > room + target * 0.05:
            continue
        body_idx.append(i)
        used += len(sentences[i])
    body_sentences = [sentences[i] for i in sorted(body_idx)]
    dropped = len(sentences) - len(lead_idx) - len(body_idx) - len(quoted) - (1 if headline + "。" in sentences else 0)

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
        reason = reason or dropped_numbers(out, "".join(lead_sentences))
        if reason is None and out:
            lead_sentences = [ensure_period(s) for s in split_sentences(out.replace("\n", ""))]
            model.accepted += 1
        elif out is not None:
            model.rejected += 1
            warnings.append(f"リード文のモデル出力を使いませんでした（{reason_ja(reason)}）。")
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
            ) or dropped_numbers(out, "".join(body_sentences))
            if reason is None and out:
                body_sentences = [ensure_period(s) for s in split_sentences(out.replace("\n", ""))]
                model.accepted += 1
            elif out is not None:
                model.rejected += 1
                warnings.append(f"本文のモデル出力を使いませんでした（{reason_ja(reason)}）。")
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
    # Related corpus sentences are offered, never merged: the user decides what belongs in the article.
    suggestions: list[Suggestion] = []
    if corpus.passages:
        note_tokens, topic = note_terms(sentences + list(notes.facts.values()), headline)
        numbers = {p.chunk_id: n for n, p in enumerate(corpus.cited, 1)}  # a cited passage keeps its [n]
        said = sentences + list(notes.facts.values())
        for score, sentence, passage, shared in corpus.suggestions(note_tokens, said, topic):
            if len(suggestions) >= MAX_SUGGESTIONS:
                break
            numbers.setdefault(passage.chunk_id, len(numbers) + 1)
            suggestions.append(
                Suggestion(
                    n=numbers[passage.chunk_id], text=sentence, doc_id=passage.doc_id, title=passage.title,
                    label=passage.citation or passage.title, page=passage.page, chunk_id=passage.chunk_id,
                    relevance=round(score, 3), shared_terms=shared[:8],
                )
            )  # fmt: skip

    if easy:
        headline = easy_japanese(headline)
        lead_sentences = [easy_japanese(s) for s in lead_sentences]
        body_sentences = [easy_japanese(s) for s in body_sentences]

    lead = "".join(lead_sentences)
    body_parts = _paragraphs(body_sentences, per=2 if easy else 3)
    if quotes:  # verbatim: added after the model and the やさしい日本語 rewrites
        body_parts.append(_quote_paragraph(quotes))
    if fact_lines:
        body_parts.append("\n".join(fact_lines))
    body = "\n\n".join(body_parts)
    contact = req.contact.strip() if req.contact else notes.facts.get("問い合わせ") or TO_CONFIRM
    char_count = _plain_len(headline) + _plain_len(lead) + _plain_len(body)
    if char_count < low:
        hint = "下の「資料からの追加候補」から選ぶか、" if suggestions else ""
        warnings.append(
            f"メモの情報が少ないため、目標の{target}文字に届きませんでした（{char_count}文字）。"
            f"{hint}内容を追加してください。"
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
        flags=flags, suggestions=suggestions, quotes=quotes, char_count=char_count, target_chars=target,
        style=req.style, warnings=warnings,
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
