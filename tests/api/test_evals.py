"""/v1/evals/reports: list, read and serve report folders; nothing outside them."""

from __future__ import annotations

import json
import os

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def _write_report(root, name: str, *, aggregate: dict, mtime: float) -> None:  # type: ignore[no-untyped-def]
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "report.json").write_text(json.dumps({"dataset": "toy", "aggregate": aggregate}), encoding="utf-8")
    (folder / "report.html").write_text("<html><body><h1>評価レポート</h1></body></html>", encoding="utf-8")
    (folder / "scores.png").write_bytes(PNG)
    os.utime(folder, (mtime, mtime))


def test_reports_are_listed_read_and_served(fresh_api) -> None:
    env = fresh_api
    headers = env.headers("evaluator")
    assert env.client.get("/v1/evals/reports", headers=headers).json() == {"reports": []}

    root = env.settings.home / "reports"
    _write_report(root, "extractive-2026-11-01", aggregate={"answer_contains": 0.61}, mtime=1_700_000_000)
    _write_report(root, "local-2026-11-02", aggregate={"answer_contains": 0.72}, mtime=1_700_100_000)
    (root / "stray.txt").write_text("not a report", encoding="utf-8")
    (env.settings.home / "secret.json").write_text('{"token": "s3cret"}', encoding="utf-8")

    listed = env.client.get("/v1/evals/reports", headers=headers).json()["reports"]
    assert [r["name"] for r in listed] == ["local-2026-11-02", "extractive-2026-11-01"]  # newest first
    assert listed[0]["files"] == ["report.html", "report.json", "scores.png"]

    detail = env.client.get("/v1/evals/reports/local-2026-11-02", headers=headers).json()
    assert detail["report"]["aggregate"]["answer_contains"] == 0.72

    png = env.client.get("/v1/evals/reports/local-2026-11-02/files/scores.png", headers=headers)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png" and png.content == PNG
    html = env.client.get("/v1/evals/reports/local-2026-11-02/files/report.html", headers=env.headers("admin"))
    assert html.status_code == 200 and "評価レポート" in html.text
    assert html.headers["content-type"].startswith("text/html") and html.headers["content-security-policy"] == "sandbox"


def test_report_paths_cannot_escape(fresh_api) -> None:
    env = fresh_api
    headers = env.headers("evaluator")
    root = env.settings.home / "reports"
    _write_report(root, "r1", aggregate={}, mtime=1_700_000_000)
    (env.settings.home / "secret.json").write_text('{"token": "s3cret"}', encoding="utf-8")
    (root / "r1" / ".hidden.json").write_text("{}", encoding="utf-8")
    (root / "r1" / "run.sh").write_text("echo hi", encoding="utf-8")
    attempts = [
        "/v1/evals/reports/..",
        "/v1/evals/reports/%2E%2E",
        "/v1/evals/reports/r1/files/..%2F..%2Fsecret.json",
        "/v1/evals/reports/..%2F/files/secret.json",
        "/v1/evals/reports/%2E%2E/files/secret.json",
        "/v1/evals/reports/r1/files/%2E%2E%2F%2E%2E%2Fsecret.json",
        "/v1/evals/reports/r1/files/.hidden.json",
        "/v1/evals/reports/r1/files/run.sh",
        "/v1/evals/reports/nope",
        "/v1/evals/reports/nope/files/report.json",
    ]
    for path in attempts:
        response = env.client.get(path, headers=headers)
        assert response.status_code == 404, (path, response.status_code, response.text)
        assert "s3cret" not in response.text
        assert response.json()["error"]["code"] in {"report_not_found", "not_found"}
    for role in ("staff", "pr"):
        assert env.client.get("/v1/evals/reports/r1", headers=env.headers(role)).status_code == 403
