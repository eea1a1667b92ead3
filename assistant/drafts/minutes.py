"""Minutes draft (議事録案) from a meeting transcript.

Pipeline: parse → ケバ取り and speaker normalisation (assistant.transcript) → topics (the agenda the
user gave, or the chair's 「次に、…について」) → per topic and speaker: 要点筆記 (extractive LexRank
summary, optionally rewritten by a chat model and checked) or 逐語整文 (the cleaned turns) →
決定事項 and 今後の対応 detected from sentences → Markdown.

Fields the user supplies (会議名, 日時, 場所, 出席者, 議題) are printed exactly as given. Missing ones are
inferred where the transcript says them and labelled as inferred; otherwise they read 「（要確認）」:
a draft must never look more certain than it is.

Long transcripts are processed in parts of `part_chars` characters (map) whose per-speaker picks are
merged and, if still over budget, summarised again (reduce). With a model, both steps are small calls.
"""

from __future__ import annotations

import re
import unicodedata
from collections import OrderedDict
from typing import Annotated, Literal

import numpy as np
from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel, Field, StrictBool, StrictInt, field_validator

from yakuba.assistant.drafts import prompts
from yakuba.assistant.drafts.common import FALLBACK_NOTE, Masker, ModelUse, arabic_numerals, check_rewrite
from yakuba.assistant.summarize import lexrank_scores, select, similarity_matrix
from yakuba.assistant.transcript import (
    MAX_TRANSCRIPT_CHARS,
    ParsedTranscript,
    SourceFormat,
    Utterance,
    clean_utterances,
    ensure_period,
    format_time,
    normalize_speaker,
    parse_transcript,
)
from yakuba.core.text import split_sentences
from yakuba.retriever.tokenize import tokenize

Style = Literal["要点筆記", "逐語整文"]
FieldSource = Literal["user", "transcript", "inferred", "missing"]

TO_CONFIRM = "（要確認）"
MODEL_SOURCE_CHARS = 2400  # most characters of transcript sent in one model call
MODEL_POOL_FACTOR = 3  # 要点筆記: the model condenses the central sentences worth this many budgets
_ANNOUNCES_TOPIC = re.compile(
    r"について(?:、)?(?:お?伺い|お聞き|質問|お尋ね|お示し|御所見|ご所見|御見解|ご見解)"
)
INFERRED = "（文字起こしから推定・要確認）"
SECTION_TITLES = ("会議名", "日時", "場所", "出席者", "議題", "発言要旨", "決定事項", "今後の対応")


