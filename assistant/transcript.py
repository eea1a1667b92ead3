"""Meeting transcripts → clean speaker turns (the input of the minutes draft).

Transcripts reach staff in a few shapes: Teams/Zoom WebVTT (speakers in `<v Name>` voice tags or as
"Name: text"), SRT from other tools, Whisper output (plain text, often without punctuation), and
hand-typed notes with 「話者：発言」 or 【話者】 lines. All become a list of `Utterance`s.

Clean-up (ケバ取り) is deliberately rule-based and conservative: a filler is removed only when it
cannot be a real word. Long forms (えー, あのー, えーと, うーん) are never words; short ambiguous
forms (あの, その, まあ, なんか, ええ) are removed only when a pause follows them (「あの、」), because
「あの人」「その件」「なんか問題が」 must survive. Stutters (「これ、これは」「で、で、」) keep the last copy.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, Field

from yakuba.core.errors import InvalidInputError

SourceFormat = Literal["auto", "text", "vtt", "srt"]

MAX_TRANSCRIPT_CHARS = 500_000


class TranscriptError(InvalidInputError, ValueError):
    """A transcript that cannot be read (empty, too long, no cues); the message is shown to staff."""

    code = "invalid_transcript"


class Utterance(BaseModel):
    """One speaker turn (or caption cue before merging); times in seconds when the source has them."""

    speaker: str | None = None
    text: str
    start: float | None = None
    end: float | None = None


class ParsedTranscript(BaseModel):
    format: Literal["text", "vtt", "srt"]
    utterances: list[Utterance]
    metadata: dict[str, str] = Field(
        default_factory=dict,
        description="Header lines such as 会議名：… or 日時：… found at the top of a plain-text transcript.",
    )


# ----------------------------------------------------------------------------- time stamps

_TS = r"(?:(\d{1,2}):)?(\d{1,2}):(\d{2})(?:[.,](\d{1,3}))?"
_CUE_TIMING = re.compile(rf"^\s*{_TS}\s*-->\s*{_TS}")
_LEADING_TS = re.compile(rf"^\s*[\[(（]?\s*{_TS}\s*[\])）]?\s*(?:[-–]\s*)?")
_INLINE_TS = re.compile(rf"[\[(（]\s*{_TS}\s*[\])）]")
_INLINE_TAG = re.compile(r"<[^<>\n]{0,200}>")


def _seconds(h: str | None, m: str, s: str, frac: str | None) -> float:
    value = int(h or 0) * 3600 + int(m) * 60 + int(s)
    if frac:
        value += int(frac.ljust(3, "0")) / 1000
    return round(value, 3)


def format_time(seconds: float | None) -> str:
    if seconds is None:
        return ""
    total = int(seconds)
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


# ----------------------------------------------------------------------------- speakers

_HONORIFIC = re.compile(r"(?:さん|様|さま|君|くん|氏|殿|ちゃん)$")
_SPEAKER_MARK = re.compile(r"^[○◯〇◎◆◇●■□・\-*\s]+")
_WIDE_SPACE = re.compile(r"(?<=[^\x00-\x7f])\s+(?=[^\x00-\x7f])")


def normalize_speaker(name: str | None) -> str | None:
    """NFKC, no brackets or marks, no spaces inside Japanese names, no honorific (さん/様/君/氏/殿).

    「田中 太郎さん」「【田中太郎】」「田中　太郎様」 all become 「田中太郎」, so one person is one speaker.
    Titles (課長, 委員長) are kept: they are how minutes name people.
    """
    if name is None:
        return None
    value = unicodedata.normalize("NFKC", name).strip()
    value = value.strip("【】[]「」『』<>〈〉《》 ")
    if value.startswith(("(", "（")) and value.endswith((")", "）")):
        value = value[1:-1]
    value = _SPEAKER_MARK.sub("", value)
    value = _WIDE_SPACE.sub("", value)
    value = re.sub(r"\s+", " ", value).strip(" :：")
    stripped = _HONORIFIC.sub("", value)
    if stripped and stripped != value and len(stripped) >= 1:
        value = stripped.rstrip()
    return value or None


def _plausible_speaker(label: str) -> bool:
    """A "label: text" prefix names a speaker only if it is short and looks like a name or title."""
    label = label.strip()
    if not label or len(label) > 24:
        return False
    if re.search(r"[。、！？!?「」]", label):
        return False
    if re.fullmatch(r"[\d\s:.,]+", label):  # a clock time 10:30
        return False
    return not re.match(r"(?i)^(https?|ftp|mailto)$", label)


# Header lines of a typed transcript: 会議名：… 日時：… (used as hints, never as speech).
_META_KEYS = {
    "会議名": "meeting_name",
    "件名": "meeting_name",
    "会議": "meeting_name",
    "日時": "date",
    "日付": "date",
    "開催日": "date",
    "開催日時": "date",
    "場所": "place",
    "会場": "place",
    "出席者": "attendees",
    "参加者": "attendees",
    "議題": "agenda",
}


# ----------------------------------------------------------------------------- parsing


def detect_format(text: str) -> Literal["text", "vtt", "srt"]:
    stripped = text.lstrip("\ufeff \n")
    if stripped.startswith("WEBVTT"):
        return "vtt"
    lines = stripped.splitlines()[:50]
    if sum(1 for line in lines if _CUE_TIMING.match(line)) >= 1:
        return "srt"
    return "text"


_VOICE = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]+)>")
_DIALOG_DASH = re.compile(r"^\s*-\s+")
_LABEL = re.compile(r"^([^:：]{1,24}?)\s*[:：]\s*(.*)$")
_BRACKET_LABEL = re.compile(r"^【([^】]{1,24})】\s*(.*)$")


def _split_label(line: str) -> tuple[str | None, str]:
    """("田中", "それでは…") from 「田中：それでは…」「【田中】それでは…」; (None, line) otherwise."""
    match = _BRACKET_LABEL.match(line)
    if match:
        return match.group(1), match.group(2)
    match = _LABEL.match(line)
    if match and _plausible_speaker(match.group(1)) and not match.group(2).startswith("//"):
        return match.group(1), match.group(2)
    return None, line


def _cue_payload(lines: list[str]) -> list[tuple[str | None, str]]:
    """Speaker and text of each line of one cue (a cue may hold two voices)."""
    out: list[tuple[str | None, str]] = []
    for raw in lines:
        speaker: str | None = None
        voice = _VOICE.search(raw)
        if voice:
            speaker = voice.group(1).strip()
        line = html.unescape(_INLINE_TAG.sub("", raw)).replace("\u00a0", " ").strip()
        line = _DIALOG_DASH.sub("", line)
        if speaker is None:
            label, rest = _split_label(line)
            if label is not None:
                speaker, line = label, rest
        if line:
            if out and speaker is None and out[-1][0] is not None:
                speaker = out[-1][0]  # continuation line of the same voice
            out.append((speaker, line))
    return out


def parse_cues(text: str) -> list[Utterance]:
    """WebVTT or SRT cues → utterances (one per cue and voice), NOTE/STYLE/REGION blocks skipped."""
    utterances: list[Utterance] = []
    blocks = re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff"))
    for block in blocks:
        lines = block.split("\n")
        head = lines[0].strip()
        if head.startswith(("WEBVTT", "NOTE", "STYLE", "REGION")):
            continue
        timing_at = next((i for i, line in enumerate(lines[:3]) if _CUE_TIMING.match(line)), None)
        if timing_at is None:
            continue
        match = _CUE_TIMING.match(lines[timing_at])
        assert match is not None
        g = match.groups()
        start, end = _seconds(*g[0:4]), _seconds(*g[4:8])
        for speaker, line in _cue_payload(lines[timing_at + 1 :]):
            utterances.append(Utterance(speaker=speaker, text=line, start=start, end=end))
    return utterances


# 「田中 太郎   0:03」 (Teams transcript saved as text) or 「[田中太郎] 10:01:23」 (Zoom): a speaker line
# whose speech follows on the next lines.
_HEADER_WITH_TIME = re.compile(rf"^\[?([^\]\[:：。、]{{1,24}}?)\]?\s+\(?{_TS}\)?\s*$")
_BARE_LABEL = re.compile(r"^(?:【([^】]{1,24})】|([^:：。、]{1,24}?)\s*[:：])\s*$")


def parse_text(text: str) -> ParsedTranscript:
    """Plain text: 「話者：発言」, 【話者】発言, speaker header lines, or unlabelled paragraphs."""
    utterances: list[Utterance] = []
    metadata: dict[str, str] = {}
    speaker: str | None = None
    pending_start: float | None = None  # time of a speaker header line, given to its first speech line
    seen_speech = False
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff").split("\n"):
        line = unicodedata.normalize("NFKC", raw).strip()
        if not line:
            if speaker is None and utterances:
                utterances.append(Utterance(text=""))  # paragraph break between unlabelled turns
            continue
        start: float | None = None
        header = _HEADER_WITH_TIME.match(line)
        if header and _plausible_speaker(header.group(1)):
            speaker = header.group(1).strip()
            g = header.groups()[1:]
            pending_start = _seconds(*g)
            continue
        ts = _LEADING_TS.match(line)
        if ts and ts.end() < len(line):
            start = _seconds(*ts.groups())
            line = line[ts.end() :]
        bare = _BARE_LABEL.match(line)
        if bare and _plausible_speaker(bare.group(1) or bare.group(2)):
            speaker = (bare.group(1) or bare.group(2)).strip()
            pending_start = start
            continue
        label, rest = _split_label(line)
        if label is not None:
            key = _META_KEYS.get(unicodedata.normalize("NFKC", label).strip())
            if key and not seen_speech:
                metadata[key] = (metadata[key] + "、" + rest) if key in metadata else rest
                continue
            speaker = label
            line = rest
        seen_speech = True
        utterances.append(Utterance(speaker=speaker, text=line, start=start if start is not None else pending_start))
        pending_start = None
    # Unlabelled transcripts: lines of one paragraph form one utterance.
    merged: list[Utterance] = []
    for utt in utterances:
        if merged and utt.speaker is None and merged[-1].speaker is None and utt.text and merged[-1].text:
            merged[-1] = merged[-1].model_copy(update={"text": _join(merged[-1].text, utt.text)})
        elif utt.text or utt.speaker is not None:
            merged.append(utt)
        elif merged and merged[-1].text:
            merged.append(utt)  # keep the paragraph break marker
    return ParsedTranscript(format="text", utterances=[u for u in merged if u.text], metadata=metadata)


def parse_transcript(text: str, source_format: SourceFormat = "auto") -> ParsedTranscript:
    """Parse without cleaning (see `clean_transcript` for both)."""
    if not text or not text.strip():
        raise TranscriptError("文字起こしが空です。", "the transcript is empty", code="empty_transcript")
    if len(text) > MAX_TRANSCRIPT_CHARS:
        raise TranscriptError(
            f"文字起こしが長すぎます（{len(text):,}文字、上限{MAX_TRANSCRIPT_CHARS:,}文字）。分割してください。",
            f"the transcript has {len(text):,} characters; the limit is {MAX_TRANSCRIPT_CHARS:,}",
            code="transcript_too_long",
        )
    fmt = detect_format(text) if source_format == "auto" else source_format
    if fmt == "text":
        return parse_text(text)
    utterances = parse_cues(text)
    if not utterances:
        raise TranscriptError(
            f"{fmt.upper()} 形式として読み取れる字幕がありませんでした。形式の指定を確認してください。",
            f"no cues could be read as {fmt.upper()}",
            code="bad_transcript",
        )
    return ParsedTranscript(format=fmt, utterances=utterances)


# ----------------------------------------------------------------------------- clean-up (ケバ取り)

_PAUSE = r"[、,，\s…‥]"
_HIRA = "ぁ-ゖ"
# What may stand right before a filler: start, punctuation/space, a non-hiragana character, or a
# particle (「予算はえー」). Inside a hiragana word (「へえー」「ねえ」) fillers are not looked for.
_BEFORE = rf"(?:(?<=^)|(?<=[^{_HIRA}])|(?<=[はがをにでともやのか]))"
# Forms that are never words in meeting speech, removed wherever they stand.
_ALWAYS = (
    r"え[ーぇ〜~]*っと|えーと|ええと|えと(?=[、,，\s])|え[ーぇ〜~]+|あ[ーぁ〜~]{1,}|"
    r"あの[ーぉ〜~]+|その[ーぉ〜~]+|この[ーぉ〜~]+|まあ[ーぁ〜~]+|ま[ーぁ〜~]+|"
    r"う[ーぅ〜~]*ん[ーん〜~]+|う[ーぅ〜~]+ん|ん[ーん〜~]+と?|お[ーぉ〜~]{2,}"
)
# Short forms that are also words (あの人, その件, まあまあ, なんか問題): only when a pause follows.
_PAUSED = r"あの|その|まあ|まぁ|ま|なんか|ええ|うん|あ|え|ほら|なんていうか|何ていうか"
_FILLER = re.compile(
    rf"{_BEFORE}(?:(?:{_ALWAYS}|あの|その|まあ|えーと|えっと)(?:ですね|ですけど|ですけれども)(?:{_PAUSE}+|(?=[^{_HIRA}]))"
    rf"|(?:{_ALWAYS})(?:{_PAUSE}+|(?=[^ー〜~])|$)"
    rf"|(?:(?<=^)|(?<=[、,，。！？!?\s「]))(?:{_PAUSED}){_PAUSE}+)"
)
# 「これ、これは」「こ、これは」「で、で、」: a word, a pause, and the same word again.
_STUTTER = re.compile(rf"(?:(?<=^)|(?<=[、,，。！？!?\s「]))([ぁ-ゖァ-ヺー]{{1,6}}|[一-龥々ァ-ヺぁ-ゖー]{{2,8}}){_PAUSE}+(?=\1)")
_NUMERALS = re.compile(r"^[一二三四五六七八九十〇零百千万0-9]+$")
_MULTI_PAUSE = re.compile(r"[、,，]\s*(?:[、,，]\s*)+")
_PAUSE_BEFORE_END = re.compile(r"[、,，]\s*(?=[。！？!?」])")
_LEADING_PAUSE = re.compile(r"^[\s、,，。]+")
_SPACES = re.compile(r"[ \t\u3000]+")


def _drop_stutter(match: re.Match[str]) -> str:
    return match.group(0) if _NUMERALS.match(match.group(1)) else ""


def clean_text(text: str) -> str:
    """ケバ取り of one turn: fillers, stutters, inline time stamps, stray pauses and spaces."""
    value = unicodedata.normalize("NFKC", text)
    value = _INLINE_TS.sub("", value)
    value = _SPACES.sub(" ", value).strip()
    # Whisper writes pauses as spaces between Japanese phrases: treat them as 、 candidates for the
    # filler rules, then drop the leftovers between wide characters.
    for _ in range(3):  # fillers come in runs (「あのー、えー、まあ、」)
        new = _FILLER.sub("", value)
        new = _STUTTER.sub(_drop_stutter, new)
        if new == value:
            break
        value = new
    value = _WIDE_SPACE.sub("", value)
    value = _MULTI_PAUSE.sub("、", value)
    value = _PAUSE_BEFORE_END.sub("", value)
    value = _LEADING_PAUSE.sub("", value)
    value = re.sub(r"([。！？])\s*[、,，]+", r"\1", value)
    value = re.sub(r"。{2,}", "。", value)
    return value.strip()


_POLITE_END = re.compile(r"(?:ます|です|ました|でした|ません|ください|しょう|ますね|ですね|ですよ|ますよ|ございます)$")


def ensure_period(sentence: str) -> str:
    sentence = sentence.strip().rstrip("、,，")
    if sentence and sentence[-1] not in "。！？!?」』）)":
        sentence += "。"
    return sentence


def _join(left: str, right: str) -> str:
    """Join two pieces of one turn; close the first sentence when it ends in a polite predicate."""
    left, right = left.rstrip(), right.lstrip()
    if not left:
        return right
    if not right:
        return left
    if left[-1] in "。！？!?、,，」』":
        return left + right
    if _POLITE_END.search(left):
        return left + "。" + right
    if left[-1].isascii() and right[0].isascii():
        return left + " " + right
    return left + right


def clean_utterances(utterances: Iterable[Utterance], *, merge: bool = True) -> list[Utterance]:
    """Clean each turn, drop empty and repeated cues, normalise speakers, merge consecutive turns.

    Repeated cues: Teams/Zoom sometimes emit the same caption twice, and rolling captions repeat the
    previous cue's text at the start of the next one; both collapse to one.
    """
    out: list[Utterance] = []
    previous_raw: tuple[str | None, str] | None = None
    for utt in utterances:
        speaker = normalize_speaker(utt.speaker)
        text = clean_text(utt.text)
        if not text:
            continue
        if previous_raw and previous_raw[0] == speaker and out:
            last_text = previous_raw[1]
            if text == last_text:
                out[-1] = out[-1].model_copy(update={"end": utt.end if utt.end is not None else out[-1].end})
                continue
            if text.startswith(last_text) and out[-1].text.endswith(last_text):
                text_new = text[len(last_text) :].lstrip("、, ")
                previous_raw = (speaker, text)
                if text_new:
                    out[-1] = out[-1].model_copy(
                        update={"text": _join(out[-1].text, text_new), "end": utt.end or out[-1].end}
                    )
                continue
        previous_raw = (speaker, text)
        if merge and out and out[-1].speaker == speaker and speaker is not None:
            out[-1] = out[-1].model_copy(
                update={"text": _join(out[-1].text, text), "end": utt.end if utt.end is not None else out[-1].end}
            )
        else:
            out.append(Utterance(speaker=speaker, text=text, start=utt.start, end=utt.end))
    for i, utt in enumerate(out):
        out[i] = utt.model_copy(update={"text": ensure_period(utt.text)})
    return out


def clean_transcript(text: str, source_format: SourceFormat = "auto") -> ParsedTranscript:
    """Parse and clean: the utterances the minutes draft works from."""
    parsed = parse_transcript(text, source_format)
    metadata = {k: unicodedata.normalize("NFKC", v).strip() for k, v in parsed.metadata.items()}
    return ParsedTranscript(format=parsed.format, utterances=clean_utterances(parsed.utterances), metadata=metadata)
