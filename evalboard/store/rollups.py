"""Keep the call rollups current: every batch of calls written adds its counts to `call_days`
and its latencies to `call_latency_days` in the same transaction.

Latencies go into log-scale buckets (as DDSketch does): bucket i holds the values in
(GAMMA**(i-1), GAMMA**i], and `bucket_value(i)` is within RELATIVE_ACCURACY (0.5%) of every
value in it, so a percentile read from the histogram is within 0.5% of the exact one. A zero
latency has a bucket of its own.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, delete, select

from evalboard.store.models import Call
from evalboard.store.rollup_models import CallDay, CallLatencyDay
from evalboard.store.upsert import conflict_insert

RELATIVE_ACCURACY = 0.005
GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(GAMMA)
ZERO_BUCKET = -(2**31)
SUM_COLUMNS = ("calls", "errors", "latency_calls", "latency_sum", "prompt_token_calls",
               "prompt_tokens", "completion_token_calls", "completion_tokens")
REBUILD_CHUNK = 20_000

DayKey = tuple[date, int, str]  # (day, model_version_id, source)


def latency_bucket(latency_ms: float) -> int:
    """The histogram bucket of a latency (ms, not negative)."""
    if latency_ms <= 0:
        return ZERO_BUCKET
    return math.ceil(math.log(latency_ms) / _LOG_GAMMA)


def bucket_value(bucket: int) -> float:
    """The value that stands for a bucket: within RELATIVE_ACCURACY of all it holds."""
    if bucket == ZERO_BUCKET:
        return 0.0
    return 2 * GAMMA**bucket / (GAMMA + 1)


@dataclass(frozen=True)
class DaySplit:
    """A time range [since, until) as whole days [first_day, end_day) (None: unbounded), which
    the rollups answer, plus the parts of days the calls answer, each as [start, end)."""

    first_day: date | None
    end_day: date | None
    whole_days: bool
    partial: tuple[tuple[datetime, datetime], ...]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time())


def split_days(since: datetime | None, until: datetime | None) -> DaySplit:
    """Split [since, until) into the whole days the rollups answer and the rest."""
    first = None if since is None else (
        since.date() if since == _midnight(since.date()) else since.date() + timedelta(days=1))
    end = None if until is None else until.date()
    if first is not None and end is not None and first >= end:
        assert since is not None and until is not None
        return DaySplit(None, None, False, ((since, until),) if since < until else ())
    partial = []
    if since is not None and first is not None and since < _midnight(first):
        partial.append((since, _midnight(first)))
    if until is not None and end is not None and _midnight(end) < until:
        partial.append((_midnight(end), until))
    return DaySplit(first, end, True, tuple(partial))


def day_conditions(day: Any, split: DaySplit) -> list[Any]:
    """WHERE clauses keeping a rollup's `day` column to the split's whole days."""
    conditions = []
    if split.first_day is not None:
        conditions.append(day >= split.first_day)
    if split.end_day is not None:
        conditions.append(day < split.end_day)
    return conditions


def call_day(created_at: datetime | str) -> date:
    """The UTC day a call belongs to (created_at is stored as naive UTC)."""
    if isinstance(created_at, str):
        created_at = datetime.fromisoformat(created_at)
    return created_at.date()


class RollupDelta:
    """What a set of calls adds to the rollups, gathered before one write."""

    def __init__(self) -> None:
        self.days: dict[DayKey, list[float]] = {}
        self.latencies: dict[tuple[date, int, str, int], int] = {}

    def add(self, created_at: datetime | str, model_version_id: int, source: str,
            error: Any, latency_ms: float | None, prompt_tokens: int | None,
            completion_tokens: int | None) -> None:
        key = (call_day(created_at), model_version_id, source)
        sums = self.days.setdefault(key, [0] * len(SUM_COLUMNS))
        sums[0] += 1
        sums[1] += error is not None
        if latency_ms is not None:
            sums[2] += 1
            sums[3] += latency_ms
            bucket = (*key, latency_bucket(latency_ms))
            self.latencies[bucket] = self.latencies.get(bucket, 0) + 1
        if prompt_tokens is not None:
            sums[4] += 1
            sums[5] += prompt_tokens
        if completion_tokens is not None:
            sums[6] += 1
            sums[7] += completion_tokens

    def add_rows(self, rows: Iterable[Mapping[str, Any]]) -> RollupDelta:
        """Add call value dicts (the columns of `calls`)."""
        for row in rows:
            self.add(row["created_at"], row["model_version_id"], row.get("source") or
                     "production", row.get("error"), row.get("latency_ms"),
                     row.get("prompt_tokens"), row.get("completion_tokens"))
        return self

    def write(self, conn: Connection) -> None:
        """Add the delta to the stored rollups. Rows go in key order, so two writers on
        PostgreSQL lock shared rollup rows in the same order and never deadlock."""
        day_rows = [{"day": k[0], "model_version_id": k[1], "source": k[2],
                     **dict(zip(SUM_COLUMNS, sums, strict=True))}
                    for k, sums in sorted(self.days.items())]
        latency_rows = [{"day": k[0], "model_version_id": k[1], "source": k[2],
                         "bucket": k[3], "calls": n} for k, n in sorted(self.latencies.items())]
        _upsert(conn, CallDay, day_rows, SUM_COLUMNS)
        _upsert(conn, CallLatencyDay, latency_rows, ("calls",))


def _upsert(conn: Connection, model: type[CallDay] | type[CallLatencyDay],
            rows: list[dict[str, Any]], summed: tuple[str, ...]) -> None:
    if rows:
        conn.execute(_upsert_statement(conn.dialect.name, model, summed), rows)


@functools.cache
def _upsert_statement(dialect: str, model: type[CallDay] | type[CallLatencyDay],
                      summed: tuple[str, ...]) -> Any:
    """INSERT ... ON CONFLICT (key) DO UPDATE SET column = column + new value, built once
    (executed with many rows: SQLAlchemy compiles it once)."""
    table = model.__table__
    statement = conflict_insert(dialect, table)
    return statement.on_conflict_do_update(
        index_elements=[column.name for column in table.primary_key.columns],
        set_={name: table.c[name] + statement.excluded[name] for name in summed})


def rebuild_rollups(conn: Connection) -> int:
    """Recompute both rollups from every stored call (after a bulk load that bypassed
    `insert_calls`, and when the rollup tables are created). Returns the calls counted."""
    conn.execute(delete(CallLatencyDay))
    conn.execute(delete(CallDay))
    columns = (Call.id, Call.created_at, Call.model_version_id, Call.source, Call.error,
               Call.latency_ms, Call.prompt_tokens, Call.completion_tokens)
    delta, counted, last_id = RollupDelta(), 0, None
    while True:
        query = select(*columns).order_by(Call.id).limit(REBUILD_CHUNK)
        if last_id is not None:
            query = query.where(Call.id > last_id)
        rows = conn.execute(query).all()
        if not rows:
            break
        for row in rows:
            delta.add(*row[1:])
        counted += len(rows)
        last_id = rows[-1][0]
    delta.write(conn)
    return counted
