"""The two things every metric shares: which calls count (a scope) and the model version axis."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, Connection, Engine, select

from evalboard.metrics.dialect import unindexed
from evalboard.store.models import Call, ModelVersion


@dataclass(frozen=True)
class CallScope:
    """Which logged calls a metric reads: one source (None for every source) and a date range
    [since, until) on the call's created_at."""

    source: str | None = "production"
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self, dialect: str, *, seek: bool = True) -> list[ColumnElement[bool]]:
        """WHERE clauses on Call, with bound parameters only. created_at is never an index
        seek on SQLite; with seek=False neither is source (for queries that reach calls by
        id from a smaller table)."""
        conditions: list[ColumnElement[bool]] = []
        if self.source is not None:
            source = Call.source if seek else unindexed(Call.source, dialect)
            conditions.append(source == self.source)
        elif seek:  # true of every source; a range on the call metrics index's second column
            conditions.append(Call.source >= "")  # keeps SQLite's planner on that index
        created_at = unindexed(Call.created_at, dialect)
        if self.since is not None:
            conditions.append(created_at >= self.since)
        if self.until is not None:
            conditions.append(created_at < self.until)
        return conditions


PRODUCTION = CallScope()  # the default scope: production calls of all time


@dataclass(frozen=True)
class VersionRef:
    """A model version on a chart's axis; `order` is its place from 0."""

    id: int
    name: str
    order: int


def version_axis(conn: Connection, versions: Sequence[str] | None = None) -> list[VersionRef]:
    """The versions to chart: the given names in that order, or all by creation time."""
    if versions is None:
        rows = conn.execute(
            select(ModelVersion.id, ModelVersion.name).order_by(
                ModelVersion.created_at, ModelVersion.id)).all()
        return [VersionRef(vid, name, k) for k, (vid, name) in enumerate(rows)]
    ids = dict(conn.execute(
        select(ModelVersion.name, ModelVersion.id).where(ModelVersion.name.in_(versions))).all())
    unknown = [name for name in versions if name not in ids]
    if unknown:
        raise ValueError(f"no model version named {', '.join(map(repr, unknown))}")
    return [VersionRef(ids[name], name, k) for k, name in enumerate(dict.fromkeys(versions))]


def version_names(engine: Engine, versions: Sequence[str] | None = None) -> list[str]:
    """The names on the version axis, in order (every version a chart must show, with or
    without data)."""
    with engine.connect() as conn:
        return [v.name for v in version_axis(conn, versions)]


def axis_frame(axis: Iterable[VersionRef]) -> pd.DataFrame:
    """model_version and version_order of each version, indexed by version id."""
    refs = list(axis)
    return pd.DataFrame(
        {"model_version": [v.name for v in refs], "version_order": [v.order for v in refs]},
        index=pd.Index([v.id for v in refs], name="model_version_id"),
    )


def on_axis(rows: Sequence[Any], columns: Sequence[str], axis: Sequence[VersionRef],
            *, keep_empty: bool = False) -> pd.DataFrame:
    """A frame of (model_version_id, ...) rows with the version name and order attached, in axis
    order; versions without rows are dropped unless keep_empty."""
    frame = pd.DataFrame(list(rows), columns=["model_version_id", *columns])
    versions = axis_frame(axis).reset_index()
    how = "left" if keep_empty else "inner"
    merged = versions.merge(frame, on="model_version_id", how=how, sort=False)
    return merged.drop(columns="model_version_id").reset_index(drop=True)
