"""Drafting benchmark (`yakuba eval drafts`): the minutes and PR drafters against real texts.

- 逐語整文: windows of consecutive turns from the development year of Kiryu's council minutes are
  turned into raw transcripts (evals/draft_sources.py: fillers, no punctuation, 漢数字 as said, tool
  speaker labels), drafted, and scored against the real record: character error rate (CER) of the
  draft and of the raw transcript, and speaker-turn accuracy. Target: draft CER ≤ raw CER / 2.
- 要点筆記: whole 一般質問 days, drafted from their raw transcripts; the share of the day's published
  question topics the summary mentions, and the summary's length against the day's record.
- 広報記事: notices from real village newsletters. Notes are derived from each article (its sentences
  that carry dates, times, places, amounts, counts or contacts, and the 問 line), drafted with the
  newsletters as the corpus, and scored: fact recall, invented facts (numbers, dates and names found in
  neither the notes nor a cited source), off-topic sentences (in neither the notes nor the article),
  suggestions from other articles, and length against the real article.

Extractive and local-model drafts are reported side by side; the local model (1.5B on two cores) runs
on the first `local_sample` cases of each task only.
"""

from __future__ import annotations

import json
import re
import time
import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from yakuba.assistant.drafts.common import unsupported_numbers
from yakuba.assistant.drafts.minutes import MinutesRequest, draft_minutes
from yakuba.assistant.drafts.pr_article import (
    PRArticleDraft,
    PRArticleRequest,
    SearchFn,
    draft_pr_article,
    note_terms,
    rank_suggestions,
)
from yakuba.assistant.text import bigram_recall
from yakuba.assistant.transcript import Utterance
from yakuba.core.settings import Settings
from yakuba.core.text import split_sentences
from yakuba.evals.draft_sources import (
    Article,
    CouncilDay,
    Turn,
    load_articles,
    load_council_days,
    question_topics,
    raw_transcript,
    windows,
)
from yakuba.retriever.search import Passage
from yakuba.retriever.tokenize import tokenize

REPORT_VERSION = 1
Engine = Literal["extractive", "local"]
Progress = Callable[[str, int, int], None]
"""progress(task, done, total)."""

TURNS_PER_WINDOW = 6
MAX_TURN_CHARS = 800
TOPIC_RECALL = 0.6  # share of a topic's character bigrams the summary must contain to mention it
OFF_TOPIC_RECALL = 0.5  # a draft sentence with less of its bigrams in the notes and the article is off topic


# ----------------------------------------------------------------------------- metrics


def comparable(text: str) -> str:
    """What CER compares: NFKC characters without spaces and punctuation."""
    return "".join(
        ch for ch in unicodedata.normalize("NFKC", text)
        if not ch.isspace() and not unicodedata.category(ch).startswith("P")
    )  # fmt: skip


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate: Levenshtein distance over the reference length (rapidfuzz, C speed)."""
    from rapidfuzz.distance import Levenshtein

    ref, hyp = comparable(reference), comparable(hypothesis)
    if not ref:
        raise ValueError("reference text is empty after normalisation")
    return Levenshtein.distance(ref, hyp) / len(ref)


def turn_accuracy(reference: Sequence[Turn], draft: Sequence[Utterance], labels: dict[str, str]) -> float:
    """Share of turns the draft got right: same position, same speaker (tool label mapped to the real
    one), and its text the reference turn's (CER ≤ 0.5, so turn boundaries are where they were)."""
    if not reference:
        return 0.0
    right = 0
    for ref, utt in zip(reference, draft, strict=False):
        if labels.get(utt.speaker or "", utt.speaker) == ref.speaker and cer(ref.text, utt.text) <= 0.5:
            right += 1
    return right / max(len(reference), len(draft))


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


def _topic_core(topic: str) -> str:
    core = re.sub(r"(?:について|に関して|に関する|についての|の(?:現状|状況|取組|取り組み|考え|方針)について)$", "", topic)
    return comparable(core)


def topic_mentioned(topic: str, summary: str) -> bool:
    """The summary names the topic: most of its character bigrams (its wording) are in the summary."""
    wanted = _bigrams(_topic_core(topic))
    return bool(wanted) and len(wanted & _bigrams(comparable(summary))) / len(wanted) >= TOPIC_RECALL


