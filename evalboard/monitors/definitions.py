"""Monitor definitions: validated on save, listed with their progress.

A monitor is a set of check specs (the same format as a test case's checks, validated the same
way), a filter on calls (model versions, one source, metadata key=value pairs) and a sampling
rate in [0, 1]. Each check gets a name unique in its monitor (`check_names`): results are kept
per (monitor, call, check name).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, case, delete, func, select, update
from sqlalchemy.orm import Session

from evalboard.checks.base import CheckContext, CheckError, CheckSpec, validate_spec
from evalboard.errors import EvalboardError
from evalboard.store.engine import write_session
from evalboard.store.models import SOURCES, Call, utcnow
from evalboard.store.monitor_models import Monitor, MonitorCursor, MonitorResult

NAME_LIMIT = 200
# What a check sees of a production call at save time: no case, so no reference.
PRODUCTION_CONTEXT = CheckContext()


class MonitorError(EvalboardError, ValueError):
    """A monitor that cannot be saved or found; the message says which field and why."""


@dataclass(frozen=True)
class MonitorSpec:
    """What a monitor is, as the user defines it."""

    name: str
    checks: tuple[CheckSpec, ...]
    model_versions: tuple[str, ...] = ()
    source: str | None = "production"
    metadata: Mapping[str, str] = field(default_factory=dict)
    sampling_rate: float = 1.0
    enabled: bool = True


@dataclass(frozen=True)
class MonitorView:
    """A stored monitor with its cursor and result counts."""

    id: int
    spec: MonitorSpec
    created_at: datetime
    last_call_id: int
    results: int
    failures: int

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def check_names(self) -> list[str]:
        return check_names(self.spec.checks)


def check_name(spec: CheckSpec) -> str:
    """A check's display name: its type, with NOT when negated."""
    return ("NOT " if spec.negate else "") + spec.type


