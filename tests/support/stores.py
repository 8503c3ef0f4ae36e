"""Fresh stores for tests: new and empty, or copied from a template migrated once.

Migrating a store takes a few hundred milliseconds; copying one takes a few. A session (each
xdist worker has its own) migrates one template, and every test that opens the store through
the `engine` fixture gets a copy of it: for SQLite a copy of the template's file, for
PostgreSQL `CREATE DATABASE … TEMPLATE`. A copy is indistinguishable from a freshly migrated
store (same revision, seeded labels and guidelines, id blocks, search tables), because the
template is never used after its migration.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from evalboard import clock
from evalboard.store import open_store
from evalboard.store.partitions import partition_calls_by_month
from tests.pg_server import fresh_database

STORE_FILE = "evalboard.db"
# Set (to anything): PostgreSQL stores of the tests have their calls partitioned by month.
PARTITIONED_ENV = "EVALBOARD_TEST_PG_PARTITIONED"


@dataclass(frozen=True)
class StoreTemplate:
    """A store migrated to head: a SQLite file, or a database on a PostgreSQL server."""

    server: str | None  # the PostgreSQL server's URL; None for SQLite
    source: str  # the SQLite file's path, or the template database's name


def _migrate(url: str) -> None:
    """Bring the store at `url` to head and close every connection to it."""
    engine = open_store(url)
    try:
        if engine.dialect.name == "sqlite":  # everything in the main file, nothing in the WAL
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()


def _partition(url: str) -> None:
    engine = open_store(url)
    try:
        partition_calls_by_month(engine, clock.now())
    finally:
        engine.dispose()


@contextmanager
def store_template(server: str | None, folder: Path) -> Iterator[StoreTemplate]:
    """Migrate a template store (a file in `folder`, or a database on `server`), yield it, and
    drop it afterwards."""
    if server is None:
        path = folder / "template.db"
        _migrate(f"sqlite:///{path}")
        wal = path.with_name(f"{path.name}-wal")
        assert not wal.exists() or wal.stat().st_size == 0, "the template's WAL was not emptied"
        yield StoreTemplate(None, str(path))
        return
    name = f"evalboard_template_{uuid.uuid4().hex}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(server).set(database=name).render_as_string(hide_password=False)
            _migrate(url)
            if os.environ.get(PARTITIONED_ENV):
                _partition(url)
            yield StoreTemplate(server, name)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def fresh_store(server: str | None, folder: Path,
                template: StoreTemplate | None = None) -> Iterator[str]:
    """Yield the URL of a store of its own: new and empty (a SQLite file not yet created in
    `folder`, or an empty database on `server`), or a copy of `template`."""
    if server is None:
        path = folder / STORE_FILE
        if template is not None:
            shutil.copyfile(template.source, path)
        yield f"sqlite:///{path}"
        return
    with fresh_database(server, template.source if template else None) as url:
        yield url
