"""The receiver's writers: how the calls of a request reach the store.

`OtlpWriter` (the default, `--ack stored`): one thread writes the calls of queued requests in
batches, and a request is answered once its calls are stored, so a 200 always means stored.
`QueuedWriter` (`--ack queued`): the client's batch writer (evalboard.client.writer), and a
request is answered once its calls are queued; the writer retries a busy store and keeps calls
it cannot write in a dead-letter file, as the client's batch mode does. `SpooledWriter`
(`--ack spooled`): the same, answered once the calls are also fsynced to a spool file (the
client's durable mode), so an answered export survives a crash: as fast for one exporter as
`queued`, and as safe as `stored`. Every writer's queue is bounded: a full one raises `Busy`,
answered 503 with Retry-After, so the exporter retries and nothing is dropped.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine

from evalboard.client.writer import BatchWriter, WriteError
from evalboard.ingest.otlp_evaluations import record_evaluations
from evalboard.store.ids import IdPool
from evalboard.store.writes import WriteSummary, write_calls

log = logging.getLogger(__name__)
Rows = list[dict[str, Any]]
WriteRows = Callable[[Rows], WriteSummary]


class Busy(Exception):
    """The write queue is full, or the write failed or took too long: the client should retry
    later (the message says why)."""


class Writer(Protocol):
    def store(self, chunks: Iterable[Rows], wait_s: float) -> tuple[int, int]: ...

    def close(self) -> None: ...


@dataclass
class Job:
    rows: Rows
    done: threading.Event = field(default_factory=threading.Event)
    summary: WriteSummary | None = None
    error: str | None = None


def make_writer(engine: Engine, ack: str, write: WriteRows | None = None,
                **options: Any) -> Writer:
    """The writer for `--ack stored` (OtlpWriter), `--ack queued` (QueuedWriter) or
    `--ack spooled` (SpooledWriter)."""
    from evalboard.client.connection import default_dead_letter, default_spool_dir

    write = write or store_writer(engine)
    if ack == "queued":
        return QueuedWriter(write, default_dead_letter(engine), **options)
    if ack == "spooled":
        options.setdefault("spool_dir", default_spool_dir(engine))
        return SpooledWriter(engine, write, default_dead_letter(engine), **options)
    return OtlpWriter(write, **options)


def store_writer(engine: Engine) -> WriteRows:
    """Rows written through the store's one write path (ids from a pool of reserved blocks),
    then their evaluation events as monitor results (evalboard.ingest.otlp_evaluations)."""
    ids = IdPool(engine, block_size=10_000)

    def write(rows: Rows) -> WriteSummary:
        summary = write_calls(engine, rows, ids)
        record_evaluations(engine, rows, summary.ids)
        return summary
    return write


def _wait(job: Job, deadline: float) -> WriteSummary:
    """The job's summary once written; Busy when it failed or is not written by `deadline`."""
    if not job.done.wait(max(0.0, deadline - time.monotonic())) or job.summary is None:
        raise Busy(job.error or "the store is slow; retry later")
    return job.summary


