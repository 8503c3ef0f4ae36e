"""The monitor worker: applies every enabled monitor to the calls logged after its cursor.

Each monitor is processed in batches by call id. A batch is read in a short read transaction,
its sampled calls are checked outside any transaction (model-based checks on a small thread
pool: at most `concurrency` at once), then its results are written and the cursor advanced in
one short write transaction. The cursor only moves from the value the batch started at, so a
killed worker (or two workers on one store) never writes a result twice: the next run redoes
the unfinished batch, and the unique (monitor, call, check) key guards the rest.

Call ids grow with time within each writer, not across writers: a writer holding an older block
of ids can store a call below a cursor that another writer's calls moved on. After catching up,
each pass looks back LATE_WINDOW ids below the cursor for matching calls without results and
checks those too (a late call further back than that is missed).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Row, func, select, update

from evalboard.checks.base import CheckContext, CheckResult, CheckSpec, catalogue, run_check
from evalboard.errors import EvalboardError
from evalboard.judges.binding import use_store
from evalboard.monitors.definitions import MonitorView, check_names, list_monitors
from evalboard.monitors.sampling import is_sampled
from evalboard.store.calls_query import CallFilter, filter_conditions
from evalboard.store.engine import write_connection
from evalboard.store.models import Call, utcnow
from evalboard.store.monitor_models import MonitorCursor, MonitorResult
from evalboard.store.upsert import conflict_insert

log = logging.getLogger("evalboard.monitors")

# Check categories that call a model: they run on the worker's thread pool.
SLOW_CATEGORIES = frozenset({"model", "ner", "judge"})
BATCH_SIZE = 500
CONCURRENCY = 4
MAX_BACKOFF_SECONDS = 60.0
LATE_WINDOW = 50_000  # ids below the cursor looked at for calls stored late
_CALL_COLUMNS = (Call.id, Call.model_version_id, Call.created_at, Call.input_text,
                 Call.input_messages, Call.output, Call.latency_ms, Call.prompt_tokens,
                 Call.completion_tokens, Call.error, Call.meta.label("meta"))


@dataclass(frozen=True)
class WorkerSettings:
    """How much a batch holds and how many slow checks run at once."""

    batch_size: int = BATCH_SIZE
    concurrency: int = CONCURRENCY

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.concurrency < 1:
            raise ValueError("batch size and concurrency must be at least 1")


@dataclass
class PassReport:
    """What one pass over every enabled monitor did."""

    monitors: int = 0
    batches: int = 0
    scanned: int = 0  # calls matching a monitor's filter, sampled or not
    checked: int = 0  # calls checked (sampled)
    results: int = 0
    failures: int = 0
    per_monitor: dict[str, int] = field(default_factory=dict)  # name -> calls checked
    late: int = 0  # calls checked that were stored below a cursor
    errors: dict[str, str] = field(default_factory=dict)  # monitor -> why it stopped this pass

    def add(self, monitor: str, outcome: BatchOutcome, *, late: bool = False) -> None:
        """Count one batch (or the late calls) of a monitor."""
        if late:
            self.late += outcome.checked
        else:
            self.batches += 1
            self.scanned += outcome.scanned
        self.checked += outcome.checked
        self.results += outcome.results
        self.failures += outcome.failures
        self.per_monitor[monitor] = self.per_monitor.get(monitor, 0) + outcome.checked


def is_slow(spec: CheckSpec) -> bool:
    """Whether a check calls a model (and so runs on the thread pool)."""
    check = catalogue().get(spec.type)
    return check is not None and check.category in SLOW_CATEGORIES


def filter_of(monitor: MonitorView, conn: Connection) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a monitor's filter on calls (bound parameters only)."""
    spec = monitor.spec
    conditions = filter_conditions(conn, CallFilter(
        model_versions=spec.model_versions, sources=(spec.source,) if spec.source else ()))
    for key, value in spec.metadata.items():
        conditions.append(Call.meta[key].as_string() == value)
    return conditions


def context_of(row: Row[Any]) -> CheckContext:
    """What a check may know of a production call (it has no reference)."""
    return CheckContext(input=row.input_messages or row.input_text,
                        latency_ms=row.latency_ms, prompt_tokens=row.prompt_tokens,
                        completion_tokens=row.completion_tokens, error=row.error,
                        metadata=row.meta or {})


