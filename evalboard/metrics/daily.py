"""Call figures per model version and UTC day, read from the rollups that every write keeps
current (evalboard.store.rollups) instead of from the calls themselves.

A scope's whole days come from the rollups; a day the scope only partly covers (a `since` or
`until` that is not midnight) is read from the calls of that part of the day, through the
(model_version_id, created_at) index. Counts, sums and means are exact either way; latency
percentiles read from the histogram are within RELATIVE_ACCURACY of the exact ones, so the
charts use them only above EXACT_LATENCY_LIMIT calls, where the exact sort costs too much.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, null, select

from evalboard.metrics.axis import CallScope
from evalboard.metrics.dialect import nearest_rank
from evalboard.store.models import Call
from evalboard.store.rollup_models import CallDay, CallLatencyDay
from evalboard.store.rollups import (
    SUM_COLUMNS,
    DaySplit,
    RollupDelta,
    bucket_value,
    day_conditions,
    split_days,
)

EXACT_LATENCY_LIMIT = 50_000  # calls with a latency in scope; above, percentiles are read
# from the histogram (the exact nearest-rank sort over ~50k calls takes ~100 ms on SQLite)

DayKey = tuple[int, date]  # (model_version_id, day)


def exact_latency_limit(given: int | None) -> int:
    """The exact-percentile limit a caller gave, else EXACT_LATENCY_LIMIT (read at call time)."""
    return EXACT_LATENCY_LIMIT if given is None else given
Histogram = dict[int, int]  # bucket -> calls


def split_scope(scope: CallScope) -> DaySplit:
    """Which days of a scope the rollups answer and which parts of days the calls answer."""
    return split_days(scope.since, scope.until)


def _rollup_conditions(model: type[CallDay] | type[CallLatencyDay], scope: CallScope,
                       split: DaySplit, version_ids: Sequence[int]) -> list[Any]:
    conditions = [model.model_version_id.in_(version_ids)]
    if scope.source is not None:
        conditions.append(model.source == scope.source)
    return [*conditions, *day_conditions(model.day, split)]


def _call_conditions(scope: CallScope, version_ids: Sequence[int], start: datetime,
                     end: datetime) -> list[Any]:
    conditions = [Call.model_version_id.in_(version_ids), Call.created_at >= start,
                  Call.created_at < end]
    if scope.source is not None:
        conditions.append(Call.source == scope.source)
    return conditions


def partial_days(conn: Connection, scope: CallScope, version_ids: Sequence[int]) -> RollupDelta:
    """What the calls of the scope's part-days (its ends that are not midnight) add up to."""
    delta = RollupDelta()
    for start, end in split_scope(scope).partial:
        for row in conn.execute(partial_day_query(scope, version_ids, start, end)):
            delta.add(*row)
    return delta


def day_totals(conn: Connection, scope: CallScope, version_ids: Sequence[int],
               partial: RollupDelta | None = None) -> dict[DayKey, list[float]]:
    """Per (version, day) with calls: the SUM_COLUMNS sums of the calls in scope (`partial`:
    partial_days of the same scope, when the caller has read them already)."""
    split = split_scope(scope)
    totals: dict[DayKey, list[float]] = {}
    if split.whole_days and version_ids:
        query = totals_rollup_query(scope, version_ids)
        for version_id, day, *sums in conn.execute(query):
            totals[(version_id, _as_date(day))] = [float(s or 0) for s in sums]
    if partial is None:
        partial = partial_days(conn, scope, version_ids)
    for (day, version_id, _source), sums in partial.days.items():
        _add(totals, (version_id, day), sums)
    return totals


def day_histograms(conn: Connection, scope: CallScope, version_ids: Sequence[int], *,
                   per_day: bool = True, partial: RollupDelta | None = None
                   ) -> dict[tuple[int, date | None], Histogram]:
    """Per (version, day) with latencies: the latency histogram of the calls in scope; with
    per_day=False one per (version, None), summed in SQL (a few thousand rows, not one per
    day and bucket). `partial` as for day_totals."""
    split = split_scope(scope)
    histograms: dict[tuple[int, date | None], Histogram] = {}

    def add(version_id: int, day: date | None, bucket: int, calls: int) -> None:
        histogram = histograms.setdefault((version_id, day if per_day else None), {})
        histogram[bucket] = histogram.get(bucket, 0) + calls

    if split.whole_days and version_ids:
        query = histogram_rollup_query(scope, version_ids, per_day=per_day)
        for version_id, day, bucket, calls in conn.execute(query):
            add(version_id, _as_date(day) if per_day else None, bucket, int(calls))
    if partial is None:
        partial = partial_days(conn, scope, version_ids)
    for (day, version_id, _source, bucket), calls in partial.latencies.items():
        add(version_id, day, bucket, calls)
    return histograms


