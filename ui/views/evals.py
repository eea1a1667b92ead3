"""評価: benchmark reports (answer quality, retrieval) as tables and charts, read from the API."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from yakuba.ui.client import ApiError
from yakuba.ui.components import show_error
from yakuba.ui.session import client, known_identity

METRIC_LABELS = {
    "answer_contains": "正解を含む",
    "char_f1": "文字 F1",
    "citation_precision": "引用の適合率",
    "citation_recall": "引用の再現率",
    "groundedness": "根拠への忠実さ",
    "abstention_accuracy": "回答保留の正しさ",
    "ndcg@10": "nDCG@10",
    "recall@10": "Recall@10",
    "mrr@10": "MRR@10",
    "hit@1": "Hit@1",
}
LATENCY_LABELS = {
    "ttft_p50_ms": "最初の文字まで p50 (ms)",
    "ttft_p95_ms": "最初の文字まで p95 (ms)",
    "total_p50_ms": "回答完了まで p50 (ms)",
    "total_p95_ms": "回答完了まで p95 (ms)",
}
RUN_HINT = (
    "評価の実行は時間がかかるため、管理者がコマンドで行います（例: "
    "`yakuba eval answers データセットのフォルダ --report $YAKUBA_HOME/reports/名前`）。"
    "実行後、ここに結果が表示されます。"
)


def _label(metric: str) -> str:
    return METRIC_LABELS.get(metric) or LATENCY_LABELS.get(metric) or metric


def _aggregate(report: dict[str, Any]) -> None:
    aggregate: dict[str, Any] = report.get("aggregate") or {}
    counts: dict[str, int] = report.get("counts") or {}
    quality = {k: v for k, v in aggregate.items() if not k.endswith("_ms") and isinstance(v, int | float)}
    latency = {k: v for k, v in aggregate.items() if k.endswith("_ms") and isinstance(v, int | float)}
    left, right = st.columns(2)
    with left:
        st.markdown("**回答・検索の品質**（1 に近いほど良い）")
        if quality:
            frame = pd.DataFrame(
                {
                    "指標": [_label(k) for k in quality],
                    "値": [round(float(v), 3) for v in quality.values()],
                    "対象の質問数": [counts.get(k) for k in quality],
                }
            )
            st.dataframe(frame, hide_index=True, width="stretch")
            st.bar_chart(frame, x="指標", y="値", horizontal=True, height=260)
        else:
            st.caption("品質の指標はありません。")
    with right:
        st.markdown("**応答時間**")
        if latency:
            frame = pd.DataFrame(
                {"指標": [_label(k) for k in latency], "ミリ秒": [round(float(v)) for v in latency.values()]}
            )
            st.dataframe(frame, hide_index=True, width="stretch")
            st.bar_chart(frame, x="指標", y="ミリ秒", horizontal=True, height=260)
        else:
            st.caption("応答時間の記録はありません。")


def _questions(report: dict[str, Any]) -> None:
    questions: list[dict[str, Any]] = report.get("questions") or []
    if not questions:
        return
    st.subheader("質問ごとの結果")
    metric_names = sorted({name for q in questions for name in (q.get("scores") or {})})
    rows = []
    for q in questions:
        row: dict[str, Any] = {
            "ID": q.get("id"),
            "質問": q.get("question"),
            "回答": q.get("answer"),
            "回答保留": bool(q.get("abstained")),
            "保留すべき": bool(q.get("should_abstain")),
            "グループ": q.get("group"),
        }
        for name in metric_names:
            row[_label(name)] = (q.get("scores") or {}).get(name)
        row["回答時間 (ms)"] = q.get("total_ms")
        row["エラー"] = q.get("error") or ""
        rows.append(row)
    frame = pd.DataFrame(rows)
    st.dataframe(frame, hide_index=True, width="stretch", height=360)
    timed = frame.dropna(subset=["回答時間 (ms)"]) if "回答時間 (ms)" in frame else frame.iloc[0:0]
    if not timed.empty:
        st.markdown("**質問ごとの回答時間 (ms)**")
        st.bar_chart(timed, x="ID", y="回答時間 (ms)", height=240)
    groups = frame.groupby("グループ")[[_label(n) for n in metric_names]].mean(numeric_only=True)
    if len(groups) > 1:
        st.markdown("**グループ別の平均**")
        st.dataframe(groups.round(3), width="stretch")


def _overview(report: dict[str, Any]) -> None:
    config = report.get("config") or {}
    facts = {
        "データセット": report.get("dataset"),
        "作成日時": (report.get("created_at") or "").replace("T", " ")[:16],
        "回答エンジン": config.get("engine"),
        "検索方式": config.get("mode"),
    }
    st.markdown(" ｜ ".join(f"**{k}**: {v}" for k, v in facts.items() if v not in (None, "")))
    counts = {"質問数": report.get("n_questions"), "回答不能な質問": report.get("n_unanswerable"),
              "エラー": report.get("n_errors")}  # fmt: skip
    shown = {k: v for k, v in counts.items() if v is not None}
    if shown:
        for column, (label, value) in zip(st.columns(len(shown) + 1), shown.items(), strict=False):
            column.metric(label, value)
    for warning in report.get("warnings") or []:
        st.warning(str(warning))


def render() -> None:
    st.title("評価")
    st.caption("回答の品質（正確さ・出典・回答保留）と検索の品質、応答時間のベンチマーク結果を表示します。")
    identity = known_identity()
    if identity is not None and identity.role not in ("evaluator", "admin"):
        st.info(
            "評価結果は「評価担当」または「管理者」の権限で閲覧できます。"
            "閲覧が必要な場合は、管理者にキーの権限を確認してください。",
            icon=":material/lock:",
        )
        return
    try:
        reports = client().list_reports()
    except ApiError as exc:
        show_error(exc, context="評価結果の一覧を取得できませんでした")
        return
    if not reports:
        st.info("まだ評価結果がありません。" + RUN_HINT)
        return
    reports = sorted(reports, key=lambda r: r.modified or "", reverse=True)
    by_name = {r.name: r for r in reports}
    name = st.selectbox(
        "評価結果",
        options=list(by_name),
        format_func=lambda n: f"{n}（{(by_name[n].modified or '').replace('T', ' ')[:16]}）",
        key="report-choice",
    )
    st.caption(RUN_HINT)
    try:
        detail = client().get_report(name)
    except ApiError as exc:
        show_error(exc, context="評価結果を読み込めませんでした")
        return
    report = detail.get("report")
    if not isinstance(report, dict):
        st.warning("この評価結果には report.json がないため、表示できません。")
        return
    _overview(report)
    _aggregate(report)
    _questions(report)
    _report_files(name, detail.get("files") or [])


def _report_files(name: str, files: list[str]) -> None:
    """The report's own plots and its HTML version, as `yakuba eval` wrote them."""
    plots = [f for f in files if f.lower().endswith(".png")]
    html = [f for f in files if f.lower().endswith(".html")]
    if not plots and not html:
        return
    with st.expander("レポートの図とファイル", icon=":material/image:"):
        for filename in plots:
            try:
                st.image(client().report_file(name, filename), caption=filename)
            except ApiError as exc:
                show_error(exc, context=f"{filename} を読み込めませんでした")
        for filename in html:
            try:
                data = client().report_file(name, filename)
            except ApiError as exc:
                show_error(exc, context=f"{filename} を読み込めませんでした")
                continue
            st.download_button(f"{filename} をダウンロード", data=data, file_name=f"{name}-{filename}", mime="text/html")


if __name__ == "__main__":  # run as a page by ui/app.py
    render()
