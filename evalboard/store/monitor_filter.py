"""The monitor part of a Browse filter: calls that failed a check of any chosen monitor.

The failing results are found through `ix_monitor_results_failing` (monitor_id, passed,
call_id), both ways (see `review_filter.membership`): a sorted page walks the calls' sort
index and probes the index per row when failures are common, or looks the few failing calls
up by id from it and sorts them when they are rare; the bound parameters are named
`failing_probe_*` or `failing_lookup_*` after the plan.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, select

from evalboard.store.monitor_models import MonitorResult
from evalboard.store.review_filter import Bind, membership


def _failing(monitor_ids: tuple[int, ...]) -> Callable[[Bind, str], Select[Any]]:
    """Build the SELECT of the call ids failing one of the monitors, for `membership`."""

    def build(bind: Bind, prefix: str) -> Select[Any]:
        ids = [bind(f"{prefix}monitor_{k}", monitor_id, MonitorResult.monitor_id,
                    of="failing_monitors") for k, monitor_id in enumerate(monitor_ids)]
        return select(MonitorResult.call_id).where(
            MonitorResult.monitor_id.in_(ids), MonitorResult.passed.is_(False))

    return build


def failing_monitor_condition(monitor_ids: tuple[int, ...], bind: Bind,
                              conn: Connection | None = None) -> ColumnElement[bool]:
    """The call failed some check of one of the monitors. With `conn` (for one sorted page),
    the plan is chosen from a bounded count of the failures."""
    return membership(conn, _failing(monitor_ids), bind, MonitorResult.call_id, "failing")
