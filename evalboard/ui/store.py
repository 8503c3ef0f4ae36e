"""The store as the app sees it: one engine per URL for the whole server, cached reads."""

from __future__ import annotations

import logging

import streamlit as st
from sqlalchemy import Engine

from evalboard.config import resolve_db_url
from evalboard.store import open_store

log = logging.getLogger("evalboard.ui")


@st.cache_resource(show_spinner="Opening the store…")
def engine_for(url: str) -> Engine:
    """Open (and migrate) the store once per server process."""
    return open_store(url)


def store_url() -> str:
    return resolve_db_url()


def get_engine() -> Engine:
    return engine_for(store_url())


def clear_cached_reads() -> None:
    """Call after a write so cached counts and charts show it."""
    st.cache_data.clear()