class Checker:
    """Runs a monitor's checks on calls: fast checks inline, slow ones on a bounded pool."""

    def __init__(self, concurrency: int = CONCURRENCY) -> None:
        self._pool = ThreadPoolExecutor(max_workers=concurrency,
                                        thread_name_prefix="evalboard-monitor-check")

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def results(self, monitor: MonitorView, rows: Sequence[Row[Any]]) -> list[dict[str, Any]]:
        """One result row per (call, check), in call then check order."""
        specs = monitor.spec.checks
        names = check_names(specs)
        slow = [is_slow(spec) for spec in specs]
        pending: list[tuple[Row[Any], str, CheckResult | Future[CheckResult]]] = []
        for row in rows:
            context = context_of(row)
            output = row.output or ""
            for spec, name, in_pool in zip(specs, names, slow, strict=True):
                outcome: CheckResult | Future[CheckResult] = (
                    self._pool.submit(run_check, spec, output, context) if in_pool
                    else run_check(spec, output, context))
                pending.append((row, name, outcome))
        now = utcnow()
        out = []
        slow_errors: list[str] = []
        for row, name, outcome in pending:
            result = outcome.result() if isinstance(outcome, Future) else outcome
            if isinstance(outcome, Future) and result.error is not None:
                slow_errors.append(result.error)
            out.append({"monitor_id": monitor.id, "call_id": row.id,
                        "model_version_id": row.model_version_id,
                        "call_created_at": row.created_at, "check_name": name,
                        "passed": result.passed, "score": result.score,
                        "reason": result.reason[:10_000], "error": result.error,
                        "judge_version_id": result.judge_version_id, "created_at": now})
        slow_total = sum(slow) * len(rows)
        if slow_total and len(slow_errors) == slow_total:
            raise BackendDown(f"monitor {monitor.name!r}: every model-based check failed "
                              f"({slow_errors[0]}); its calls wait for the next pass")
        return out


class BackendDown(EvalboardError):
    """Every model-based check of a batch failed (a judge's server down, say): the batch is
    not written and the cursor stays, so those calls are checked once the backend answers."""


class _Overtaken(Exception):
    """Another worker moved the cursor first: this batch is theirs."""


def _cursor(conn: Connection, monitor_id: int) -> int:
    value = conn.scalar(select(MonitorCursor.last_call_id)
                        .where(MonitorCursor.monitor_id == monitor_id))
    return int(value) if value is not None else 0


def ensure_cursor(engine: Engine, monitor_id: int) -> None:
    """A cursor at 0 for a monitor that has none (created before its cursor, or by hand);
    a read when it has one, so a pass takes no write lock for nothing."""
    with engine.connect() as conn:
        if conn.scalar(select(MonitorCursor.monitor_id)
                       .where(MonitorCursor.monitor_id == monitor_id)) is not None:
            return
    with write_connection(engine) as conn:
        conn.execute(conflict_insert(engine.dialect.name, MonitorCursor)
                     .values(monitor_id=monitor_id, last_call_id=0, start_call_id=0,
                             updated_at=utcnow())
                     .on_conflict_do_nothing())


def _insert_results(conn: Connection, results: list[dict[str, Any]]) -> None:
    """Insert result rows; one already there (written by another worker) stays as it was.
    RETURNING makes SQLAlchemy send multi-row INSERTs ("insertmanyvalues") instead of a
    statement per row."""
    if results:
        conn.execute(conflict_insert(conn.dialect.name, MonitorResult)
                     .on_conflict_do_nothing().returning(MonitorResult.id), results)


def _unchecked(monitor_id: int) -> ColumnElement[bool]:
    """A condition on calls: the monitor has no result for the call."""
    return ~select(MonitorResult.id).where(MonitorResult.monitor_id == monitor_id,
                                           MonitorResult.call_id == Call.id).exists()


def check_late_calls(engine: Engine, monitor: MonitorView, checker: Checker,
                     window: int | None = None) -> BatchOutcome:
    """Check the sampled calls up to LATE_WINDOW ids below the cursor that match the monitor
    and have no result (stored late by a writer with an older block of ids)."""
    window = LATE_WINDOW if window is None else window
    with engine.connect() as conn, conn.begin():
        cursor = conn.execute(select(MonitorCursor.last_call_id, MonitorCursor.start_call_id)
                              .where(MonitorCursor.monitor_id == monitor.id)).one_or_none()
        if cursor is None:
            return BatchOutcome(0, 0, 0, 0, True)
        low = max(int(cursor.start_call_id), int(cursor.last_call_id) - window)
        ids = list(conn.scalars(select(Call.id).where(
            Call.id > low, Call.id <= cursor.last_call_id, *filter_of(monitor, conn),
            _unchecked(monitor.id)).order_by(Call.id)))
        sampled = [i for i in ids if is_sampled(monitor.id, i, monitor.spec.sampling_rate)]
        rows = conn.execute(select(*_CALL_COLUMNS).where(Call.id.in_(sampled))
                            .order_by(Call.id)).all() if sampled else []
    if not rows:
        return BatchOutcome(len(ids), 0, 0, 0, True)
    results = checker.results(monitor, rows)
    with write_connection(engine) as conn:
        _insert_results(conn, results)
    log.info("monitor %r: checked %d calls stored after the cursor passed them", monitor.name,
             len(rows))
    failures = sum(1 for r in results if not r["passed"])
    return BatchOutcome(len(ids), len(rows), len(results), failures, True)


@dataclass(frozen=True)
class BatchOutcome:
    scanned: int
    checked: int
    results: int
    failures: int
    done: bool  # the monitor has caught up with `head`


