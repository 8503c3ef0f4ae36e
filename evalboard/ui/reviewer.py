"""Who is reviewing: a name chosen once per browser session, kept in the URL across pages."""

from __future__ import annotations

import streamlit as st

from evalboard.ui.auth_gate import current_identity, sign_out

REVIEWER_KEY = "reviewer"


def reviewer_input() -> None:
    """The sidebar field (bound to ?reviewer= so a reload keeps it), or, when people sign in,
    who is signed in."""
    identity = current_identity()
    if identity is not None:
        st.sidebar.markdown(f"Signed in as **{identity.username}** ({identity.role})")
        st.sidebar.button("Sign out", on_click=sign_out, icon=":material/logout:")
        return
    st.sidebar.text_input(
        "Reviewer", key=REVIEWER_KEY, bind="query-params", placeholder="your name",
        help="Stamped on every annotation you make.",
    )


def current_reviewer() -> str:
    identity = current_identity()
    if identity is not None:
        return identity.username
    return " ".join(str(st.session_state.get(REVIEWER_KEY) or "").split())


def require_reviewer() -> str:
    """The reviewer's name, or a prompt to enter one (and the page stops)."""
    name = current_reviewer()
    if not name:
        st.info("Enter your name under **Reviewer** in the sidebar to start reviewing; it is "
                "stamped on every label you give.", icon=":material/badge:")
        st.stop()
    return name
