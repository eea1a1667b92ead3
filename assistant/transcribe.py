"""Audio → Japanese transcript (Tobetsu's AI文字起こし step) with faster-whisper and Whisper base.

Whisper base on 2 CPU cores is fast enough for meeting recordings but makes mistakes (roughly one
character in five on Japanese; docs/transcription.md), so the result is a draft for staff to correct
before it feeds the minutes draft. Audio is probed and decoded with PyAV (bundled FFmpeg, no system
ffmpeg needed), so bad uploads fail with a clear TranscriptionError before the model is touched.
"""

from __future__ import annotations

import io
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

from yakuba.core.errors import ErrorKind, InvalidInputError
from yakuba.core.settings import Settings

SAMPLE_RATE = 16_000
AUDIO_SUFFIXES = frozenset(
    {".wav", ".mp3", ".m4a", ".mp4", ".aac", ".ogg", ".oga", ".opus", ".webm", ".flac", ".wma"}
)
# A long council session is about three hours; longer files are almost always a mistake, and would
# take over half an hour on 2 cores.
MAX_AUDIO_SECONDS = 3 * 3600.0
MIN_AUDIO_SECONDS = 0.3
Progress = Callable[[float, float], None]


class TranscriptionError(InvalidInputError):
    """Audio that cannot be transcribed. Usually the caller's file (kind invalid, API 400); a missing or
    broken Whisper model is raised with kind unavailable (API 503), keeping the model's code."""

    code = "invalid_audio"


class TranscriptSegment(BaseModel):
    start: float = Field(description="Seconds from the start of the audio.")
    end: float
    text: str


class Transcript(BaseModel):
    """A machine transcript: a draft to correct, one line per segment in `text`."""

    text: str = Field(description="Segment texts joined by line breaks (NFKC), ready for the minutes draft.")
    segments: list[TranscriptSegment]
    duration_s: float = Field(description="Length of the audio in seconds.")
    language: str
    model: str = Field(description="The whisper_model setting that produced it.")
    timings_ms: dict[str, float] = Field(default_factory=dict)


def _source(audio: Path | bytes, filename: str | None) -> tuple[Path | io.BytesIO, str]:
    """Checks what can be checked without decoding; returns something PyAV opens and a display name."""
    if isinstance(audio, bytes | bytearray | memoryview):
        data = bytes(audio)
        name = filename or "audio"
        if not data:
            raise TranscriptionError(f"音声ファイルが空です: {name}", f"empty audio: {name}", code="empty_audio")
        source: Path | io.BytesIO = io.BytesIO(data)
    else:
        path = Path(audio)
        name = filename or path.name
        if not path.is_file():
            raise TranscriptionError(f"音声ファイルが見つかりません: {path}", f"no such file: {path}", code="not_found")
        if path.stat().st_size == 0:
            raise TranscriptionError(f"音声ファイルが空です: {name}", f"empty audio: {name}", code="empty_audio")
        source = path
    suffix = Path(name).suffix.lower()
    if suffix and suffix not in AUDIO_SUFFIXES:
        supported = ", ".join(sorted(s.lstrip(".") for s in AUDIO_SUFFIXES))
        raise TranscriptionError(
            f"音声ファイルではありません（{suffix}）。対応形式: {supported}",
            f"unsupported file type {suffix}; supported: {supported}",
            code="unsupported_format",
        )
    return source, name


def _not_audio(name: str, detail: object) -> TranscriptionError:
    return TranscriptionError(
        f"音声として読み込めませんでした: {name}（wav / mp3 / m4a などの音声ファイルを指定してください）",
        f"cannot decode {name} as audio: {detail}",
        code="not_audio",
    )