# ----------------------------------------------------------------------------- PR facts

_DASHES = re.compile(r"(?<=\d)\s*[‐－ー―−-]\s*(?=\d)")
FACT_PATTERNS: dict[str, re.Pattern[str]] = {
    "date": re.compile(
        r"(?:令和|平成)(?:\d+|元)年度?|\d{4}年|\d{1,2}月\d{1,2}日(?:\([月火水木金土日祝]\))?|\d{1,2}/\d{1,2}(?:\([月火水木金土日祝]\))?"
    ),
    "time": re.compile(r"(?:午前|午後)\d{1,2}時(?:\d{1,2}分|半)?|\d{1,2}:\d{2}"),
    "amount": re.compile(r"\d[\d,]*(?:\.\d+)?(?:億|万|千)?円"),
    "count": re.compile(r"\d[\d,]*(?:\.\d+)?(?:人|名|歳|件|回|%|か所|世帯|km|頭|台|組)"),
    "phone": re.compile(r"☎?\d{1,5}-\d{1,4}(?:-\d{3,4})?"),
    "place": re.compile(
        r"[一-龥ァ-ヺー]{1,10}(?:センター|公民館|会館|役場|体育館|小学校|中学校|高等学校|高校|駅|図書館|ホール|"
        r"会議室|公園|神社|広場|出張所|事務所|警察署|保健所|年金事務所)"
    ),
}


def fact_text(text: str) -> str:
    """Text as facts are compared: NFKC, no spaces, one kind of dash between digits."""
    flat = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
    return _DASHES.sub("-", flat)


def article_facts(text: str) -> list[tuple[str, str]]:
    """(kind, fact) of every date, time, amount, count, phone number and place in `text`."""
    flat = fact_text(text)
    found: dict[str, str] = {}
    for kind, pattern in FACT_PATTERNS.items():
        for match in pattern.finditer(flat):
            found.setdefault(match.group().lstrip("☎"), kind)
    return [(kind, fact) for fact, kind in found.items()]


class ArticleNotes(BaseModel):
    notes: str
    facts: list[str]
    target_chars: int


def article_notes(article: Article) -> ArticleNotes | None:
    """Notes a PR officer would bring: the fact-bearing sentences, and the 問い合わせ line."""
    sentences = [s for line in article.text.splitlines() for s in split_sentences(line) if s.strip()]
    keep = [s for s in sentences if article_facts(s)]
    if not keep:
        return None
    contact = re.sub(r"\s+", " ", article.contact).strip()
    notes = "\n".join("・" + s for s in keep) + f"\n問い合わせ：{contact}"
    facts = sorted({fact for s in keep for _, fact in article_facts(s)} | {fact for _, fact in article_facts(contact)})
    return ArticleNotes(notes=notes, facts=facts, target_chars=max(100, min(4000, len(comparable(article.text)))))


@lru_cache(maxsize=1)
def _sudachi():  # type: ignore[no-untyped-def]
    from sudachipy import Dictionary, SplitMode

    return Dictionary(dict="core").tokenizer(mode=SplitMode.C, fields={"pos"})


def proper_nouns(text: str) -> set[str]:
    """Names (固有名詞 of two characters or more) in `text`, by SudachiPy."""
    tokenizer = _sudachi()
    names = set()
    for piece in re.split(r"(?<=[。\n])", text):
        for m in tokenizer.tokenize(piece[:4000]):
            if m.part_of_speech()[1] == "固有名詞" and len(m.surface()) >= 2:
                names.add(m.surface())
    return names


def passage_search(passages: Sequence[Passage]) -> SearchFn:
    """BM25 (bm25s, the retriever's library) over passages held in memory: the corpus of a benchmark."""
    import bm25s

    retriever = bm25s.BM25()
    retriever.index([tokenize(p.text) or ["_"] for p in passages], show_progress=False)

    def search(query: str, k: int) -> list[Passage]:
        terms = tokenize(query)
        if not terms:
            return []
        scores = retriever.get_scores(terms)
        order = sorted(range(len(passages)), key=lambda i: -scores[i])[:k]
        return [passages[i].model_copy(update={"score": float(scores[i])}) for i in order if scores[i] > 0]

    return search


