"""Core metrics and their targets, kept in the store (`metric_targets`), and the check of a
version's values against them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from evalboard.metrics.axis import PRODUCTION, CallScope
from evalboard.metrics.registry import MetricError, label_kinds, metric_spec
from evalboard.metrics.versions import version_values
from evalboard.store.engine import write_session
from evalboard.store.metric_models import DIRECTIONS, MetricTarget


@dataclass(frozen=True)
class Target:
    """A watched metric: core or not, the value it should reach, and which way is better."""

    key: str
    target: float | None
    direction: str
    is_core: bool
    position: int
    updated_at: datetime


def _view(row: MetricTarget) -> Target:
    return Target(row.key, row.target, row.direction, row.is_core, row.position, row.updated_at)


def set_target(engine: Engine, key: str, target: float | None, direction: str | None = None,
               core: bool = True) -> Target:
    """Create or update the target of a catalogue metric; direction defaults to the metric's
    own ("max": higher is better). New metrics go to the end of the list."""
    spec = metric_spec(key, label_kinds(engine))
    direction = direction or spec.direction
    if direction not in DIRECTIONS:
        raise MetricError(
            f"a direction is 'min' or 'max' (is higher better), not {direction!r}")
    if target is not None and not math.isfinite(target):
        raise MetricError(f"a target is a finite number, not {target!r}")
    with write_session(engine) as session:
        row = session.scalar(select(MetricTarget).where(MetricTarget.key == key))
        if row is None:
            last = session.scalar(select(func.max(MetricTarget.position)))
            row = MetricTarget(key=key, position=0 if last is None else last + 1)
            session.add(row)
        row.target = None if target is None else float(target)
        row.direction = direction
        row.is_core = core
        session.flush()
        return _view(row)


def remove_target(engine: Engine, key: str) -> bool:
    """Forget a metric's target and core flag; True when there was one."""
    with write_session(engine) as session:
        return bool(session.execute(delete(MetricTarget).where(MetricTarget.key == key)).rowcount)


def list_targets(engine: Engine, *, core_only: bool = False) -> list[Target]:
    """Every watched metric in its dashboard order."""
    with Session(engine) as session:
        query = select(MetricTarget).order_by(MetricTarget.position, MetricTarget.id)
        if core_only:
            query = query.where(MetricTarget.is_core.is_(True))
        return [_view(row) for row in session.scalars(query)]


def core_metrics(engine: Engine) -> list[Target]:
    """The core metrics, in dashboard order."""
    return list_targets(engine, core_only=True)


def reorder_targets(engine: Engine, keys: Sequence[str]) -> None:
    """Put the given metrics first, in this order; the others keep their order after them."""
    with write_session(engine) as session:
        rows = list(session.scalars(select(MetricTarget).order_by(MetricTarget.position,
                                                                  MetricTarget.id)))
        first = {key: k for k, key in enumerate(keys)}
        ordered = sorted(rows, key=lambda r: first.get(r.key, len(first)))
        for position, row in enumerate(ordered):
            row.position = position


@dataclass(frozen=True)
class TargetResult:
    """A metric's value against its target: status met, missed, no data or no target."""

    key: str
    value: float | None
    target: float | None
    direction: str
    status: str

    @property
    def missed(self) -> bool:
        return self.status == "missed"


def meets(value: float, target: float, direction: str) -> bool:
    """value reaches target in the better direction (equal, up to float noise, counts)."""
    if math.isclose(value, target, rel_tol=1e-9, abs_tol=1e-12):
        return True
    return value > target if direction == "max" else value < target


def evaluate_targets(values: Mapping[str, float | None], targets: Sequence[Target]
                     ) -> list[TargetResult]:
    """Check each target against {key: value}; the misses are `[r for r in ... if r.missed]`."""
    results = []
    for t in targets:
        value = values.get(t.key)
        if value is not None and math.isnan(value):
            value = None
        if t.target is None:
            status = "no target"
        elif value is None:
            status = "no data"
        else:
            status = "met" if meets(value, t.target, t.direction) else "missed"
        results.append(TargetResult(t.key, value, t.target, t.direction, status))
    return results


def check_core_metrics(engine: Engine, model_version: str, *, suite: str | None = None,
                       scope: CallScope = PRODUCTION) -> list[TargetResult]:
    """A model version's core metrics against their targets."""
    targets = core_metrics(engine)
    values = version_values(engine, model_version, keys=[t.key for t in targets], suite=suite,
                            scope=scope)
    return evaluate_targets(values, targets)
