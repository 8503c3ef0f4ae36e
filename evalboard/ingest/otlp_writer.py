"""The receiver's writer: one thread that writes the calls of queued requests in batches.

The queue is bounded: `submit` raises `Busy` when it is full, and the HTTP side answers 503
with Retry-After, so the exporter retries and nothing is dropped. A request is answered only
after its calls are stored (or the write failed), so a success always means stored.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from evalboard.store.ids import IdPool
from evalboard.store.writes import WriteSummary, write_calls

log = logging.getLogger(__name__)
Rows = list[dict[str, Any]]
WriteRows = Callable[[Rows], WriteSummary]


class Busy(Exception):
    """The write queue is full: the client should retry later."""


@dataclass
class Job:
    rows: Rows
    done: threading.Event = field(default_factory=threading.Event)
    summary: WriteSummary | None = None
    error: str | None = None


def store_writer(engine: Engine) -> WriteRows:
    """Rows written through the store's one write path (ids from a pool of reserved blocks)."""
    ids = IdPool(engine, block_size=1000)
    return lambda rows: write_calls(engine, rows, ids)


class OtlpWriter:
    """Drains queued jobs, writing up to `batch_rows` rows of several requests at once."""

    def __init__(self, write: WriteRows, *, max_queued: int = 64, batch_rows: int = 2000) -> None:
        self._write = write
        self._queue: queue.Queue[Job | None] = queue.Queue(maxsize=max_queued)
        self._batch_rows = batch_rows
        self._thread = threading.Thread(target=self._run, name="evalboard-otlp-writer",
                                        daemon=True)
        self._thread.start()

    def submit(self, rows: Rows) -> Job:
        job = Job(rows)
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            raise Busy from None
        return job

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
