"""PostgreSQL: the calls table partitioned by month, so a prune drops a whole month at once.

`partition_calls_by_month` converts a store once (`evalboard db upgrade --partition-by-month`):
`calls` becomes a table partitioned by range of `created_at`, one partition a month
(`calls_y2026m01`) and a default partition (`calls_default`) for calls of months without one.
A prune replaces a month's partition by one holding only the calls it keeps
(`prune_months`). A partitioned table's primary key and unique
constraints must hold the partition key, so the key is `(id, created_at)` and the import key
`(source, external_id, created_at)`; the foreign keys of other tables to `calls.id` cannot
exist and are dropped. What they did when a call was deleted (delete or unlink the rows that
refer to it) a statement trigger on `calls` does instead; a dropped month fires nothing, so
prune removes or unlinks what refers to its calls first. (A migration must not add a foreign
key to `calls.id`: on a partitioned store it cannot be created.)

Writers create a month's partition before its first call is written
(`ensure_month_partitions`, in its own short transaction), with the next month's, so a month
rarely starts with DDL under load. A month whose calls are in the default partition already
(written before its partition existed) stays there.
"""

from __future__ import annotations

import logging
import re
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from graphlib import TopologicalSorter

from sqlalchemy import ColumnElement, Connection, Engine, MetaData, Table, func, select, text
from sqlalchemy.exc import DBAPIError

from evalboard.errors import EvalboardError
from evalboard.store.models import Call

log = logging.getLogger(__name__)

DEFAULT_PARTITION = "calls_default"
_MONTH_NAME = "calls_y{:04d}m{:02d}"
_BOUNDS = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")
_CREATE_LOCK = "evalboard.calls.partitions"  # an advisory lock: one creator at a time
_RECHECK_SECONDS = 300.0  # how long a process trusts "this store is not partitioned"
_CHECK_VIOLATION = "23514"
ON_DELETE_FUNCTION = "evalboard_calls_deleted"  # the trigger, and its function


class PartitionError(EvalboardError):
    """A conversion that cannot run (not PostgreSQL, partitioned already)."""


@dataclass(frozen=True)
class MonthPartition:
    """One month's partition of the calls: calls with start <= created_at < end."""

    name: str
    start: datetime
    end: datetime


@dataclass
class PartitionReport:
    """What a conversion did."""

    calls: int
    months: list[str]
    foreign_keys_dropped: list[str] = field(default_factory=list)
    seconds: float = 0.0


def month_start(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, 1)


