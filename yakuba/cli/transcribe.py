"""`yakuba transcribe FILE`: a recording → a draft transcript (text, WebVTT or JSON) to correct by hand."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from yakuba.cli.common import err, fail_error, load_settings

console = Console()


def transcribe_command(
    file: Annotated[Path, typer.Argument(help="音声ファイル（wav / mp3 / m4a / ogg / webm / flac） / audio file")],
    as_json: Annotated[bool, typer.Option("--json", help="最終行に JSON / Transcript JSON on the last line")] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="保存先（.vtt なら WebVTT、.json なら JSON、それ以外はテキスト） / output file"),
    ] = None,
    language: Annotated[str, typer.Option("--language", help="言語コード / language code")] = "ja",
) -> None:
    """音声を文字起こし（下書き：必ず確認・修正してください） / transcribe audio into a draft transcript."""
    from yakuba.assistant.transcribe import TranscriptionError, to_vtt, transcribe

    settings = load_settings()
    progress = Progress(TextColumn("[bold]文字起こし / transcribing"), BarColumn(), TextColumn("{task.fields[at]}"),
                        TimeElapsedColumn(), console=err, transient=True, disable=as_json)
    try:
        with progress:
            task = progress.add_task("", total=None, at="")
            transcript = transcribe(
                file, settings, language=language,
                progress=lambda done, total: progress.update(task, completed=done, total=total,
                                                             at=f"{done:.0f}/{total:.0f} s"),
            )
    except TranscriptionError as exc:
        raise fail_error(exc, code=1) from exc
    if out is not None:
        suffix = out.suffix.lower()
        body = (to_vtt(transcript) if suffix == ".vtt"
                else transcript.model_dump_json(indent=1) if suffix == ".json" else transcript.text + "\n")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(body, encoding="utf-8")
    if as_json:
        sys.stdout.write(transcript.model_dump_json() + "\n")
        return
    if out is None:
        console.print(transcript.text, markup=False, highlight=False)
    speed = transcript.duration_s / max(transcript.timings_ms["transcribe"] / 1000, 1e-3)
    err.print(
        f"[yellow]自動文字起こしの下書きです。固有名詞・数字などを必ず確認・修正してください。[/] / machine draft: "
        f"check names and numbers.\n[dim]{transcript.duration_s:.1f} s の音声, {len(transcript.segments)} 区間, "
        f"{transcript.timings_ms['total'] / 1000:.1f} s（実時間の {speed:.1f} 倍速）"
        + (f" → {out}" if out is not None else "") + "[/]"
    )