class OtlpWriter:
    """Drains queued jobs, writing up to `batch_rows` rows of several requests at once.

    The queue holds at most `max_queued` requests and `max_queued_rows` calls (a request
    larger than that alone is taken when the queue is empty, else it could never be stored):
    memory stays bounded by calls, however large the requests are.
    """

    def __init__(self, write: WriteRows, *, max_queued: int = 64, batch_rows: int = 2000,
                 max_queued_rows: int = 20_000) -> None:
        self._write = write
        self._queue: queue.Queue[Job | None] = queue.Queue(maxsize=max_queued)
        self._batch_rows = batch_rows
        self._max_queued_rows = max_queued_rows
        self._queued_rows = 0
        self._rows_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="evalboard-otlp-writer",
                                        daemon=True)
        self._thread.start()

    def submit(self, rows: Rows) -> Job:
        job = Job(rows)
        with self._rows_lock:
            queued = self._queued_rows
            if queued and queued + len(rows) > self._max_queued_rows:
                raise Busy(f"{queued:,} calls are waiting to be written; retry later")
            try:
                self._queue.put_nowait(job)
            except queue.Full:
                raise Busy("the store writer is behind; retry later") from None
            self._queued_rows += len(rows)
        return job

    def store(self, chunks: Iterable[Rows], wait_s: float) -> tuple[int, int]:
        """Write the rows of `chunks` (each queued as soon as the iterator gives it) and wait
        for them: (inserted, already stored). Busy when the queue is full of other requests,
        a write failed or the whole took longer than `wait_s`. A request's own queued chunks
        make a later chunk wait for room (not fail), so a large request flows through a
        small queue."""
        deadline = time.monotonic() + wait_s
        jobs: list[Job] = []
        for rows in chunks:
            while True:
                try:
                    jobs.append(self.submit(rows))
                    break
                except Busy:
                    waiting = [job for job in jobs if not job.done.is_set()]
                    if not waiting:
                        raise
                    _wait(waiting[0], deadline)
        inserted = already = 0
        for job in jobs:
            summary = _wait(job, deadline)
            inserted += summary.inserted
            already += summary.already_present
        return inserted, already

    def queued(self) -> int:
        return self._queue.qsize()

    def _next_batch(self) -> list[Job] | None:
        first = self._queue.get()
        if first is None:
            return None
        jobs, size = [first], len(first.rows)
        while size < self._batch_rows:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self._queue.put(None)  # stop after this batch
                break
            jobs.append(job)
            size += len(job.rows)
        with self._rows_lock:
            self._queued_rows -= size
        return jobs

    def _write_jobs(self, jobs: Sequence[Job]) -> None:
        rows = [row for job in jobs for row in job.rows]
        try:
            summary = self._write(rows)
        except Exception as error:  # noqa: BLE001 - the exporter retries; say why in the log
            log.warning("OTLP write of %d calls failed: %s", len(rows), error)
            for job in jobs:
                job.error = f"the store could not be written: {type(error).__name__}"
                job.done.set()
            return
        start = 0
        for job in jobs:
            ids = summary.ids[start:start + len(job.rows)]
            start += len(job.rows)
            inserted = sum(1 for row, stored in zip(job.rows, ids, strict=False)
                           if stored == row["id"])
            job.summary = WriteSummary(inserted=inserted, already_present=len(ids) - inserted,
                                       ids=tuple(ids))
            job.done.set()

    def _run(self) -> None:
        while (jobs := self._next_batch()) is not None:
            self._write_jobs(jobs)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout)


class QueuedWriter:
    """Answers once the calls are queued in a BatchWriter of at most `max_pending` rows."""

    def __init__(self, write: WriteRows, dead_letter: Path, *, max_pending: int = 50_000,
                 batch_rows: int = 2000, **batch_options: Any) -> None:
        self._max_pending = max_pending
        self._lock = threading.Lock()
        self._batch = BatchWriter(write, batch_size=batch_rows, max_pending=max_pending,
                                  dead_letter=dead_letter, flush_timeout=30.0, **batch_options)

    def store(self, chunks: Iterable[Rows], wait_s: float) -> tuple[int, int]:
        """Queue the rows of `chunks`: (queued, 0); Busy when they do not fit in the queue
        (then none of them is queued)."""
        rows = [row for chunk in chunks for row in chunk]
        with self._lock:  # one request's rows at a time, so the check below holds
            pending = self._batch.pending
            if pending and pending + len(rows) > self._max_pending:
                raise Busy(f"{pending:,} calls are waiting to be written; "
                           "retry later")
            self._accept(rows)
            for row in rows:
                self._batch.put(row)
        return len(rows), 0

    def _accept(self, rows: Rows) -> None:
        """What happens to a request's rows before they are queued (here: nothing)."""

    def close(self) -> None:
        try:
            self._batch.close()
        except WriteError as error:
            log.error("OTLP receiver: %s", error)


class SpooledWriter(QueuedWriter):
    """`--ack spooled`: answers once the calls are queued and fsynced to a spool file (the
    client's durable mode), so a 200 survives the receiver being killed or the power going
    out; the spool a dead receiver left is written when the next one starts (a call stored
    already is skipped). A replayed call's evaluation events stay in its metadata only."""

    def __init__(self, engine: Engine, write: WriteRows, dead_letter: Path, *, spool_dir: Path,
                 replay_timeout: float = 60.0, **options: Any) -> None:
        from evalboard.client.durable import replay_spools, spooled_writer_options
        from evalboard.client.spool import Spool

        self._ids = IdPool(engine, block_size=10_000)
        self.replayed = replay_spools(engine, self._ids, spool_dir, dead_letter, replay_timeout)
        self._spool = Spool(spool_dir)
        super().__init__(write, dead_letter, **options, **spooled_writer_options(self._spool))

    def _accept(self, rows: Rows) -> None:
        for row, call_id in zip(rows, self._ids.take_many(len(rows)), strict=True):
            row["id"] = call_id
        for row in rows:
            self._spool.append(row)
        self._spool.sync()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._spool.close()
