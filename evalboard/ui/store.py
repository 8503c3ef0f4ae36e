"""The store as the app sees it: one engine per store for the whole server, cached reads.

The app only ever handles the store URL with its password hidden (`store_url()`): it is what
pages show and what every cache is keyed by, so no cache key holds a password. `engine_for`
resolves the real URL from the server's configuration.
"""

from __future__ import annotations

import logging

import streamlit as st
from sqlalchemy import Engine

from evalboard.config import RedactingFilter, redact_url, resolve_db_url
from evalboard.store import open_store
from evalboard.store.engine import StoreURLError

log = logging.getLogger("evalboard.ui")
log.addFilter(RedactingFilter())


def store_url() -> str:
    """The configured store URL with its password hidden: shown, and the key of cached reads."""
    return redact_url(resolve_db_url())


def _configured_url(shown: str) -> str:
    real = resolve_db_url()
    if redact_url(real) != shown:
        raise StoreURLError(f"{shown} is not the store this server is configured with")
    return real


@st.cache_resource(show_spinner="Opening the store…")
def engine_for(url: str) -> Engine:
    """Open (and migrate) the store once per server process; `url` is `store_url()`."""
    return open_store(_configured_url(url))


def get_engine() -> Engine:
    return engine_for(store_url())


def clear_cached_reads() -> None:
    """Call after a write so cached counts and charts show it."""
    st.cache_data.clear()
