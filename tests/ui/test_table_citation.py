"""A cited table is shown as a table (issue #15): a real upload with an HTML table through the real API,
a question on the chat screen (AppTest), and the source card's passage rendered as a Markdown table."""

from __future__ import annotations

from tests.ui import test_app as shared
from tests.ui.test_app import SCREENS, _key, _screen
from yakuba.ui.client import Citation, YakubaClient
from yakuba.ui.components import table_markdown

home = shared.home  # the real API under uvicorn over an extractive home, as in test_app.py
api = shared.api

STAFF_PAGE = (
    "<html><body><h2>職員数の推移</h2><table>"
    "<tr><th>区分</th><th>令和5年</th><th>令和6年</th></tr>"
    "<tr><td>一般行政</td><td>120人</td><td>118人</td></tr>"
    "<tr><td>教育</td><td>35人</td><td>36人</td></tr>"
    "</table></body></html>"
)


def test_table_markdown_escapes_cells_but_keeps_the_table() -> None:
    excerpt = "(単位:千円)\n| 款 | 金額 |\n|---|---|\n| 1.市税 | 6,538,777 |\n| [x](y) | ** |"
    rendered = table_markdown(excerpt).split("\n")
    assert rendered[0] == r"\(単位:千円\)" and rendered[1] == ""
    assert rendered[2:] == [
        "| 款 | 金額 |",
        "|---|---|",
        r"| 1\.市税 | 6,538,777 |",
        r"| \[x\]\(y\) | \*\* |",
    ]


def test_cited_table_is_shown_as_a_table(api) -> None:  # type: ignore[no-untyped-def]
    url, app = api
    key = _key(app, "staff", tenant="tabletown")
    with YakubaClient(url, key) as client:
        client.upload_documents([("職員数.html", STAFF_PAGE.encode())])
    at = _screen(SCREENS[0], url=url, key=key)
    at.chat_input[0].set_value("令和6年の教育の職員数は何人ですか").run()
    assert not at.exception, [e.message for e in at.exception]
    answer = at.session_state["chat_messages"][-1]["answer"]
    assert "36人" in answer["answer"]
    cited = [Citation.model_validate(c) for c in answer["sources"] + answer["citations"]]
    assert answer["citations"] and all(Citation.model_validate(c).table == 1 for c in answer["citations"])
    tables = [c for c in cited if c.table_markdown]
    assert tables and all("| 教育 | 35人 | 36人 |" in (c.table_markdown or "") for c in tables)
    shown = "\n".join(str(m.value) for m in at.markdown)
    assert "| 区分 | 令和5年 | 令和6年 |" in shown and "| 教育 | 35人 | 36人 |" in shown
