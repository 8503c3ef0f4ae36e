"""Online backups of a SQLite store, and the test for "does this store hold anything yet"."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, literal, select, table

from evalboard.errors import EvalboardError
from evalboard.store.engine import make_engine
from evalboard.store.schema_extras import is_managed_by_migrations_only

# Rows that migrations and the id allocator write by themselves: a store holding only these
# is still empty to its users (0002 seeds the labels and the review guidelines).
BOOKKEEPING_TABLES = frozenset({"alembic_version", "labels", "settings", "id_blocks"})


class BackupError(EvalboardError, ValueError):
    """The store cannot be backed up to that path (not SQLite, in memory, path taken)."""


def tables_with_user_data(conn: Connection) -> list[str]:
    """Tables holding rows that someone logged, reviewed or ran (bookkeeping aside)."""
    return [
        name for name in inspect(conn).get_table_names()
        if name not in BOOKKEEPING_TABLES and not name.startswith("sqlite_")
        and not is_managed_by_migrations_only(name)
        and conn.execute(select(literal(1)).select_from(table(name)).limit(1)).first()
    ]


def sqlite_path(engine: Engine) -> Path:
    """The database file of a SQLite store (BackupError for other stores and in-memory ones)."""
    if engine.dialect.name != "sqlite":
        raise BackupError(
            f"backups are for SQLite stores; back up a {engine.dialect.name} store with its own "
            "tools (pg_dump), or copy it to a SQLite file with `evalboard db copy`")
    database = engine.url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        raise BackupError("an in-memory store has no file to back up")
    return Path(database).expanduser().resolve()


def backup_sqlite(engine_or_url: Engine | str, path: str | Path) -> Path:
    """Copy a SQLite store to `path` with SQLite's online backup API and return the path.

    The copy is one consistent snapshot, taken while other processes keep writing (WAL mode
    lets them). It is written beside `path` and renamed into place, so `path` is never
    half-written, and it is a single self-contained file (rollback journal, not WAL).
    """
    engine = make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    try:
        source = sqlite_path(engine)
        target = Path(path).expanduser().resolve()
        if target == source:
            raise BackupError("the backup path is the store itself: pick another path")
        if target.exists():
            raise BackupError(f"{target} exists already: pick a new path")
        if not target.parent.is_dir():
            raise BackupError(f"the folder {target.parent} does not exist")
        partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
        raw = engine.raw_connection()
        try:
            copy = sqlite3.connect(partial)
            try:
                raw.driver_connection.backup(copy)  # type: ignore[union-attr]
                copy.execute("PRAGMA journal_mode=DELETE")
            finally:
                copy.close()
            partial.replace(target)
        finally:
            raw.close()
            partial.unlink(missing_ok=True)
        return target
    finally:
        if isinstance(engine_or_url, str):
            engine.dispose()
