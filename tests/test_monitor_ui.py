"""The Monitors page under AppTest: add a monitor (a bad regex refused in one line), run a pass,
see failing calls and pass rates, review the failures, pause and remove; failure clusters with
their review and promote actions; Home's needs-attention line."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from evalboard.cases.repository import list_cases
from evalboard.checks.base import CheckSpec
from evalboard.monitors.definitions import MonitorSpec, create_monitor, list_monitors
from evalboard.monitors.worker import run_pass
from evalboard.review.sessions import items
from tests.support.apptest import open_page
from tests.support.calls import add_calls
from tests.test_clusters import BROKEN_JSON, PIRATE, REFUSALS

NOW = datetime(2026, 11, 10, 12, 0)


def _text(at) -> str:
    shown = [*at.subheader, *at.markdown, *at.caption, *at.error, *at.success, *at.info,
             *at.warning]
    return "\n".join(str(e.value) for e in shown)


def _button(at, label: str):
    return next(b for b in at.button if b.label == label)


@pytest.mark.clock(NOW)
def test_add_a_monitor_check_calls_and_review_its_failures(engine):
    ids = add_calls(engine, [{"input": "q", "output": out, "model_version": "v1",
                              "created_at": datetime(2026, 11, 9, 10)}
                             for out in ("fine", "call 911", "fine too", "room 101")]).ids
    at = open_page("monitors", timeout=60, reviewer="ann")
    assert not at.exception
    assert "No monitors yet" in _text(at)
    name = next(t for t in at.text_input if t.label == "Name")
    checks = next(t for t in at.text_area if t.label.startswith("Checks"))
    name.input("digits")
    checks.input('- type: regex\n  params: {pattern: "(unclosed"}\n')
    next(c for c in at.checkbox if c.label.startswith("Also check")).check()
    _button(at, "Save monitor").click().run()
    assert not at.exception
    assert any(e.value.startswith("check 1: params.pattern: regex:") for e in at.error)
    assert list_monitors(engine) == []

    checks = next(t for t in at.text_area if t.label.startswith("Checks"))
    checks.input('- type: regex\n  params: {pattern: "^\\\\D*$"}\n')
    _button(at, "Save monitor").click().run()
    assert not at.exception and not at.error
    [monitor] = list_monitors(engine)
    assert monitor.name == "digits" and monitor.last_call_id == 0

    _button(at, "Check new calls now").click().run()
    assert not at.exception
    assert "4 calls checked, 2 failing results." in _text(at)
    table = next(d.value for d in at.dataframe if "monitor" in d.value.columns)
    assert table.iloc[0]["failing results"] == 2
    failing = next(d.value for d in at.dataframe if "failed" in d.value.columns)
    assert list(failing["call"]) == [f"/browse?call={ids[3]}", f"/browse?call={ids[1]}"]
    assert "Pass rates" in _text(at)

    _button(at, "Review its unreviewed failures").click().run()
    assert not at.exception
    link = next(p for p in at.get("page_link") if "review session" in p.proto.label)
    session_id = int(re.search(r"#(\d+)", link.proto.label)[1])
    assert [i.call_id for i in items(engine, session_id)] == [ids[3], ids[1]]

    next(t for t in at.toggle if t.label == "Edit").set_value(True).run()
    [edit_rate, _new_rate] = [n for n in at.number_input if n.label == "Share checked"]
    edit_rate.set_value(0.5)
    [edit_checks, _new_checks] = [t for t in at.text_area if t.label.startswith("Checks")]
    assert "pattern: ^\\D*$" in edit_checks.value
    next(b for b in at.button if b.label == "Save monitor").click().run()
    assert not at.exception and not at.error
    assert list_monitors(engine)[0].spec.sampling_rate == 0.5

    _button(at, "Pause").click().run()
    assert not list_monitors(engine)[0].spec.enabled
    _button(at, "Remove with its results").click().run()
    assert list_monitors(engine) == []


def test_failure_clusters_review_and_promote(engine):
    rows = [*({"input": f"Where is my order {i}?", "output": t, "model_version": "v1"}
              for i, t in enumerate(REFUSALS + BROKEN_JSON)),
            *({"input": f"Where is my order {i}?", "output": t, "model_version": "v2"}
              for i, t in enumerate(BROKEN_JSON + PIRATE))]
    add_calls(engine, rows)
    checks = (CheckSpec("contains_any", {"values": ["as an AI", "arr", "Arr"]}, negate=True),
              CheckSpec("is_json"))
    create_monitor(engine, MonitorSpec("format", checks), backfill=True)
    run_pass(engine)
    at = open_page("monitors", timeout=120, reviewer="ann")
    assert not at.exception
    next(t for t in at.toggle if t.label == "Find clusters").set_value(True).run()
    assert not at.exception
    text = _text(at)
    assert "Monitor: format · cluster 1" in text and ": 12 calls" in text
    assert "**Fixed in v2** (no calls left)" in text and "**Introduced in v2** (none on v1)" in text
    assert re.search(r"cluster \d: .*language.* \(6 calls on v1\)", text)
    assert re.search(r"cluster \d: .*arr.* \(6 calls\)", text)
    [button, *_] = [b for b in at.button if b.label == "Review this cluster"]
    button.click().run()
    assert not at.exception
    link = next(p for p in at.get("page_link") if "review session" in p.proto.label)
    assert len(items(engine, int(re.search(r"#(\d+)", link.proto.label)[1]))) == 12
    [promote, *_] = [b for b in at.button if b.label == "Promote representatives to test cases"]
    promote.click().run()
    assert not at.exception
    assert "3 test cases added to “regressions”." in _text(at)
    assert len(list_cases(engine)) == 3


@pytest.mark.clock(NOW)
def test_home_lists_unreviewed_monitor_failures(engine):
    add_calls(engine, [{"input": "q", "output": "call 911", "model_version": "v1",
                        "created_at": datetime(2026, 11, 9, 10)}])
    create_monitor(engine, MonitorSpec("digits", (CheckSpec("regex", {"pattern": r"^\D*$"}),)),
                   backfill=True)
    run_pass(engine)
    at = open_page(timeout=60)
    assert not at.exception
    labels = [p.proto.label for p in at.get("page_link")]
    assert any("1 call failed a monitor and nobody has reviewed it" in label for label in labels)


@pytest.mark.clock(NOW)
def test_metrics_page_charts_monitor_pass_rates(engine):
    add_calls(engine, [{"input": "q", "output": out, "model_version": version,
                        "created_at": datetime(2026, 11, 9, 10)}
                       for version, out in (("v1", "a1"), ("v1", "b"), ("v2", "c"))])
    create_monitor(engine, MonitorSpec("digits", (CheckSpec("regex", {"pattern": r"^\D*$"}),)),
                   backfill=True)
    run_pass(engine)
    at = open_page("metrics", timeout=60)
    assert not at.exception
    assert "Monitors on production calls" in _text(at)
    assert at.selectbox(key="metrics_monitor").value == "digits"


def test_a_call_failing_a_monitor_shows_it_as_a_suggestion(engine):
    [call_id] = add_calls(engine, [{"input": "q", "output": "call 911",
                                    "model_version": "v1"}]).ids
    create_monitor(engine, MonitorSpec("digits", (CheckSpec("regex", {"pattern": r"^\D*$"}),)),
                   backfill=True)
    run_pass(engine)
    at = open_page("browse", call=str(call_id), timeout=60)
    assert not at.exception
    [line] = [c.value for c in at.caption if "monitor “digits”" in str(c.value)]
    assert line.startswith("FAIL · monitor “digits” — regex:")
