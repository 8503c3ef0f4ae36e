"""The schema comes from Alembic: upgrade, no drift against the models, downgrade, upgrade."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from evalboard.store import migrate
from evalboard.store.engine import make_engine
from evalboard.store.schema import Base
from evalboard.store.schema_extras import is_managed_by_migrations_only
from tests.support.marks import sqlite_only


def _include(obj, name, type_, reflected, compare_to):  # same rule as migrations/env.py
    return not (type_ == "table" and is_managed_by_migrations_only(name))


def _drift(engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": _include, "compare_type": True}
        )
        return compare_metadata(context, Base.metadata)


def test_upgrade_no_drift_downgrade_upgrade(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    assert migrate.current_revision(engine) is None

    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert _drift(engine) == []
    tables = set(inspect(engine).get_table_names())
    assert {"calls", "model_versions", "id_blocks", "calls_fts"} <= tables

    migrate.downgrade(engine, "base")
    assert migrate.current_revision(engine) is None
    leftover = set(inspect(engine).get_table_names()) - {"alembic_version"}
    assert leftover == set()

    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert _drift(engine) == []


def test_upgrade_is_idempotent_and_history_lists_revisions(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate.upgrade(engine)
    migrate.upgrade(engine)
    revisions = [rev for rev, _down, _msg in migrate.history()]
    assert revisions[-1] == migrate.head_revision()
    assert len(revisions) == len(set(revisions))


@sqlite_only
def test_sqlite_connections_are_tuned(engine):
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL


def test_full_text_search_survives_a_round_trip_of_every_revision(tmp_path):
    from tests.support.calls import add_calls

    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate.upgrade(engine, "0001")
    a_version = text(
        "INSERT INTO model_versions (id, name, created_at) VALUES (1, 'v', '2026-01-01');"
    )
    with engine.begin() as conn:
        conn.execute(a_version)
        conn.execute(text(
            "INSERT INTO calls (id, created_at, model_version_id, source, input_text, output) "
            "VALUES (1, '2026-01-01', 1, 'production', 'Old Prompt', 'old answer')"))
    migrate.upgrade(engine)  # later revisions backfill what they add
    with engine.connect() as conn:
        assert conn.execute(text("SELECT input_hash FROM calls")).scalar() is not None
    migrate.downgrade(engine, "0001")
    migrate.upgrade(engine)
    add_calls(engine, [{"input": "fresh words", "output": "zebra"}])
    with engine.connect() as conn:
        found = conn.execute(text(
            "SELECT rowid FROM calls_fts WHERE calls_fts MATCH 'zebra OR old'")).scalars().all()
    assert sorted(found) == [1, 2]
