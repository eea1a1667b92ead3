"""Interview flow: a Whisper transcript → 聞き手 / 話し手 lines → PR draft that quotes the 話し手."""

from __future__ import annotations

from yakuba.assistant.drafts.interview import INTERVIEWEE, INTERVIEWER, draft_from_transcript, label_roles
from yakuba.assistant.drafts.pr_article import draft_pr_article
from yakuba.assistant.transcribe import Transcript, TranscriptSegment

# What Whisper returns for an interview: one line per segment, no speakers.
LINES = [
    "今日はよろしくお願いします",
    "リニューアルした図書館の一番の見どころを教えてください",
    "新しく学習室を四十席設けました",
    "中高生が放課後に集まれる場所にしたいと思っています",
    "開館時間はどう変わりますか",
    "午前九時から午後八時までに延長しました",
]


def test_questions_become_the_interviewer_and_answers_the_interviewee() -> None:
    labelled = label_roles("\n".join(LINES))
    assert labelled.splitlines() == [
        f"{INTERVIEWER}：今日はよろしくお願いします。リニューアルした図書館の一番の見どころを教えてください",
        f"{INTERVIEWEE}：新しく学習室を四十席設けました。中高生が放課後に集まれる場所にしたいと思っています",
        f"{INTERVIEWER}：開館時間はどう変わりますか",
        f"{INTERVIEWEE}：午前九時から午後八時までに延長しました",
    ]


def test_a_transcribed_interview_is_drafted_with_its_transcript() -> None:
    transcript = Transcript(
        text="\n".join(LINES),
        segments=[TranscriptSegment(start=i * 3.0, end=i * 3.0 + 2.5, text=line) for i, line in enumerate(LINES)],
        duration_s=18.0, language="ja", model="base",
    )  # fmt: skip
    draft = draft_from_transcript(
        transcript, {"target_chars": 300, "speaker_name": "図書館長の山田さん"}, lambda r: draft_pr_article(r)
    )
    assert draft.transcript == label_roles(transcript.text)
    assert [q.speaker for q in draft.quotes] == ["図書館長の山田さん"]
    assert "図書館長の山田さんは「中高生が放課後に集まれる場所にしたいと思っています」と話しています。" in draft.body
    assert "教えてください" not in draft.markdown and "変わりますか" not in draft.markdown