def totals_rollup_query(scope: CallScope, version_ids: Sequence[int]) -> Any:
    """(model_version_id, day, *SUM_COLUMNS) per version and whole day of the scope."""
    return (select(CallDay.model_version_id, CallDay.day,
                   *(func.sum(getattr(CallDay, name)) for name in SUM_COLUMNS))
            .where(*_rollup_conditions(CallDay, scope, split_scope(scope), version_ids))
            .group_by(CallDay.model_version_id, CallDay.day))


def histogram_rollup_query(scope: CallScope, version_ids: Sequence[int], *,
                           per_day: bool = True) -> Any:
    """(model_version_id, day, bucket, calls) per version, whole day of the scope and bucket;
    with per_day=False summed over the days (day NULL)."""
    day = CallLatencyDay.day if per_day else null()
    query = (select(CallLatencyDay.model_version_id, day, CallLatencyDay.bucket,
                    func.sum(CallLatencyDay.calls))
             .where(*_rollup_conditions(CallLatencyDay, scope, split_scope(scope), version_ids)))
    if per_day:
        return query.group_by(CallLatencyDay.model_version_id, CallLatencyDay.day,
                              CallLatencyDay.bucket)
    return query.group_by(CallLatencyDay.model_version_id, CallLatencyDay.bucket)


def partial_day_query(scope: CallScope, version_ids: Sequence[int], start: datetime,
                      end: datetime) -> Any:
    """The rollup fields of the calls of part of a day (RollupDelta.add's arguments)."""
    return (select(Call.created_at, Call.model_version_id, Call.source, Call.error,
                   Call.latency_ms, Call.prompt_tokens, Call.completion_tokens)
            .where(*_call_conditions(scope, version_ids, start, end)))


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value.date() if isinstance(value, datetime) else value


def _add(totals: dict[Any, list[float]], key: Any, sums: Iterable[float]) -> None:
    into = totals.setdefault(key, [0.0] * len(SUM_COLUMNS))
    for position, value in enumerate(sums):
        into[position] += value


def merge_by(totals: Mapping[DayKey, list[float]],
             bucket_of: Any) -> dict[tuple[int, Any], list[float]]:
    """Sums per (version, bucket_of(day))."""
    merged: dict[tuple[int, Any], list[float]] = {}
    for (version_id, day), sums in totals.items():
        _add(merged, (version_id, bucket_of(day)), sums)
    return merged


def merge_histograms(histograms: Mapping[DayKey, Histogram],
                     bucket_of: Any) -> dict[tuple[int, Any], Histogram]:
    """Histograms per (version, bucket_of(day))."""
    merged: dict[tuple[int, Any], Histogram] = {}
    for (version_id, day), histogram in histograms.items():
        into = merged.setdefault((version_id, bucket_of(day)), {})
        for bucket, calls in histogram.items():
            into[bucket] = into.get(bucket, 0) + calls
    return merged


def histogram_percentile(histogram: Mapping[int, int], q: float) -> float | None:
    """The nearest-rank q-quantile read from a histogram (within RELATIVE_ACCURACY)."""
    total = sum(histogram.values())
    if total == 0:
        return None
    rank, seen = nearest_rank(q, total), 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return bucket_value(bucket)
    raise AssertionError("unreachable: the ranks add up to the total")


def summary(sums: Sequence[float]) -> dict[str, float | None]:
    """calls, errors, latency_calls and the means of one set of SUM_COLUMNS sums."""
    named = dict(zip(SUM_COLUMNS, sums, strict=True))

    def mean(total: str, count: str) -> float | None:
        return named[total] / named[count] if named[count] else None

    return {"calls": int(named["calls"]), "errors": int(named["errors"]),
            "latency_calls": int(named["latency_calls"]),
            "mean_latency_ms": mean("latency_sum", "latency_calls"),
            "mean_prompt_tokens": mean("prompt_tokens", "prompt_token_calls"),
            "mean_completion_tokens": mean("completion_tokens", "completion_token_calls")}
