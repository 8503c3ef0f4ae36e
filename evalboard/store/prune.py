"""Retention: delete calls older than a cutoff, in short batches, keeping what people made.

A call is kept when a reviewer touched it (annotations, review queue items, pairwise items and
answers) unless `keep_reviewed=False`, when a test case came from it unless
`keep_cases=False`, and when a run produced it unless `keep_runs=False`. Rows computed from a
call (monitor results, judge results on it, its embeddings) go with it in the same batch.
The daily rollups (`call_days`, `call_latency_days`) are never touched, so charts over time
stay whole. The full-text index follows the deletes (SQLite: the calls_fts triggers;
PostgreSQL: the GIN expression index).

Each batch is one short write transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: the batch's
calls are locked FOR UPDATE SKIP LOCKED), so writers wait at most one batch. With an archive
folder, every deleted row is written to Parquet (from the DELETE ... RETURNING rows, fsynced)
before the batch commits: nothing is deleted that was not written.

Space: on SQLite in incremental auto-vacuum mode the file shrinks after the prune; a store in
another mode keeps the pages for reuse unless `vacuum=True` switches it to incremental mode
with one VACUUM (writers wait during it). On PostgreSQL a plain VACUUM ANALYZE of the pruned
tables runs at the end (it does not lock out readers or writers), so new rows reuse the space.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Table,
    delete,
    exists,
    func,
    literal_column,
    or_,
    select,
    tuple_,
    update,
)

from evalboard import clock
from evalboard.errors import EvalboardError
from evalboard.store.case_models import EvalCase
from evalboard.store.engine import is_sqlite, write_connection
from evalboard.store.judge_models import JudgeCallResult
from evalboard.store.models import Call
from evalboard.store.monitor_models import MonitorResult
from evalboard.store.pairwise_models import PairwiseAnswer, PairwiseItem, pairwise_answer_labels
from evalboard.store.review_models import (
    Annotation,
    CallEmbedding,
    ReviewAnswer,
    ReviewItem,
    Setting,
    annotation_labels,
)
from evalboard.store.run_models import CaseResult

DEFAULT_BATCH = 2_000
PRUNED_BEFORE_KEY = "retention.pruned_before"
_AGE = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")
_AGE_UNITS = {"h": "hours", "d": "days", "w": "weeks"}
_VACUUM_STEP_PAGES = 2_000


class PruneError(EvalboardError, ValueError):
    """A prune that cannot run as asked (a bad age, an archive without pyarrow, a folder)."""


def parse_age(text: str) -> timedelta:
    """'90d', '12w' or '36h' as a timedelta."""
    match = _AGE.match(text)
    if not match or int(match.group(1)) == 0:
        raise PruneError(f"not an age: {text!r} (expected e.g. 90d, 12w or 36h, above 0)")
    return timedelta(**{_AGE_UNITS[match.group(2)]: int(match.group(1))})


@dataclass(frozen=True)
class PruneOptions:
    """What to prune: calls created before `now - older_than`, less what is kept."""

    older_than: timedelta
    keep_reviewed: bool = True
    keep_cases: bool = True
    keep_runs: bool = True
    dry_run: bool = False
    archive: Path | None = None
    vacuum: bool = False
    batch_size: int = DEFAULT_BATCH


@dataclass
class PruneReport:
    """What a prune removed (or, dry, would remove): rows per table, links cleared, space."""

    cutoff: datetime
    dry_run: bool
    removed: dict[str, int] = field(default_factory=dict)
    unlinked: dict[str, int] = field(default_factory=dict)
    kept_calls: int = 0
    batches: int = 0
    bytes_freed: int | None = None
    space_note: str = ""
    archive_files: list[Path] = field(default_factory=list)

    def add(self, counts: dict[str, int], into: dict[str, int]) -> None:
        for table, rows in counts.items():
            if rows:
                into[table] = into.get(table, 0) + rows


# --- what references a call -------------------------------------------------------------

def _refs(columns: Sequence[Any]) -> list[ColumnElement[bool]]:
    return [exists().where(column == Call.id) for column in columns]


def _kept_conditions(options: PruneOptions) -> list[ColumnElement[bool]]:
    """EXISTS clauses: a call matching any of them is kept."""
    kept: list[ColumnElement[bool]] = []
    if options.keep_reviewed:
        kept += _refs([Annotation.call_id, ReviewItem.call_id, PairwiseItem.call_a_id,
                       PairwiseItem.call_b_id, PairwiseAnswer.call_a_id,
                       PairwiseAnswer.call_b_id])
    if options.keep_cases:
        kept += _refs([EvalCase.origin_call_id])
    if options.keep_runs:
        kept += _refs([CaseResult.call_id])
    return kept


def _candidates(options: PruneOptions, cutoff: datetime) -> Any:
    query = select(Call.id, Call.created_at).where(Call.created_at < cutoff)
    kept = _kept_conditions(options)
    return query.where(~or_(*kept)) if kept else query


# --- one batch --------------------------------------------------------------------------

@dataclass(frozen=True)
class _Step:
    """One table's rows of a batch: deleted (archived) or a link to the calls cleared."""

    table: Table
    where: Callable[[Any], ColumnElement[bool]]  # of the batch's ids (a subquery)
    clear: str | None = None  # a column set to NULL instead of deleting the row


