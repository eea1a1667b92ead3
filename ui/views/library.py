"""資料ライブラリ: upload documents (several at once), see what is registered, delete with confirmation."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import streamlit as st

from yakuba.ui.client import ApiError, DocumentInfo, UploadResult
from yakuba.ui.components import escape_md, show_error
from yakuba.ui.session import client, known_identity, settings

_RESULTS = "upload_results"
_UPLOADER_GENERATION = "uploader_generation"
_PENDING_DELETE = "pending_delete"
_DELETED = "deleted_message"

_STATUS_LABELS = {"added": "登録しました", "updated": "更新しました", "unchanged": "登録済みです（変更なし）"}
ACCEPTED_HINT = "PDF・Word (.docx)・テキスト (.txt/.md)・HTML・JSONL に対応しています。"


def _can_write() -> bool:
    identity = known_identity()
    return identity is None or identity.role in ("staff", "admin")


def _upload(files: list[Any]) -> list[UploadResult]:
    """One request per file so the progress bar moves and one bad file never hides the others."""
    results: list[UploadResult] = []
    bar = st.progress(0.0, text="登録を開始します…")
    for index, uploaded in enumerate(files):
        bar.progress(
            index / len(files), text=f"「{uploaded.name}」を登録しています…（{index + 1}/{len(files)}）"
        )
        try:
            results.extend(client().upload_documents([(uploaded.name, uploaded.getvalue())]))
        except ApiError as exc:
            results.append(
                UploadResult(filename=uploaded.name, status="failed", error_code=exc.code, message=exc.message)
            )
    bar.progress(1.0, text="登録が終わりました。")
    return results


def _show_results(results: list[UploadResult]) -> None:
    ok = [r for r in results if r.ok]
    failed = [r for r in results if not r.ok]
    if ok:
        st.success(f"{len(ok)} 件の資料を登録しました。", icon=":material/check_circle:")
    if failed:
        st.error(f"{len(failed)} 件の資料を登録できませんでした。理由を確認してください。", icon=":material/error:")
    for result in results:
        with st.container(border=True):
            if result.ok:
                st.markdown(f":material/check_circle: **{escape_md(result.filename)}** — {_STATUS_LABELS.get(result.status, '登録しました')}")
                for document in result.documents:
                    details = [d for d in (document.doc_type, f"{document.pages} ページ" if document.pages else "") if d]
                    details.append(f"{document.chunks} 区画")
                    st.caption(f"「{escape_md(document.title)}」（{'・'.join(details)}）")
                    for warning in document.warnings:
                        st.caption(f"注意: {escape_md(warning)}")
            else:
                st.markdown(f":material/cancel: **{escape_md(result.filename)}** — 登録できませんでした")
                st.caption(escape_md(result.message or "理由は不明です。"))


def _documents_table(documents: list[DocumentInfo]) -> None:
    rows = [
        {
            "タイトル": d.title,
            "種類": d.doc_type or "",
            "ページ数": d.pages or None,
            "区画数": d.chunks,
            "登録日時": (d.ingested_at or "").replace("T", " ")[:16],
            "文書ID": d.doc_id,
        }
        for d in documents
    ]
    frame = pd.DataFrame(rows)
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_config={
            "ページ数": st.column_config.NumberColumn(format="%d"),
            "区画数": st.column_config.NumberColumn(help="検索のために分割した区画（チャンク）の数", format="%d"),
        },
        key="documents-table",
    )


def _delete_section(documents: list[DocumentInfo]) -> None:
    st.subheader("資料の削除")
    by_id = {d.doc_id: d for d in documents}
    pending = st.session_state.get(_PENDING_DELETE)
    if pending and pending in by_id:
        title = by_id[pending].title
        with st.container(border=True, key="delete-confirm"):
            st.warning(
                f"「{escape_md(title)}」を削除します。検索・チャットの対象から外れ、元に戻せません。よろしいですか？",
                icon=":material/delete_forever:",
            )
            yes, no, _ = st.columns([1, 1, 3])
            if yes.button("はい、削除します", type="primary", key="delete-yes"):
                try:
                    client().delete_document(pending)
                except ApiError as exc:
                    show_error(exc, context="削除できませんでした")
                    return
                st.session_state.pop(_PENDING_DELETE, None)
                st.session_state[_DELETED] = f"「{title}」を削除しました。"
                st.rerun()
            if no.button("キャンセル", key="delete-no"):
                st.session_state.pop(_PENDING_DELETE, None)
                st.rerun()
        return
    choice = st.selectbox(
        "削除する資料",
        options=list(by_id),
        format_func=lambda doc_id: f"{by_id[doc_id].title}（{doc_id}）",
        index=None,
        placeholder="資料を選んでください",
        key="delete-choice",
    )
    if st.button("削除する…", disabled=choice is None, key="delete-start", icon=":material/delete:"):
        st.session_state[_PENDING_DELETE] = choice
        st.rerun()


def render() -> None:
    st.title("資料ライブラリ")
    st.caption("チャットで参照する資料を登録・確認・削除します。")
    writable = _can_write()

    st.subheader("資料を登録する")
    if not writable:
        st.info("このキーの権限では資料を登録・削除できません（閲覧のみ）。必要な場合は管理者に依頼してください。")
    else:
        generation = st.session_state.setdefault(_UPLOADER_GENERATION, 0)
        limit_mb = settings().max_upload_mb
        files = st.file_uploader(
            "ファイルをここにドラッグ＆ドロップするか、「Upload」ボタンで選んでください（複数可）",
            accept_multiple_files=True,
            key=f"uploader-{generation}",
            help=ACCEPTED_HINT,
            max_upload_size=max(1, math.ceil(limit_mb)),
        )
        st.caption(f"{ACCEPTED_HINT} 1ファイル {limit_mb:g} MB まで。")
        if st.button("登録する", type="primary", disabled=not files, key="upload-button", icon=":material/upload:"):
            st.session_state[_RESULTS] = [r.model_dump() for r in _upload(list(files or []))]
            st.session_state[_UPLOADER_GENERATION] = generation + 1  # empty the picker for the next batch
            st.rerun()
        if st.session_state.get(_RESULTS):
            _show_results([UploadResult.model_validate(r) for r in st.session_state[_RESULTS]])

    st.subheader("登録済みの資料")
    if message := st.session_state.pop(_DELETED, None):
        st.success(message, icon=":material/check_circle:")
    try:
        documents = client().list_documents()
    except ApiError as exc:
        show_error(exc, context="資料の一覧を取得できませんでした")
        return
    if not documents:
        st.info("まだ資料が登録されていません。上の欄からファイルを登録してください。")
        return
    pages = sum(d.pages for d in documents)
    chunks = sum(d.chunks for d in documents)
    st.caption(f"{len(documents)} 件・{pages} ページ・{chunks} 区画")
    _documents_table(documents)
    if writable:
        _delete_section(documents)


if __name__ == "__main__":  # run as a page by ui/app.py
    render()