def process_batch(engine: Engine, monitor: MonitorView, head: int, checker: Checker,
                  batch_size: int = BATCH_SIZE) -> BatchOutcome:
    """Check the next batch of calls after the monitor's cursor (up to call id `head`), then
    write the results and advance the cursor in one transaction."""
    with engine.connect() as conn, conn.begin():
        start = _cursor(conn, monitor.id)
        ids = list(conn.scalars(select(Call.id).where(
            Call.id > start, Call.id <= head, *filter_of(monitor, conn))
            .order_by(Call.id).limit(batch_size)))
        sampled = [i for i in ids if is_sampled(monitor.id, i, monitor.spec.sampling_rate)]
        rows = conn.execute(select(*_CALL_COLUMNS).where(Call.id.in_(sampled))
                            .order_by(Call.id)).all() if sampled else []
    done = len(ids) < batch_size
    end = head if done else ids[-1]
    if end <= start:
        return BatchOutcome(0, 0, 0, 0, True)
    results = checker.results(monitor, rows)
    try:
        with write_connection(engine) as conn:
            moved = conn.execute(
                update(MonitorCursor)
                .where(MonitorCursor.monitor_id == monitor.id,
                       MonitorCursor.last_call_id == start)
                .values(last_call_id=end, updated_at=utcnow())).rowcount
            if moved != 1:
                raise _Overtaken
            _insert_results(conn, results)
    except _Overtaken:
        log.info("monitor %r: another worker took calls after %s", monitor.name, start)
        return BatchOutcome(0, 0, 0, 0, False)
    failures = sum(1 for r in results if not r["passed"])
    return BatchOutcome(len(ids), len(rows), len(results), failures, done)


def _catch_up(engine: Engine, monitor: MonitorView, head: int, checker: Checker,
              settings: WorkerSettings, stop: threading.Event | None,
              report: PassReport) -> None:
    """Batches of one monitor up to `head`, then its late calls."""
    while not (stop is not None and stop.is_set()):
        outcome = process_batch(engine, monitor, head, checker, settings.batch_size)
        report.add(monitor.name, outcome)
        if outcome.done:
            break
    if not (stop is not None and stop.is_set()):
        report.add(monitor.name, check_late_calls(engine, monitor, checker), late=True)


def run_pass(engine: Engine, settings: WorkerSettings | None = None,
             stop: threading.Event | None = None,
             monitors: Sequence[MonitorView] | None = None) -> PassReport:
    """Bring every enabled monitor up to the newest call; stops early when `stop` is set."""
    settings = settings or WorkerSettings()
    report = PassReport()
    chosen = list_monitors(engine, enabled_only=True) if monitors is None else list(monitors)
    with engine.connect() as conn:
        head = int(conn.scalar(select(func.coalesce(func.max(Call.id), 0))) or 0)
    checker = Checker(settings.concurrency)
    try:
        with use_store(engine):  # judge checks read their judges from this store
            for monitor in chosen:
                ensure_cursor(engine, monitor.id)
                report.monitors += 1
                try:
                    _catch_up(engine, monitor, head, checker, settings, stop, report)
                except BackendDown as exc:  # the other monitors go on
                    log.warning("%s", exc)
                    report.errors[monitor.name] = str(exc)
    finally:
        checker.close()
    return report


def run_forever(engine: Engine, stop: threading.Event, *, interval: float = 5.0,
                settings: WorkerSettings | None = None,
                on_pass: Callable[[PassReport], None] | None = None) -> None:
    """Run passes every `interval` seconds until `stop` is set. A failed pass is logged and
    retried after a backoff that doubles up to MAX_BACKOFF_SECONDS; the loop never dies of it."""
    backoff = 0.0
    while not stop.is_set():
        try:
            report = run_pass(engine, settings, stop)
        except Exception:  # noqa: BLE001 - logged, retried: the worker must not die
            backoff = min(MAX_BACKOFF_SECONDS, max(1.0, backoff * 2))
            log.exception("monitor pass failed; retrying in %.0f s", backoff)
            stop.wait(backoff)
            continue
        backoff = 0.0
        if on_pass is not None:
            on_pass(report)
        stop.wait(interval)


class BackgroundMonitors:
    """The worker on a daemon thread (inside `evalboard serve`): `stop()` sets its stop event
    and joins it, so an exit never hangs on it."""

    def __init__(self, engine: Engine, *, interval: float = 5.0,
                 settings: WorkerSettings | None = None) -> None:
        self.stop_event = threading.Event()
        self._thread = threading.Thread(
            target=run_forever, args=(engine, self.stop_event),
            kwargs={"interval": interval, "settings": settings},
            name="evalboard-monitors", daemon=True)

    def start(self) -> BackgroundMonitors:
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> bool:
        """Ask the worker to stop after its batch and wait up to `timeout`; True once stopped."""
        self.stop_event.set()
        self._thread.join(timeout)
        return not self._thread.is_alive()


@contextmanager
def background_monitors(engine: Engine | None, *, interval: float = 5.0
                        ) -> Iterator[BackgroundMonitors | None]:
    """The background worker on `engine` while the block runs (nothing when engine is None);
    stopped and joined when the block ends, however it ends."""
    if engine is None:
        yield None
        return
    worker = BackgroundMonitors(engine, interval=interval).start()
    log.info("monitor worker started (every %g s)", interval)
    try:
        yield worker
    finally:
        if not worker.stop():
            log.warning("the monitor worker is still finishing a check; leaving it behind")