def check_names(specs: Sequence[CheckSpec]) -> list[str]:
    """One name per check, unique in the monitor: a repeated name gets #2, #3..."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for spec in specs:
        base = check_name(spec)
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base} #{seen[base]}")
    return names


def parse_checks(data: Sequence[Mapping[str, Any]]) -> tuple[CheckSpec, ...]:
    """Check specs from plain data (YAML/JSON), each validated; errors name the check."""
    if isinstance(data, str | bytes) or not isinstance(data, Sequence):
        raise MonitorError("checks: expected a list of checks")
    specs = []
    for position, item in enumerate(data, start=1):
        try:
            specs.append(CheckSpec.from_dict(item))
        except CheckError as exc:
            raise MonitorError(f"check {position}: {exc}") from None
    return tuple(specs)


def validate_monitor(spec: MonitorSpec) -> MonitorSpec:
    """The spec with its name trimmed; MonitorError naming the first bad field."""
    name = spec.name.strip()
    if not name:
        raise MonitorError("name: a monitor needs a name")
    if len(name) > NAME_LIMIT:
        raise MonitorError(f"name: at most {NAME_LIMIT} characters")
    if not spec.checks:
        raise MonitorError("checks: a monitor needs at least one check")
    for position, check in enumerate(spec.checks, start=1):
        try:
            validate_spec(check, PRODUCTION_CONTEXT)
        except CheckError as exc:
            raise MonitorError(f"check {position}: {exc}") from None
    if spec.source is not None and spec.source not in SOURCES:
        raise MonitorError(f"source: expected one of {', '.join(SOURCES)} (or every source), "
                           f"got {spec.source!r}")
    rate = spec.sampling_rate
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
        raise MonitorError(f"sampling rate: a share from 0 to 1, got {rate!r}")
    for key, value in spec.metadata.items():
        if not isinstance(key, str) or not key.strip():
            raise MonitorError("metadata: every key needs a name")
        if not isinstance(value, str):
            raise MonitorError(f"metadata.{key}: expected text, got {value!r}")
    versions = tuple(dict.fromkeys(v.strip() for v in spec.model_versions if v.strip()))
    return MonitorSpec(name, tuple(spec.checks), versions, spec.source,
                       {k.strip(): v for k, v in spec.metadata.items()}, float(rate),
                       bool(spec.enabled))


def _name_taken(session: Session, name: str, monitor_id: int | None) -> bool:
    query = select(Monitor.id).where(Monitor.name == name)
    if monitor_id is not None:
        query = query.where(Monitor.id != monitor_id)
    return session.scalar(query) is not None


def _columns(spec: MonitorSpec) -> dict[str, Any]:
    return {"name": spec.name, "checks": [c.to_dict() for c in spec.checks],
            "model_versions": list(spec.model_versions), "source": spec.source,
            "metadata_filter": dict(spec.metadata), "sampling_rate": spec.sampling_rate,
            "enabled": spec.enabled}


def create_monitor(engine: Engine, spec: MonitorSpec, *, backfill: bool = False) -> int:
    """Save a new monitor and return its id. It checks calls logged from now on; with
    `backfill`, the calls already stored too (oldest first)."""
    spec = validate_monitor(spec)
    with write_session(engine) as session:
        if _name_taken(session, spec.name, None):
            raise MonitorError(f"name: there is already a monitor called {spec.name!r}")
        monitor = Monitor(**_columns(spec), created_at=utcnow())
        session.add(monitor)
        session.flush()
        start = 0 if backfill else session.scalar(select(func.coalesce(func.max(Call.id), 0)))
        session.add(MonitorCursor(monitor_id=monitor.id, last_call_id=start,
                                  start_call_id=start, updated_at=utcnow()))
        return monitor.id


def update_monitor(engine: Engine, monitor_id: int, spec: MonitorSpec) -> None:
    """Change a monitor: results already written stay; new calls get the new checks."""
    spec = validate_monitor(spec)
    with write_session(engine) as session:
        if session.get(Monitor, monitor_id) is None:
            raise MonitorError(f"there is no monitor {monitor_id}")
        if _name_taken(session, spec.name, monitor_id):
            raise MonitorError(f"name: there is already a monitor called {spec.name!r}")
        session.execute(update(Monitor).where(Monitor.id == monitor_id).values(**_columns(spec)))


def set_enabled(engine: Engine, monitor_id: int, enabled: bool) -> None:
    """Pause or resume a monitor (a paused one keeps its cursor and resumes after it)."""
    with write_session(engine) as session:
        session.execute(update(Monitor).where(Monitor.id == monitor_id).values(enabled=enabled))


def delete_monitor(engine: Engine, monitor_id: int) -> None:
    """Remove a monitor with its cursor and results."""
    with write_session(engine) as session:
        for model in (MonitorResult, MonitorCursor):
            session.execute(delete(model).where(model.monitor_id == monitor_id))
        session.execute(delete(Monitor).where(Monitor.id == monitor_id))


def spec_of(row: Monitor) -> MonitorSpec:
    """A stored monitor as a spec (checks unvalidated: a retired check errors when it runs)."""
    return MonitorSpec(row.name, tuple(CheckSpec.from_stored(c) for c in row.checks),
                       tuple(row.model_versions or ()), row.source,
                       dict(row.metadata_filter or {}), row.sampling_rate, row.enabled)


def list_monitors(engine: Engine, *, enabled_only: bool = False) -> list[MonitorView]:
    """Every monitor by name, with its cursor and how many results and failures it has."""
    with Session(engine) as session:
        query = select(Monitor).order_by(Monitor.name)
        if enabled_only:
            query = query.where(Monitor.enabled.is_(True))
        monitors = list(session.scalars(query))
        cursors = dict(session.execute(select(MonitorCursor.monitor_id,
                                              MonitorCursor.last_call_id)).all())
        counts: dict[int, tuple[int, int]] = {
            mid: (int(total), int(failed or 0)) for mid, total, failed in session.execute(
                select(MonitorResult.monitor_id, func.count(),
                       func.sum(case((MonitorResult.passed.is_(False), 1), else_=0)))
                .group_by(MonitorResult.monitor_id))}
    return [MonitorView(m.id, spec_of(m), m.created_at, cursors.get(m.id, 0),
                        *counts.get(m.id, (0, 0))) for m in monitors]


def get_monitor(engine: Engine, name_or_id: str | int) -> MonitorView:
    """One monitor by id or name; MonitorError when there is none."""
    for view in list_monitors(engine):
        if view.id == name_or_id or view.name == name_or_id:
            return view
    raise MonitorError(f"there is no monitor {name_or_id!r}")
