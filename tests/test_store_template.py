"""Per-test stores are copies of a template migrated once per session: a copy is the same as a
freshly migrated store, tests do not share data through the template, and `db_url` alone is
still a new, empty store."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, MetaData, Table, func, inspect, select, text

from evalboard.store import open_store
from evalboard.store.engine import make_engine
from evalboard.store.migrate import current_revision, head_revision
from evalboard.store.models import Call
from tests.pg_server import SERVER_ENV
from tests.support.calls import add_calls
from tests.support.stores import PARTITIONED_ENV, StoreTemplate, fresh_store


def _value(value: Any) -> Any:
    """A column's value; the time a migration seeded a row at is the wall clock's (migrations
    are frozen history, they do not read evalboard.clock), so two migrations differ there."""
    return "<seeded at>" if isinstance(value, datetime) else value


def _snapshot(engine: Engine) -> dict[str, Any]:
    """Everything a migrated store holds: revision, schema objects, every table's rows."""
    with engine.connect() as conn:
        tables = sorted(inspect(conn).get_table_names())
        meta = MetaData()
        rows = {name: sorted(repr(tuple(map(_value, row))) for row in conn.execute(
                    select(Table(name, meta, autoload_with=conn))))
                for name in tables}
        if engine.dialect.name == "sqlite":  # the FTS tables and triggers, their SQL included
            objects = sorted(conn.execute(text("SELECT type, name, sql FROM sqlite_master")))
        else:
            objects = sorted(conn.execute(text(
                "SELECT sequencename, last_value FROM pg_sequences")))
            objects += sorted(conn.execute(text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'")))
    return {"revision": current_revision(engine), "tables": tables, "rows": rows,
            "objects": [tuple(o) for o in objects]}


@pytest.mark.skipif(bool(os.environ.get(PARTITIONED_ENV)),
                    reason="the template is partitioned; a freshly migrated store is not")
def test_a_copied_store_is_a_freshly_migrated_one(engine, tmp_path):
    fresh_folder = tmp_path / "fresh"
    fresh_folder.mkdir()
    with fresh_store(os.environ.get(SERVER_ENV), fresh_folder) as url:
        fresh = open_store(url)
        try:
            copied, migrated = _snapshot(engine), _snapshot(fresh)
        finally:
            fresh.dispose()
    assert copied["revision"] == head_revision()
    assert copied["rows"]["labels"] and copied["rows"]["settings"]  # seeded by 0002
    assert copied == migrated


def test_writes_to_a_copy_leave_the_template_untouched(engine, migrated_template: StoreTemplate,
                                                       tmp_path: Path):
    add_calls(engine, [{"input": "only in this test", "output": "a"}])
    other_folder = tmp_path / "other"
    other_folder.mkdir()
    with fresh_store(migrated_template.server, other_folder, migrated_template) as url:
        other = open_store(url)
        try:
            with other.connect() as conn:
                assert conn.scalar(select(func.count()).select_from(Call)) == 0
        finally:
            other.dispose()


def test_db_url_alone_is_a_new_empty_store(db_url):
    """Tests of migrating or connecting to a new store get one: no template copy there."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            assert inspect(conn).get_table_names() == []
    finally:
        engine.dispose()
