"""Where the store lives: one URL for every entry point."""

from __future__ import annotations

import os

DB_URL_ENV = "EVALBOARD_DB_URL"
DEFAULT_DB_URL = "sqlite:///evalboard.db"


def resolve_db_url(url: str | None = None) -> str:
    """Return the store URL: the argument, else $EVALBOARD_DB_URL, else the local SQLite file."""
    return url or os.environ.get(DB_URL_ENV) or DEFAULT_DB_URL
