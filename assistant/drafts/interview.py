"""Interview recording → transcript with 聞き手 / 話し手 roles → PR article draft.

This is the 広報 section's flow: a recorded interview is transcribed by Whisper (assistant/transcribe.py),
shown to the officer with each line marked 聞き手 (questions) or 話し手 (answers) so that wrong roles can
be fixed by hand, and drafted by draft_pr_article, which quotes the 話し手 and leaves the questions out.
Whisper does not tell voices apart, so roles come from the words: a line that asks (「…ですか」
「教えてください」) is the interviewer's. Long recordings report progress while Whisper runs.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

from yakuba.assistant.drafts.minutes import punctuate
from yakuba.assistant.drafts.pr_article import _QUESTION, MAX_NOTES_CHARS, PRArticleDraft, PRArticleRequest
from yakuba.assistant.transcribe import Transcript, transcribe
from yakuba.core.errors import InvalidInputError, YakubaError
from yakuba.core.settings import Settings
from yakuba.core.text import split_sentences

INTERVIEWER, INTERVIEWEE = "聞き手", "話し手"
Drafter = Callable[[PRArticleRequest], PRArticleDraft]


def label_roles(text: str) -> str:
    """One 「聞き手：…」 or 「話し手：…」 line per turn; consecutive lines of one role are joined."""
    turns: list[tuple[str, str]] = []
    for line in text.splitlines():
        line = punctuate(line.strip())  # Whisper's pauses: 。 after a polite predicate, 、 elsewhere
        if not line:
            continue
        sentences = split_sentences(line) or [line]
        asking = sum(1 for s in sentences if _QUESTION.search(s)) * 2 >= len(sentences)
        role = INTERVIEWER if asking else INTERVIEWEE
        if turns and turns[-1][0] == role:
            turns[-1] = (role, turns[-1][1] + ("" if turns[-1][1].endswith(("。", "？", "?")) else "。") + line)
        else:
            turns.append((role, line))
    return "\n".join(f"{role}：{said}" for role, said in turns)


def draft_from_transcript(transcript: Transcript, fields: dict[str, Any], drafter: Drafter) -> PRArticleDraft:
    """The draft of a transcribed interview, with the role-labelled transcript it was made from."""
    labelled = label_roles(transcript.text)
    if len(labelled) > MAX_NOTES_CHARS:
        raise InvalidInputError(
            f"文字起こしが長すぎて記事の下書きにできません（{len(labelled):,}文字、上限{MAX_NOTES_CHARS:,}文字）。"
            "録音を分けるか、文字起こしを短くしてから作成してください。",
            f"transcript of {len(labelled)} characters is over the {MAX_NOTES_CHARS} the PR drafter takes",
            code="transcript_too_long",
        )
    request = PRArticleRequest.model_validate({**fields, "notes": labelled})
    return drafter(request).model_copy(update={"transcript": labelled})


def interview_events(
    audio: bytes, filename: str | None, fields: dict[str, Any], settings: Settings, drafter: Drafter
) -> Iterator[dict[str, Any]]:
    """Progress, then the transcript, then the draft, as events for a streamed response (NDJSON).

    Whisper runs in a worker thread; its progress callback feeds a queue that this generator drains,
    so a client sees `{"event": "progress", "done_s": …, "total_s": …}` while a long recording is
    transcribed. A failure ends the stream with `{"event": "error", …}` in the API's error shape.
    """
    events: queue.Queue[tuple[str, Any]] = queue.Queue()

    def work() -> None:
        try:
            result = transcribe(
                audio, settings, filename=filename,
                progress=lambda done, total: events.put(("progress", (done, total))),
            )  # fmt: skip
            events.put(("transcript", result))
        except Exception as exc:  # noqa: BLE001 - reported to the client as an error event
            events.put(("error", exc))

    threading.Thread(target=work, name="interview-transcribe", daemon=True).start()
    while True:
        kind, value = events.get()
        if kind == "progress":
            done, total = value
            yield {"event": "progress", "done_s": round(done, 1), "total_s": round(total, 1)}
            continue
        if kind == "error":
            yield error_event(value)
            return
        transcript: Transcript = value
        yield {"event": "transcript", "text": label_roles(transcript.text), "duration_s": transcript.duration_s}
        try:
            draft = draft_from_transcript(transcript, fields, drafter)
        except Exception as exc:  # noqa: BLE001 - reported to the client as an error event
            yield error_event(exc)
            return
        yield {"event": "draft", "draft": draft.model_dump(mode="json")}
        return


def error_event(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, YakubaError):
        return {"event": "error", "code": exc.code, "message": exc.message_ja, "kind": str(exc.kind)}
    return {"event": "error", "code": "internal_error", "message": f"下書きを作成できませんでした（{type(exc).__name__}）。"}
