"""The Metrics page under AppTest: charts from SQL aggregates, core metrics with targets."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from evalboard.demo.builder import load_demo
from evalboard.metrics.targets import list_targets, set_target
from evalboard.review.annotations import Judgement, annotate
from evalboard.review.labels import list_labels, update_label
from evalboard.store.models import Call
from evalboard.ui.label_badges import VERDICT_COLOURS
from tests.support.apptest import open_page
from tests.support.calls import T0, add_calls
from tests.support.metric_stores import add_case_version, add_run, add_suite, order_versions


def _page(**params) -> AppTest:
    return open_page("metrics", timeout=90, **params)


def test_metrics_page_charts_every_section_and_the_core_targets(engine):
    load_demo(engine, calls=800, seed=4)
    set_target(engine, "pass_rate", 0.85, "max")
    at = _page(metrics_period="all time")
    assert not at.exception and not at.error
    subheaders = [s.value for s in at.subheader]
    assert subheaders[:3] == ["Core metrics", "Across model versions", "Over time"]
    charts = at.get("vega_lite_chart")
    assert len(charts) >= 10
    assert len(at.get("download_button")) == len(charts)  # every chart's data downloads as CSV
    assert any("target ≥ 0.85" in m.value for m in at.markdown)


def test_core_metrics_are_chosen_in_the_page_and_stored(engine):
    load_demo(engine, calls=300, seed=5)
    at = _page()
    form_select = next(s for s in at.selectbox if s.label == "Metric")
    form_select.set_value("latency_p95")
    next(n for n in at.number_input if n.label == "Target").set_value(2000.0)
    next(s for s in at.selectbox if s.label == "Better").set_value("min")
    next(b for b in at.button if b.label == "Save as core metric").click().run()
    assert not at.exception
    stored = {t.key: (t.target, t.direction, t.is_core) for t in list_targets(engine)}
    assert stored == {"latency_p95": (2000.0, "min", True)}


def test_the_page_says_when_latency_percentiles_come_from_the_histograms(engine, monkeypatch):
    load_demo(engine, calls=300, seed=6)
    at = _page(metrics_period="all time")
    note = "read from daily latency histograms"
    assert not any(note in c.value for c in at.caption)
    monkeypatch.setattr("evalboard.metrics.daily.EXACT_LATENCY_LIMIT", 10)
    at = _page(metrics_period="last 28 days")  # another period: not a cached frame
    assert not at.exception and not at.error
    assert sum(note in c.value for c in at.caption) == 2  # across versions and over time


def _chart(at: AppTest, key: str) -> dict:
    """The Vega-Lite spec of the chart drawn with st.altair_chart(key=key)."""
    (chart,) = [c for c in at.get("vega_lite_chart") if c.key == key]
    return json.loads(chart.proto.spec)


def _colours(spec: dict) -> dict[str, str]:
    scale = spec["layer"][0]["encoding"]["color"]["scale"]
    return dict(zip(scale["domain"], scale["range"], strict=True))


def _judged_store(engine) -> None:
    """Versions a, b, c in that order; a and b have judged calls, c has none."""
    add_calls(engine, [{"input": f"{v} {k}", "model_version": v, "created_at": T0}
                       for v in ("a", "b", "c") for k in range(3)])
    order_versions(engine, "a", "b", "c")
    with Session(engine) as session:
        ids = dict(session.execute(select(Call.input_text, Call.id)).all())
    annotate(engine, ids["a 0"], "alice", Judgement("pass"))
    annotate(engine, ids["a 1"], "alice", Judgement("fail", ("hallucination",)))
    annotate(engine, ids["b 0"], "alice", Judgement("unsure", ("wrong format",)))


def test_label_colours_follow_settings_and_verdicts_have_fixed_colours(engine):
    _judged_store(engine)
    labels = {label.name: label.id for label in list_labels(engine)}
    update_label(engine, labels["hallucination"], color="#123456")
    at = _page(metrics_period="all time")
    assert not at.exception and not at.error
    label_colours = _colours(_chart(at, "chart_label_rates"))
    assert label_colours["hallucination"] == "#123456"
    stored = {label.name: label.color for label in list_labels(engine)}
    assert label_colours == {name: stored[name] for name in label_colours}
    assert _colours(_chart(at, "chart_verdicts")) == VERDICT_COLOURS
    # c has calls but no judgement: said so, on the chart and under it
    assert any(c.value == "No data for c." for c in at.caption)


def test_the_page_warns_when_runs_ran_different_case_versions(engine):
    add_calls(engine, [{"input": "x", "model_version": v, "source": "eval"} for v in "ab"])
    order_versions(engine, "a", "b")
    with Session(engine) as session, session.begin():
        suite = add_suite(session, "s1", [("c1", None), ("c2", None)])
        add_run(session, suite, "a", datetime(2026, 11, 1), "finished",
                {"c1": "pass", "c2": "fail"})
        at = _page(metrics_period="all time")
        assert not any("not measured on the same test" in w.value for w in at.warning)
        add_case_version(session, suite, "c2")
        add_run(session, suite, "b", datetime(2026, 11, 2), "finished",
                {"c1": "pass", "c2": "pass"}, case_versions={"c2": 2})
    at = _page(metrics_period="all time", metrics_suite="s1")  # another key: not cached
    assert not at.exception and not at.error
    warnings = [w.value for w in at.warning if "not measured on the same test" in w.value]
    assert len(warnings) == 2  # on the pass rate tab and the reference scores tab
    assert "a (run 1): “c2” v1; b (run 2): “c2” v2" in warnings[0]
    spec = _chart(at, "chart_pass_rate")
    (whiskers,) = [layer for layer in spec["layer"] if layer["mark"]["type"] == "errorbar"]
    assert (whiskers["encoding"]["y"]["field"], whiskers["encoding"]["y2"]["field"]) == (
        "low", "high")
