"""A background writer: callers enqueue rows, one thread writes them in short batches.

Memory is bounded by the queue (a full queue makes callers wait: back-pressure, never
dropping). The thread never dies: a batch that fails is retried when the store is busy or
unreachable, and otherwise split in halves until the rows it fails on are found; the other rows
are written, the bad ones are kept in `failed`, appended to a dead-letter JSONL file and
reported by the next `flush()`. `flush()` and `close()` wait while writes make progress and give
up once no batch has finished for `flush_timeout` seconds (a store that stopped answering), then
say how many rows are still pending (FlushTimeout). The queue is bounded, so the wait is too.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError

from evalboard.errors import EvalboardError

log = logging.getLogger(__name__)

Rows = list[dict[str, Any]]


class WriteError(EvalboardError, RuntimeError):
    """Some rows could not be written; they are listed and kept in a dead-letter file."""

    def __init__(self, rows: Sequence[dict[str, Any]], reason: str, dead_letter: Path | None):
        where = f"; saved to {dead_letter}" if dead_letter else ""
        super().__init__(f"{len(rows)} call(s) could not be written: {reason}{where}")
        self.rows = list(rows)
        self.dead_letter = dead_letter


class FlushTimeout(WriteError):
    """Rows were still pending when `flush()` or `close()` stopped waiting."""

    def __init__(self, pending: int, timeout: float, where: str,
                 rows: Sequence[dict[str, Any]] = (), dead_letter: Path | None = None) -> None:
        RuntimeError.__init__(
            self, f"{pending} call(s) not written: no write finished for {timeout:g} s (the "
                  f"store is locked or unreachable); {where}")
        self.rows = list(rows)
        self.dead_letter = dead_letter
        self.pending = pending


class BatchWriter:
    """Writes rows through `write_batch` on a daemon thread.

    `on_done(rows)` is called once rows are settled (written, or dead-lettered); `before_write`
    runs before each batch (durable mode syncs its spool there). `abandon(rows)` is what
    `close()` does with the rows still pending when it stops waiting; it returns where they
    went (by default: appended to the dead-letter file).
    """

    def __init__(
        self,
        write_batch: Callable[[Rows], object],
        *,
        batch_size: int = 500,
        flush_interval: float = 0.2,
        max_pending: int = 20_000,
        retries: int = 5,
        dead_letter: Path | None = None,
        flush_timeout: float = 10.0,
        before_write: Callable[[], object] | None = None,
        on_done: Callable[[Rows], object] | None = None,
        abandon: Callable[[Rows], str] | None = None,
    ) -> None:
        self._write_batch = write_batch
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._retries = retries
        self._dead_letter = dead_letter
        self.flush_timeout = flush_timeout
        self._before_write = before_write
        self._on_done = on_done
        self._abandon = abandon or self._save_to_dead_letter
        self._max_pending = max_pending
        self._failed: Rows = []
        self._failure_reason = ""
        # One re-entrant lock for all state: a signal handler may flush or close while its own
        # thread is inside put().
        self._lock = threading.RLock()
        self._has_rows = threading.Condition(self._lock)
        self._has_space = threading.Condition(self._lock)
        self._progress = threading.Condition(self._lock)
        self._rows: deque[dict[str, Any]] = deque()
        self._accepted = 0
        self._settled = 0
        self._in_flight: Rows = []
        self._hurry = False
        self._stopping = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="evalboard-writer", daemon=True)
        self._thread.start()

    def put(self, row: dict[str, Any]) -> None:
        """Enqueue a row; waits while `max_pending` rows are queued (back-pressure)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the writer is closed")
            while len(self._rows) >= self._max_pending:
                self._has_space.wait()
            self._rows.append(row)
            self._accepted += 1
            self._has_rows.notify()

    @property
    def pending(self) -> int:
        """Rows accepted and not yet written or dead-lettered."""
        with self._lock:
            return self._accepted - self._settled

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every row accepted so far is settled, giving up when no batch finished for
        `timeout` seconds (default `flush_timeout`): raise FlushTimeout with the count still
        pending, WriteError for rows that failed."""
        timeout = self.flush_timeout if timeout is None else timeout
        with self._lock:
            target = self._accepted
            self._hurry_up()
            done = self._wait_settled(target, timeout)
            pending = target - self._settled
        if not done:
            raise FlushTimeout(pending, timeout, "they are still queued and will be written "
                               "when the store answers")
        self._report_failures()

    def close(self, timeout: float | None = None) -> None:
        """Write what is pending (as `flush` waits), stop the thread, report failures.

        Rows still pending when the wait gives up are handed to `abandon` (by default the
        dead-letter file) and reported with FlushTimeout.
        """
        timeout = self.flush_timeout if timeout is None else timeout
        with self._lock:
            if self._closed:
                return
            self._closed = self._stopping = True
            self._hurry_up()
            done = self._wait_settled(self._accepted, timeout)
        if done:
            self._thread.join(timeout)
        if not done or self._thread.is_alive():
            with self._lock:
                left = [*self._in_flight, *self._rows]
                self._rows.clear()
            raise FlushTimeout(len(left), timeout, self._abandon(left), left, self._dead_letter)
        self._report_failures()

    def _wait_settled(self, target: int, timeout: float) -> bool:
        """Wait (holding the lock) until `target` rows are settled; False once no batch
        finished for `timeout` seconds."""
        last, quiet_since = self._settled, time.monotonic()
        while self._settled < target:
            remaining = quiet_since + timeout - time.monotonic()
            if remaining <= 0:
                return False
            self._progress.wait(remaining)
            if self._settled != last:
                last, quiet_since = self._settled, time.monotonic()
        return True

    def _hurry_up(self) -> None:
        self._hurry = True
        self._has_rows.notify_all()

    def _report_failures(self) -> None:
        with self._lock:
            failed, self._failed = self._failed, []
            reason = self._failure_reason
        if failed:
            raise WriteError(failed, reason, self._dead_letter)

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            try:
                if self._before_write is not None:
                    self._before_write()
                self._write(batch)
            except BaseException as exc:  # noqa: BLE001 - last resort: the thread never dies
                self._give_up(batch, _describe(exc))
            finally:
                self._settle(batch)

    def _next_batch(self) -> Rows | None:
        """Up to batch_size rows, waiting at most flush_interval after the first (no wait once
        a flush or close asked to hurry); None when stopping and nothing is left."""
        with self._lock:
            deadline: float | None = None
            while True:
                now = time.monotonic()
                if self._rows and (len(self._rows) >= self._batch_size or self._hurry
                                   or self._stopping or (deadline is not None and now >= deadline)):
                    break
                if not self._rows and self._stopping:
                    return None
                if self._rows and deadline is None:
                    deadline = now + self._flush_interval
                self._has_rows.wait(None if deadline is None else max(0.0, deadline - now))
            batch = [self._rows.popleft() for _ in range(min(self._batch_size, len(self._rows)))]
            self._in_flight = batch
            self._has_space.notify_all()
            return batch

    def _settle(self, batch: Rows) -> None:
        if self._on_done is not None:
            try:
                self._on_done(batch)
            except Exception as exc:  # noqa: BLE001 - bookkeeping must not stop the writer
                log.error("evalboard: after writing %d call(s): %s", len(batch), _describe(exc))
        with self._lock:
            self._in_flight = []
            self._settled += len(batch)
            if self._settled >= self._accepted:
                self._hurry = False
            self._progress.notify_all()

    def _write(self, rows: Rows) -> None:
        """Write rows; retry while the store is busy; split a batch that fails otherwise."""
        delay = 0.05
        for attempt in range(self._retries + 1):
            try:
                self._write_batch(rows)
                return
            except OperationalError as exc:  # locked, connection lost: worth another try
                if attempt == self._retries:
                    self._give_up(rows, str(exc.orig or exc))
                    return
                log.warning("evalboard: write failed (%s), retrying in %.2fs", exc.orig, delay)
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
            except BaseException as exc:  # noqa: BLE001 - any other failure: find the bad rows
                if len(rows) == 1:
                    self._give_up(rows, _describe(exc))
                    return
                middle = len(rows) // 2
                self._write(rows[:middle])
                self._write(rows[middle:])
                return

    def _give_up(self, rows: Rows, reason: str) -> None:
        log.error("evalboard: %d call(s) could not be written: %s", len(rows), reason)
        with self._lock:
            self._failed.extend(rows)
            self._failure_reason = reason
        self._save_to_dead_letter(rows)

    def _save_to_dead_letter(self, rows: Rows) -> str:
        if self._dead_letter is None:
            return "they are lost (no dead-letter file)"
        try:
            with self._dead_letter.open("a", encoding="utf-8") as handle:
                for row in rows:
                    handle.write(json.dumps(row, default=str, ensure_ascii=False) + "\n")
        except Exception as exc:  # noqa: BLE001 - reported; the rows stay in `failed`
            log.error("evalboard: cannot write the dead-letter file %s: %s",
                      self._dead_letter, _describe(exc))
            return f"the dead-letter file {self._dead_letter} cannot be written: {exc}"
        return f"saved to {self._dead_letter}"


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
