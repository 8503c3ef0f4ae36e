"""Retention: delete calls older than a cutoff, in short batches, keeping what people made.

A call is kept when a reviewer touched it (annotations, review and team queue items, comments,
pairwise items and answers) unless `keep_reviewed=False`, when a test case came from it unless
`keep_cases=False`, and when a run produced it unless `keep_runs=False`. Rows computed from a
call (monitor results, judge results on it, its embeddings) go with it in the same batch
(`prune_plan`). The daily rollups (`call_days`, `call_latency_days`) are never touched, so
charts over time stay whole. The full-text index follows the deletes (SQLite: the calls_fts
triggers; PostgreSQL: the GIN index).

Each batch is one short write transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: the batch's
calls are locked FOR UPDATE), so writers wait at most one batch. On a PostgreSQL store whose
calls are partitioned by month, each month wholly older than the cutoff is dropped first
(`prune_months`); the batches remove the rest. With an archive folder, every deleted row is
written to Parquet (fsynced) before it is gone: nothing is deleted that was not written.

Space: on SQLite in incremental auto-vacuum mode the file shrinks after the prune; a store in
another mode keeps the pages for reuse unless `vacuum=True` switches it to incremental mode
with one VACUUM (writers wait during it). On PostgreSQL a plain VACUUM ANALYZE of the pruned
tables runs at the end (it does not lock out readers or writers), so new rows reuse the space;
a dropped month's files are gone at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, literal_column, select, tuple_

from evalboard import clock
from evalboard.store.engine import is_sqlite, write_connection
from evalboard.store.models import Call
from evalboard.store.prune_archive import Archive, read_archive
from evalboard.store.prune_months import drop_old_months, months_to_drop
from evalboard.store.prune_plan import (
    PruneError,
    PruneOptions,
    PruneReport,
    candidates,
    count_step,
    parse_age,
    pruned_before,
    record_horizon,
    run_step,
    steps_for,
)

__all__ = ["PruneError", "PruneOptions", "PruneReport", "parse_age", "prune_calls",
           "pruned_before", "read_archive"]

_VACUUM_STEP_PAGES = 2_000


def _next_batch(conn: Connection, options: PruneOptions, cutoff: datetime,
                after: tuple[datetime, int] | None) -> list[tuple[datetime, int]]:
    """The (created_at, id) keys of the next batch, locked on PostgreSQL (FOR UPDATE: nobody
    can add a row referencing them until the batch commits)."""
    query = candidates(options, cutoff)
    if after is not None:
        query = query.where(tuple_(Call.created_at, Call.id) > tuple_(*after))
    query = query.order_by(Call.created_at, Call.id).limit(options.batch_size)
    if not is_sqlite(conn.engine):  # SQLite's BEGIN IMMEDIATE already keeps writers out
        query = query.with_for_update(of=Call.__table__)
    return [(row.created_at, row.id) for row in conn.execute(query)]


def _batch_ids(options: PruneOptions, cutoff: datetime, first: tuple[datetime, int],
               last: tuple[datetime, int]) -> Any:
    """The ids of a batch as a subquery (its key window): no long lists of bound ids."""
    key = tuple_(Call.created_at, Call.id)
    return candidates(options, cutoff).with_only_columns(Call.id).where(
        key >= tuple_(*first), key <= tuple_(*last))


def _pg_row_bytes(conn: Connection, ids: Any) -> int:
    return int(conn.execute(select(func.coalesce(func.sum(
        func.pg_column_size(literal_column("calls.*"))), 0)).where(Call.id.in_(ids)))
        .scalar_one())


# --- space ------------------------------------------------------------------------------

def _sqlite_pages(raw: Any) -> tuple[int, int, int]:
    """(page_size, page_count, freelist_count) of a raw sqlite3 connection."""
    size, pages, free = (int(raw.execute(f"PRAGMA {name}").fetchone()[0])
                         for name in ("page_size", "page_count", "freelist_count"))
    return size, pages, free


def _sqlite_bytes(engine: Engine) -> int:
    with engine.connect() as conn:
        size, pages, _ = _sqlite_pages(conn.connection.dbapi_connection)
        return size * pages


def _sqlite_reclaim(engine: Engine, vacuum: bool, report: PruneReport, before: int) -> None:
    """Give the freed pages back to the file system where the store's mode allows. Runs on
    the raw connection, outside any transaction (VACUUM and checkpoints refuse one)."""
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        mode = int(raw.execute("PRAGMA auto_vacuum").fetchone()[0])
        if mode != 2 and vacuum:
            raw.execute("PRAGMA auto_vacuum=INCREMENTAL")
            raw.execute("VACUUM")
            mode = 2
            report.space_note = "VACUUMed; the store is now in incremental auto-vacuum mode"
        if mode == 2:
            steps = _sqlite_pages(raw)[2] // _VACUUM_STEP_PAGES + 1
            for _ in range(steps):  # short steps: writers get the lock between them
                # executescript steps the PRAGMA to its end (execute frees one page a call)
                raw.executescript(f"PRAGMA incremental_vacuum({_VACUUM_STEP_PAGES});")
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            report.space_note = report.space_note or "incremental vacuum: the file shrank"
        size, pages, free = _sqlite_pages(raw)
        report.bytes_freed = max(before - pages * size, 0)
        if mode != 2:
            report.space_note = (f"{free * size:,} bytes are free inside the file for new calls;"
                                 " run with --vacuum once to shrink the file (and let every "
                                 "later prune shrink it)")


_PG_VACUUMED = ("calls", "monitor_results", "judge_call_results", "call_embeddings")


def _pg_vacuum(engine: Engine, report: PruneReport) -> None:
    tables = [name for name in _PG_VACUUMED if report.removed.get(name)]
    if not tables:
        return
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql(f"VACUUM (ANALYZE) {', '.join(tables)}")
    report.space_note = ("the deleted rows' space is free for new rows (VACUUM ANALYZE ran; "
                         "the files keep their size)")
    if report.dropped_months:
        report.space_note = (f"the {len(report.dropped_months)} dropped month partition(s) "
                             "gave their files back; " + report.space_note)


# --- the prune --------------------------------------------------------------------------

def prune_calls(engine: Engine, options: PruneOptions,
                progress: Callable[[int], None] | None = None) -> PruneReport:
    """Delete (or, dry, count) the calls older than the options' age, batch by batch."""
    cutoff = clock.now() - options.older_than
    report = PruneReport(cutoff=cutoff, dry_run=options.dry_run)
    if options.dry_run:
        with engine.connect() as conn, conn.begin():
            _dry_counts(conn, options, cutoff, report)
        return report
    archive = (Archive(options.archive, clock.now().strftime("%Y%m%dT%H%M%S"))
               if options.archive is not None else None)
    sqlite = is_sqlite(engine)
    before_bytes = _sqlite_bytes(engine) if sqlite else 0
    if not sqlite:
        report.bytes_freed = 0
    if not sqlite:
        drop_old_months(engine, options, cutoff, report, archive)
        if progress is not None:
            progress(report.removed.get("calls", 0))
    steps = steps_for(options)
    after: tuple[datetime, int] | None = None
    while True:
        with write_connection(engine) as conn:
            batch = _next_batch(conn, options, cutoff, after)
            if not batch:
                break
            ids = _batch_ids(options, cutoff, batch[0], batch[-1])
            if not sqlite:
                report.bytes_freed = (report.bytes_freed or 0) + _pg_row_bytes(conn, ids)
            for step in steps:
                rows = run_step(conn, step, ids, archive)
                report.add({step.table.name: rows},
                           report.unlinked if step.clear else report.removed)
            record_horizon(conn, cutoff)
        report.batches += 1
        after = batch[-1]
        if progress is not None:
            progress(report.removed.get("calls", 0))
    if archive is not None:
        report.archive_files = archive.files
    with engine.connect() as conn:
        report.kept_calls = int(conn.execute(select(func.count()).where(
            Call.created_at < cutoff)).scalar_one())
    if sqlite:
        _sqlite_reclaim(engine, options.vacuum, report, before_bytes)
    else:
        _pg_vacuum(engine, report)
    return report


def _dry_counts(conn: Connection, options: PruneOptions, cutoff: datetime,
                report: PruneReport) -> None:
    ids = candidates(options, cutoff).with_only_columns(Call.id)
    report.dropped_months = [month.name for month in months_to_drop(conn, cutoff,
                                                                   options)]
    old = int(conn.execute(select(func.count()).where(Call.created_at < cutoff)).scalar_one())
    for step in steps_for(options):
        report.add({step.table.name: count_step(conn, step, ids)},
                   report.unlinked if step.clear else report.removed)
    report.kept_calls = old - report.removed.get("calls", 0)

