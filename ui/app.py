"""Yakuba staff UI (Streamlit): `yakuba ui`, or `streamlit run ui/app.py`.

It talks to the Yakuba API over HTTP only (settings.api_url + settings.api_key, or what is typed
under 接続設定), so it can run on another machine than the API.
"""

from __future__ import annotations

import streamlit as st

from yakuba.ui.client import ApiError
from yakuba.ui.components import ROLE_LABELS, show_error
from yakuba.ui.session import connection, identity, set_connection

st.set_page_config(page_title="Yakuba 役場アシスタント", page_icon=":material/account_balance:", layout="wide")

# Each screen is a module of ui/views/ that renders itself when Streamlit runs it as a page.
PAGES = [
    st.Page("views/chat.py", title="チャット", icon=":material/forum:", url_path="chat", default=True),
    st.Page("views/library.py", title="資料ライブラリ", icon=":material/folder_open:", url_path="library"),
    st.Page("views/minutes.py", title="議事録作成", icon=":material/edit_note:", url_path="minutes"),
    st.Page("views/pr_article.py", title="広報記事作成", icon=":material/campaign:", url_path="pr-article"),
    st.Page("views/survey.py", title="アンケート集計", icon=":material/bar_chart:", url_path="survey"),
    st.Page("views/evals.py", title="評価", icon=":material/monitoring:", url_path="evals"),
]


def _connection_settings(expanded: bool) -> None:
    url, key = connection()
    with st.sidebar.expander("接続設定", expanded=expanded, icon=":material/key:"), st.form("connection"):
        new_url = st.text_input("API の URL", value=url)
        new_key = st.text_input(
            "API キー", value="", type="password", placeholder="変更するときだけ入力", help="管理者から受け取ったキー"
        )
        if st.form_submit_button("接続する"):
            set_connection(new_url, new_key or key)
            st.rerun()


def main() -> None:
    page = st.navigation(PAGES)
    st.sidebar.markdown("### :material/account_balance: Yakuba 役場アシスタント")
    try:
        who = identity()
    except ApiError as exc:
        _connection_settings(expanded=True)
        st.title(page.title)
        show_error(exc)
        st.markdown(
            "- サーバーが起動しているか確認してください（管理者向け: `make run` または `yakuba up`）。\n"
            "- API キーが正しいか確認してください（画面左の「接続設定」）。"
        )
        if st.button("再接続する", icon=":material/refresh:"):
            st.rerun()
        return
    st.sidebar.caption(f"接続中: {ROLE_LABELS.get(who.role, who.role)}（{who.tenant}）")
    page.run()
    _connection_settings(expanded=False)


main()
