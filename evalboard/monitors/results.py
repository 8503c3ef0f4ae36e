"""What monitor results feed: calls failing a monitor, suggestions for a reviewer, pass rates per
model version and over time, and the failing calls nobody has reviewed.

A call passes a monitor when every check of the monitor passed on it; a monitor's pass rate is
the share of the calls it checked that passed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, Engine, Select, case, func, select

from evalboard.metrics.axis import PRODUCTION, CallScope, on_axis, version_axis
from evalboard.metrics.dialect import time_bucket
from evalboard.metrics.intervals import with_wilson
from evalboard.review.annotations import is_reviewed
from evalboard.store.models import Call, ModelVersion
from evalboard.store.monitor_models import Monitor, MonitorResult

PASS_RATE_KEY = "monitor_pass_rate"  # metric keys: monitor_pass_rate:<monitor name>


def metric_key(monitor_name: str) -> str:
    """The metric registry key of a monitor's pass rate."""
    return f"{PASS_RATE_KEY}:{monitor_name}"


def failing_call_ids(monitor_id: int) -> Select[tuple[int]]:
    """SELECT the ids of the calls that failed some check of the monitor (for IN (...))."""
    return (select(MonitorResult.call_id)
            .where(MonitorResult.monitor_id == monitor_id, MonitorResult.passed.is_(False)))


def fails_monitor(monitor_id: int) -> ColumnElement[bool]:
    """A condition on calls: the call failed the monitor."""
    return Call.id.in_(failing_call_ids(monitor_id))


def fails_any_monitor() -> ColumnElement[bool]:
    """A condition on calls: the call failed some enabled monitor."""
    return Call.id.in_(select(MonitorResult.call_id).join(
        Monitor, Monitor.id == MonitorResult.monitor_id)
        .where(MonitorResult.passed.is_(False), Monitor.enabled.is_(True)))


@dataclass(frozen=True)
class MonitorSuggestion:
    """A monitor whose checks failed on a call: its name and (check, reason) pairs."""

    monitor: str
    failed_checks: tuple[tuple[str, str], ...]


