"""The Browse view a reviewer last looked at, for "review as displayed"."""

from __future__ import annotations

import streamlit as st

from evalboard.store.calls_query import CallFilter

_KEY = "browse_last_view"


def remember_browse_view(call_filter: CallFilter, sort_key: str) -> None:
    st.session_state[_KEY] = (call_filter, sort_key)


def last_browse_view() -> tuple[CallFilter, str] | None:
    return st.session_state.get(_KEY)
