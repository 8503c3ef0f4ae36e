"""Who is reviewing: a name chosen once per browser session, kept in the URL across pages."""

from __future__ import annotations

import streamlit as st

REVIEWER_KEY = "reviewer"


def reviewer_input() -> None:
    """The sidebar field (bound to ?reviewer= so a reload keeps it)."""
    st.sidebar.text_input(
        "Reviewer", key=REVIEWER_KEY, bind="query-params", placeholder="your name",
        help="Stamped on every annotation you make.",
    )


def current_reviewer() -> str:
    return " ".join(str(st.session_state.get(REVIEWER_KEY) or "").split())


def require_reviewer() -> str:
    """The reviewer's name, or a prompt to enter one (and the page stops)."""
    name = current_reviewer()
    if not name:
        st.info("Enter your name under **Reviewer** in the sidebar to start reviewing; it is "
                "stamped on every label you give.", icon=":material/badge:")
        st.stop()
    return name
