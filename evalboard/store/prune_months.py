"""Prune a store whose calls are partitioned by month (PostgreSQL): a month wholly older than
the cutoff, and mostly calls to remove, is dropped as a table instead of deleted row by row.

For each such month: the rows computed from its removed calls (and, unless kept, what people
made on them) go first, a statement per table; the calls it keeps (reviewed, case origins, run
results) are copied into a new table with the calls' indexes; then one short transaction swaps
the two (detach the month's partition, attach the copy for the same month), the only moment
readers and writers of calls wait (an ACCESS EXCLUSIVE lock on calls: detaching cannot be
concurrent while a default partition exists). Calls that became kept meanwhile go back into
calls, rows that referred to the removed calls meanwhile go, and the detached table is
archived (with `--archive`) and dropped.
"""

from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Table,
    and_,
    exists,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.exc import OperationalError

from evalboard.store.engine import write_connection
from evalboard.store.models import Call
from evalboard.store.partitions import (
    MonthPartition,
    calls_like,
    copy_calls,
    is_partitioned,
    month_partitions,
)
from evalboard.store.prune_plan import (
    PruneOptions,
    PruneReport,
    RowSink,
    Step,
    kept_conditions,
    record_horizon,
    run_step,
    steps_for,
)

_ARCHIVE_CHUNK = 10_000
_SWAP_ATTEMPTS = 10
_SWAP_LOCK_TIMEOUT = "2s"
_LOCK_WAITS = ("55P03", "40P01")  # lock_not_available, deadlock_detected


def months_to_drop(conn: Connection, cutoff: datetime,
                   options: PruneOptions) -> list[MonthPartition]:
    """The month partitions wholly older than the cutoff that are mostly calls to remove (none
    unless partitioned); the batches delete the few removable calls of the others."""
    if not is_partitioned(conn):
        return []
    chosen = []
    for month in month_partitions(conn):
        if month.end > cutoff:
            continue
        table = calls_like(month.name)
        is_kept = _kept_clause(options, table)
        removable = func.count() if is_kept is None else func.count().filter(~is_kept)
        total, gone = conn.execute(select(func.count(), removable).select_from(table)).one()
        if gone and gone * 2 > total:
            chosen.append(month)
    return chosen


def drop_old_months(engine: Engine, options: PruneOptions, cutoff: datetime,
                    report: PruneReport, archive: RowSink | None) -> None:
    """Drop every month partition older than the cutoff that is mostly calls to remove,
    keeping its kept calls."""
    with engine.connect() as conn:
        months = months_to_drop(conn, cutoff, options)
    for month in months:
        _drop_month(engine, month, options, cutoff, report, archive)


def _kept_clause(options: PruneOptions, table: Table) -> ColumnElement[bool] | None:
    """True for a call of `table` that the prune keeps; None when it keeps none."""
    kept = kept_conditions(options, table.c.id)
    return or_(*kept) if kept else None


def _dependants(engine: Engine, steps: list[Step], ids: object, report: PruneReport,
                archive: RowSink | None) -> None:
    for step in steps:
        with write_connection(engine) as conn:
            rows = run_step(conn, step, ids, archive)
        report.add({step.table.name: rows}, report.unlinked if step.clear else report.removed)


