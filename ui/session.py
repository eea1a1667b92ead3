"""Per-browser-session state: the API client (URL + key from settings, or typed in the sidebar)."""

from __future__ import annotations

import streamlit as st

from yakuba.core.settings import Settings, get_settings
from yakuba.ui.client import ApiError, Identity, YakubaClient

_CLIENT = "yakuba_client"
_URL = "yakuba_api_url"
_KEY = "yakuba_api_key"
_IDENTITY = "yakuba_identity"


def settings() -> Settings:
    return get_settings()


def connection() -> tuple[str, str | None]:
    """The API URL and key this session uses: sidebar overrides first, then settings."""
    config = settings()
    default_key = config.api_key.get_secret_value() if config.api_key else None
    url = st.session_state.get(_URL) or config.api_url
    key = st.session_state.get(_KEY) or default_key
    return url, key


def set_connection(url: str | None, key: str | None) -> None:
    st.session_state[_URL] = (url or "").strip() or None
    st.session_state[_KEY] = (key or "").strip() or None
    st.session_state.pop(_CLIENT, None)
    st.session_state.pop(_IDENTITY, None)


def client() -> YakubaClient:
    url, key = connection()
    cached: YakubaClient | None = st.session_state.get(_CLIENT)
    if cached is None or cached.base_url != url.rstrip("/") or cached.api_key != key:
        cached = YakubaClient(url, key, max_upload_mb=settings().max_upload_mb)
        st.session_state[_CLIENT] = cached
    return cached


def identity() -> Identity:
    """Who the key is (role, tenant); asked on every rerun so a revoked key or a stopped API shows at once."""
    try:
        found = client().me()
    except ApiError:
        st.session_state.pop(_IDENTITY, None)
        raise
    st.session_state[_IDENTITY] = found
    return found


def known_identity() -> Identity | None:
    return st.session_state.get(_IDENTITY)
