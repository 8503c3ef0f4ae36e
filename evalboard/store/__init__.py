"""The store: one module family owns the database (models, engine, migrations, queries)."""

from __future__ import annotations

from sqlalchemy import Engine

from evalboard.store import migrate
from evalboard.store.engine import StoreURLError, make_engine


def open_store(url: str | None = None, *, upgrade: bool = True) -> Engine:
    """An engine for the store URL, upgraded to the newest schema before first use."""
    engine = make_engine(url)
    if upgrade:
        migrate.upgrade(engine)
    return engine


__all__ = ["StoreURLError", "open_store"]
