"""Metrics over time, per day or ISO week (from Monday) and model version.

Rows exist only for (bucket, version) pairs with data; `bucket` is the bucket's first day.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, case, func, select

from evalboard.metrics.axis import PRODUCTION, CallScope, VersionRef, on_axis, version_axis
from evalboard.metrics.calls import PERCENTILES
from evalboard.metrics.dialect import percentile_name, quantile_fraction, time_bucket
from evalboard.store.case_models import Suite
from evalboard.store.models import Call
from evalboard.store.run_models import CaseResult, EvalRun

AGGREGATE_NAMES = ["calls", "errors", "latency_calls", "mean_latency_ms", "mean_prompt_tokens",
                   "mean_completion_tokens"]


def _frame(rows: Sequence[Any], columns: list[str], axis: Sequence[VersionRef]) -> pd.DataFrame:
    frame = on_axis(rows, ["bucket", *columns], axis)
    frame["bucket"] = pd.to_datetime(frame["bucket"])
    frame = frame.sort_values(["bucket", "version_order"], kind="stable").reset_index(drop=True)
    return frame[["bucket", "model_version", "version_order", *columns]]


def calls_over_time_query(conn: Connection, scope: CallScope, version_ids: Sequence[int],
                          unit: str) -> Any:
    """(model_version_id, bucket, *AGGREGATE_NAMES) per version and bucket.

    The calls are read in a subquery that SQLite must not flatten (OFFSET 0): there the error
    flag comes from the index expression; flattened into the GROUP BY's sorter it would be
    read from every table row.
    """
    dialect = conn.dialect.name
    inner = (select(Call.model_version_id.label("version_id"),
                    time_bucket(Call.created_at, unit, dialect).label("bucket"),
                    Call.error.is_not(None).label("failed"), Call.latency_ms,
                    Call.prompt_tokens, Call.completion_tokens)
             .where(Call.model_version_id.in_(version_ids), *scope.conditions(dialect)))
    if dialect == "sqlite":
        inner = inner.offset(0)
    scoped = inner.subquery("scoped")
    return (select(scoped.c.version_id, scoped.c.bucket, func.count(),
                   func.count().filter(scoped.c.failed), func.count(scoped.c.latency_ms),
                   func.avg(scoped.c.latency_ms), func.avg(scoped.c.prompt_tokens),
                   func.avg(scoped.c.completion_tokens))
            .group_by(scoped.c.version_id, scoped.c.bucket))


def calls_over_time(engine: Engine, *, unit: str = "day", scope: CallScope = PRODUCTION,
                    versions: Sequence[str] | None = None) -> pd.DataFrame:
    """Per bucket and version: bucket, model_version, version_order, calls, errors, error_rate,
    latency_calls, mean_latency_ms, mean_prompt_tokens, mean_completion_tokens."""
    with engine.connect() as conn:
        axis = version_axis(conn, versions)
        rows = conn.execute(calls_over_time_query(conn, scope, [v.id for v in axis], unit)).all()
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
                      percentiles: Sequence[float] = PERCENTILES) -> pd.DataFrame:
    """Per bucket and version: bucket, model_version, version_order, latency_calls,
    latency_p50, latency_p95 (nearest rank). Sorts every call in scope: on SQLite the most
    expensive chart, so it is separate from `calls_over_time`."""
    names = [percentile_name(q) for q in percentiles]
    with engine.connect() as conn:
        axis = version_axis(conn, versions)
        query = latency_over_time_query(conn, scope, [v.id for v in axis], unit, percentiles)
        rows = conn.execute(query).all()
    frame = _frame(rows, ["latency_calls", *names], axis)
    for column in names:
        frame[column] = frame[column].astype(float)
    return frame


def pass_rate_over_time_query(conn: Connection, unit: str, suite: str | None) -> Any:
    """(model_version_id, bucket, runs, passed, total) over finished runs by start time."""
    bucket = time_bucket(EvalRun.started_at, unit, conn.dialect.name)
    query = (select(EvalRun.model_version_id, bucket, func.count(EvalRun.id.distinct()),
                    func.sum(case((CaseResult.status == "pass", 1), else_=0)), func.count())
             .join(CaseResult, CaseResult.run_id == EvalRun.id)
             .where(EvalRun.status == "finished", CaseResult.status != "missing")
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
