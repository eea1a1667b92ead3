"""広報記事作成: accepting corpus suggestions edits the draft the way an officer would by hand."""

from __future__ import annotations

from tests.assistant.test_drafts_pr import CONTACT, NOTES, corpus_search
from yakuba.assistant.drafts.pr_article import PRArticleRequest, draft_pr_article
from yakuba.ui.views.pr_article import apply_suggestions


def test_accepted_suggestions_go_before_the_facts_list_with_their_source() -> None:
    draft = draft_pr_article(PRArticleRequest(notes=NOTES, target_chars=500, contact=CONTACT), search=corpus_search)
    chosen = [s.model_dump() for s in draft.suggestions[:1]]
    assert chosen, "the fixture corpus has a related sentence"
    edited = apply_suggestions(draft.markdown, chosen)
    sentence = chosen[0]["text"][:-1] + f"[{chosen[0]['n']}]。"
    assert sentence in edited and sentence not in draft.markdown
    body, contact = edited.split("## 問い合わせ先")
    assert body.index(sentence) < body.index("- 日時：")  # the facts list stays last in the body
    assert f"- [{chosen[0]['n']}] {chosen[0]['label']}" in contact.split("## 関連資料")[1]
    assert CONTACT in contact
    assert apply_suggestions(draft.markdown, []) == draft.markdown
    assert apply_suggestions(edited, chosen).count(f"- [{chosen[0]['n']}]") == 1  # a source is listed once


def test_ticked_suggestions_are_added_on_the_screen() -> None:
    """The 追加候補 checkboxes and button (Streamlit AppTest; the draft is put in the session as the API
    returned it, so no server is needed for this part of the screen)."""
    import pytest

    pytest.importorskip("streamlit.testing.v1")
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    draft = draft_pr_article(PRArticleRequest(notes=NOTES, target_chars=500, contact=CONTACT), search=corpus_search)
    result = draft.model_dump(mode="json")
    app = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "ui" / "views" / "pr_article.py"), default_timeout=60)
    app.session_state["pr_result"] = result
    app.session_state["pr_draft"] = result["markdown"]
    app.session_state["pr_draft_title"] = result["headline"]
    app.run()
    assert not app.exception, [e.message for e in app.exception]
    assert "資料からの追加候補" in "".join(m.value for m in app.markdown)
    app.checkbox(key="pr_suggest_0").check().run()
    next(b for b in app.button if b.label == "選んだ候補を本文に追加").click().run()
    assert not app.exception, [e.message for e in app.exception]
    edited = app.text_area(key="pr_draft").value
    first = result["suggestions"][0]
    assert first["text"][:-1] + f"[{first['n']}]。" in edited and f"- [{first['n']}] {first['label']}" in edited
    assert not app.checkbox(key="pr_suggest_0").value  # ready for the next pick