def _drop_month(engine: Engine, month: MonthPartition, options: PruneOptions,
                cutoff: datetime, report: PruneReport, archive: RowSink | None) -> None:
    table = calls_like(month.name)
    is_kept = _kept_clause(options, table)
    removed = select(table.c.id) if is_kept is None else select(table.c.id).where(~is_kept)
    dependants = steps_for(options)[:-1]  # the last step deletes calls: the drop does that
    _dependants(engine, dependants, removed, report, archive)
    keeper = f"{month.name}_kept"
    _copy_kept(engine, table, keeper, month, is_kept)
    _swap(engine, month, keeper, cutoff)
    with write_connection(engine) as conn:
        in_calls = exists().where(Call.id == table.c.id, Call.created_at == table.c.created_at)
        if is_kept is not None:  # kept since the copy: a reviewer was quicker than the prune
            copy_calls(conn, table, Call.__table__, and_(is_kept, ~in_calls))
        conn.execute(table.delete().where(in_calls))  # the detached table: removed calls only
    # anything that came to refer to the month's removed calls before the detach committed
    _dependants(engine, dependants, select(table.c.id), report, archive)
    with engine.connect() as conn, conn.begin():
        calls = int(conn.execute(select(func.count()).select_from(table)).scalar_one())
        size = int(conn.execute(text("SELECT pg_total_relation_size(CAST(:t AS regclass))"),
                                {"t": month.name}).scalar_one())
        if archive is not None:
            _archive_calls(conn, table, archive, report)
        conn.execute(text(f'DROP TABLE "{month.name}"'))
        conn.execute(text(f'ALTER TABLE "{keeper}" RENAME TO "{month.name}"'))
    report.add({"calls": calls}, report.removed)
    report.bytes_freed = (report.bytes_freed or 0) + size
    report.dropped_months.append(month.name)


def _swap(engine: Engine, month: MonthPartition, keeper: str, cutoff: datetime) -> None:
    """Detach the month and attach its kept calls in its place: the only wait for readers
    and writers. Every lock is taken at once first (model versions, then calls and all its
    partitions, in a writer's order), so the swap cannot deadlock with a writer; a swap that
    waits too long gives way and tries again."""
    for attempt in range(_SWAP_ATTEMPTS):
        try:
            with write_connection(engine) as conn:
                conn.execute(text(f"SET LOCAL lock_timeout = '{_SWAP_LOCK_TIMEOUT}'"))
                # attaching checks the calls' foreign key: model_versions first, as writers
                conn.execute(text("LOCK TABLE model_versions IN SHARE ROW EXCLUSIVE MODE"))
                conn.execute(text("LOCK TABLE calls IN ACCESS EXCLUSIVE MODE"))
                conn.execute(text(f'ALTER TABLE calls DETACH PARTITION "{month.name}"'))
                conn.execute(text(f'ALTER TABLE calls ATTACH PARTITION "{keeper}" FOR VALUES'
                                  f" FROM ('{month.start}') TO ('{month.end}')"))
                record_horizon(conn, cutoff)
            return
        except OperationalError as exc:
            code = getattr(exc.orig, "sqlstate", None)
            if code not in _LOCK_WAITS or attempt == _SWAP_ATTEMPTS - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


def _copy_kept(engine: Engine, table: Table, keeper: str, month: MonthPartition,
               is_kept: ColumnElement[bool] | None) -> None:
    """A table like the calls holding the month's kept calls, with the calls' indexes and a
    check of the month's range (so attaching it reads nothing), built while nothing waits."""
    with engine.connect() as conn, conn.begin():
        conn.execute(text(f'DROP TABLE IF EXISTS "{keeper}"'))  # an interrupted prune's
        conn.execute(text(
            f'CREATE TABLE "{keeper}" (LIKE calls INCLUDING DEFAULTS INCLUDING GENERATED'
            " INCLUDING INDEXES INCLUDING STORAGE)"))
        conn.execute(text(
            f'ALTER TABLE "{keeper}" ADD CONSTRAINT "{keeper}_month" CHECK (created_at >='
            f" '{month.start}' AND created_at < '{month.end}')"))
        if is_kept is not None:
            copy_calls(conn, table, calls_like(keeper), is_kept)
        conn.execute(text(  # the calls' own foreign key, checked now rather than when attached
            f'ALTER TABLE "{keeper}" ADD FOREIGN KEY (model_version_id)'
            " REFERENCES model_versions (id)"))


def _archive_calls(conn: Connection, table: Table, archive: RowSink,
                   report: PruneReport) -> None:
    last = None
    while True:
        query = select(table).order_by(table.c.id).limit(_ARCHIVE_CHUNK)
        if last is not None:
            query = query.where(table.c.id > last)
        rows = [dict(row._mapping) for row in conn.execute(query)]
        if not rows:
            return
        report.batches += 1
        archive.write("calls", rows)
        last = rows[-1]["id"]
