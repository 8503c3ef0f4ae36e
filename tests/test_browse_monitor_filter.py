"""Browse by failing monitor, under AppTest: the monitors' results (written by the worker)
filter the list and the counts from the URL and from the widget, combined with the other
filters; the control shows only once a monitor exists."""

from __future__ import annotations

from datetime import timedelta

import pytest
from streamlit.testing.v1 import AppTest

from evalboard.checks.base import CheckSpec
from evalboard.monitors.definitions import MonitorSpec, create_monitor
from evalboard.monitors.worker import run_pass
from tests.support.apptest import open_page
from tests.support.browse_rows import results_frame
from tests.support.calls import T0, add_calls

# (model version, output) of calls 1-8, logged a minute apart
CALLS = [("v1", "fine"), ("v1", "has 1 digit"), ("v1", "{}"), ("v1", '{"n": 2}'),
         ("v2", "fine"), ("v2", "digit 3"), ("v2", "also fine"), ("v2", "[4]")]
NO_DIGITS = MonitorSpec("digits", (CheckSpec("regex", {"pattern": r"^\D*$"}),))
NOT_JSON = MonitorSpec("json output", (CheckSpec("is_json", negate=True),))  # fails on JSON
NEVER_FAILS = MonitorSpec("quiet", (CheckSpec("regex", {"pattern": ".*"}),))


def _ids(at: AppTest, numbers: dict[int, int]) -> list[int]:
    """The listed calls by their number (1-8)."""
    frame = results_frame(at)
    return [] if frame is None else [numbers[int(i)] for i in frame["id"]]


def _counts(at: AppTest) -> dict[str, int]:
    frame = next(df.value for df in at.sidebar.dataframe)
    return dict(zip(frame["model version"], frame["calls"], strict=True))


def _texts(at: AppTest) -> str:
    return " ".join(str(e.value) for e in [*at.caption, *at.markdown, *at.info])


def _log(engine) -> dict[int, int]:
    """The calls of CALLS; returns {call id: number}."""
    ids = add_calls(engine, [{"input": "q", "output": output, "model_version": version,
                              "created_at": T0 + timedelta(minutes=k)}
                             for k, (version, output) in enumerate(CALLS)]).ids
    return {call_id: number for number, call_id in enumerate(ids, start=1)}


@pytest.fixture
def monitored(engine) -> dict[int, int]:
    """Digits fail 2, 4, 6, 8; JSON outputs fail 3, 4, 8; 'quiet' fails none."""
    numbers = _log(engine)
    for spec in (NO_DIGITS, NOT_JSON, NEVER_FAILS):
        create_monitor(engine, spec, backfill=True)
    run_pass(engine)
    return numbers


@pytest.mark.parametrize(("params", "expected"), [
    ({"monitor": "digits"}, [8, 6, 4, 2]),
    ({"monitor": "json output"}, [8, 4, 3]),
    ({"monitor": ["digits", "json output"]}, [8, 6, 4, 3, 2]),  # failed either
    ({"monitor": "digits", "version": "v1"}, [4, 2]),
    ({"monitor": "json output", "sort": "oldest"}, [3, 4, 8]),
    ({"monitor": "digits", "q": "digit"}, [6, 2]),
    ({"monitor": "quiet"}, []),
])
def test_failing_monitor_filter_from_the_url(engine, monitored, params, expected):
    at = open_page("browse", **params)
    assert not at.exception
    assert _ids(at, monitored) == expected
    if expected:
        assert f"of {len(expected)}" in _texts(at)
        per_version = {version: sum(CALLS[n - 1][0] == version for n in expected)
                       for version in ("v1", "v2")}
        assert _counts(at) == {v: n for v, n in per_version.items() if n}  # counts honour it
    else:
        assert "No calls match" in _texts(at)


def test_an_unknown_monitor_in_the_url_filters_nothing(engine, monitored):
    at = open_page("browse", monitor="no such monitor")
    assert not at.exception
    assert sorted(_ids(at, monitored)) == list(range(1, 9))


def test_the_failing_monitor_widget_filters_and_combines(engine, monitored):
    at = open_page("browse")
    assert at.multiselect(key="monitor").options == ["digits", "json output", "quiet"]
    at.multiselect(key="monitor").set_value(["json output"]).run()
    assert _ids(at, monitored) == [8, 4, 3]
    at.multiselect(key="version").set_value(["v2"]).run()
    assert _ids(at, monitored) == [8]
    at.multiselect(key="monitor").set_value([]).run()
    assert _ids(at, monitored) == [8, 7, 6, 5]


def test_no_monitor_no_control(engine):
    _log(engine)
    at = open_page("browse")
    assert not at.exception
    assert "monitor" not in [widget.key for widget in at.multiselect]
