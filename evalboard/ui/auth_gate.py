"""Sign-in when access control is on; who is signed in and what their role lets them do."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Engine

from evalboard.access import Identity, auth_mode, authenticate, provider_identity

_IDENTITY = "signed_in_identity"


def current_identity() -> Identity | None:
    """The signed-in person (None when access control is off)."""
    return st.session_state.get(_IDENTITY)


def may(permission: str) -> bool:
    """Whether the current person may (everyone may when access control is off)."""
    identity = current_identity()
    return identity is None or identity.may(permission)


def require(permission: str, what: str) -> None:
    """Stop the page with a message unless the current person may."""
    if not may(permission):
        identity = current_identity()
        st.warning(f"Your role ({identity.role if identity else '?'}) cannot {what}. Ask an "
                   "admin for a reviewer or admin role.")
        st.stop()


def _local_sign_in(engine: Engine) -> None:
    st.title("Sign in to evalboard")
    with st.form("sign_in"):
        username = st.text_input("Username", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        if st.form_submit_button("Sign in", type="primary"):
            identity = authenticate(engine, username or "", password or "")
            if identity is not None:
                st.session_state[_IDENTITY] = identity
                st.rerun()
            st.error("Wrong username or password.")


def sign_in_gate(engine: Engine) -> None:
    """With access control on, nothing below runs until someone has signed in."""
    mode = auth_mode()
    if mode == "off":
        st.session_state.pop(_IDENTITY, None)
        return
    if mode == "local":
        if current_identity() is None:
            _local_sign_in(engine)
            st.stop()
        return
    if not st.user.is_logged_in:
        st.title("Sign in to evalboard")
        st.button("Sign in with your identity provider", type="primary", on_click=st.login)
        st.stop()
    identity = provider_identity(engine, str(st.user.get("email") or st.user.get("sub")))
    if identity is None:
        st.error("This account is disabled.")
        st.stop()
    st.session_state[_IDENTITY] = identity


def sign_out() -> None:
    st.session_state.pop(_IDENTITY, None)
    if auth_mode() == "oidc":
        st.logout()
