"""アンケート集計: upload a survey, check the column kinds, choose attributes, read tables, charts and
free-text themes, download the まとめ資料 (.docx / .xlsx). Everything goes through the API."""

from __future__ import annotations

import base64
from typing import Any

import streamlit as st

from yakuba.ui.client import ApiError
from yakuba.ui.components import show_error
from yakuba.ui.session import client

RESULT = "survey_result"
FILE = "survey_file"
DOWNLOADS = "survey_downloads"
KIND_LABELS = {"id": "ID", "timestamp": "回答日時", "attribute": "属性", "single": "単一回答", "multiple": "複数回答",
               "scale": "順序尺度", "score": "0〜10点（NPS）", "number": "数値", "text": "自由記述", "empty": "空欄"}
KIND_BY_LABEL = {label: kind for kind, label in KIND_LABELS.items()}
CROSS_BY = {"attribute", "single", "scale"}


def _rows(spec: str) -> list[int]:
    rows: list[int] = []
    for part in spec.replace("、", ",").split(","):
        part = part.strip()
        if "-" in part:
            first, _, last = part.partition("-")
            if first.strip().isdigit() and last.strip().isdigit():
                rows.extend(range(int(first), int(last) + 1))
        elif part.isdigit():
            rows.append(int(part))
    return rows


def _run(options: dict[str, Any]) -> None:
    name, content = st.session_state[FILE]
    with st.spinner("集計しています…（数千件の自由記述で数十秒かかります）"):
        try:
            st.session_state[RESULT] = client().analyze_survey(name, content, options=options)
            st.session_state[DOWNLOADS] = {}
        except ApiError as exc:
            st.session_state[RESULT] = {"error": exc}


def _options_form(previous: dict[str, Any] | None) -> dict[str, Any]:
    settings = dict((previous or {}).get("analysis", {}).get("settings", {}))
    columns = (previous or {}).get("analysis", {}).get("columns", [])
    col1, col2 = st.columns(2)
    sheet = col1.text_input("Excel のシート名（複数シートのとき）", value=settings.get("sheet") or "")
    excluded = col2.text_input("除外する行（例: 1-3）", value=",".join(map(str, settings.get("exclude_rows", []))),
                               help="データの1行目を 1 と数えます。テスト回答などを除きます。")
    options: dict[str, Any] = {"sheet": sheet or None, "exclude_rows": _rows(excluded)}
    if columns:
        st.markdown("#### 列の種類（必要なら修正してください）")
        table = [{"列": c["name"], "種類": KIND_LABELS.get(c["kind"], c["kind"]), "回答数": c["answered"],
                  "選択肢・回答例": "、".join((c.get("options") or c.get("examples") or [])[:6])} for c in columns]
        edited = st.data_editor(
            table, key="survey_kinds", hide_index=True, use_container_width=True, disabled=["列", "回答数", "選択肢・回答例"],
            column_config={"種類": st.column_config.SelectboxColumn("種類", options=list(KIND_LABELS.values()))},
        )
        kinds = {row["列"]: KIND_BY_LABEL[row["種類"]] for row, c in zip(edited, columns, strict=True)
                 if KIND_BY_LABEL.get(row["種類"]) and KIND_BY_LABEL[row["種類"]] != c["detected"]}
        options["kinds"] = kinds
        choices = [c["name"] for c in columns if c["kind"] in CROSS_BY]
        options["by"] = st.multiselect("クロス集計する属性", choices, default=[b for b in settings.get("by", []) if b in choices])
    return options


def _show_tables(result: dict[str, Any]) -> None:
    analysis = result["analysis"]
    charts = {q: c for c in result.get("charts", []) for q in c["questions"]}
    shown: set[str] = set()
    for table in analysis["tables"]:
        if not table["rows"] and not table.get("summary"):
            continue
        with st.expander(f"{table['question']}（n={table['n']}、無回答={table['no_answer']}）"):
            chart = charts.get(table["question"])
            if chart and chart["key"] not in shown:
                st.image(base64.b64decode(chart["png_base64"]), caption=chart["title"])
                shown.add(chart["key"])
            if table["rows"]:
                st.dataframe([{"選択肢": r["label"], "人数": r["count"], "%": r["pct"]} for r in table["rows"]],
                             hide_index=True, use_container_width=True)
            if table.get("nps"):
                st.markdown(f"**NPS {table['nps']['nps']}**（推奨者 {table['nps']['promoters']}、批判者 {table['nps']['detractors']}）")


