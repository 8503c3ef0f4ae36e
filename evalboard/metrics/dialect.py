"""What differs between SQLite and PostgreSQL in metric queries: time buckets, percentiles,
and keeping SQLite's planner on the index that serves call aggregates.

Percentiles use the nearest-rank definition everywhere: the q-quantile of n values is the
value at 1-based rank ceil(q * n) in ascending order (so p50 of 1..4 is 2, p95 of 1..20 is 19),
never an interpolation. SQLite reads that rank with ORDER BY ... LIMIT 1 OFFSET k (per version)
or as the first value whose cume_dist() reaches q (per time bucket); PostgreSQL's
percentile_disc is the same definition.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from sqlalchemy import ColumnElement, func, literal_column
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

BUCKET_UNITS = ("day", "week")
CALL_METRICS_INDEX = "ix_calls_version_latency"

_SQLITE_BUCKET_MODIFIERS = {"day": (), "week": ("'weekday 0'", "'-6 days'")}


def check_unit(unit: str) -> None:
    """Raise ValueError unless `unit` is a time bucket (day or week)."""
    if unit not in BUCKET_UNITS:
        raise ValueError(f"a time bucket is one of {', '.join(BUCKET_UNITS)}, not {unit!r}")


def time_bucket(column: Any, unit: str, dialect: str) -> ColumnElement[Any]:
    """The start of the day or ISO week (Monday) a timestamp falls in.

    SQLite: date(x) or date(x, 'weekday 0', '-6 days') (text 'YYYY-MM-DD');
    PostgreSQL: date_trunc('day' | 'week', x) (a timestamp). The constants are inlined, not
    bound, so the same expression can repeat in GROUP BY.
    """
    check_unit(unit)
    if dialect == "postgresql":
        return func.date_trunc(literal_column(f"'{unit}'"), column)
    return func.date(column, *(literal_column(m) for m in _SQLITE_BUCKET_MODIFIERS[unit]))


def unindexed(column: Any, dialect: str) -> Any:
    """On SQLite, `+column`: the same value, but the planner will not seek an index on it.

    Used on created_at, so a date range is checked inside the call metrics index instead of
    sending SQLite to a created_at index that would read every row from the table.
    """
    if dialect != "sqlite":
        return column
    return UnaryExpression(column, operator=operators.custom_op("+"), type_=column.type)


def quantile_fraction(q: float) -> Fraction:
    """q as an exact fraction in (0, 1] (0.95 -> 19/20), so ranks never suffer float error."""
    fraction = Fraction(str(q))
    if not 0 < fraction <= 1:
        raise ValueError(f"a percentile is a share in (0, 1], not {q!r}")
    return fraction


def nearest_rank(q: float, n: int) -> int:
    """1-based rank of the q-quantile among n sorted values: ceil(q * n), at least 1."""
    return max(1, math.ceil(quantile_fraction(q) * n))


def percentile_name(q: float) -> str:
    """Column name of a latency percentile: 0.5 -> latency_p50, 0.999 -> latency_p99.9."""
    return "latency_p" + format(float(quantile_fraction(q) * 100), "g")
