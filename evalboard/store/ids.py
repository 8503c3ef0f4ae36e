"""Reserve blocks of ids, so writers can hand ids out before rows reach the database."""

from __future__ import annotations

import threading
import time
from collections import deque

from sqlalchemy import Connection, Engine, func, select, update

from evalboard.errors import EvalboardError
from evalboard.store.engine import write_connection
from evalboard.store.models import Call, IdBlock
from evalboard.store.upsert import conflict_insert

_ID_COLUMNS = {"calls": Call.id}


def reserve_ids(engine: Engine, count: int, table: str = "calls") -> range:
    """Reserve `count` consecutive ids for `table`; no other writer gets them.

    The counter never falls behind the table's largest id, so rows written by other means
    (a restored backup, a copy) cannot collide with reserved ids.
    """
    with write_connection(engine) as conn:
        return reserve_ids_on(conn, count, table)


def reserve_ids_on(conn: Connection, count: int, table: str = "calls") -> range:
    """`reserve_ids` inside the caller's write transaction (the ids are reserved only if it
    commits)."""
    if count < 1:
        raise ValueError("count must be at least 1")
    dialect = conn.dialect.name
    conn.execute(conflict_insert(dialect, IdBlock)
                 .values(table_name=table, next_id=1).on_conflict_do_nothing())
    floor = select(func.coalesce(func.max(_ID_COLUMNS[table]), 0) + 1).scalar_subquery()
    greatest = func.greatest if dialect == "postgresql" else func.max
    start = (
        conn.execute(
            update(IdBlock)
            .where(IdBlock.table_name == table)
            .values(next_id=greatest(IdBlock.next_id, floor) + count)
            .returning(IdBlock.next_id)
        ).scalar_one()
        - count
    )
    return range(start, start + count)


class IdPool:
    """Hands out ids one at a time from reserved blocks (not thread-safe: guard it)."""

    def __init__(self, engine: Engine, block_size: int = 1000) -> None:
        self._engine = engine
        self._block_size = block_size
        self._block: range = range(0)
        self._next = 0

    def take(self) -> int:
        if self._next >= len(self._block):
            self._block = reserve_ids(self._engine, self._block_size)
            self._next = 0
        value = self._block[self._next]
        self._next += 1
        return value

    def take_many(self, count: int) -> list[int]:
        """Take `count` ids: the rest of the current block, then one fresh reservation of at
        least a block (what this call leaves of it serves the next ones)."""
        left = self._block[self._next : self._next + count]
        self._next += len(left)
        ids = list(left)
        if len(ids) < count:
            needed = count - len(ids)
            self._block = reserve_ids(self._engine, max(needed, self._block_size))
            self._next = needed
            ids.extend(self._block[:needed])
        return ids


class IdsUnavailable(EvalboardError, RuntimeError):
    """No id could be reserved in time: the store stayed locked or unreachable."""


class PrefetchingIdPool:
    """A thread-safe pool whose next block is reserved by a background thread before the
    current one runs out, so `take` does not wait on the database while ids are in stock.

    The first block is reserved at once (in the constructor). A block that lasted less than
    `FAST_BLOCK_S` makes the next one twice as large, up to `max_block`, so a busy logger keeps
    about that many seconds of ids in stock and a quiet one wastes few at exit. `take` waits
    (at most `wait_s`, then IdsUnavailable) only when the stock is empty.
    """

    FAST_BLOCK_S = 2.0

    def __init__(self, engine: Engine, block_size: int = 1000, max_block: int = 20_000,
                 wait_s: float = 10.0) -> None:
        self._engine = engine
        self._min_block = block_size
        self._block_size = block_size
        self._max_block = max(max_block, block_size)
        self._wait_s = wait_s
        self._ready = threading.Condition()
        self._stock: deque[int] = deque(reserve_ids(engine, block_size))
        self._block_started = time.monotonic()
        self._refill_wanted = False
        self._last_error: BaseException | None = None
        self._closed = False
        self._thread: threading.Thread | None = None

    def take(self) -> int:
        with self._ready:
            if not self._stock:
                self._want_refill()
                if not self._ready.wait_for(lambda: bool(self._stock), self._wait_s):
                    reason = f": {self._last_error}" if self._last_error else ""
                    raise IdsUnavailable(
                        f"no call id could be reserved within {self._wait_s:g} s{reason}")
            value = self._stock.popleft()
            if len(self._stock) < self._min_block and not self._refill_wanted:
                self._want_refill()
            return value

    def take_many(self, count: int) -> list[int]:
        return [self.take() for _ in range(count)]

    def reserve_if_low(self, conn: Connection) -> range:
        """A block reserved in the caller's write transaction when the stock is running low
        (empty otherwise); hand it to `add` once that transaction has committed. A writer that
        holds the write lock tops the stock up itself, so on a busy SQLite store the refill
        never waits for a lock the writers keep taking back."""
        with self._ready:
            if not self._refill_wanted:
                return range(0)
            size = self._next_block_size()
        return reserve_ids_on(conn, size)

    def add(self, block: range) -> None:
        """Ids reserved by a committed transaction join the stock."""
        if not block:
            return
        with self._ready:
            self._stock.extend(block)
            self._block_size, self._block_started = len(block), time.monotonic()
            self._refill_wanted, self._last_error = False, None
            self._ready.notify_all()

    def _next_block_size(self) -> int:
        """Twice the last block after a block that lasted under FAST_BLOCK_S, else the first
        size (call with the lock held)."""
        fast = time.monotonic() - self._block_started < self.FAST_BLOCK_S
        return min(self._max_block, self._block_size * 2) if fast else self._min_block

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    def _want_refill(self) -> None:
        self._refill_wanted = True
        if self._thread is None:
            self._thread = threading.Thread(target=self._refill_forever, name="evalboard-ids",
                                            daemon=True)
            self._thread.start()
        self._ready.notify_all()

    def _refill_forever(self) -> None:
        delay = 0.05
        while True:
            with self._ready:
                self._ready.wait_for(lambda: self._refill_wanted or self._closed)
                if self._closed:
                    return
                size = self._next_block_size()
            try:
                block = reserve_ids(self._engine, size)
            except Exception as exc:  # noqa: BLE001 - locked or unreachable: try again later
                with self._ready:
                    self._last_error = exc
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            delay = 0.05
            self.add(block)