def sentence_passages(doc_id: str, title: str, text: str, page: int | None = None, per: int = 3) -> list[Passage]:
    """A document cut into passages of `per` sentences, as a library would hold it."""
    sentences = [s for line in text.splitlines() for s in split_sentences(line) if s.strip()]
    return [
        Passage(chunk_id=f"{doc_id}::{page}:{n // per}", doc_id=doc_id, title=title, doc_type="pdf", page=page,
                text="".join(sentences[n : n + per]), score=0.0)
        for n in range(0, len(sentences), per)
    ]  # fmt: skip


def newsletter_search(articles: Sequence[Article]) -> tuple[SearchFn, list[Passage]]:
    """The newsletters as the PR drafter's corpus."""
    passages = [
        p for a in articles for p in sentence_passages(a.id, f"広報おといねっぷ {a.issue}", a.text, a.page)
    ]
    return passage_search(passages), passages


# ----------------------------------------------------------------------------- records


class VerbatimRecord(BaseModel):
    id: str
    engine: Engine
    turns: int
    chars: int
    raw_cer: float
    draft_cer: float
    turn_accuracy: float
    ms: float
    draft_engine: str = Field(description="What the drafter reports: extractive, llm or llm+extractive.")


class SummaryRecord(BaseModel):
    id: str
    engine: Engine
    topics: int
    mentioned: int
    topic_coverage: float
    summary_chars: int
    source_chars: int
    length_ratio: float
    missed: list[str]
    ms: float
    draft_engine: str


class PRRecord(BaseModel):
    id: str
    engine: Engine
    facts: int
    fact_recall: float
    missed_facts: list[str]
    invented: list[str]
    off_topic: list[str]
    suggestions: int
    suggestions_off_topic: list[str]
    char_count: int
    target_chars: int
    length_ratio: float
    ms: float
    draft_engine: str


class CalibrationRow(BaseModel):
    threshold: float
    on_topic: int = Field(description="Candidates from the article itself at or above the threshold.")
    off_topic: int = Field(description="Candidates from other articles at or above the threshold.")
    precision: float | None
    recall: float | None = Field(description="Share of all same-article candidates kept.")


class DraftsReport(BaseModel):
    version: int = REPORT_VERSION
    created: str
    seed: int
    local_sample: int
    local_status: str = Field(description="'ok', or why the local model could not be used.")
    verbatim: list[VerbatimRecord] = Field(default_factory=list)
    summary: list[SummaryRecord] = Field(default_factory=list)
    pr: list[PRRecord] = Field(default_factory=list)
    calibration: list[CalibrationRow] = Field(default_factory=list)
    seconds: float = 0.0

    def aggregates(self) -> dict[str, dict[str, dict[str, float | int | None]]]:
        """task → engine → metric → mean (counts summed), over that engine's cases."""
        out: dict[str, dict[str, dict[str, float | int | None]]] = {}
        for task, records in (("verbatim", self.verbatim), ("summary", self.summary), ("pr", self.pr)):
            for engine in ("extractive", "local"):
                rows = [r for r in records if r.engine == engine]
                if not rows:
                    continue
                out.setdefault(task, {})[engine] = _aggregate(task, rows)
        return out


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _aggregate(task: str, rows: Sequence[Any]) -> dict[str, float | int | None]:
    if task == "verbatim":
        raw, draft = _mean([r.raw_cer for r in rows]), _mean([r.draft_cer for r in rows])
        return {
            "cases": len(rows), "raw_cer": raw, "draft_cer": draft,
            "cer_ratio": round(draft / raw, 4) if raw and draft is not None else None,
            "turn_accuracy": _mean([r.turn_accuracy for r in rows]), "ms_per_case": _mean([r.ms for r in rows]),
        }  # fmt: skip
    if task == "summary":
        return {
            "cases": len(rows), "topic_coverage": _mean([r.topic_coverage for r in rows]),
            "topics": sum(r.topics for r in rows), "length_ratio": _mean([r.length_ratio for r in rows]),
            "ms_per_case": _mean([r.ms for r in rows]),
        }  # fmt: skip
    return {
        "cases": len(rows), "fact_recall": _mean([r.fact_recall for r in rows]),
        "invented_facts": sum(len(r.invented) for r in rows), "off_topic_sentences": sum(len(r.off_topic) for r in rows),
        "suggestions": sum(r.suggestions for r in rows),
        "suggestions_off_topic": sum(len(r.suggestions_off_topic) for r in rows),
        "length_ratio": _mean([r.length_ratio for r in rows]), "ms_per_case": _mean([r.ms for r in rows]),
    }  # fmt: skip