def _probe_seconds(source: Path | io.BytesIO, name: str, max_seconds: float) -> float | None:
    """Container duration, read before decoding so that a 10-hour file is refused at once."""
    import av

    try:
        with av.open(source if isinstance(source, io.BytesIO) else str(source), mode="r",
                     metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise _not_audio(name, "no audio stream")
            seconds = container.duration / av.time_base if container.duration else None
    except av.FFmpegError as exc:
        raise _not_audio(name, exc) from exc
    finally:
        if isinstance(source, io.BytesIO):
            source.seek(0)
    if seconds is not None and seconds > max_seconds:
        raise _too_long(seconds, max_seconds)
    return seconds


def _too_long(seconds: float, max_seconds: float) -> TranscriptionError:
    return TranscriptionError(
        f"音声が長すぎます（{seconds / 60:.0f} 分）。{max_seconds / 60:.0f} 分以内に分けてください。",
        f"audio is {seconds:.0f} s long; the limit is {max_seconds:.0f} s",
        code="too_long",
    )


def decode(audio: Path | bytes, *, filename: str | None = None, max_seconds: float = MAX_AUDIO_SECONDS):
    """16 kHz mono float32 samples of any audio PyAV reads (wav, mp3, m4a, ogg, webm, flac…)."""
    from faster_whisper import decode_audio

    source, name = _source(audio, filename)
    _probe_seconds(source, name, max_seconds)
    try:
        samples = decode_audio(source if isinstance(source, io.BytesIO) else str(source), SAMPLE_RATE)
    except Exception as exc:  # noqa: BLE001 - PyAV raises many kinds (FFmpegError, ValueError, IndexError)
        raise _not_audio(name, exc) from exc
    seconds = len(samples) / SAMPLE_RATE
    if seconds > max_seconds:  # containers without a duration (browser webm) are checked here
        raise _too_long(seconds, max_seconds)
    if seconds < MIN_AUDIO_SECONDS:
        raise TranscriptionError(
            f"音声が短すぎるか、音が入っていません（{seconds:.2f} 秒）: {name}",
            f"audio too short ({seconds:.2f} s): {name}",
            code="too_short",
        )
    return samples


def _check_language(language: str | None) -> None:
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    if language is not None and language not in _LANGUAGE_CODES:
        raise TranscriptionError(
            f"言語コードが正しくありません: {language!r}（日本語は ja）",
            f"unknown language code {language!r} (Japanese is 'ja')",
            code="bad_language",
        )


def clean_text(text: str) -> str:
    """NFKC (full-width digits/letters → half-width, like the rest of Yakuba) and trimmed spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def transcribe(
    audio: Path | bytes,
    settings: Settings,
    *,
    filename: str | None = None,
    language: str | None = "ja",
    max_seconds: float = MAX_AUDIO_SECONDS,
    beam_size: int = 5,
    progress: Progress | None = None,
) -> Transcript:
    """Transcribe one recording. `filename` names uploaded bytes (its extension is checked).

    Silence is skipped by the Silero VAD, and each segment is decoded without the previous text as
    prompt: with a small model that conditioning mostly spreads one mistake into endless repeats.
    """
    from yakuba.models.whisper import WhisperModelError, load_whisper

    total_start = time.perf_counter()
    _check_language(language)
    samples = decode(audio, filename=filename, max_seconds=max_seconds)
    duration = len(samples) / SAMPLE_RATE
    decoded = time.perf_counter()
    try:
        model = load_whisper(settings)
    except WhisperModelError as exc:
        raise TranscriptionError(
            exc.message_ja, exc.message_en, code=exc.code, kind=ErrorKind.UNAVAILABLE
        ) from exc
    loaded = time.perf_counter()
    pieces, _info = model.transcribe(
        samples,
        language=language,
        beam_size=beam_size,
        vad_filter=True,
        condition_on_previous_text=False,
    )
    segments: list[TranscriptSegment] = []
    for piece in pieces:  # a generator: the model runs while we iterate
        text = clean_text(piece.text)
        if text:
            segments.append(TranscriptSegment(start=round(piece.start, 2), end=round(piece.end, 2), text=text))
        if progress is not None:
            progress(min(piece.end, duration), duration)
    done = time.perf_counter()
    if not segments:
        raise TranscriptionError(
            "音声から発話を検出できませんでした。録音に声が入っているか確認してください。",
            "no speech detected in the audio",
            code="no_speech",
        )
    return Transcript(
        text="\n".join(segment.text for segment in segments),
        segments=segments,
        duration_s=round(duration, 3),
        language=language or _info.language,
        model=settings.whisper_model,
        timings_ms={
            "decode": round((decoded - total_start) * 1000, 1),
            "load_model": round((loaded - decoded) * 1000, 1),
            "transcribe": round((done - loaded) * 1000, 1),
            "total": round((done - total_start) * 1000, 1),
        },
    )


def _vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def to_vtt(transcript: Transcript) -> str:
    """WebVTT (as Teams/Zoom export it), so the minutes draft can keep each line's time."""
    cues = [
        f"{n}\n{_vtt_time(s.start)} --> {_vtt_time(max(s.end, s.start))}\n{s.text}"
        for n, s in enumerate(transcript.segments, 1)
    ]
    return "WEBVTT\n\n" + "\n\n".join(cues) + ("\n" if cues else "")


def _comparable(text: str) -> str:
    """What CER compares: NFKC characters without spaces and punctuation (Whisper's are arbitrary)."""
    return "".join(
        ch for ch in unicodedata.normalize("NFKC", text)
        if not ch.isspace() and not unicodedata.category(ch).startswith("P")
    )


def character_error_rate(reference: str, hypothesis: str) -> float:
    """Levenshtein distance over the reference length, on characters (how Japanese ASR is scored)."""
    ref, hyp = _comparable(reference), _comparable(hypothesis)
    if not ref:
        raise ValueError("reference text is empty after normalisation")
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1] / len(ref)
