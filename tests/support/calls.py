"""Calls written straight to a store, and rows of distinct calls to write."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from evalboard.store.ids import IdPool
from evalboard.store.records import normalize_call
from evalboard.store.writes import WriteSummary, write_calls

T0 = datetime(2026, 11, 1, 9, 0, 0)


def add_calls(engine: Engine, rows: list[dict[str, Any]]) -> WriteSummary:
    """Write call fields (as `log_call` takes them) straight to the store."""
    normalized = [normalize_call(**{"input": "", **row}) for row in rows]
    return write_calls(engine, normalized, IdPool(engine))


def make_rows(count: int, start: datetime = T0, step: timedelta = timedelta(minutes=1),
              **fields: Any) -> list[dict[str, Any]]:
    """`count` distinct calls, one per `step`, oldest first."""
    return [
        {"input": f"prompt number {i}", "output": f"answer number {i}",
         "created_at": start + i * step, **fields}
        for i in range(count)
    ]