def _in(*columns: Any) -> Callable[[Any], ColumnElement[bool]]:
    return lambda ids: or_(*(column.in_(ids) for column in columns))


def _annotations_of(ids: Any) -> Any:
    return select(Annotation.id).where(Annotation.call_id.in_(ids))


def _answers_of(ids: Any) -> Any:
    return select(PairwiseAnswer.id).where(
        or_(PairwiseAnswer.call_a_id.in_(ids), PairwiseAnswer.call_b_id.in_(ids)))


def _steps(options: PruneOptions) -> list[_Step]:
    """Every table referencing calls, in the order a batch handles them (dependants first)."""
    steps = [
        _Step(MonitorResult.__table__, _in(MonitorResult.call_id)),
        _Step(JudgeCallResult.__table__, _in(JudgeCallResult.call_id)),
        _Step(CallEmbedding.__table__, _in(CallEmbedding.call_id)),
    ]
    if not options.keep_reviewed:
        steps += [
            _Step(ReviewItem.__table__, _in(ReviewItem.call_id)),
            _Step(ReviewAnswer.__table__,
                  lambda ids: ReviewAnswer.annotation_id.in_(_annotations_of(ids)),
                  clear="annotation_id"),
            _Step(annotation_labels,
                  lambda ids: annotation_labels.c.annotation_id.in_(_annotations_of(ids))),
            _Step(Annotation.__table__, _in(Annotation.call_id)),
            _Step(PairwiseItem.__table__, _in(PairwiseItem.call_a_id, PairwiseItem.call_b_id)),
            _Step(pairwise_answer_labels,
                  lambda ids: pairwise_answer_labels.c.answer_id.in_(_answers_of(ids))),
            _Step(PairwiseAnswer.__table__,
                  _in(PairwiseAnswer.call_a_id, PairwiseAnswer.call_b_id)),
        ]
    if not options.keep_cases:
        steps.append(_Step(EvalCase.__table__, _in(EvalCase.origin_call_id),
                           clear="origin_call_id"))
    if not options.keep_runs:
        steps.append(_Step(CaseResult.__table__, _in(CaseResult.call_id), clear="call_id"))
    steps.append(_Step(Call.__table__, lambda ids: Call.id.in_(ids)))
    return steps


def _count_step(conn: Connection, step: _Step, ids: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(step.table)
                            .where(step.where(ids))).scalar_one())


def _run_step(conn: Connection, step: _Step, ids: Any,
              archive: _Archive | None) -> int:
    if step.clear is not None:
        return int(conn.execute(update(step.table).where(step.where(ids))
                                .values({step.clear: None})).rowcount or 0)
    statement = delete(step.table).where(step.where(ids))
    if archive is None:
        return int(conn.execute(statement).rowcount or 0)
    rows = [dict(row._mapping) for row in conn.execute(statement.returning(*step.table.c))]
    archive.write(step.table.name, rows)
    return len(rows)


def _next_batch(conn: Connection, options: PruneOptions, cutoff: datetime,
                after: tuple[datetime, int] | None) -> list[tuple[datetime, int]]:
    """The (created_at, id) keys of the next batch, locked on PostgreSQL (FOR UPDATE: nobody
    can add a row referencing them until the batch commits)."""
    query = _candidates(options, cutoff)
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
    return _candidates(options, cutoff).with_only_columns(Call.id).where(
        key >= tuple_(*first), key <= tuple_(*last))


