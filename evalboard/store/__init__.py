"""The store: one module family owns the database (models, engine, migrations, queries)."""

from __future__ import annotations

from sqlalchemy import Engine

from evalboard.store import migrate
from evalboard.store.engine import StoreURLError, make_engine
from evalboard.store.migrate import NewerStoreError, StoreBehindError, StoreRevisionError


def open_store(url: str | None = None, *, upgrade: bool = True) -> Engine:
    """An engine for the store URL, ready for this evalboard's schema.

    A new or empty store is upgraded. A store with data behind head is upgraded (a SQLite one
    is backed up first), or with `upgrade=False` refused with StoreBehindError, which names
    `evalboard db upgrade`. A store migrated by a newer evalboard raises NewerStoreError.
    """
    engine = make_engine(url)
    try:
        migrate.prepare(engine, allow_upgrade=upgrade)
    except BaseException:
        engine.dispose()
        raise
    return engine


__all__ = ["NewerStoreError", "StoreBehindError", "StoreRevisionError", "StoreURLError",
           "open_store"]
