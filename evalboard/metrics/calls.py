"""Call metrics per model version: volume, error rate, tokens per call, latency percentiles.

Counts and means come from the daily rollups (evalboard.metrics.daily). Exact percentiles:
on SQLite one LIMIT 1 OFFSET k walk per version and percentile along the call metrics index
(version, source, latency_ms, ...), from the nearer end of the latency order, without reading
table rows; PostgreSQL uses percentile_disc. Above EXACT_LATENCY_LIMIT calls with a latency
they are read from the daily latency histograms instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, func, select

from evalboard.metrics.axis import PRODUCTION, CallScope, VersionRef, on_axis, version_axis
from evalboard.metrics.daily import (
    day_histograms,
    day_totals,
    exact_latency_limit,
    histogram_percentile,
    merge_by,
    partial_days,
    summary,
)
from evalboard.metrics.dialect import nearest_rank, percentile_name, quantile_fraction
from evalboard.metrics.intervals import with_wilson
from evalboard.store.models import Call

PERCENTILES = (0.5, 0.95)
TOTAL_NAMES = ["calls", "errors", "mean_prompt_tokens", "mean_completion_tokens"]


def percentile_query(conn: Connection, scope: CallScope, version_ids: Sequence[int],
                     percentiles: Sequence[float]) -> Any:
    """PostgreSQL: (model_version_id, *percentiles) per version with percentile_disc."""
    return (select(Call.model_version_id,
                   *(func.percentile_disc(float(quantile_fraction(q))).within_group(
                       Call.latency_ms) for q in percentiles))
            .where(Call.model_version_id.in_(version_ids), *scope.conditions(conn.dialect.name))
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


def _exact_percentiles(conn: Connection, scope: CallScope, counts: dict[int, int],
                       percentiles: Sequence[float]) -> dict[int, list[Any]]:
    """Per version with latencies: its exact percentiles (`counts`: latency calls per version)."""
    ids = [version_id for version_id, n in counts.items() if n]
    if conn.dialect.name == "postgresql":
        if not ids:
            return {}
        rows = conn.execute(percentile_query(conn, scope, ids, percentiles))
        return {row[0]: list(row[1:]) for row in rows}
    return {version_id: [conn.execute(nth_latency_query(
        conn, scope, version_id, nearest_rank(q, counts[version_id]), counts[version_id]))
        .scalar() for q in percentiles] for version_id in ids}


def call_metrics_rows(conn: Connection, scope: CallScope, axis: Sequence[VersionRef],
                      percentiles: Sequence[float],
                      exact_limit: int | None = None) -> tuple[list[tuple[Any, ...]], bool]:
    """(model_version_id, *TOTAL_NAMES, latency_calls, *percentiles) per version with calls,
    and whether the percentiles come from the latency histograms (above `exact_limit` calls
    with a latency in scope)."""
    ids = [v.id for v in axis]
    partial = partial_days(conn, scope, ids)  # read once for counts and percentiles
    totals = {version_id: summary(sums) for (version_id, _), sums
              in merge_by(day_totals(conn, scope, ids, partial), lambda day: None).items()}
    counts = {version_id: int(t["latency_calls"]) for version_id, t in totals.items()}
    approximate = sum(counts.values()) > exact_latency_limit(exact_limit)
    if approximate:
        histograms = {version_id: histogram for (version_id, _), histogram
                      in day_histograms(conn, scope, ids, per_day=False,
                                        partial=partial).items()}
        values = {version_id: [histogram_percentile(histogram, q) for q in percentiles]
                  for version_id, histogram in histograms.items()}
    else:
        values = _exact_percentiles(conn, scope, counts, percentiles)
    rows = [(version_id, *(t[name] for name in TOTAL_NAMES), t["latency_calls"],
             *values.get(version_id, [None] * len(percentiles)))
            for version_id, t in totals.items()]
    return rows, approximate


def call_metrics(engine: Engine, *, scope: CallScope = PRODUCTION,
                 versions: Sequence[str] | None = None,
                 percentiles: Sequence[float] = PERCENTILES,
                 exact_limit: int | None = None) -> pd.DataFrame:
    """Per model version: model_version, version_order, calls, errors, error_rate,
    error_low, error_high (its 95% Wilson interval), latency_calls (calls with a latency),
    latency_p50, latency_p95 (nearest rank; from the latency histograms, within 0.5%, above
    `exact_limit` calls: attrs["approximate"]),
    mean_prompt_tokens, mean_completion_tokens. Every version of the axis has a row;
    versions without calls in scope have calls 0 and empty rates."""
    names = [percentile_name(q) for q in percentiles]
    with engine.connect() as conn, conn.begin():  # one snapshot: counts and walks agree
        axis = version_axis(conn, versions)
        rows, approximate = call_metrics_rows(conn, scope, axis, percentiles, exact_limit)
    frame = on_axis(rows, [*TOTAL_NAMES, "latency_calls", *names], axis, keep_empty=True)
    frame.attrs["approximate"] = approximate
    for column in ("calls", "errors", "latency_calls"):
        frame[column] = frame[column].fillna(0).astype(int)
    frame["error_rate"] = frame["errors"] / frame["calls"].where(frame["calls"] > 0)
    frame = with_wilson(frame, "errors", "calls", prefix="error_")
    for column in ("mean_prompt_tokens", "mean_completion_tokens", *names):
        frame[column] = frame[column].astype(float)
    return frame[["model_version", "version_order", "calls", "errors", "error_rate",
                  "error_low", "error_high", "latency_calls", *names, "mean_prompt_tokens",
                  "mean_completion_tokens"]]