def monitor_suggestions(engine: Engine, call_id: int) -> list[MonitorSuggestion]:
    """The monitors that failed this call, by name, with the failing checks' reasons."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(Monitor.name, MonitorResult.check_name, MonitorResult.reason)
            .join(Monitor, Monitor.id == MonitorResult.monitor_id)
            .where(MonitorResult.call_id == call_id, MonitorResult.passed.is_(False))
            .order_by(Monitor.name, MonitorResult.id)).all()
    found: dict[str, list[tuple[str, str]]] = {}
    for name, check, reason in rows:
        found.setdefault(name, []).append((check, reason))
    return [MonitorSuggestion(name, tuple(checks)) for name, checks in found.items()]


def _counts(columns: Sequence[Any], scope: CallScope, monitor_ids: Sequence[int] | None
            ) -> Select[Any]:
    """(*columns, checked calls, failed calls) of monitor results in scope (by call time)."""
    failed = func.count(case((MonitorResult.passed.is_(False), MonitorResult.call_id)).distinct())
    query = select(*columns, func.count(MonitorResult.call_id.distinct()), failed)
    if monitor_ids is not None:
        query = query.where(MonitorResult.monitor_id.in_(monitor_ids))
    if scope.since is not None:
        query = query.where(MonitorResult.call_created_at >= scope.since)
    if scope.until is not None:
        query = query.where(MonitorResult.call_created_at < scope.until)
    return query.group_by(*columns)


def _monitor_ids(engine: Engine, names: Sequence[str] | None) -> dict[int, str]:
    with engine.connect() as conn:
        query = select(Monitor.id, Monitor.name).order_by(Monitor.name)
        if names is not None:
            query = query.where(Monitor.name.in_(list(names)))
        return dict(conn.execute(query).all())


def pass_rates(engine: Engine, *, monitors: Sequence[str] | None = None,
               scope: CallScope = PRODUCTION,
               versions: Sequence[str] | None = None) -> pd.DataFrame:
    """Per monitor and model version: monitor, model_version, version_order, checked, failed,
    pass_rate, low, high (95% Wilson interval of the pass rate)."""
    names = _monitor_ids(engine, monitors)
    with engine.connect() as conn:
        axis = version_axis(conn, versions)
        rows = conn.execute(_counts([MonitorResult.model_version_id, MonitorResult.monitor_id],
                                    scope, list(names))).all()
    frame = on_axis([(vid, names[mid], checked, failed) for vid, mid, checked, failed in rows],
                    ["monitor", "checked", "failed"], axis)
    frame["passed"] = frame["checked"] - frame["failed"]
    frame["pass_rate"] = frame["passed"] / frame["checked"]
    frame = with_wilson(frame, "passed", "checked")
    return frame.sort_values(["monitor", "version_order"], kind="stable").reset_index(drop=True)


def pass_rate_over_time(engine: Engine, *, monitors: Sequence[str] | None = None,
                        unit: str = "day", scope: CallScope = PRODUCTION,
                        versions: Sequence[str] | None = None) -> pd.DataFrame:
    """Per monitor, day (or ISO week) of the call and model version: bucket, monitor,
    model_version, version_order, checked, failed, pass_rate."""
    names = _monitor_ids(engine, monitors)
    with engine.connect() as conn:
        axis = version_axis(conn, versions)
        bucket = time_bucket(MonitorResult.call_created_at, unit, conn.dialect.name)
        rows = conn.execute(_counts([MonitorResult.model_version_id, MonitorResult.monitor_id,
                                     bucket], scope, list(names))).all()
    frame = on_axis([(vid, names[mid], day, checked, failed)
                     for vid, mid, day, checked, failed in rows],
                    ["monitor", "bucket", "checked", "failed"], axis)
    frame["bucket"] = pd.to_datetime(frame["bucket"])
    frame["pass_rate"] = (frame["checked"] - frame["failed"]) / frame["checked"]
    return frame.sort_values(["monitor", "bucket", "version_order"],
                             kind="stable").reset_index(drop=True)


def metric_rows(engine: Engine, scope: CallScope, versions: Sequence[str] | None
                ) -> list[tuple[str, int, str, float]]:
    """(model_version, version_order, monitor_pass_rate:<name>, pass rate) for metric tables."""
    frame = pass_rates(engine, scope=scope, versions=versions)
    return [(row.model_version, row.version_order, metric_key(row.monitor), row.pass_rate)
            for row in frame.itertuples(index=False)]


def monitor_names(engine: Engine) -> list[str]:
    """Every monitor's name, sorted."""
    return list(_monitor_ids(engine, None).values())


def monitor_ids_by_name(engine: Engine) -> dict[str, int]:
    """Every monitor's id by its name, sorted by name."""
    return {name: monitor_id for monitor_id, name in _monitor_ids(engine, None).items()}


def unreviewed_failures(engine: Engine) -> int:
    """Calls that failed an enabled monitor and that nobody has judged yet."""
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(Call)
                               .where(fails_any_monitor(), ~is_reviewed())) or 0)


@dataclass(frozen=True)
class FailingCall:
    """A call that failed a monitor: when, which version, and the checks that failed."""

    call_id: int
    model_version: str
    created_at: datetime
    failed_checks: tuple[tuple[str, str], ...]  # (check name, reason)
    reviewed: bool


def failing_calls(engine: Engine, monitor_id: int, *, limit: int = 50,
                  unreviewed_only: bool = False) -> list[FailingCall]:
    """The newest calls that failed the monitor (by call id), with their failing checks."""
    with engine.connect() as conn:
        query = (select(Call.id, ModelVersion.name, Call.created_at, is_reviewed())
                 .join(ModelVersion, ModelVersion.id == Call.model_version_id)
                 .where(fails_monitor(monitor_id)).order_by(Call.id.desc()).limit(limit))
        if unreviewed_only:
            query = query.where(~is_reviewed())
        calls = conn.execute(query).all()
        reasons: dict[int, list[tuple[str, str]]] = {}
        for call_id, check, reason in conn.execute(
                select(MonitorResult.call_id, MonitorResult.check_name, MonitorResult.reason)
                .where(MonitorResult.monitor_id == monitor_id, MonitorResult.passed.is_(False),
                       MonitorResult.call_id.in_([row[0] for row in calls]))
                .order_by(MonitorResult.id)):
            reasons.setdefault(call_id, []).append((check, reason))
    return [FailingCall(call_id, version, created_at, tuple(reasons.get(call_id, ())),
                        bool(reviewed)) for call_id, version, created_at, reviewed in calls]
