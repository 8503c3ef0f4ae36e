"""Reserve blocks of ids, so writers can hand ids out before rows reach the database."""

from __future__ import annotations

from sqlalchemy import Engine, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from evalboard.store.engine import write_connection
from evalboard.store.models import Call, IdBlock

_ID_COLUMNS = {"calls": Call.id}


def reserve_ids(engine: Engine, count: int, table: str = "calls") -> range:
    """Reserve `count` consecutive ids for `table`; no other writer gets them.

    The counter never falls behind the table's largest id, so rows written by other means
    (a restored backup, a copy) cannot collide with reserved ids.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    with write_connection(engine) as conn:
        conn.execute(insert(IdBlock).values(table_name=table, next_id=1).on_conflict_do_nothing())
        floor = select(func.coalesce(func.max(_ID_COLUMNS[table]), 0) + 1).scalar_subquery()
        greatest = func.greatest if engine.dialect.name == "postgresql" else func.max
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
        """Take `count` ids: the rest of the current block, then one fresh reservation."""
        left = self._block[self._next : self._next + count]
        self._next += len(left)
        ids = list(left)
        if len(ids) < count:
            ids.extend(reserve_ids(self._engine, count - len(ids)))
        return ids
