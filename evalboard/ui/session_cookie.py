"""The browser side of the sign-in cookie: read it from the request, ask the server (see
`server_guard`) to store or clear it.

The cookie is HttpOnly, so page script can neither read nor write it: a few lines of script
post the token to evalboard's own endpoint, whose response sets it.
"""

from __future__ import annotations

import json

import streamlit as st

from evalboard.ui.server_guard import COOKIE_NAME, SESSION_ENDPOINT, SESSION_HEADER


def request_cookie() -> str | None:
    """The sign-in cookie this browser sent when the session connected."""
    return st.context.cookies.get(COOKIE_NAME)


def client_address() -> str | None:
    """The browser's address (a trusted proxy's X-Forwarded-For is applied by the server)."""
    return st.context.ip_address


def _endpoint() -> str:
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    return "/" + "/".join(part for part in (base, SESSION_ENDPOINT) if part)


def _js(value: object) -> str:
    return json.dumps(value).replace("<", "\\u003c")


def _call_endpoint(method: str, body: str | None) -> None:
    request = {"method": method, "credentials": "same-origin",
               "headers": {SESSION_HEADER: "1", "Content-Type": "text/plain"}}
    if body is not None:
        request["body"] = body
    script = f"<script>fetch({_js(_endpoint())}, {_js(request)});</script>"
    with st.sidebar:
        st.html(script, unsafe_allow_javascript=True, width=1)


def store_cookie(token: str) -> None:
    """Have the browser keep `token` (a signed session token) for later page loads."""
    _call_endpoint("POST", token)


def forget_cookie() -> None:
    _call_endpoint("DELETE", None)