class MinutesRequest(BaseModel):
    transcript: str = Field(min_length=1, max_length=MAX_TRANSCRIPT_CHARS, description="Text, WebVTT or SRT.")
    source_format: SourceFormat = "auto"
    style: Style = Field(
        "要点筆記", description="要点筆記 (summary per topic and speaker) or 逐語整文 (cleaned turns)."
    )
    # Bounded and strict (issue #18): a field size no caller needs is a 422, `0` is not a boolean.
    meeting_name: str | None = Field(None, max_length=200)
    date: str | None = Field(
        None, max_length=200, description="Printed as given (e.g. 令和7年6月3日（火）14時〜15時)."
    )
    place: str | None = Field(None, max_length=200)
    attendees: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list, max_length=200)
    agenda: list[Annotated[str, Field(max_length=500)]] = Field(default_factory=list, max_length=100)
    summary_chars: StrictInt = Field(
        200, ge=40, le=4000, description="Most characters per speaker and topic (要点筆記)."
    )
    part_chars: StrictInt = Field(
        8000, ge=1000, le=100_000, description="Long transcripts are processed in parts of this size."
    )
    include_timestamps: StrictBool = Field(
        False, description="逐語整文: prefix turns with their start time when known."
    )

    @field_validator("meeting_name", "date", "place", mode="before")
    @classmethod
    def _blank_is_missing(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("attendees", "agenda", mode="before")
    @classmethod
    def _drop_blank_items(cls, value: object) -> object:
        if isinstance(value, list):
            return [v for v in value if not (isinstance(v, str) and not v.strip())]
        return value


class SpeakerPoints(BaseModel):
    speaker: str | None
    points: list[str]


class TopicSummary(BaseModel):
    topic: str | None = Field(description="Agenda item this block belongs to; None when topics are unknown.")
    speakers: list[SpeakerPoints]


class Decision(BaseModel):
    text: str
    speaker: str | None = None


class ActionItem(BaseModel):
    text: str
    owner: str | None = Field(None, description="Who does it, when the transcript says so.")
    due: str | None = Field(None, description="Deadline as said (6月10日まで, 次回の会議まで …).")
    speaker: str | None = None


class MinutesSections(BaseModel):
    meeting_name: str
    date: str
    place: str
    attendees: list[str]
    agenda: list[str]
    summary: list[TopicSummary] = Field(default_factory=list, description="要点筆記 only.")
    verbatim: list[Utterance] = Field(default_factory=list, description="逐語整文 only.")
    decisions: list[Decision]
    actions: list[ActionItem]


class MinutesDraft(BaseModel):
    markdown: str
    sections: MinutesSections
    field_sources: dict[str, FieldSource]
    utterances: list[Utterance] = Field(
        description="The cleaned, merged speaker turns the draft was made from."
    )
    style: Style
    parts: int = Field(1, description="How many parts the transcript was processed in.")
    warnings: list[str] = Field(default_factory=list)
    engine: str = Field(
        description="extractive, llm, or llm+extractive (some model rewrites failed the checks)."
    )


# ----------------------------------------------------------------------------- sentence classes

_PROCEDURAL = re.compile(
    r"^(?:はい|ありがとうございま(?:す|した)|よろしくお願い(?:します|いたします|申し上げます)|お疲れ様(?:です|でした)|"
    r"以上(?:です|となります|になります|で(?:す|ございます))?|失礼(?:します|いたします)|お願いします|すみません|"
    r"承知(?:しました|いたしました)|わかりました|分かりました|了解(?:です|しました)|異議なし|ございません|"
    r"そうですね|なるほど|ほかに(?:ご意見|質問)?(?:は)?(?:ありますか|ございますか)|(?:では|それでは)?次に(?:移ります|参ります)?)[。！？]?$"
)


# Sentences that run the meeting rather than say something: self-introductions, hand-overs,
# 「資料1をご覧ください」, opening and closing formulas.
_PROCEDURAL_ANYWHERE = re.compile(
    r"^[一-龥ァ-ヺー・A-Za-z0-9]{1,20}の[一-龥ァ-ヺー]{1,8}(?:です|でございます)。$|(?:ご)?異議なしと認めます|"
    r"議題\s*[0-9一二三四五六七八九十]+\s*「|(?:資料\d*|お手元の資料[^。]*)を?ご覧(?:ください|いただけますか)|"
    r"(?:説明|報告|ご説明|ご報告)を?お願い(?:します|いたします)。$|^[^。]{0,12}(?:から|より)お願いします。$|"
    r"(?:開会|閉会|終了|散会)(?:します|いたします)|(?:議題|案件)は\d+件です"
)
_LEADING_FILLER_WORD = re.compile(r"^(?:はい|ええ|では|それでは|じゃあ|じゃ|さて|ええと)[、,]\s*")


def _trim(sentence: str) -> str:
    """Drop a leading 「はい、」「それでは、」: in a summary or a list item they carry nothing."""
    trimmed = _LEADING_FILLER_WORD.sub("", sentence.strip())
    return trimmed if len(trimmed) >= 4 else sentence.strip()


def _substantive(sentence: str) -> bool:
    core = re.sub(r"[\s、。！？!?「」]", "", sentence)
    stripped = _trim(sentence)
    return len(core) >= 8 and not _PROCEDURAL.match(stripped) and not _PROCEDURAL_ANYWHERE.search(stripped)


_DECISION = re.compile(
    r"決定(?:し(?:ます|ました)|いたし(?:ます|ました)|とします|事項とします|となりました)?(?![事権者])|決まりました|決めました|"
    r"承認(?:されました|します|いたします|とします|を得ました|することとします)|"
    r"了承(?:されました|します|いたします|とします|を得ました|いただきました)|"
    r"可決(?:されました|しました|いたしました|します|とします)|否決(?:されました|しました|します)|採択(?:されました|します|しました)|"
    r"合意(?:しました|されました|に至りました|いたしました)|"
    r"(?:こと|もの|方向|方針|形|案|予定)と(?:する|します|しました|いたします|いたしました|なりました)|"
    r"ことになりました|ことに決(?:まり|め)|(?:ご)?異議(?:は)?(?:なし|ない|ありません|ございません)と認め|"
    r"原案(?:の)?(?:とおり|通り)"
)
_CONDITIONAL = re.compile(r"(?:れば|たら|なら|場合(?:は|には)?)[、,]?")
_QUESTION = re.compile(r"(?:か|かね|でしょうか|ですか|ますか)[。？?]?$|[？?]$")
_ACTION = re.compile(
    r"までに|(?:検討|確認|対応|調整|準備|作成|提出|報告|共有|連絡|周知|修正|手配|依頼|整理|回答|送付|集約|"
    r"取りまとめ|とりまとめ|取り纏め|調査|見直し|掲載|発送|予約|相談|用意|開催|実施|配布|開き|進め|作り|送り)"
    r"(?:を)?(?:させて)?(?:し|いたし|して|いたして|していただき|していただ)?"
    r"(?:ます|ておきます|ておき(?:ます)?|てまいります|ていきます|てください|たいと思います|ていただけますか|てもらえますか|"
    r"いただけますか|ください|(?:を)?お願い(?:します|いたします|できますか))|"
    r"(?:ご|お)?(?:[一-龥]{1,6})(?:を)?お願い(?:します|いたします|できますか|したい)"
)
_ACTION_EXCLUDE = re.compile(
    r"よろしくお願い|(?:説明|報告|発言|ご意見|意見|質問|ご質問|紹介|挨拶|あいさつ|進行|ご説明|ご報告|ご発言|ご紹介)を?"
    r"(?:お願い|いただけますか|ください)|ご覧(?:ください|いただ)|ご確認(?:ください|いただけますか)"
)
_PAST = re.compile(r"(?:しました|いたしました|されました|でした|ました)[。！]?$")
_DUE = re.compile(
    r"((?:\d{1,2}月\d{1,2}日(?:\([月火水木金土日]\))?|\d{1,2}/\d{1,2}|来週(?:の)?[月火水木金土日]?(?:曜日?)?|今週中|今月中|"
    r"今月末|来月(?:上旬|中旬|下旬|末)?|月末|年度内|年内|次回(?:の)?(?:会議|打ち合わせ|委員会)?|\d{1,2}月(?:上旬|中旬|下旬|末|中))"
    r"(?:まで(?:に)?|中に|には))"
)
_ORG_OWNER = re.compile(
    r"([一-龥ァ-ヺー]{1,10}(?:課|係|室|部|局|事務局|センター|担当|委員会|チーム))(?:で|において|の方で|から|が|として|にて)"
)
_VOCATIVE = re.compile(
    r"^([一-龥ァ-ヺぁ-ゖA-Za-z]{1,10}?)(さん|様|課長|係長|部長|主査|主任|室長|所長|局長|委員長|委員|君)?[、,]"
)
_REQUEST = re.compile(r"(?:ください|お願い|いただけますか|もらえますか|いただきたい)")


def _is_decision(sentence: str) -> bool:
    match = _DECISION.search(sentence)
    if match is None or _QUESTION.search(sentence):
        return False
    return not _CONDITIONAL.search(sentence[: match.start()])


def _is_action(sentence: str) -> bool:
    if not _ACTION.search(sentence) or _ACTION_EXCLUDE.search(sentence) and not _DUE.search(sentence):
        return False
    if _PAST.search(sentence) and "までに" not in sentence:
        return False
    return not (_QUESTION.search(sentence) and not _REQUEST.search(sentence))


def _owner(sentence: str, speaker: str | None, speakers: list[str]) -> str | None:
    """Who does it: a named addressee of a request, a named section, or the committing speaker."""
    vocative = _VOCATIVE.match(sentence)
    if vocative:
        name = normalize_speaker(vocative.group(1) + (vocative.group(2) or ""))
        base = normalize_speaker(vocative.group(1))
        for known in speakers:
            if name and (known == name or (base and known.startswith(base))):
                return known
        if vocative.group(2) and name:
            return name
    org = _ORG_OWNER.search(sentence)
    if org:
        return org.group(1)
    if _REQUEST.search(sentence):
        return None  # a request to nobody in particular
    return speaker


def _has_content(sentence: str) -> bool:
    return len(tokenize(sentence)) >= 4


_PROPOSAL = re.compile(
    r"(?:と|で|として|とすることで|ということで)?(?:して)?(?:よろしいでしょうか|よろしいですか|(?:ご)?異議(?:は)?(?:ありませんか|ございませんか)|"
    r"いかがでしょうか)[。？?]?$"
)


def _proposal_as_statement(question: str) -> str | None:
    """「…事務局案のとおりとしてよろしいでしょうか。」 → 「…事務局案のとおりとする。」 (what was agreed)."""
    if not _PROPOSAL.search(question):
        return None
    statement = _trim(_PROPOSAL.sub("", question)).rstrip("、, ")
    if not _has_content(statement):
        return None
    return statement + ("。" if statement.endswith(("とする", "する")) else "とする。")


def _decisions_and_actions(utterances: list[Utterance]) -> tuple[list[Decision], list[ActionItem]]:
    speakers = list(OrderedDict.fromkeys(u.speaker for u in utterances if u.speaker))
    decisions: list[Decision] = []
    actions: list[ActionItem] = []
    proposal: str | None = None
    for utt in utterances:
        for raw in split_sentences(utt.text):
            sentence = _trim(raw)
            due_match = _DUE.search(sentence)
            is_action = _is_action(sentence)
            owner = _owner(sentence, utt.speaker, speakers) if is_action else None
            if is_action and (due_match or owner or not _is_decision(sentence)):
                actions.append(
                    ActionItem(
                        text=ensure_period(sentence),
                        owner=owner,
                        due=due_match.group(1) if due_match else None,
                        speaker=utt.speaker,
                    )
                )
            elif _is_decision(sentence):
                text = ensure_period(sentence)
                if not _has_content(sentence) and proposal:  # 「異議なしと認めます。」: say what was agreed
                    text = f"{proposal}（{text.rstrip('。')}）"
                decisions.append(Decision(text=text, speaker=utt.speaker))
                proposal = None
            else:
                proposal = _proposal_as_statement(sentence) or proposal
    return _dedupe(decisions), _dedupe(actions)


def _dedupe(items: list) -> list:
    seen: set[str] = set()
    out = []
    for item in items:
        key = re.sub(r"[\s、。]", "", item.text)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


# ----------------------------------------------------------------------------- fields

_MEETING_NAME = re.compile(
    r"((?:令和\d+年度?)?(?:第[0-9一二三四五六七八九十]+回)?\s*[^\s、。「」]{0,24}?"
    r"(?:会議|委員会|協議会|審議会|検討会|打ち合わせ|打合せ|懇談会|部会|分科会|定例会|連絡会))(?:を|は)?"
    r"(?:開会|開催|始め|はじめ)"
)
_NAME_PREFIX = re.compile(
    r"^(?:ただいまから|ただ今から|只今から|只今より|これより|これから|それでは|では|本日は|本日の|今日の)[、,]?"
)
_PLACE = re.compile(
    r"(?:場所|会場)は[、,]?\s*([^\s、。]{2,30}?)(?:です|で(?:す|ございます|行|開催))|([^\s、。「」]{1,20}(?:会議室|ホール|公民館|庁舎|集会所|研修室))(?:で|にて|において)"
)
_TODAY_DATE = re.compile(
    r"(?:本日|今日)(?:は|、)?[^。]{0,20}?((?:令和|平成)\s*(?:元|\d+)年\s*\d{1,2}月\s*\d{1,2}日|\d{4}年\s*\d{1,2}月\s*\d{1,2}日|\d{1,2}月\s*\d{1,2}日)"
)
_AGENDA_QUOTED = re.compile(r"(?:議題|案件|次第)[^「」。]{0,12}「([^」]{2,40})」")
_AGENDA_TRANSITION = re.compile(
    r"(?:^|[、。])\s*(?:まず|最初に|次に|続いて|続きまして|それでは)[、,]?\s*(?:議題\s*[0-9一二三四五六七八九十]*\s*(?:の|、)?\s*)?"
    r"「?([^「」。、]{2,30}?)」?(?:について|の件)[、,]?\s*"
    r"(?:です|に入ります|に移ります|を議題と|(?:事務局|担当)?(?:から|より)?[、,]?\s*(?:ご)?(?:説明|報告|協議|審議|議論|意見))"
)


def _infer_date(text: str) -> str | None:
    from yakuba.core.wareki import wareki_to_iso

    match = _TODAY_DATE.search(text)
    if not match:
        return None
    said = re.sub(r"\s+", "", match.group(1))
    if re.match(r"\d{1,2}月", said):  # no year said: give the month and day only
        return said
    return said if wareki_to_iso(said) else None


def _infer_agenda(utterances: list[Utterance]) -> list[str]:
    found: list[str] = []
    for utt in utterances:
        for pattern in (_AGENDA_QUOTED, _AGENDA_TRANSITION):
            for match in pattern.finditer(utt.text):
                title = match.group(1).strip()
                title = re.sub(r"^(?:議題|本日の|今日の)", "", title).strip()
                if len(tokenize(title)) >= 1 and title not in found and len(title) >= 2:
                    found.append(title)
    return found


# ----------------------------------------------------------------------------- topics

_CUE = re.compile(r"次に|続いて|続きまして|議題|それでは|まず|最初に|移ります|入ります")

Row = tuple[str | None, str]  # (speaker, sentence)


def _rows(utterances: list[Utterance]) -> list[Row]:
    return [(utt.speaker, ensure_period(s)) for utt in utterances for s in split_sentences(utt.text)]


def _segment(rows: list[Row], agenda: list[str]) -> list[tuple[str | None, list[Row]]]:
    """Split the sentences where each agenda item is introduced; one untitled block when none is found.

    An item starts at the first later sentence that holds half its content words and a transition cue
    (次に, 議題, それでは …), or most of its words; items never found are left out of the split.
    """
    if not agenda:
        return [(None, rows)]
    token_sets = [set(tokenize(sentence)) for _, sentence in rows]
    boundaries: list[tuple[int, str]] = []
    position = 0
    for item in agenda:
        wanted = set(tokenize(item))
        if not wanted:
            continue
        for i in range(position, len(rows)):
            share = len(wanted & token_sets[i]) / len(wanted)
            if (share >= 0.5 and _CUE.search(rows[i][1])) or share >= 0.8:
                boundaries.append((i, item))
                position = i + 1
                break
    if not boundaries:
        return [(None, rows)]
    segments: list[tuple[str | None, list[Row]]] = []
    if boundaries[0][0] > 0:
        segments.append(("開会", rows[: boundaries[0][0]]))
    for n, (start, item) in enumerate(boundaries):
        end = boundaries[n + 1][0] if n + 1 < len(boundaries) else len(rows)
        segments.append((item, rows[start:end]))
    return segments


# ----------------------------------------------------------------------------- 要点筆記

Part = list[tuple[int, str | None, str]]  # (segment index, speaker, sentence)


def _parts(rows: Part, part_chars: int) -> list[Part]:
    parts: list[Part] = [[]]
    size = 0
    for row in rows:
        if size + len(row[2]) > part_chars and parts[-1]:
            parts.append([])
            size = 0
        parts[-1].append(row)
        size += len(row[2])
    return [p for p in parts if p]


def _model_summary(model: ModelUse, sentences: list[str], budget: int, system: str) -> list[str] | None:
    source = "".join(sentences)
    output = model.invoke(system.format(max_chars=budget), source, max_tokens=int(budget * 1.5) + 16)
    reason = check_rewrite(output, [source], max_chars=int(budget * 1.3), min_chars=min(10, budget))
    if reason is not None:
        model.rejected += 1 if output is not None else 0
        if reason not in model.warnings:
            model.warnings.append(reason)
        return None
    model.accepted += 1
    assert output is not None
    return [ensure_period(s) for s in split_sentences(output.replace("\n", "。"))]


def _summaries(
    segments: list[tuple[str | None, list[Row]]], request: MinutesRequest, model: ModelUse
) -> tuple[list[TopicSummary], int]:
    rows: Part = [
        (n, speaker, _trim(sentence))
        for n, (_, segment_rows) in enumerate(segments)
        for speaker, sentence in segment_rows
        if _substantive(sentence)
    ]
    budget = request.summary_chars
    picks: dict[tuple[int, str | None], list[str]] = OrderedDict()
    sources: dict[tuple[int, str | None], list[str]] = OrderedDict()
    parts = _parts(rows, request.part_chars)
    for part in parts:  # map: per part, the central sentences of each speaker and topic
        sentences = [r[2] for r in part]
        sim = similarity_matrix(sentences)
        scores = lexrank_scores(sentences, similarity=sim)
        # A sentence that names what is asked (「…について伺います」) is what a 要点筆記 must keep, however
        # central the explanation around it is: it goes first within its speaker's budget.
        scores = scores + np.array([scores.max() if _ANNOUNCES_TOPIC.search(s) else 0.0 for s in sentences])
        groups: dict[tuple[int, str | None], list[int]] = OrderedDict()
        for i, (segment, speaker, _) in enumerate(part):
            groups.setdefault((segment, speaker), []).append(i)
        for key, idx in groups.items():
            texts = [sentences[i] for i in idx]
            sources.setdefault(key, []).extend(texts)
            chosen: list[str] | None = None
            if sum(map(len, texts)) > budget and model.available:
                # The model rewrites the turn's central sentences (topic-naming ones first), not the whole
                # turn: on two cores it reads ~70 tokens/s, so 2,400 characters cost ~25 s per call and
                # the pool of MODEL_POOL_FACTOR × budget ~6 s, with the same sentences to keep.
                keep = select(
                    texts, budget * MODEL_POOL_FACTOR, scores=scores[idx], similarity=sim[idx][:, idx]
                )
                source = [texts[i] for i in sorted(keep)]
                chosen = _model_summary(model, source, budget, prompts.SUMMARIZE_SPEAKER)
            if chosen is None:
                local = select(texts, budget, scores=scores[idx], similarity=sim[idx][:, idx])
                chosen = [texts[i] for i in local]
            picks.setdefault(key, []).extend(chosen)
    for key, points in picks.items():  # reduce: a speaker over budget across parts is summarised again
        if sum(map(len, points)) <= budget * 1.2:
            continue
        condensed: list[str] | None = None
        if model.available:
            condensed = _model_summary(model, points, budget, prompts.CONDENSE_POINTS)
            if condensed is not None and check_rewrite(
                "".join(condensed), sources[key], max_chars=budget * 2
            ):
                condensed = None
        picks[key] = condensed or [points[i] for i in select(points, budget)]
    summaries: list[TopicSummary] = []
    for n, (topic, _) in enumerate(segments):
        speakers = [
            SpeakerPoints(speaker=key[1], points=points) for key, points in picks.items() if key[0] == n
        ]
        if speakers:
            summaries.append(TopicSummary(topic=topic, speakers=speakers))
    return summaries, len(parts)


# ----------------------------------------------------------------------------- markdown


def _markdown(
    sections: MinutesSections, sources: dict[str, FieldSource], style: Style, timestamps: bool
) -> str:
    lines = ["# 議事録（案）", ""]

    def field(title: str, value: str) -> None:
        lines.extend([f"## {title}", value, ""])

    field("会議名", sections.meeting_name)
    field("日時", sections.date)
    field("場所", sections.place)
    lines.append("## 出席者")
    if sections.attendees:
        lines.extend(f"- {a}" for a in sections.attendees)
        if sources["attendees"] == "inferred":
            lines.append("")
            lines.append("※ 発言者から推定しました。発言のない出席者を追記してください（要確認）。")
    else:
        lines.append(TO_CONFIRM)
    lines.append("")
    lines.append("## 議題")
    if sections.agenda:
        lines.extend(f"{i}. {a}" for i, a in enumerate(sections.agenda, 1))
        if sources["agenda"] == "inferred":
            lines.append("")
            lines.append("※ 発言から推定しました（要確認）。")
    else:
        lines.append(TO_CONFIRM)
    lines.append("")
    if style == "要点筆記":
        lines.append("## 発言要旨")
        for block in sections.summary:
            if block.topic in sections.agenda:
                lines.extend(["", f"### {sections.agenda.index(block.topic) + 1}. {block.topic}"])
            elif block.topic:
                lines.extend(["", f"### {block.topic}"])
            for sp in block.speakers:
                lines.append(f"- **{sp.speaker or '発言者不明'}**：{''.join(sp.points)}")
        if not sections.summary:
            lines.append("（要旨にできる発言がありませんでした）")
    else:
        lines.append("## 発言内容（逐語整文）")
        for utt in sections.verbatim:
            stamp = f"［{format_time(utt.start)}］" if timestamps and utt.start is not None else ""
            lines.append("")
            lines.append(f"{stamp}**{utt.speaker or '発言者不明'}**：{utt.text}")
    lines.append("")
    lines.append("## 決定事項")
    if sections.decisions:
        lines.extend(f"- {d.text}" for d in sections.decisions)
    else:
        lines.append("（決定事項にあたる発言は検出されませんでした。要確認）")
    lines.append("")
    lines.append("## 今後の対応")
    if sections.actions:
        for a in sections.actions:
            meta = [f"担当：{a.owner or '要確認'}"]
            if a.due:
                meta.append(f"期限：{a.due}")
            lines.append(f"- {a.text}（{'／'.join(meta)}）")
    else:
        lines.append("（今後の対応にあたる発言は検出されませんでした。要確認）")
    return "\n".join(lines).rstrip() + "\n"


# ----------------------------------------------------------------------------- 逐語整文

# Speech recognisers drop punctuation and mark pauses with spaces. A space after a polite predicate
# ends a sentence; the other pauses become 、 (only in turns that carry no punctuation at all).
_SENTENCE_END_PAUSE = re.compile(
    r"(ます|です|ました|でした|ません|ください|ございます|でしょう|ましょう|ますか|ですか)[ \u3000]+"
)
_WIDE_PAUSE = re.compile(r"(?<=[^\x00-\x7f])[ \u3000]+(?=[^\x00-\x7f])")
_PUNCT = re.compile(r"[。、．，,.!?！？]")
_STRIP_FOR_CHECK = re.compile(r"[\s。、．，,.!?！？「」]")


def punctuate(text: str) -> str:
    """Sentence ends and pauses for a turn written without punctuation (Whisper, live captions)."""
    if _PUNCT.search(text):
        return text
    text = _SENTENCE_END_PAUSE.sub(r"\1。", text.strip())
    return _WIDE_PAUSE.sub("、", text)


def _parse_and_clean(req: MinutesRequest) -> ParsedTranscript:
    parsed = parse_transcript(req.transcript, req.source_format)
    raw = [u.model_copy(update={"text": punctuate(u.text)}) for u in parsed.utterances]
    utterances = clean_utterances(raw)
    metadata = {k: unicodedata.normalize("NFKC", v).strip() for k, v in parsed.metadata.items()}
    return ParsedTranscript(format=parsed.format, utterances=utterances, metadata=metadata)


def _tidy_turns(utterances: list[Utterance], model: ModelUse) -> list[Utterance]:
    """逐語整文: digits for spoken numerals, and, with a model, punctuation for long unpunctuated turns.

    The model may only add punctuation: a rewrite whose characters (punctuation aside) differ from the
    turn's is dropped, so a 逐語 record never gains or loses a word through the model.
    """
    out: list[Utterance] = []
    for utt in utterances:
        text = arabic_numerals(utt.text)
        sentences = max(1, text.count("。"))
        if model.available and 80 <= len(text) <= MODEL_SOURCE_CHARS and len(text) / sentences > 120:
            output = model.invoke(prompts.PUNCTUATE_TURN, text, max_tokens=int(len(text) * 1.6) + 16)
            if output is not None and _STRIP_FOR_CHECK.sub("", output) == _STRIP_FOR_CHECK.sub("", text):
                model.accepted += 1
                text = ensure_period(output.replace("\n", ""))
            elif output is not None:
                model.rejected += 1
                if "changed_words" not in model.warnings:
                    model.warnings.append("changed_words")
        out.append(utt.model_copy(update={"text": text}))
    return out


# ----------------------------------------------------------------------------- entry point


def draft_minutes(
    req: MinutesRequest, chat_model: BaseChatModel | None = None, *, mask: Masker | None = None
) -> MinutesDraft:
    """Make a minutes draft; `mask` (e.g. PII masking) is applied to text sent to a remote model."""
    parsed: ParsedTranscript = _parse_and_clean(req)
    utterances = parsed.utterances
    warnings: list[str] = []
    if not utterances:
        warnings.append("文字起こしから発言を取り出せませんでした。")
    meta = parsed.metadata
    full_text = "\n".join(u.text for u in utterances)
    sources: dict[str, FieldSource] = {}

    def pick(name: str, given: str | None, inferred: str | None) -> str:
        if given is not None:
            sources[name] = "user"
            return given
        if meta.get(name):
            sources[name] = "transcript"
            return meta[name]
        if inferred:
            sources[name] = "inferred"
            return inferred + INFERRED
        sources[name] = "missing"
        return TO_CONFIRM

    name_match = _MEETING_NAME.search(full_text)
    inferred_name = _NAME_PREFIX.sub("", name_match.group(1)).strip() if name_match else None
    place_match = _PLACE.search(full_text)
    meeting_name = pick("meeting_name", req.meeting_name, inferred_name)
    date = pick("date", req.date, _infer_date(full_text))
    place = pick("place", req.place, (place_match.group(1) or place_match.group(2)) if place_match else None)

    if req.attendees:
        attendees, sources["attendees"] = list(req.attendees), "user"
    elif meta.get("attendees"):
        attendees = [a.strip() for a in re.split(r"[、,，/／]", meta["attendees"]) if a.strip()]
        sources["attendees"] = "transcript"
    else:
        attendees = list(OrderedDict.fromkeys(u.speaker for u in utterances if u.speaker))
        sources["attendees"] = "inferred" if attendees else "missing"

    if req.agenda:
        agenda, sources["agenda"] = list(req.agenda), "user"
    elif meta.get("agenda"):
        agenda = [a.strip() for a in re.split(r"[、,，/／]", meta["agenda"]) if a.strip()]
        sources["agenda"] = "transcript"
    else:
        agenda = _infer_agenda(utterances)
        sources["agenda"] = "inferred" if agenda else "missing"

    model = ModelUse(chat_model, mask=mask)
    segments = _segment(_rows(utterances), agenda)
    if agenda and len(segments) == 1 and segments[0][0] is None:
        warnings.append(
            "議題ごとの区切りを文字起こしから特定できなかったため、発言要旨は議題別に分けていません。"
        )
    summary: list[TopicSummary] = []
    parts = 1
    if req.style == "要点筆記":
        summary, parts = _summaries(segments, req, model)
    verbatim = _tidy_turns(utterances, model) if req.style == "逐語整文" else []
    decisions, actions = _decisions_and_actions(utterances)
    if model.rejected or "model_budget" in model.warnings:
        warnings.append(FALLBACK_NOTE)
    if "model_budget" in model.warnings:
        warnings.append("モデル呼び出しの上限に達したため、残りの要旨は抽出による文です。")
    sections = MinutesSections(
        meeting_name=meeting_name,
        date=date,
        place=place,
        attendees=attendees,
        agenda=agenda,
        summary=summary,
        verbatim=verbatim,
        decisions=decisions,
        actions=actions,
    )
    if parts > 1:
        warnings.append(f"長い文字起こしのため{parts}分割して要約し、統合しました。")
    return MinutesDraft(
        markdown=_markdown(sections, sources, req.style, req.include_timestamps),
        sections=sections,
        field_sources=sources,
        utterances=utterances,
        style=req.style,
        parts=parts,
        warnings=warnings,
        engine=model.engine(),
    )