def next_month(start: datetime) -> datetime:
    return datetime(start.year + start.month // 12, start.month % 12 + 1, 1)


def month_name(start: datetime) -> str:
    return _MONTH_NAME.format(start.year, start.month)


def is_partitioned(conn: Connection) -> bool:
    """True when the store's calls are a partitioned table (PostgreSQL only)."""
    if conn.dialect.name != "postgresql":
        return False
    kind = conn.execute(text("SELECT relkind FROM pg_class WHERE oid = to_regclass('calls')")
                        ).scalar_one_or_none()
    return kind == "p"


def month_partitions(conn: Connection) -> list[MonthPartition]:
    """The month partitions of the calls, oldest first (not the default partition)."""
    rows = conn.execute(text(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
        " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'calls'::regclass")).all()
    months = []
    for name, bound in rows:
        match = _BOUNDS.search(bound or "")
        if match:
            months.append(MonthPartition(name, datetime.fromisoformat(match.group(1)),
                                         datetime.fromisoformat(match.group(2))))
    return sorted(months, key=lambda month: month.start)


def _months_between(first: datetime, last: datetime) -> list[datetime]:
    months, start = [], month_start(first)
    while start <= last:
        months.append(start)
        start = next_month(start)
    return months


def _create_month(conn: Connection, start: datetime) -> None:
    conn.execute(text(
        f'CREATE TABLE IF NOT EXISTS "{month_name(start)}" PARTITION OF calls'
        f" FOR VALUES FROM ('{start.isoformat(sep=' ')}') TO "
        f"('{next_month(start).isoformat(sep=' ')}')"))


def calls_like(name: str) -> Table:
    """A table with the calls' written columns under another name (a partition, a copy):
    for INSERT ... SELECT between them (the search document is generated)."""
    return Call.__table__.to_metadata(MetaData(), name=name)


def copy_calls(conn: Connection, source: Table, target: Table,
               where: ColumnElement[bool] | None = None) -> None:
    """INSERT INTO target SELECT the calls' columns FROM source [WHERE where]."""
    rows = select(*source.c)
    if where is not None:
        rows = rows.where(where)
    conn.execute(target.insert().from_select([column.name for column in source.c], rows))


def partition_calls_by_month(engine: Engine, now: datetime) -> PartitionReport:
    """Convert the calls of a PostgreSQL store into monthly partitions, every row kept.

    One transaction: readers and writers of calls wait until it commits (about a minute per
    million calls: each row is copied and its search document computed again). Partitions
    span the first call's month to the month after the later of the last call and `now`.
    """
    if engine.dialect.name != "postgresql":
        raise PartitionError("partitioning calls by month needs PostgreSQL; a SQLite store "
                             "prunes in batches and its file shrinks")
    started = time.perf_counter()
    with engine.connect() as conn, conn.begin():
        if is_partitioned(conn):
            raise PartitionError("the calls are partitioned by month already")
        conn.execute(text("LOCK TABLE calls IN ACCESS EXCLUSIVE MODE"))
        references = _drop_references(conn)
        indexes = _drop_secondary_indexes(conn)
        conn.execute(text("ALTER TABLE calls DROP CONSTRAINT uq_calls_source_external_id"))
        conn.execute(text("ALTER TABLE calls DROP CONSTRAINT pk_calls"))
        conn.execute(text("ALTER TABLE calls RENAME TO calls_unpartitioned"))
        conn.execute(text(
            "CREATE TABLE calls (LIKE calls_unpartitioned INCLUDING DEFAULTS INCLUDING GENERATED"
            " INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY RANGE (created_at)"))
        conn.execute(text(f'CREATE TABLE "{DEFAULT_PARTITION}" PARTITION OF calls DEFAULT'))
        first, last = conn.execute(text(
            "SELECT min(created_at), max(created_at) FROM calls_unpartitioned")).one()
        months = _months_between(first or now, next_month(month_start(max(last or now, now))))
        for start in months:
            _create_month(conn, start)
        source = calls_like("calls_unpartitioned")
        copy_calls(conn, source, Call.__table__)
        calls = int(conn.execute(select(func.count()).select_from(source)).scalar_one())
        conn.execute(text("ALTER TABLE calls ADD CONSTRAINT pk_calls PRIMARY KEY (id, created_at)"))
        conn.execute(text("ALTER TABLE calls ADD CONSTRAINT uq_calls_source_external_id"
                          " UNIQUE (source, external_id, created_at)"))
        conn.execute(text(
            "ALTER TABLE calls ADD CONSTRAINT fk_calls_model_version_id_model_versions"
            " FOREIGN KEY (model_version_id) REFERENCES model_versions (id)"))
        for definition in indexes:
            conn.execute(text(definition))
        conn.execute(text("DROP TABLE calls_unpartitioned"))
        _keep_deletes_whole(conn, references)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE calls"))
    _STATES.pop(engine, None)
    return PartitionReport(calls=calls, months=[month_name(m) for m in months],
                           foreign_keys_dropped=[reference.name for reference in references],
                           seconds=time.perf_counter() - started)


@dataclass(frozen=True)
class _Reference:
    """A foreign key of another table to calls.id and what it does when a call goes."""

    table: str
    name: str
    column: str
    on_delete: str  # pg_constraint.confdeltype: c cascade, n set null, a/r refuse


def _drop_references(conn: Connection) -> list[_Reference]:
    """Drop the foreign keys of other tables to calls; what they were."""
    found = [_Reference(*row) for row in conn.execute(text(
        "SELECT c.conrelid::regclass::text, c.conname, a.attname, c.confdeltype"
        " FROM pg_constraint c JOIN pg_attribute a"
        " ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]"
        " WHERE c.confrelid = 'calls'::regclass AND c.contype = 'f' ORDER BY c.conname"))]
    for reference in found:
        conn.execute(text(f'ALTER TABLE {reference.table} DROP CONSTRAINT "{reference.name}"'))
    return found


def _on_delete_sql(reference: _Reference) -> str:
    table, column = reference.table, f'"{reference.column}"'
    if reference.on_delete == "c":
        return f"DELETE FROM {table} t USING gone g WHERE t.{column} = g.id;"
    if reference.on_delete == "n":
        return f"UPDATE {table} t SET {column} = NULL FROM gone g WHERE t.{column} = g.id;"
    return (f"IF EXISTS (SELECT 1 FROM {table} t JOIN gone g ON t.{column} = g.id) THEN"
            f" RAISE foreign_key_violation USING MESSAGE = 'calls are still referenced from"
            f" {table}.{reference.column}'; END IF;")


def _referrers_first(conn: Connection, references: list[_Reference]) -> list[str]:
    """The referencing tables, each before the tables it refers to (one statement at a time,
    a row must go before the row it refers to; foreign keys act at once)."""
    tables = sorted({reference.table for reference in references})
    graph: TopologicalSorter[str] = TopologicalSorter({table: () for table in tables})
    for referrer, referred in conn.execute(text(
            "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint"
            " WHERE contype = 'f' AND conrelid::regclass::text = ANY(:tables)"
            " AND confrelid::regclass::text = ANY(:tables) AND conrelid <> confrelid"),
            {"tables": tables}):
        graph.add(referred, referrer)
    return list(graph.static_order())


def _keep_deletes_whole(conn: Connection, references: list[_Reference]) -> None:
    """What the dropped foreign keys did when a call was deleted, as a statement trigger on
    calls (deleting through `calls`; a dropped partition fires nothing: prune handles it)."""
    order = {table: k for k, table in enumerate(_referrers_first(conn, references))}
    ordered = sorted(references, key=lambda reference: order[reference.table])
    body = "\n    ".join(_on_delete_sql(reference) for reference in ordered)
    conn.execute(text(
        f"CREATE OR REPLACE FUNCTION {ON_DELETE_FUNCTION}() RETURNS trigger LANGUAGE plpgsql"
        f" AS $body$\nBEGIN\n    {body}\n    RETURN NULL;\nEND\n$body$"))
    conn.execute(text(
        f"CREATE TRIGGER {ON_DELETE_FUNCTION} AFTER DELETE ON calls REFERENCING OLD TABLE AS"
        f" gone FOR EACH STATEMENT EXECUTE FUNCTION {ON_DELETE_FUNCTION}()"))


def _drop_secondary_indexes(conn: Connection) -> list[str]:
    """Drop the calls' indexes other than the key's and the import key's; their definitions
    (they are built again on the partitioned table, after the rows are in)."""
    found = conn.execute(text(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
        " AND tablename = 'calls' AND indexname NOT IN ('pk_calls', 'uq_calls_source_external_id')"
        " ORDER BY indexname")).all()
    for name, _ in found:
        conn.execute(text(f'DROP INDEX "{name}"'))
    return [definition for _, definition in found]


# --- partitions for new months ------------------------------------------------------------

@dataclass
class _StoreState:
    """What one process knows of a store's partitions."""

    partitioned: bool | None = None
    checked_at: float = 0.0
    months: set[datetime] = field(default_factory=set)  # have a partition, or live in default


_STATES: weakref.WeakKeyDictionary[Engine, _StoreState] = weakref.WeakKeyDictionary()


def _state(engine: Engine) -> _StoreState:
    state = _STATES.get(engine)
    if state is None:
        state = _STATES[engine] = _StoreState()
    stale = time.monotonic() - state.checked_at > _RECHECK_SECONDS
    if state.partitioned is None or (not state.partitioned and stale):
        with engine.connect() as conn:
            state.partitioned = is_partitioned(conn)
        state.checked_at = time.monotonic()
    return state


def ensure_month_partitions(engine: Engine, moments: Iterable[datetime | None]) -> None:
    """Create the partitions of the months of `moments` (and of each next month) that are
    missing, before calls of those months are written. A no-op unless the store is
    partitioned; one catalog query per month a process has not seen yet."""
    if engine.dialect.name != "postgresql":
        return
    state = _state(engine)
    if not state.partitioned:
        return
    starts = {month_start(moment) for moment in moments if moment is not None}
    wanted = (starts | {next_month(start) for start in starts}) - state.months
    if not wanted:
        return
    with engine.connect() as conn:
        existing = {month.start for month in month_partitions(conn)}
        conn.rollback()
        for start in sorted(wanted - existing):
            _create_month_now(conn, start)
    state.months |= wanted


def _create_month_now(conn: Connection, start: datetime) -> None:
    """One month's partition in its own short transaction; if the default partition holds
    calls of that month already, the month stays there."""
    try:
        with conn.begin():
            conn.execute(text("SET LOCAL lock_timeout = '10s'"))
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                         {"key": _CREATE_LOCK})
            _create_month(conn, start)
    except DBAPIError as exc:
        code = getattr(exc.orig, "sqlstate", None)
        if code != _CHECK_VIOLATION:
            log.warning("could not create the partition %s (%s); its calls go to %s",
                        month_name(start), exc.orig, DEFAULT_PARTITION)
