"""What evalboard puts in front of Streamlit's HTTP routes (app.py serves it as an st.App).

- `/_stcore/metrics` (Streamlit's usage metrics) answers nobody while access control is on.
- `POST /_evalboard/session` stores a sign-in token (issued to a signed-in session, checked
  again on every use) in an HttpOnly, SameSite=Strict cookie, so a reload stays signed in;
  `DELETE` clears it. Both want the `X-Evalboard-Session` header: a page on another origin
  cannot send it without a CORS preflight, which this endpoint never grants.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from evalboard.access.permissions import AccessError, auth_mode
from evalboard.access.session_tokens import MAX_TOKEN_LENGTH, SESSION_LIFETIME

COOKIE_NAME = "evalboard_session"
SESSION_ENDPOINT = "_evalboard/session"
SESSION_HEADER = "X-Evalboard-Session"
METRICS_ROUTE = "/_stcore/metrics"
_TOKEN_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _access_control_on() -> bool:
    try:
        return auth_mode() != "off"
    except AccessError:
        return True  # a mistyped mode fails closed


async def _session_cookie(request: Request) -> Response:
    if request.headers.get(SESSION_HEADER) != "1":
        return PlainTextResponse("missing header", status_code=403)
    response = Response(status_code=204)
    if request.method == "DELETE":
        response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
        return response
    token = (await request.body()).decode("ascii", "replace").strip()
    if not token or len(token) > MAX_TOKEN_LENGTH or not set(token) <= _TOKEN_CHARACTERS:
        return PlainTextResponse("not a sign-in token", status_code=400)
    response.set_cookie(COOKIE_NAME, token, max_age=int(SESSION_LIFETIME.total_seconds()),
                        path="/", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return response


class AccessGuard:
    """ASGI middleware: closes the metrics route under access control, serves the cookie
    endpoint, and passes everything else to Streamlit."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", "")) if scope["type"] == "http" else ""
        if path.rstrip("/").endswith(METRICS_ROUTE) and _access_control_on():
            response: Response = PlainTextResponse("Not found", status_code=404)
        elif path.rstrip("/").endswith("/" + SESSION_ENDPOINT):
            request = Request(scope, receive)
            if request.method in ("POST", "DELETE"):
                response = await _session_cookie(request)
            else:
                response = PlainTextResponse("Method not allowed", status_code=405)
        else:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)