def _pg_row_bytes(conn: Connection, ids: Any) -> int:
    return int(conn.execute(select(func.coalesce(func.sum(
        func.pg_column_size(literal_column("calls.*"))), 0)).where(Call.id.in_(ids)))
        .scalar_one())


# --- archive ----------------------------------------------------------------------------

class _Archive:
    """Parquet files of deleted rows: <folder>/<table>/<stamp>-<batch>.parquet, fsynced."""

    def __init__(self, folder: Path, stamp: str) -> None:
        try:
            import pyarrow  # noqa: F401
            import pyarrow.parquet  # noqa: F401
        except ImportError as exc:
            raise PruneError("--archive writes Parquet and needs pyarrow: "
                             "pip install pyarrow (nothing was deleted)") from exc
        if folder.exists() and not folder.is_dir():
            raise PruneError(f"the archive folder is a file: {folder}")
        self.folder = folder
        self.stamp = stamp
        self.batch = 0
        self.files: list[Path] = []

    def write(self, table: str, rows: list[dict[str, Any]]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not rows:
            return
        folder = self.folder / table
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.stamp}-{self.batch:06d}.parquet"
        values = [{name: _archived(value) for name, value in row.items()} for row in rows]
        with open(path, "xb") as out:
            pq.write_table(pa.Table.from_pylist(values), out)
            out.flush()
            os.fsync(out.fileno())
        self.files.append(path)


def _archived(value: Any) -> Any:
    """JSON columns as JSON text (their shapes differ row to row)."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value


def read_archive(folder: Path | str, table: str) -> list[dict[str, Any]]:
    """The rows archived for one table, oldest batch first (JSON columns as JSON text)."""
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = []
    for path in sorted((Path(folder) / table).glob("*.parquet")):
        rows += pq.read_table(path).to_pylist()
    return rows


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
    archive = (_Archive(options.archive, clock.now().strftime("%Y%m%dT%H%M%S"))
               if options.archive is not None else None)
    sqlite = is_sqlite(engine)
    before_bytes = _sqlite_bytes(engine) if sqlite else 0
    if not sqlite:
        report.bytes_freed = 0
    steps = _steps(options)
    after: tuple[datetime, int] | None = None
    while True:
        with write_connection(engine) as conn:
            batch = _next_batch(conn, options, cutoff, after)
            if not batch:
                break
            ids = _batch_ids(options, cutoff, batch[0], batch[-1])
            if archive is not None:
                archive.batch = report.batches + 1
            if not sqlite:
                report.bytes_freed = (report.bytes_freed or 0) + _pg_row_bytes(conn, ids)
            for step in steps:
                rows = _run_step(conn, step, ids, archive)
                report.add({step.table.name: rows},
                           report.unlinked if step.clear else report.removed)
            _record_horizon(conn, cutoff)
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
    ids = _candidates(options, cutoff).with_only_columns(Call.id)
    old = int(conn.execute(select(func.count()).where(Call.created_at < cutoff)).scalar_one())
    for step in _steps(options):
        report.add({step.table.name: _count_step(conn, step, ids)},
                   report.unlinked if step.clear else report.removed)
    report.kept_calls = old - report.removed.get("calls", 0)


def _record_horizon(conn: Connection, cutoff: datetime) -> None:
    """Remember the newest cutoff pruned: calls before it may be gone while the rollups still
    count them (a reader counting stored calls before it must count the calls)."""
    current = conn.execute(select(Setting.value).where(Setting.key == PRUNED_BEFORE_KEY)
                           ).scalar_one_or_none()
    value = cutoff.isoformat()
    if current is None:
        conn.execute(Setting.__table__.insert().values(key=PRUNED_BEFORE_KEY, value=value,
                                                       updated_at=clock.now()))
    elif str(current) < value:
        conn.execute(update(Setting.__table__).where(Setting.key == PRUNED_BEFORE_KEY)
                     .values(value=value, updated_at=clock.now()))


def pruned_before(conn: Connection) -> datetime | None:
    """The newest cutoff a prune used (calls created before it may have been deleted)."""
    value = conn.execute(select(Setting.value).where(Setting.key == PRUNED_BEFORE_KEY)
                         ).scalar_one_or_none()
    return datetime.fromisoformat(value) if value else None
