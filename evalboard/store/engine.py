"""Engine and session factory for one store URL, with SQLite tuned for several writers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from evalboard.config import redact_url, resolve_db_url
from evalboard.errors import EvalboardError

SQLITE_BUSY_TIMEOUT_MS = 30_000
CONNECT_TIMEOUT_S = 10


class StoreURLError(EvalboardError, ValueError):
    """The store URL cannot be used (bad syntax, unknown dialect, missing folder, a server
    that cannot be reached or refuses the login)."""


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy's "begin" event emit BEGIN itself, so writers can take the lock early.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str | None = None) -> Engine:
    """Create an engine for the store URL (argument, $EVALBOARD_DB_URL or the default).

    A server store (PostgreSQL) is connected to once, so a wrong host, port, database or
    password is a StoreURLError here rather than a traceback later.
    """
    resolved = resolve_db_url(url)
    try:
        parsed = make_url(resolved)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        raise StoreURLError(
            f"not a store URL: {redact_url(resolved)!r} (expected e.g. sqlite:///evalboard.db)"
        ) from exc
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            folder = Path(database).expanduser().resolve().parent
            if not folder.is_dir():
                raise StoreURLError(f"the folder of the store does not exist: {folder}")
        engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _tune_sqlite(engine)
        return engine
    shown = parsed.render_as_string(hide_password=True)
    try:
        engine = create_engine(parsed, **_server_options(parsed.get_backend_name()))
    except Exception as exc:  # unknown dialect or missing driver
        raise StoreURLError(f"cannot use store URL {shown}: {exc}") from exc
    try:
        with engine.connect():
            pass
    except DBAPIError as exc:
        engine.dispose()
        reason = " ".join(line.strip() for line in str(exc.orig or exc).splitlines())
        raise StoreURLError(f"cannot connect to the store {shown}: {reason}") from exc
    return engine


def _server_options(backend: str) -> dict[str, Any]:
    """Engine options for a database server: check pooled connections before use, recycle them
    before a firewall or the server drops them, fail fast when the server is unreachable."""
    options: dict[str, Any] = {"pool_pre_ping": True, "pool_recycle": 1800}
    if backend == "postgresql":
        options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S,
                                   "application_name": "evalboard"}
    return options


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def write_connection(engine: Engine) -> Iterator[Connection]:
    """A short write transaction; on SQLite it takes the write lock up front (BEGIN IMMEDIATE)."""
    with engine.connect() as conn:
        if is_sqlite(engine):
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            yield conn


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """An ORM session inside one short write transaction, committed on success."""
    with write_connection(engine) as conn, Session(bind=conn, expire_on_commit=False) as session:
        yield session
        session.flush()
