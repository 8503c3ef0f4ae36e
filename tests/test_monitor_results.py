"""Monitor results feed what exists: review suggestions, the "failing checks first" strategy,
metrics (pass rate per version and over time, a core-metric target) and Home's count."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from evalboard.checks.base import CheckSpec
from evalboard.metrics.registry import metric_catalogue, metric_spec
from evalboard.metrics.targets import check_core_metrics, set_target
from evalboard.metrics.versions import metric_table
from evalboard.monitors.definitions import MonitorSpec, create_monitor, set_enabled
from evalboard.monitors.results import (
    metric_key,
    monitor_suggestions,
    pass_rate_over_time,
    pass_rates,
    unreviewed_failures,
)
from evalboard.monitors.worker import run_pass
from evalboard.review.annotations import Judgement, annotate
from evalboard.review.sampling import SessionSpec, pick_calls
from evalboard.review.suggestions import check_suggestions
from evalboard.store.writes import WriteSummary
from tests.support.calls import add_calls

NOW = datetime(2026, 11, 10, 12, 0)
NO_DIGITS = CheckSpec("regex", {"pattern": r"^\D*$"})


def _log(engine, outputs: list[tuple[str, str, datetime]]) -> WriteSummary:
    return add_calls(engine, [{"input": "q", "output": output, "model_version": version,
                               "created_at": at} for version, output, at in outputs])


@pytest.fixture
def checked(engine):
    """v1: 2 of 4 calls fail (one each day); v2: 1 of 4; one monitor 'digits'."""
    day1, day2 = NOW - timedelta(days=2), NOW - timedelta(days=1)
    ids = _log(engine, [("v1", "ok", day1), ("v1", "bad 1", day1), ("v1", "ok", day2),
                        ("v1", "bad 2", day2), ("v2", "ok", day1), ("v2", "ok", day1),
                        ("v2", "ok", day2), ("v2", "bad 3", day2)]).ids
    monitor_id = create_monitor(engine, MonitorSpec("digits", (NO_DIGITS,)), backfill=True)
    run_pass(engine)
    return ids, monitor_id


@pytest.mark.clock(NOW)
def test_failures_are_suggestions(engine, checked):
    ids, _ = checked
    assert monitor_suggestions(engine, ids[0]) == []
    [found] = monitor_suggestions(engine, ids[1])
    assert found.monitor == "digits" and found.failed_checks[0][0] == "regex"
    [suggestion] = [s for s in check_suggestions(engine, ids[1]) if s.kind == "monitor"]
    assert (suggestion.case_name, suggestion.status, suggestion.suggested_label) == (
        "digits", "fail", None)


@pytest.mark.clock(NOW)
def test_failing_checks_first_includes_monitor_failures(engine, checked):
    ids, monitor_id = checked
    picked = pick_calls(engine, SessionSpec(size=10, strategy="failing_checks"))
    assert picked == [ids[7], ids[3], ids[1]]
    annotate(engine, ids[3], "ann", Judgement("fail"))
    assert pick_calls(engine, SessionSpec(size=10, strategy="failing_checks")) == [ids[7], ids[1]]
    assert unreviewed_failures(engine) == 2
    set_enabled(engine, monitor_id, False)  # a paused monitor no longer asks for attention
    assert unreviewed_failures(engine) == 0


@pytest.mark.clock(NOW)
def test_pass_rate_per_version_and_over_time(engine, checked):
    frame = pass_rates(engine)
    assert list(zip(frame["model_version"], frame["checked"], frame["pass_rate"],
                    strict=True)) == [("v1", 4, 0.5), ("v2", 4, 0.75)]
    assert (frame["low"] < frame["pass_rate"]).all() and (frame["high"] > 0.5).all()
    days = pass_rate_over_time(engine)
    assert [(str(b.date()), v, r) for b, v, r in zip(days["bucket"], days["model_version"],
                                                    days["pass_rate"], strict=True)] == [
        ("2026-11-08", "v1", 0.5), ("2026-11-08", "v2", 1.0),
        ("2026-11-09", "v1", 0.5), ("2026-11-09", "v2", 0.5)]


@pytest.mark.clock(NOW)
def test_the_metric_registry_knows_monitor_pass_rates(engine, checked):
    key = metric_key("digits")
    assert key in [spec.key for spec in metric_catalogue(engine)]
    assert metric_spec(key).direction == "max" and metric_spec(key).unit == "share"
    table = metric_table(engine, keys=[key])
    assert list(zip(table["model_version"], table["value"], strict=True)) == [
        ("v1", 0.5), ("v2", 0.75)]
    set_target(engine, key, 0.7)
    [v1] = check_core_metrics(engine, "v1")
    [v2] = check_core_metrics(engine, "v2")
    assert (v1.status, v2.status) == ("missed", "met")