# ----------------------------------------------------------------------------- cases


def verbatim_case(case_id: str, turns: list[Turn], seed: int, chat_model: Any, engine: Engine) -> VerbatimRecord:
    raw = raw_transcript(turns, seed)
    reference = "".join(t.text for t in turns)
    start = time.perf_counter()
    draft = draft_minutes(MinutesRequest(transcript=raw.vtt, style="逐語整文"), chat_model)
    ms = (time.perf_counter() - start) * 1000
    drafted = draft.sections.verbatim
    return VerbatimRecord(
        id=case_id, engine=engine, turns=len(turns), chars=len(comparable(reference)),
        raw_cer=round(cer(reference, raw.plain), 4), draft_cer=round(cer(reference, "".join(u.text for u in drafted)), 4),
        turn_accuracy=round(turn_accuracy(turns, drafted, raw.labels), 4), ms=round(ms, 1), draft_engine=draft.engine,
    )  # fmt: skip


def summary_case(day: CouncilDay, topics: list[str], seed: int, chat_model: Any, engine: Engine) -> SummaryRecord:
    raw = raw_transcript(day.turns, seed)
    start = time.perf_counter()
    draft = draft_minutes(MinutesRequest(transcript=raw.vtt, style="要点筆記"), chat_model)
    ms = (time.perf_counter() - start) * 1000
    summary = "".join("".join(sp.points) for block in draft.sections.summary for sp in block.speakers)
    missed = [t for t in topics if not topic_mentioned(t, summary)]
    source_chars = len(comparable("".join(t.text for t in day.turns)))
    summary_chars = len(comparable(summary))
    return SummaryRecord(
        id=f"{day.slug} {day.day}", engine=engine, topics=len(topics), mentioned=len(topics) - len(missed),
        topic_coverage=round((len(topics) - len(missed)) / len(topics), 4) if topics else 0.0,
        summary_chars=summary_chars, source_chars=source_chars, length_ratio=round(summary_chars / source_chars, 4),
        missed=missed, ms=round(ms, 1), draft_engine=draft.engine,
    )  # fmt: skip


def _draft_sentences(draft: PRArticleDraft) -> list[str]:
    prose = [draft.headline, draft.lead] + [p for p in draft.body.split("\n") if p and not p.startswith("- ")]
    return [re.sub(r"\[\d+\]", "", s) for part in prose for s in split_sentences(part) if s.strip()]


def pr_case(article: Article, notes: ArticleNotes, search: SearchFn, chat_model: Any, engine: Engine) -> PRRecord:
    start = time.perf_counter()
    draft = draft_pr_article(PRArticleRequest(notes=notes.notes, target_chars=notes.target_chars), chat_model, search)
    ms = (time.perf_counter() - start) * 1000
    text = fact_text(draft.markdown)
    missed = [f for f in notes.facts if fact_text(f) not in text]
    sources = [notes.notes] + [c.excerpt for c in draft.citations]
    plain = re.sub(r"\[\d+\]", "", "\n".join([draft.headline, draft.lead, draft.body, draft.contact]))
    invented = [m.surface for m in unsupported_numbers(plain, sources)]
    known = fact_text("\n".join(sources))
    invented += sorted(n for n in proper_nouns(plain) if fact_text(n) not in known)
    off_topic = [
        s for s in _draft_sentences(draft)
        if bigram_recall(s, [notes.notes]) < OFF_TOPIC_RECALL and bigram_recall(s, [article.text]) < OFF_TOPIC_RECALL
    ]  # fmt: skip
    foreign = [s.text for s in draft.suggestions if bigram_recall(s.text, [article.text]) < OFF_TOPIC_RECALL]
    return PRRecord(
        id=article.id, engine=engine, facts=len(notes.facts),
        fact_recall=round((len(notes.facts) - len(missed)) / len(notes.facts), 4) if notes.facts else 1.0,
        missed_facts=missed, invented=invented, off_topic=off_topic, suggestions=len(draft.suggestions),
        suggestions_off_topic=foreign, char_count=draft.char_count, target_chars=notes.target_chars,
        length_ratio=round(draft.char_count / notes.target_chars, 4), ms=round(ms, 1), draft_engine=draft.engine,
    )  # fmt: skip


