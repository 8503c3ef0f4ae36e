"""Prune a store whose calls are partitioned by month (PostgreSQL): a month wholly older than
the cutoff is dropped as a table instead of deleted row by row.

For each such month: the rows computed from its removed calls (and, unless kept, what people
made on them) go first, a statement per table; then one short transaction detaches the
month's partition and moves the calls it keeps (reviewed, case origins, run results) into the
default partition, so they never disappear; readers and writers of calls wait for that
transaction only (an ACCESS EXCLUSIVE lock on calls: detaching cannot be concurrent while a
default partition exists). Rows that referred to the month's removed calls in the meantime go
next; the detached table is archived (with `--archive`) and dropped.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Engine, MetaData, Table, func, or_, select, text

from evalboard.store.engine import write_connection
from evalboard.store.models import Call
from evalboard.store.partitions import MonthPartition, is_partitioned, month_partitions
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


def months_to_drop(conn: Connection, cutoff: datetime) -> list[MonthPartition]:
    """The month partitions wholly older than the cutoff (none unless partitioned)."""
    if not is_partitioned(conn):
        return []
    return [month for month in month_partitions(conn) if month.end <= cutoff]


def drop_old_months(engine: Engine, options: PruneOptions, cutoff: datetime,
                    report: PruneReport, archive: RowSink | None) -> None:
    """Drop every month partition older than the cutoff, keeping its kept calls."""
    with engine.connect() as conn:
        months = months_to_drop(conn, cutoff)
    for month in months:
        _drop_month(engine, month, options, cutoff, report, archive)


def _partition(name: str) -> Table:
    return Call.__table__.to_metadata(MetaData(), name=name)


def _dependants(engine: Engine, steps: list[Step], ids: object, report: PruneReport,
                archive: RowSink | None) -> None:
    for step in steps:
        with write_connection(engine) as conn:
            rows = run_step(conn, step, ids, archive)
        report.add({step.table.name: rows}, report.unlinked if step.clear else report.removed)


def _drop_month(engine: Engine, month: MonthPartition, options: PruneOptions,
                cutoff: datetime, report: PruneReport, archive: RowSink | None) -> None:
    table = _partition(month.name)
    kept = kept_conditions(options, table.c.id)
    is_kept = or_(*kept) if kept else None
    removed = select(table.c.id)
    if is_kept is not None:
        removed = removed.where(~is_kept)
    dependants = steps_for(options)[:-1]  # the last step deletes calls: the drop does that
    _dependants(engine, dependants, removed, report, archive)
    with write_connection(engine) as conn:
        conn.execute(text("SET LOCAL lock_timeout = '30s'"))
        conn.execute(text(f'ALTER TABLE calls DETACH PARTITION "{month.name}"'))
        if is_kept is not None:
            columns = [column.name for column in table.c]
            moved = conn.execute(Call.__table__.insert().from_select(
                columns, select(*table.c).where(is_kept)))
            if moved.rowcount:
                conn.execute(table.delete().where(is_kept))
        record_horizon(conn, cutoff)
    # anything that came to refer to the month's calls before the detach committed
    _dependants(engine, dependants, select(table.c.id), report, archive)
    with engine.connect() as conn, conn.begin():
        calls = int(conn.execute(select(func.count()).select_from(table)).scalar_one())
        size = int(conn.execute(text("SELECT pg_total_relation_size(CAST(:t AS regclass))"),
                                {"t": month.name}).scalar_one())
        if archive is not None:
            _archive_calls(conn, table, archive, report)
        conn.execute(text(f'DROP TABLE "{month.name}"'))
    report.add({"calls": calls}, report.removed)
    report.bytes_freed = (report.bytes_freed or 0) + size
    report.dropped_months.append(month.name)


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
