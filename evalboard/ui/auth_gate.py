"""Sign-in when access control is on; who is signed in and what their role lets them do.

It fails closed: with EVALBOARD_AUTH set, a permission check denies while nobody is signed in,
whichever page asks. Every run re-reads the signed-in account from the store (one indexed
row), so disabling an account or changing its role reaches its open sessions at their next
rerun. A signed, expiring cookie (see `session_cookie` and
`evalboard.access.session_tokens`) keeps a person signed in across reloads; failed sign-ins
are rate limited per account and per client (`evalboard.access.sign_in`).
"""

from __future__ import annotations

import math

import streamlit as st
from sqlalchemy import Engine

from evalboard.access.permissions import Identity, account_identity, auth_mode, provider_identity
from evalboard.access.session_tokens import issue_token, signing_key, token_identity
from evalboard.access.sign_in import SignInLimiter, sign_in
from evalboard.ui.session_cookie import (
    client_address,
    forget_cookie,
    request_cookie,
    store_cookie,
)
from evalboard.ui.store import store_url

_IDENTITY = "signed_in_identity"
_TOKEN = "signed_in_token"
_COOKIE_TO_STORE = "sign_in_cookie_to_store"
_COOKIE_TO_FORGET = "sign_in_cookie_to_forget"
_NOTICE = "sign_in_notice"


@st.cache_resource
def _limiter(store: str) -> SignInLimiter:
    """One limiter per store for the whole server: every session counts against it."""
    return SignInLimiter()


@st.cache_resource
def _revoked_tokens(store: str) -> set[str]:
    """Tokens of sessions that signed out, refused for the rest of this server's life."""
    return set()


@st.cache_resource
def _signing_key(store: str, _engine: Engine) -> bytes:
    return signing_key(_engine)


def current_identity() -> Identity | None:
    """The signed-in person (None when access control is off or nobody has signed in)."""
    return st.session_state.get(_IDENTITY)


def may(permission: str) -> bool:
    """Whether the current person may: everyone when access control is off, nobody who has not
    signed in when it is on."""
    identity = current_identity()
    if identity is None:
        return auth_mode() == "off"
    return identity.may(permission)


def require(permission: str, what: str) -> None:
    """Stop the page with a message unless the current person may."""
    if not may(permission):
        identity = current_identity()
        if identity is None:
            st.warning(f"Sign in to {what}.")
        else:
            st.warning(f"Your role ({identity.role}) cannot {what}. Ask an admin for a "
                       "reviewer or admin role.")
        st.stop()


def _end_session(notice: str | None = None) -> None:
    st.session_state.pop(_IDENTITY, None)
    token = st.session_state.pop(_TOKEN, None)
    if token:
        _revoked_tokens(store_url()).add(token)
        st.session_state[_COOKIE_TO_FORGET] = True
    if notice:
        st.session_state[_NOTICE] = notice


def _local_identity(engine: Engine) -> Identity | None:
    held = current_identity()
    if held is not None:
        fresh = account_identity(engine, held.username)
        if fresh is None:
            _end_session("You were signed out: this account is disabled.")
        return fresh
    token = request_cookie()
    if not token or token in _revoked_tokens(store_url()):
        return None
    identity = token_identity(engine, _signing_key(store_url(), engine), token)
    if identity is not None:
        st.session_state[_TOKEN] = token
    return identity


def identify(engine: Engine) -> None:
    """Settle who is signed in for this run (from the session, else the sign-in cookie, else
    the identity provider), as the store has the account now."""
    mode = auth_mode()
    if mode == "off":
        identity = None
    elif mode == "local":
        identity = _local_identity(engine)
    elif st.user.is_logged_in:
        identity = provider_identity(engine, str(st.user.get("email") or st.user.get("sub")))
        if identity is None:
            st.session_state[_NOTICE] = "This account is disabled."
    else:
        identity = None
    if identity is None:
        st.session_state.pop(_IDENTITY, None)
    else:
        st.session_state[_IDENTITY] = identity


def _local_sign_in(engine: Engine) -> None:
    with st.form("sign_in"):
        username = st.text_input("Username", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        if not st.form_submit_button("Sign in", type="primary"):
            return
    outcome = sign_in(engine, _limiter(store_url()), username or "", password or "",
                      client_address())
    if outcome.retry_after > 0:
        st.error(f"Too many failed sign-ins. Try again in {math.ceil(outcome.retry_after)} s.")
    elif outcome.identity is None:
        st.error("Wrong username or password.")
    else:
        token = issue_token(engine, _signing_key(store_url(), engine), outcome.identity.username)
        st.session_state.update({_IDENTITY: outcome.identity, _TOKEN: token,
                                 _COOKIE_TO_STORE: token})
        st.session_state.pop(_COOKIE_TO_FORGET, None)
        st.rerun()


def _send_cookie_changes() -> None:
    if st.session_state.pop(_COOKIE_TO_FORGET, False):
        forget_cookie()
    token = st.session_state.pop(_COOKIE_TO_STORE, None)
    if token:
        store_cookie(token)


def sign_in_gate(engine: Engine) -> None:
    """With access control on, nothing below runs until someone has signed in. Call after
    `identify` and after st.navigation, so the page a link asked for opens once signed in."""
    _send_cookie_changes()
    if auth_mode() == "off" or current_identity() is not None:
        return
    st.title("Sign in to evalboard")
    notice = st.session_state.pop(_NOTICE, None)
    if notice:
        st.warning(notice)
    if auth_mode() == "local":
        _local_sign_in(engine)
    elif not st.user.is_logged_in:
        st.button("Sign in with your identity provider", type="primary", on_click=st.login)
    st.stop()


def sign_out() -> None:
    _end_session()
    if auth_mode() == "oidc":
        st.logout()
