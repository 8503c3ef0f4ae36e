"""The Browse view a reviewer last looked at (for "review as displayed"), and the reads of
the store Browse makes on every rerun, cached (they hardly change)."""

from __future__ import annotations

import streamlit as st

from evalboard.store.calls_counts import has_calls
from evalboard.store.calls_query import CallFilter, list_model_versions
from evalboard.ui.store import engine_for, store_url

_KEY = "browse_last_view"


def remember_browse_view(call_filter: CallFilter, sort_key: str) -> None:
    st.session_state[_KEY] = (call_filter, sort_key)


def last_browse_view() -> tuple[CallFilter, str] | None:
    return st.session_state.get(_KEY)


@st.cache_data(ttl=30, show_spinner=False)
def _version_names(url: str) -> list[str]:
    return [v.name for v in list_model_versions(engine_for(url))]


def version_names() -> list[str]:
    """Every model version's name, in creation order (cached 30 s; writes clear it)."""
    return _version_names(store_url())


@st.cache_data(ttl=30, show_spinner=False)
def _has_calls(url: str) -> bool:
    return has_calls(engine_for(url))


def store_has_calls() -> bool:
    """Whether the store has a call (an empty store's answer is never cached: the first
    calls must show at once)."""
    if _has_calls(store_url()):
        return True
    _has_calls.clear()
    return False