def _show_crosses(analysis: dict[str, Any]) -> None:
    if not analysis["crosses"]:
        st.info("クロス集計する属性を選んで「集計する」を押してください。")
    for cross in analysis["crosses"]:
        p = cross.get("p_value")
        head = f"{cross['question']} × {cross['by']}" + (f"（p = {p:.3g}）" if p is not None else "")
        with st.expander(head):
            rows = []
            for group, n, cells in zip(cross["groups"], cross["group_n"], cross["cells"], strict=True):
                row = {cross["by"]: group, "n": n}
                for option, cell in zip(cross["options"], cells, strict=True):
                    mark = "▲" if cell["flag"] == "high" else "▽" if cell["flag"] == "low" else ""
                    row[option] = f"{cell['pct']}{mark}"
                rows.append(row)
            st.dataframe(rows, hide_index=True, use_container_width=True)
            st.caption("行%。▲/▽: 調整済み残差 ±1.96 を超えるセル" + (f"。{cross['note']}" if cross.get("note") else ""))


def _show_themes(result: dict[str, Any]) -> None:
    analysis = result["analysis"]
    if not analysis["themes"]:
        st.info("自由記述の列がありません。")
    charts = {c["questions"][0]: c for c in result.get("charts", []) if c["key"].endswith("_themes")}
    for theme_set in analysis["themes"]:
        st.markdown(f"#### {theme_set['question']}")
        st.caption(f"回答 {theme_set['answers']}件（「特になし」等 {theme_set['nothing']}件）")
        if theme_set["question"] in charts:
            st.image(base64.b64decode(charts[theme_set["question"]]["png_base64"]))
        for theme in theme_set["themes"]:
            with st.expander(f"{theme['label']}（{theme['count']}件、{theme['share']}%）"):
                st.caption("キーワード: " + "、".join(theme["keywords"]))
                for quote in theme["quotes"]:
                    st.markdown(f"> {quote['text']}（行 {quote['row_id']}）")


def _downloads(options: dict[str, Any]) -> None:
    downloads: dict[str, bytes] = st.session_state.setdefault(DOWNLOADS, {})
    if st.button("まとめ資料（Word・Excel）を作成", icon=":material/description:"):
        name, content = st.session_state[FILE]
        with st.spinner("まとめ資料を作成しています…"):
            try:
                for fmt in ("docx", "xlsx"):
                    downloads[fmt] = client().analyze_survey(name, content, options=options, format=fmt)
            except ApiError as exc:
                show_error(exc)
    col1, col2 = st.columns(2)
    if "docx" in downloads:
        col1.download_button("Word（.docx）をダウンロード", downloads["docx"], file_name="アンケート集計.docx")
    if "xlsx" in downloads:
        col2.download_button("Excel（.xlsx）をダウンロード", downloads["xlsx"], file_name="アンケート集計.xlsx")


def render() -> None:
    st.title("アンケート集計")
    st.caption("CSV（UTF-8・Shift_JIS・EUC-JP）か Excel を読み込み、設問ごとの集計・クロス集計・自由記述のテーマを作ります。"
               "数値はすべてプログラムが回答から計算します。")
    uploaded = st.file_uploader("アンケートのファイル", type=["csv", "xlsx", "txt"], key="survey_upload")
    if uploaded is not None and st.session_state.get(FILE, ("",))[0] != uploaded.name:
        st.session_state[FILE] = (uploaded.name, uploaded.getvalue())
        st.session_state.pop(RESULT, None)
    if FILE not in st.session_state:
        return
    if uploaded is None:  # the uploader forgets its file when staff visit another page: keep the last one
        st.caption(f"ファイル: {st.session_state[FILE][0]}")
    result = st.session_state.get(RESULT)
    previous = result if isinstance(result, dict) and "analysis" in result else None
    options = _options_form(previous)
    if st.button("集計する", type="primary", icon=":material/bar_chart:"):
        _run(options)
        st.rerun()
    if result is None:
        return
    if "error" in result:
        show_error(result["error"])
        return
    analysis = result["analysis"]
    o = analysis["overview"]
    st.success(f"回答者 {o['respondents']}人、{o['columns']}列" + (f"、期間 {o['period'][0]}〜{o['period'][1]}" if o.get("period") else ""))
    for warning in analysis.get("warnings", []):
        st.warning(warning.split(" / ")[0])
    tabs = st.tabs(["主な結果", "集計表・グラフ", "クロス集計", "自由記述のテーマ"])
    with tabs[0]:
        for sentence in analysis["findings"]:
            st.markdown(f"- {sentence}")
    with tabs[1]:
        _show_tables(result)
    with tabs[2]:
        _show_crosses(analysis)
    with tabs[3]:
        _show_themes(result)
    _downloads(options)


render()
