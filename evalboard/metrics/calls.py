"""Call metrics per model version: volume, error rate, tokens per call, latency percentiles.

On SQLite every query here is served by the call metrics index (version, source, latency_ms,
created_at, prompt_tokens, completion_tokens, error IS NOT NULL) without reading table rows:
one GROUP BY for the counts and means, a seek counting the calls without latency, then one
LIMIT 1 OFFSET k walk per version and percentile (from the nearer end of the latency order).
PostgreSQL uses percentile_disc.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, Integer, func, select

from evalboard.metrics.axis import PRODUCTION, CallScope, VersionRef, on_axis, version_axis
from evalboard.metrics.dialect import nearest_rank, percentile_name, quantile_fraction
from evalboard.store.models import Call

PERCENTILES = (0.5, 0.95)
TOTAL_NAMES = ["calls", "errors", "mean_prompt_tokens", "mean_completion_tokens"]


def error_count(dialect: str) -> Any:
    """Calls with an error. SQLite: sum(error IS NOT NULL), exactly the index's expression,
    so the index answers it without reading rows (inside a CASE it would not)."""
    if dialect == "sqlite":
        return func.sum(Call.error.is_not(None), type_=Integer)  # not read back as a bool
    return func.count(Call.error)


def totals_query(conn: Connection, scope: CallScope, version_ids: Sequence[int],
                 percentiles: Sequence[float] = ()) -> Any:
    """(model_version_id, *TOTAL_NAMES[, latency_calls[, *percentiles]]) per version.

    Every aggregate costs SQLite time per index entry, so latency_calls is counted here only
    on PostgreSQL (with the percentiles) or for every source; otherwise `no_latency_query`
    seeks it."""
    dialect = conn.dialect.name
    columns = [Call.model_version_id, func.count(), error_count(dialect),
               func.avg(Call.prompt_tokens), func.avg(Call.completion_tokens)]
    if dialect == "postgresql" or scope.source is None:
        columns.append(func.count(Call.latency_ms))
    if dialect == "postgresql":
        columns += [func.percentile_disc(float(quantile_fraction(q))).within_group(Call.latency_ms)
                    for q in percentiles]
    return (select(*columns)
            .where(Call.model_version_id.in_(version_ids), *scope.conditions(dialect))
            .group_by(Call.model_version_id))


def no_latency_query(conn: Connection, scope: CallScope, version_ids: Sequence[int]) -> Any:
    """(model_version_id, calls without a latency) for one source: a seek to the NULLs that
    lead each (version, source)'s latency order, cheaper than counting in the totals pass."""
    return (select(Call.model_version_id, func.count())
            .where(Call.model_version_id.in_(version_ids), Call.latency_ms.is_(None),
                   *scope.conditions(conn.dialect.name))
            .group_by(Call.model_version_id))


def nth_latency_query(conn: Connection, scope: CallScope, version_id: int, rank: int,
                      n: int) -> Any:
    """The latency at 1-based `rank` of n, walking from whichever end of the index is nearer."""
    from_top = rank > (n + 1) // 2
    order = Call.latency_ms.desc() if from_top else Call.latency_ms.asc()
    return (select(Call.latency_ms)
            .where(Call.model_version_id == version_id, Call.latency_ms.is_not(None),
                   *scope.conditions(conn.dialect.name))
            .order_by(order).limit(1).offset(n - rank if from_top else rank - 1))


def _sqlite_percentiles(conn: Connection, scope: CallScope, version_id: int, n: int,
                        percentiles: Sequence[float]) -> list[float | None]:
    if n == 0:
        return [None] * len(percentiles)
    return [conn.execute(nth_latency_query(conn, scope, version_id, nearest_rank(q, n), n))
            .scalar() for q in percentiles]


def call_metrics_rows(conn: Connection, scope: CallScope, axis: Sequence[VersionRef],
                      percentiles: Sequence[float]) -> list[tuple[Any, ...]]:
    """(model_version_id, *TOTAL_NAMES, latency_calls, *percentiles) per version with calls."""
    ids = [v.id for v in axis]
    rows = [tuple(row) for row in conn.execute(totals_query(conn, scope, ids, percentiles))]
    if conn.dialect.name == "postgresql":
        return rows
    if scope.source is not None:
        missing = dict(conn.execute(no_latency_query(conn, scope, ids)).all())
        rows = [(*row, row[1] - missing.get(row[0], 0)) for row in rows]
    return [(*row, *_sqlite_percentiles(conn, scope, row[0], row[-1], percentiles))
            for row in rows]


def call_metrics(engine: Engine, *, scope: CallScope = PRODUCTION,
                 versions: Sequence[str] | None = None,
                 percentiles: Sequence[float] = PERCENTILES) -> pd.DataFrame:
    """Per model version: model_version, version_order, calls, errors, error_rate,
    latency_calls (calls with a latency), latency_p50, latency_p95 (nearest rank),
    mean_prompt_tokens, mean_completion_tokens. Every version of the axis has a row;
    versions without calls in scope have calls 0 and empty rates."""
    names = [percentile_name(q) for q in percentiles]
    with engine.connect() as conn, conn.begin():  # one snapshot: counts and walks agree
        axis = version_axis(conn, versions)
        rows = call_metrics_rows(conn, scope, axis, percentiles)
    frame = on_axis(rows, [*TOTAL_NAMES, "latency_calls", *names], axis, keep_empty=True)
    for column in ("calls", "errors", "latency_calls"):
        frame[column] = frame[column].fillna(0).astype(int)
    frame["error_rate"] = frame["errors"] / frame["calls"].where(frame["calls"] > 0)
    for column in ("mean_prompt_tokens", "mean_completion_tokens", *names):
        frame[column] = frame[column].astype(float)
    return frame[["model_version", "version_order", "calls", "errors", "error_rate",
                  "latency_calls", *names, "mean_prompt_tokens", "mean_completion_tokens"]]
