"""Keys, roles, tenants and the error shape through the real app."""

from __future__ import annotations

import sqlite3

import pytest

from tests.api.support import LIBRARY_DOC
from yakuba.api.auth import ROLE_PERMISSIONS, Permission
from yakuba.api.keys import KeyRequestError, KeyStore, parse_token

LIBRARY_QUESTION = "南国市立図書館の位置はどこですか？"


def _error(response) -> dict:  # type: ignore[no-untyped-def]
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message", "detail"} <= set(body["error"])
    return body["error"]


def test_keys_are_random_hashed_at_rest_and_revocable(tmp_path) -> None:
    store = KeyStore(tmp_path / "keys.sqlite")
    key, token = store.create("staff", "Tobetsu", name="窓口")
    other_key, other_token = store.create("staff", "tobetsu")
    assert key.tenant == "tobetsu"
    assert token.startswith(f"ykb_{key.key_id}_") and len(token) > 50
    assert token != other_token and key.key_id != other_key.key_id
    secret = parse_token(token)[1]  # type: ignore[index]
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert secret.encode() not in raw and token.encode() not in raw
    with sqlite3.connect(tmp_path / "keys.sqlite") as db:
        assert len(db.execute("SELECT secret_sha256 FROM api_keys").fetchone()[0]) == 64

    assert store.verify(token).key_id == key.key_id  # type: ignore[union-attr]
    assert store.verify(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert store.verify(f"ykb_{key.key_id}_") is None
    assert store.verify("Bearer nonsense") is None
    assert store.revoke(key.key_id).revoked_at  # type: ignore[union-attr]
    assert store.verify(token) is None
    assert store.verify(other_token) is not None
    assert store.revoke("000000000000") is None
    with pytest.raises(KeyRequestError, match="不明なロール"):
        store.create("mayor", "tobetsu")
    with pytest.raises(KeyRequestError, match="テナント名"):
        store.create("staff", "当別町")


def test_missing_unknown_and_revoked_keys_get_401(corpus_api) -> None:
    client = corpus_api.client
    missing = client.post("/v1/chat", json={"question": LIBRARY_QUESTION})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert _error(missing)["code"] == "unauthorized"
    assert "API キー" in _error(missing)["message"]

    for bad in ("ykb_0123456789ab_wrongsecret", "not-a-key", ""):
        response = client.get("/v1/me", headers={"Authorization": f"Bearer {bad}"})
        assert response.status_code == 401, bad
    assert _error(client.get("/v1/me", headers={"Authorization": "Bearer ykb_0123456789ab_x"}))["code"] == (
        "invalid_api_key"
    )

    headers = corpus_api.key_for("admin", "nankoku")
    assert client.get("/v1/me", headers=headers).status_code == 200
    key_id = client.get("/v1/me", headers=headers).json()["key_id"]
    corpus_api.keys.revoke(key_id)
    revoked = client.get("/v1/documents", headers=headers)
    assert revoked.status_code == 401
    assert _error(revoked)["code"] == "invalid_api_key"


# (method, path, json body, permission)
ROUTES = [
    ("POST", "/v1/chat", {"question": ""}, Permission.CHAT),
    ("POST", "/v1/chat/completions", {"messages": []}, Permission.CHAT),
    ("POST", "/v1/search", {"query": ""}, Permission.SEARCH),
    ("POST", "/v1/drafts/minutes", {}, Permission.DRAFTS),
    ("POST", "/v1/drafts/pr-article", {}, Permission.DRAFTS),
    ("POST", "/v1/drafts/export", {}, Permission.DRAFTS),
    ("POST", "/v1/transcribe", None, Permission.TRANSCRIBE),
    ("GET", "/v1/documents", None, Permission.DOCUMENTS_READ),
    ("POST", "/v1/documents", None, Permission.DOCUMENTS_WRITE),
    ("DELETE", "/v1/documents/no/such/doc.md", None, Permission.DOCUMENTS_WRITE),
    ("GET", "/v1/evals/reports", None, Permission.EVALS),
    ("GET", "/metrics", None, Permission.ME),
    ("GET", "/v1/me", None, Permission.ME),
]


def test_roles_are_enforced_on_every_route(corpus_api) -> None:
    """A role without the permission gets 403 (before the body is even looked at); a role with it
    gets past authorisation (whatever the route then says about the deliberately empty body)."""
    expected = {
        "staff": {"chat", "search", "drafts", "transcribe", "documents:read", "documents:write", "me"},
        "pr": {"chat", "search", "drafts", "transcribe", "documents:read", "me"},
        "evaluator": {"chat", "search", "documents:read", "evals", "me"},
        "admin": {p.value for p in Permission},
    }
    assert {role: {p.value for p in perms} for role, perms in ROLE_PERMISSIONS.items()} == expected
    for role in expected:
        for method, path, body, permission in ROUTES:
            response = corpus_api.client.request(method, path, headers=corpus_api.headers(role), json=body)
            if permission.value in expected[role]:
                assert response.status_code not in (401, 403), (role, path, response.text)
            else:
                assert response.status_code == 403, (role, path, response.text)
                error = _error(response)
                assert error["code"] == "forbidden"
                assert error["detail"] == {"role": role, "required": permission.value}
                assert "ロール" in error["message"]


def test_me_healthz_and_metrics(corpus_api) -> None:
    client = corpus_api.client
    me = client.get("/v1/me", headers=corpus_api.headers("pr")).json()
    assert me["role"] == "pr" and me["tenant"] == "nankoku"
    assert "documents:write" not in me["permissions"]

    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert health.json()["models"]["chat_engine"] == "extractive"
    assert health.json()["store"]["ok"] is True

    client.post("/v1/chat", headers=corpus_api.headers(), json={"question": LIBRARY_QUESTION})
    client.post("/v1/chat", headers=corpus_api.headers(), json={"question": "量子重力理論の最新の実験結果は？"})
    assert client.get("/metrics").status_code == 401
    metrics = client.get("/metrics", headers=corpus_api.headers("evaluator"))
    assert metrics.status_code == 200
    text = metrics.text
    assert 'yakuba_http_requests_total{method="POST",route="/v1/chat",status="200"}' in text
    assert 'yakuba_answers_total{engine="extractive"}' in text
    assert 'yakuba_abstentions_total{engine="extractive"}' in text
    assert "yakuba_http_request_duration_seconds_bucket" in text


def test_framework_errors_use_the_same_shape(corpus_api) -> None:
    client = corpus_api.client
    assert _error(client.get("/v1/nothing-here", headers=corpus_api.headers()))["code"] == "not_found"
    wrong_method = client.put("/v1/chat", headers=corpus_api.headers())
    assert wrong_method.status_code == 405
    assert _error(wrong_method)["code"] == "method_not_allowed"


def test_tenant_isolation(corpus_api) -> None:
    """A key of another tenant sees none of nankoku's documents, whatever it asks for."""
    client = corpus_api.client
    other = corpus_api.key_for("admin", "tobetsu")
    assert client.get("/v1/documents", headers=corpus_api.headers()).json()["documents"]
    listed = client.get("/v1/documents", headers=other).json()
    assert listed == {"tenant": "tobetsu", "documents": []}
    search = client.post("/v1/search", headers=other, json={"query": "南国市立図書館 駅前町"}).json()
    assert search["passages"] == []
    answer = client.post("/v1/chat", headers=other, json={"question": LIBRARY_QUESTION}).json()
    assert answer["abstained"] is True and answer["citations"] == [] and answer["sources"] == []
    # a tenant in the body is not a thing: unknown fields are rejected, not obeyed
    smuggled = client.post("/v1/search", headers=other, json={"query": "図書館", "tenant": "nankoku"})
    assert smuggled.status_code == 422
    deleted = client.delete(f"/v1/documents/{LIBRARY_DOC}", headers=other)
    assert deleted.status_code == 404
    assert _error(deleted)["code"] == "document_not_found"
    assert LIBRARY_DOC in {d["doc_id"] for d in client.get("/v1/documents", headers=corpus_api.headers()).json()[
        "documents"]}