def calibrate_suggestions(
    cases: Sequence[tuple[Article, ArticleNotes]], search: SearchFn, thresholds: Sequence[float]
) -> list[CalibrationRow]:
    """Relevance of every candidate corpus sentence, labelled by whether it comes from the article the
    notes were taken from (on topic) or from another one (off topic); kept/rejected per threshold."""
    scored: list[tuple[float, bool]] = []
    for article, notes in cases:
        draft = draft_pr_article(PRArticleRequest(notes=notes.notes, target_chars=notes.target_chars, use_corpus=False))
        queries = [draft.headline] + [s.lstrip("・") for s in notes.notes.splitlines()[:5]]
        passages = {p.chunk_id: p for q in queries for p in search(q, 3)}
        note_sentences = [s.lstrip("・") for s in notes.notes.splitlines()]
        note_tokens, topic = note_terms(note_sentences, draft.headline)
        candidates = rank_suggestions(list(passages.values()), note_tokens, note_sentences, topic, 1e-9)
        scored.extend((score, passage.doc_id == article.id) for score, _, passage, _ in candidates)
    total_on = sum(1 for _, on in scored if on)
    rows = []
    for threshold in thresholds:
        on = sum(1 for s, is_on in scored if is_on and s >= threshold)
        off = sum(1 for s, is_on in scored if not is_on and s >= threshold)
        rows.append(CalibrationRow(
            threshold=threshold, on_topic=on, off_topic=off,
            precision=round(on / (on + off), 4) if on + off else None,
            recall=round(on / total_on, 4) if total_on else None,
        ))  # fmt: skip
    return rows


# ----------------------------------------------------------------------------- run


def local_chat_model(settings: Settings) -> tuple[Any, str]:
    """The embedded model, or None and why not (the benchmark then reports the extractive path only)."""
    from yakuba.assistant.llm import chat_model_for
    from yakuba.core.errors import YakubaError

    try:
        return chat_model_for(settings, "local"), "ok"
    except YakubaError as exc:
        return None, f"{exc.code}: {exc.message_ja}"


def run_drafts_eval(
    settings: Settings | None = None,
    *,
    verbatim_cases: int = 24,
    summary_days: int = 4,
    articles: int | None = None,
    local_sample: int = 2,
    seed: int = 0,
    tasks: Sequence[str] = ("verbatim", "summary", "pr"),
    chat_model: Any = None,
    progress: Progress | None = None,
) -> DraftsReport:
    """Run the benchmark. `local_sample` > 0 also drafts that many cases per task with the local model
    (`chat_model` overrides it, e.g. a scripted model in tests); 0 reports the extractive path only."""
    began = time.perf_counter()
    status = "not requested"
    if local_sample > 0:
        if chat_model is not None:
            status = "ok"
        elif settings is not None:
            chat_model, status = local_chat_model(settings)
        else:
            status = "no settings"
    use_local = chat_model is not None and local_sample > 0
    report = DraftsReport(
        created=datetime.now(UTC).isoformat(timespec="seconds"), seed=seed, local_sample=local_sample if use_local else 0,
        local_status=status,
    )  # fmt: skip

    def tick(task: str, done: int, total: int) -> None:
        if progress is not None:
            progress(task, done, total)

    days = load_council_days() if {"verbatim", "summary"} & set(tasks) else []
    if "verbatim" in tasks:
        picked = _verbatim_windows(days, verbatim_cases)
        for n, (case_id, turns) in enumerate(picked):
            report.verbatim.append(verbatim_case(case_id, turns, seed + n, None, "extractive"))
            if use_local and n < local_sample:
                report.verbatim.append(verbatim_case(case_id, turns, seed + n, chat_model, "local"))
            tick("逐語整文", n + 1, len(picked))
    if "summary" in tasks:
        topics = question_topics()
        general = [d for d in days if d.is_general_question][:summary_days]
        for n, day in enumerate(general):
            members = topics.get(day.slug, {})
            day_topics = [t for turn in {t.speaker for t in day.turns} for t in members.get(turn, [])]
            report.summary.append(summary_case(day, day_topics, seed + n, None, "extractive"))
            if use_local and n < local_sample:
                report.summary.append(summary_case(day, day_topics, seed + n, chat_model, "local"))
            tick("要点筆記", n + 1, len(general))
    if "pr" in tasks:
        all_articles = load_articles()
        search, _ = newsletter_search(all_articles)
        cases = [(a, notes) for a in all_articles if (notes := article_notes(a)) is not None][:articles]
        for n, (article, notes) in enumerate(cases):
            report.pr.append(pr_case(article, notes, search, None, "extractive"))
            if use_local and n < local_sample:
                report.pr.append(pr_case(article, notes, search, chat_model, "local"))
            tick("広報記事", n + 1, len(cases))
        report.calibration = calibrate_suggestions(cases, search, (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5))
    report.seconds = round(time.perf_counter() - began, 1)
    return report


