"""Metrics over time, per day or ISO week (from Monday) and model version.

Rows exist only for (bucket, version) pairs with data; `bucket` is the bucket's first day.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, case, func, select

from evalboard.metrics.axis import PRODUCTION, CallScope, VersionRef, on_axis, version_axis
from evalboard.metrics.calls import PERCENTILES
from evalboard.metrics.daily import (
    day_histograms,
    day_totals,
    exact_latency_limit,
    histogram_percentile,
    merge_by,
    merge_histograms,
    summary,
)
from evalboard.metrics.dialect import check_unit, percentile_name, quantile_fraction, time_bucket
from evalboard.store.case_models import Suite
from evalboard.store.models import Call
from evalboard.store.run_models import EvalRun, RunTotal

AGGREGATE_NAMES = ["calls", "errors", "latency_calls", "mean_latency_ms", "mean_prompt_tokens",
                   "mean_completion_tokens"]  # the keys of evalboard.metrics.daily.summary


def _frame(rows: Sequence[Any], columns: list[str], axis: Sequence[VersionRef]) -> pd.DataFrame:
    frame = on_axis(rows, ["bucket", *columns], axis)
    frame["bucket"] = pd.to_datetime(frame["bucket"])
    frame = frame.sort_values(["bucket", "version_order"], kind="stable").reset_index(drop=True)
    return frame[["bucket", "model_version", "version_order", *columns]]


def bucket_of(unit: str) -> Callable[[date], date]:
    """The first day of the day or ISO week (from Monday) a day falls in."""
    check_unit(unit)
    if unit == "week":
        return lambda day: day - timedelta(days=day.weekday())
    return lambda day: day


def calls_over_time(engine: Engine, *, unit: str = "day", scope: CallScope = PRODUCTION,
                    versions: Sequence[str] | None = None) -> pd.DataFrame:
    """Per bucket and version: bucket, model_version, version_order, calls, errors, error_rate,
    latency_calls, mean_latency_ms, mean_prompt_tokens, mean_completion_tokens. Read from the
    daily rollups (exact)."""
    bucket = bucket_of(unit)
    with engine.connect() as conn, conn.begin():
        axis = version_axis(conn, versions)
        totals = day_totals(conn, scope, [v.id for v in axis])
    rows = [(version_id, day, *summary(sums).values())
            for (version_id, day), sums in merge_by(totals, bucket).items()]
    frame = _frame(rows, AGGREGATE_NAMES, axis)
    frame.insert(5, "error_rate", frame["errors"].astype(float) / frame["calls"])
    for column in AGGREGATE_NAMES[3:]:
        frame[column] = frame[column].astype(float)
    return frame


def latency_over_time_query(conn: Connection, scope: CallScope, version_ids: Sequence[int],
                            unit: str, percentiles: Sequence[float]) -> Any:
    """(model_version_id, bucket, latency_calls, *percentiles) per version and bucket, nearest
    rank: percentile_disc on PostgreSQL; on SQLite the smallest latency whose cume_dist() in
    its bucket reaches q (the same value: cume_dist of rank k is k/n, and k/n >= q from
    k = ceil(q * n) on)."""
    dialect = conn.dialect.name
    bucket = time_bucket(Call.created_at, unit, dialect)
    where = [Call.model_version_id.in_(version_ids), Call.latency_ms.is_not(None),
             *scope.conditions(dialect)]
    shares = [float(quantile_fraction(q)) for q in percentiles]
    if dialect == "postgresql":
        return (select(Call.model_version_id, bucket, func.count(Call.latency_ms),
                       *(func.percentile_disc(q).within_group(Call.latency_ms) for q in shares))
                .where(*where).group_by(Call.model_version_id, bucket))
    ranked = (select(Call.model_version_id.label("version_id"), bucket.label("bucket"),
                     Call.latency_ms.label("latency"),
                     func.cume_dist().over(partition_by=[Call.model_version_id, bucket],
                                           order_by=Call.latency_ms).label("share"))
              .where(*where).subquery("ranked"))
    return (select(ranked.c.version_id, ranked.c.bucket, func.count(),
                   *(func.min(case((ranked.c.share >= q, ranked.c.latency))) for q in shares))
            .group_by(ranked.c.version_id, ranked.c.bucket))


def latency_over_time(engine: Engine, *, unit: str = "day", scope: CallScope = PRODUCTION,
                      versions: Sequence[str] | None = None,
                      percentiles: Sequence[float] = PERCENTILES,
                      exact_limit: int | None = None) -> pd.DataFrame:
    """Per bucket and version: bucket, model_version, version_order, latency_calls,
    latency_p50, latency_p95 (nearest rank). Exact up to `exact_limit` calls with a latency in
    scope; above, read from the daily latency histograms (within 0.5%), and the frame's
    attrs["approximate"] says so."""
    names = [percentile_name(q) for q in percentiles]
    with engine.connect() as conn, conn.begin():
        axis = version_axis(conn, versions)
        ids = [v.id for v in axis]
        histograms = day_histograms(conn, scope, ids)
        approximate = (sum(sum(h.values()) for h in histograms.values())
                       > exact_latency_limit(exact_limit))
        if approximate:
            rows = [(version_id, day, sum(histogram.values()),
                     *(histogram_percentile(histogram, q) for q in percentiles))
                    for (version_id, day), histogram
                    in merge_histograms(histograms, bucket_of(unit)).items()]
        else:
            rows = conn.execute(latency_over_time_query(conn, scope, ids, unit, percentiles)).all()
    frame = _frame(rows, ["latency_calls", *names], axis)
    for column in names:
        frame[column] = frame[column].astype(float)
    frame.attrs["approximate"] = approximate
    return frame


def pass_rate_over_time_query(conn: Connection, unit: str, suite: str | None) -> Any:
    """(model_version_id, bucket, runs, passed, total) over finished runs by start time, from
    the totals written when each run finished."""
    bucket = time_bucket(EvalRun.started_at, unit, conn.dialect.name)
    query = (select(EvalRun.model_version_id, bucket, func.count(EvalRun.id.distinct()),
                    func.sum(RunTotal.passed), func.sum(RunTotal.total))
             .join(RunTotal, RunTotal.run_id == EvalRun.id)
             .where(EvalRun.status == "finished", RunTotal.kind == "run")
             .group_by(EvalRun.model_version_id, bucket))
    if suite is not None:
        query = query.join(Suite, Suite.id == EvalRun.suite_id).where(Suite.name == suite)
    return query


def pass_rate_over_time(engine: Engine, *, unit: str = "day", suite: str | None = None,
                        versions: Sequence[str] | None = None) -> pd.DataFrame:
    """Per bucket and version, pooled over every finished run started in the bucket: bucket,
    model_version, version_order, runs, passed, total, pass_rate (missing cases excluded)."""
    with engine.connect() as conn:
        axis = version_axis(conn, versions)
        rows = conn.execute(pass_rate_over_time_query(conn, unit, suite)).all()
    frame = _frame(rows, ["runs", "passed", "total"], axis)
    frame["passed"] = frame["passed"].astype(int)
    frame["pass_rate"] = frame["passed"] / frame["total"]
    return frame
