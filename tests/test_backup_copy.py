"""Backups and copies of SQLite stores: online backup under a writer, the automatic backup
before a migration, `db copy` SQLite -> SQLite, and the commands' one-line errors."""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from evalboard.demo.builder import load_demo
from evalboard.review.sampling import SessionSpec
from evalboard.review.sessions import start_session
from evalboard.store import migrate, open_store
from evalboard.store.backup import BackupError, backup_sqlite
from evalboard.store.calls_counts import count_calls
from evalboard.store.calls_query import CallFilter, matching_ids
from evalboard.store.copy import CopyError, copy_store
from evalboard.store.engine import make_engine, write_connection
from evalboard.store.models import ModelVersion
from evalboard.store.schema import Base
from tests.support.calls import T0, add_calls, make_rows
from tests.test_cli import EVALBOARD, Cli

SEARCHES = [("refund", False), ("contraseña", False), ("password OR invoice", True),
            ('"charged twice"', True), ("ref*", True)]


def store_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of a store, in primary-key order."""
    engine = open_store(url)
    try:
        with engine.connect() as conn:
            return {table.name: [tuple(row) for row in conn.execute(
                select(table).order_by(*table.primary_key.columns))]
                for table in Base.metadata.sorted_tables}
    finally:
        engine.dispose()


def search_results(url: str) -> list[list[int]]:
    """The ids each of SEARCHES finds (through the store's own full-text index)."""
    engine = open_store(url)
    try:
        return [matching_ids(engine, CallFilter(search=query, advanced_search=advanced))
                for query, advanced in SEARCHES]
    finally:
        engine.dispose()


def fill_store(engine: Engine) -> None:
    """Demo calls, reviews, a suite with runs, a review session, and a model version whose
    parent was created after it (so a copy cannot simply go in id order)."""
    load_demo(engine, calls=400, now=T0 + timedelta(days=30))
    start_session(engine, "ann", SessionSpec(size=5, seed=1))
    with write_connection(engine) as conn:
        conn.execute(ModelVersion.__table__.insert().values(
            name="child", created_at=T0, parent_id=None))
        conn.execute(ModelVersion.__table__.insert().values(name="parent", created_at=T0))
        conn.execute(ModelVersion.__table__.update().where(ModelVersion.name == "child").values(
            parent_id=select(ModelVersion.id).where(ModelVersion.name == "parent")
            .scalar_subquery()))


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """SQLite, even when $EVALBOARD_TEST_PG_URL sends the other modules to PostgreSQL."""
    url = _sqlite_url(tmp_path / "evalboard.db")
    monkeypatch.setenv("EVALBOARD_DB_URL", url)
    return url


@pytest.fixture
def filled(engine: Engine, db_url: str) -> str:
    fill_store(engine)
    return db_url


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def test_backup_is_consistent_while_a_writer_writes(tmp_path):
    url = _sqlite_url(tmp_path / "live.db")
    engine = open_store(url)
    add_calls(engine, make_rows(100))
    written = threading.Event()
    stop = threading.Event()

    def keep_writing() -> None:  # batches of 100 calls, one transaction each
        writer = make_engine(url)
        batch = 0
        while not stop.is_set():
            batch += 1
            add_calls(writer, [{"input": f"batch {batch} call {i}", "output": "refund"}
                               for i in range(100)])
            written.set()
        writer.dispose()

    thread = threading.Thread(target=keep_writing)
    thread.start()
    try:
        assert written.wait(30)
        backup = backup_sqlite(engine, tmp_path / "snapshot.db")
        backed_up_while = count_calls(engine)
    finally:
        stop.set()
        thread.join()

    with sqlite3.connect(backup) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        copy.execute("INSERT INTO calls_fts(calls_fts) VALUES ('integrity-check')")
        calls = copy.execute("SELECT count(*) FROM calls").fetchone()[0]
    assert calls % 100 == 0 and 100 < calls <= backed_up_while  # whole transactions only
    assert count_calls(engine) >= calls
    assert not list(tmp_path.glob(".snapshot.db.partial-*"))
    copied = open_store(_sqlite_url(backup))
    assert count_calls(copied, CallFilter(search="refund")) == calls - 100


def test_backup_refuses_what_it_cannot_do(engine, tmp_path):
    taken = tmp_path / "taken.db"
    taken.write_text("keep me")
    with pytest.raises(BackupError, match="exists already"):
        backup_sqlite(engine, taken)
    assert taken.read_text() == "keep me"
    with pytest.raises(BackupError, match="in-memory"):
        backup_sqlite("sqlite://", tmp_path / "memory.db")
    with pytest.raises(BackupError, match="does not exist"):
        backup_sqlite(engine, tmp_path / "no" / "such.db")


def test_a_non_empty_store_is_backed_up_before_a_migration(tmp_path):
    path = tmp_path / "old.db"
    engine = make_engine(_sqlite_url(path))
    migrate.upgrade(engine, "0004")
    with engine.begin() as conn:  # as an evalboard of that time wrote it
        conn.exec_driver_sql("INSERT INTO model_versions (id, name, created_at) VALUES "
                             "(1, 'v1', '2026-11-01 00:00:00.000000')")
        conn.exec_driver_sql(
            "INSERT INTO calls (id, created_at, model_version_id, source, input_text, output, "
            "input_hash) VALUES (1, '2026-11-02 10:00:00.000000', 1, 'production', "
            "'logged under 0004', 'kept', 'h')")

    saved = migrate.upgrade(engine)

    assert migrate.current_revision(engine) == migrate.head_revision()
    assert saved is not None and saved.name.startswith("old.db.backup-0004-")
    assert saved.parent == tmp_path
    with sqlite3.connect(saved) as copy:
        assert copy.execute("SELECT version_num FROM alembic_version").fetchone() == ("0004",)
        assert copy.execute("SELECT input_text FROM calls").fetchall() == [("logged under 0004",)]
    assert migrate.upgrade(engine) is None  # at head already: nothing to back up


def test_stores_without_data_are_migrated_without_a_backup(tmp_path):
    engine = make_engine(_sqlite_url(tmp_path / "fresh.db"))
    migrate.upgrade(engine, "0004")  # seeds labels and guidelines: still no user data
    assert migrate.upgrade(engine) is None
    assert migrate.upgrade(make_engine(_sqlite_url(tmp_path / "new.db"))) is None
    assert not list(tmp_path.glob("*.backup-*"))


def test_copy_sqlite_to_sqlite_keeps_every_row_and_id(filled, tmp_path):
    target = _sqlite_url(tmp_path / "copy.db")
    seen: list[tuple[str, int, int]] = []

    summary = copy_store(filled, target, lambda *step: seen.append(step), batch_rows=150)

    before = store_rows(filled)
    assert store_rows(target) == before
    assert summary.rows == {name: len(rows) for name, rows in before.items()}
    assert ("calls", 150, 400) in seen and ("calls", 400, 400) in seen
    assert search_results(target) == search_results(filled)
    assert all(search_results(filled))
    copied = open_store(target)  # new rows follow the copied ids (ids are reserved in blocks)
    add_calls(copied, [{"input": "after the copy"}])
    ids = matching_ids(copied, CallFilter())
    assert len(ids) == 401 and max(ids) > 400


def test_copy_refuses_a_target_with_data_unless_forced(filled, tmp_path):
    target = _sqlite_url(tmp_path / "busy.db")
    add_calls(open_store(target), make_rows(3, model_version="elsewhere"))
    with pytest.raises(CopyError, match="already holds data .*calls.*--force"):
        copy_store(filled, target)
    with pytest.raises(CopyError, match="same store"):  # another spelling of the same file
        copy_store(filled, f"sqlite:///{tmp_path}/./evalboard.db")

    copy_store(filled, target, force=True)
    assert store_rows(target) == store_rows(filled)


@pytest.mark.skipif(EVALBOARD is None, reason="the evalboard script is not installed")
def test_backup_and_copy_commands(filled, tmp_path):
    cli = Cli(tmp_path, filled)
    copied = _sqlite_url(tmp_path / "copied.db")
    backup, copy, in_memory, same, bad_url = cli.many(
        ["db", "backup", "kept.db"],
        ["db", "copy", "--from", filled, "--to", copied],
        ["db", "backup", "kept-2.db", "--db", "sqlite://"],
        ["db", "copy", "--from", filled, "--to", filled],
        ["db", "copy", "--from", "not a url", "--to", filled],
    )
    assert backup.code == 0 and backup.stdout.startswith("backed up "), backup.stderr
    assert sqlite3.connect(tmp_path / "kept.db").execute(
        "SELECT count(*) FROM calls").fetchone() == (400,)
    assert copy.code == 0, copy.stderr
    assert copy.stdout.startswith("copied ") and "calls 400" in copy.stdout
    assert "in-memory" in in_memory.one_line_error()
    assert "same store" in same.one_line_error()
    assert "not a store URL" in bad_url.one_line_error()
    taken, busy = cli.many(["db", "backup", "kept.db"],
                           ["db", "copy", "--from", filled, "--to", copied])
    assert "exists already" in taken.one_line_error()
    assert "--force" in busy.one_line_error()


def test_the_copy_is_one_transaction(filled, tmp_path, monkeypatch):
    target = _sqlite_url(tmp_path / "half.db")
    engine = open_store(target)
    with engine.begin() as conn:  # late in the copy, a table refuses its rows
        conn.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON case_results "
                          "BEGIN SELECT RAISE(ABORT, 'no results here'); END"))
    with pytest.raises(CopyError, match="case_results.*no results here"):
        copy_store(filled, target)
    assert count_calls(engine) == 0