def _verbatim_windows(days: Sequence[CouncilDay], count: int) -> list[tuple[str, list[Turn]]]:
    """`count` windows spread over the days (round robin), so that every kind of day is in the sample."""
    per_day = [list(windows(day, TURNS_PER_WINDOW, MAX_TURN_CHARS)) for day in days]
    picked: list[tuple[str, list[Turn]]] = []
    index = 0
    while len(picked) < count and any(index < len(w) for w in per_day):
        for day, found in zip(days, per_day, strict=True):
            if index < len(found) and len(picked) < count:
                picked.append((f"{day.slug} {day.day} #{index}", found[index]))
        index += 1
    return picked


# ----------------------------------------------------------------------------- report

LABELS = {
    "raw_cer": "CER（生の文字起こし）", "draft_cer": "CER（下書き）", "cer_ratio": "下書き/生 CER 比",
    "turn_accuracy": "話者交代の正解率", "topic_coverage": "一般質問の項目に触れた割合", "topics": "項目数",
    "length_ratio": "長さの比", "fact_recall": "事実の再現率", "invented_facts": "創作された事実",
    "off_topic_sentences": "話題外の文", "suggestions": "追加候補", "suggestions_off_topic": "話題外の追加候補",
    "cases": "件数", "ms_per_case": "1件の時間 (ms)",
}  # fmt: skip
TASKS = {"verbatim": "逐語整文", "summary": "要点筆記", "pr": "広報記事"}


def _cell(value: float | int | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def render_markdown(report: DraftsReport) -> str:
    lines = [
        "# 下書きの評価 / drafting benchmark", "",
        f"- 作成: {report.created}　乱数の種: {report.seed}　所要: {report.seconds} 秒",
        f"- ローカルモデル: {report.local_status}（各タスク先頭 {report.local_sample} 件）", "",
    ]  # fmt: skip
    for task, engines in report.aggregates().items():
        lines += [f"## {TASKS[task]}", "", "| 指標 | " + " | ".join(engines) + " |", "|---|" + "---:|" * len(engines)]
        metrics = list(next(iter(engines.values())))
        for metric in metrics:
            lines.append(f"| {LABELS.get(metric, metric)} | " + " | ".join(_cell(e.get(metric)) for e in engines.values()) + " |")
        lines.append("")
    if report.calibration:
        lines += ["## 追加候補の関連度しきい値（同じ記事の文 = 話題内）", "",
                  "| しきい値 | 話題内 | 話題外 | 適合率 | 再現率 |", "|---:|---:|---:|---:|---:|"]  # fmt: skip
        for row in report.calibration:
            lines.append(f"| {row.threshold} | {row.on_topic} | {row.off_topic} | {_cell(row.precision)} | {_cell(row.recall)} |")
        lines.append("")
    problems = [(r.id, r.engine, r.invented, r.off_topic) for r in report.pr if r.invented or r.off_topic]
    if problems:
        lines += ["## 広報記事の要確認", ""]
        lines += [f"- {i}（{e}）: 創作 {inv} / 話題外 {off}" for i, e, inv, off in problems]
    return "\n".join(lines).rstrip() + "\n"


def write_report(report: DraftsReport, out_dir: str | Path) -> dict[str, Path]:
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"json": folder / "report.json", "md": folder / "report.md"}
    data = report.model_dump(mode="json")
    data["aggregates"] = report.aggregates()
    paths["json"].write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    paths["md"].write_text(render_markdown(report), encoding="utf-8")
    return paths
