"""Copy a whole store to another URL (SQLite <-> PostgreSQL), ids and all.

Both stores are upgraded to the newest schema first. The source is read in one snapshot, table
by table in foreign-key order and in batches; the target is written in one transaction, so a
failed copy leaves it as it was. Afterwards PostgreSQL sequences and the id allocator's
counters continue after the copied ids; on SQLite the FTS triggers index every copied call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, Connection, Engine, Table, bindparam, func, insert, select, text
from sqlalchemy.exc import DBAPIError

from evalboard.errors import EvalboardError
from evalboard.store import migrate, open_store
from evalboard.store.backup import BackupError, sqlite_path, tables_with_user_data
from evalboard.store.engine import write_connection
from evalboard.store.ids import _ID_COLUMNS
from evalboard.store.models import IdBlock
from evalboard.store.records import replace_nul
from evalboard.store.schema import Base

Progress = Callable[[str, int, int], None]  # (table, rows copied so far, rows in the table)
BATCH_ROWS = 5000


class CopyError(EvalboardError, ValueError):
    """The copy cannot start (same store, non-empty target) or a row does not fit the target."""


@dataclass
class CopySummary:
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows copied
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def _location(engine: Engine) -> str:
    """Where a store lives: a SQLite file's absolute path, else the URL without driver and
    password (so two spellings of one database compare equal)."""
    try:
        return str(sqlite_path(engine))
    except BackupError:
        url = engine.url.set(drivername=engine.url.get_backend_name(), password=None)
        return url.render_as_string()


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """A read-only connection that sees one consistent state of the store throughout."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ",
                                          postgresql_readonly=True)
        with conn.begin():
            yield conn


def _self_references(table: Table) -> list[Column[Any]]:
    """Columns referring to the same table (a parent version, a retracted annotation): copied
    as NULL first and filled in once every row of the table is there."""
    return [fk.parent for fk in table.foreign_keys if fk.column.table is table]


def _copy_table(source: Connection, target: Connection, table: Table, total: int,
                progress: Progress | None, batch_rows: int) -> int:
    deferred = _self_references(table)
    pk = list(table.primary_key.columns)
    clean = replace_nul if target.dialect.name == "postgresql" else None
    copied = 0
    later: list[dict[str, Any]] = []
    rows = source.execution_options(yield_per=batch_rows).execute(select(table).order_by(*pk))
    for batch in rows.partitions():
        values = [{column.key: (clean(value) if clean else value)
                   for column, value in zip(table.columns, row, strict=True)} for row in batch]
        for row in values:
            if any(row[column.key] is not None for column in deferred):
                later.append({**{f"pk_{c.key}": row[c.key] for c in pk},
                              **{f"v_{c.key}": row[c.key] for c in deferred}})
                row.update({column.key: None for column in deferred})
        try:
            target.execute(insert(table), values)
        except DBAPIError as exc:
            reason = str(exc.orig or exc).splitlines()[0]
            raise CopyError(f"cannot copy table {table.name} (rows after {copied}): {reason}"
                            ) from exc
        copied += len(values)
        if progress:
            progress(table.name, copied, total)
    if later:
        update = table.update().where(*(c == bindparam(f"pk_{c.key}") for c in pk)).values(
            {c.key: bindparam(f"v_{c.key}") for c in deferred})
        for start in range(0, len(later), batch_rows):
            target.execute(update, later[start:start + batch_rows])
    if progress and not copied:
        progress(table.name, 0, 0)
    return copied


def _continue_counters(target: Connection) -> None:
    """Let new rows follow the copied ids: PostgreSQL sequences and the id allocator."""
    if target.dialect.name == "postgresql":
        for table in Base.metadata.sorted_tables:
            for column in table.primary_key.columns:
                sequence = target.execute(select(func.pg_get_serial_sequence(
                    table.name, column.name))).scalar()
                if sequence:
                    target.execute(select(func.setval(
                        sequence, func.coalesce(func.max(column), 0) + 1, False)))
    for name, column in _ID_COLUMNS.items():
        floor = target.execute(select(func.coalesce(func.max(column), 0) + 1)).scalar_one()
        current = target.execute(
            select(IdBlock.next_id).where(IdBlock.table_name == name)).scalar()
        if current is None:
            target.execute(insert(IdBlock).values(table_name=name, next_id=floor))
        elif current < floor:
            target.execute(IdBlock.__table__.update().where(IdBlock.table_name == name)
                           .values(next_id=floor))


def copy_store(from_url: str, to_url: str, progress: Progress | None = None, *,
               force: bool = False, batch_rows: int = BATCH_ROWS) -> CopySummary:
    """Copy every row of the store at `from_url` into the store at `to_url`, keeping ids.

    The target must hold no data (migration seeds such as the default labels do not count)
    unless `force`, which replaces everything in it. `progress(table, done, total)` is called
    after every batch.
    """
    started = time.perf_counter()
    source, target = open_store(from_url), open_store(to_url)
    try:
        if _location(source) == _location(target):
            raise CopyError("the source and the target are the same store")
        tables = Base.metadata.sorted_tables
        summary = CopySummary()
        with _snapshot(source) as read, write_connection(target) as write:
            occupied = tables_with_user_data(write)
            if occupied and not force:
                more = f" and {len(occupied) - 3} more tables" if len(occupied) > 3 else ""
                raise CopyError(
                    f"the target store already holds data (in {', '.join(occupied[:3])}{more}): "
                    "copy into an empty store, or pass --force to replace everything in it")
            for table in reversed(tables):
                write.execute(table.delete())
            for table in tables:
                total = read.execute(select(func.count()).select_from(table)).scalar_one()
                summary.rows[table.name] = _copy_table(read, write, table, total, progress,
                                                       batch_rows)
            _continue_counters(write)
        if target.dialect.name == "postgresql":
            with target.connect() as conn:
                conn.execute(text("ANALYZE"))
                conn.commit()
        else:
            migrate.refresh_planner_statistics(target)
        summary.seconds = time.perf_counter() - started
        return summary
    finally:
        source.dispose()
        target.dispose()
