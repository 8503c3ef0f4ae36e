"""A background writer: callers enqueue rows, one thread writes them in short batches.

Memory is bounded by the queue (a full queue makes callers wait: back-pressure, never
dropping). A batch that cannot be written after retries is kept in `failed`, appended to a
dead-letter JSONL file and reported by the next `flush()`.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger(__name__)

_STOP = object()


class WriteError(RuntimeError):
    """Some rows could not be written; they are listed and kept in a dead-letter file."""

    def __init__(self, rows: Sequence[dict[str, Any]], reason: str, dead_letter: Path | None):
        where = f"; saved to {dead_letter}" if dead_letter else ""
        super().__init__(f"{len(rows)} call(s) could not be written: {reason}{where}")
        self.rows = list(rows)
        self.dead_letter = dead_letter


class BatchWriter:
    """Writes rows through `write_batch` on a daemon thread."""

    def __init__(
        self,
        write_batch: Callable[[list[dict[str, Any]]], object],
        *,
        batch_size: int = 500,
        flush_interval: float = 0.2,
        max_pending: int = 20_000,
        retries: int = 5,
        dead_letter: Path | None = None,
    ) -> None:
        self._write_batch = write_batch
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._retries = retries
        self._dead_letter = dead_letter
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_pending)
        self._failed: list[dict[str, Any]] = []
        self._failure_reason = ""
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="evalboard-writer", daemon=True)
        self._thread.start()

    def put(self, row: dict[str, Any]) -> None:
        """Enqueue a row; waits while the queue is full."""
        if self._closed:
            raise RuntimeError("the writer is closed")
        self._queue.put(row)

    def flush(self) -> None:
        """Wait until every enqueued row is written; raise WriteError for rows that failed."""
        self._queue.join()
        with self._lock:
            failed, self._failed = self._failed, []
            reason = self._failure_reason
        if failed:
            raise WriteError(failed, reason, self._dead_letter)

    def close(self) -> None:
        """Write what is pending, stop the thread, report failures."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join()
        self.flush()

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[dict[str, Any]] = []
            first = self._queue.get()
            if first is _STOP:
                self._queue.task_done()
                return
            batch.append(first)
            deadline = time.monotonic() + self._flush_interval
            while len(batch) < self._batch_size:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    self._queue.task_done()
                    break
                batch.append(item)
            try:
                self._write_with_retries(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _write_with_retries(self, batch: list[dict[str, Any]]) -> None:
        delay = 0.05
        for attempt in range(self._retries + 1):
            try:
                self._write_batch(batch)
                return
            except OperationalError as exc:  # locked, connection lost: worth another try
                if attempt == self._retries:
                    self._give_up(batch, str(exc.orig or exc))
                    return
                log.warning("evalboard: write failed (%s), retrying in %.2fs", exc.orig, delay)
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
            except (DBAPIError, ValueError, KeyError, TypeError) as exc:
                self._write_rows_one_by_one(batch, exc)
                return

    def _write_rows_one_by_one(self, batch: list[dict[str, Any]], batch_error: Exception) -> None:
        """Isolate the rows a batch failed on, so one bad row does not sink its neighbours."""
        if len(batch) == 1:
            self._give_up(batch, str(batch_error))
            return
        for row in batch:
            try:
                self._write_batch([row])
            except Exception as exc:  # noqa: BLE001 - kept and reported, never swallowed
                self._give_up([row], str(exc))

    def _give_up(self, rows: list[dict[str, Any]], reason: str) -> None:
        log.error("evalboard: %d call(s) could not be written: %s", len(rows), reason)
        with self._lock:
            self._failed.extend(rows)
            self._failure_reason = reason
        if self._dead_letter is not None:
            try:
                with self._dead_letter.open("a", encoding="utf-8") as handle:
                    for row in rows:
                        handle.write(json.dumps(row, default=str, ensure_ascii=False) + "\n")
            except OSError as exc:
                log.error(
                    "evalboard: cannot write the dead-letter file %s: %s", self._dead_letter, exc
                )
