"""The Metrics page under AppTest: charts from SQL aggregates, core metrics with targets."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
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


def _chart_rows(at: AppTest, key: str, layer: dict) -> list[dict]:
    """The rows of a layer's data as Streamlit sent them (datasets go as Arrow)."""
    import pyarrow as pa

    (chart,) = [c for c in at.get("vega_lite_chart") if c.key == key]
    (data,) = [d.data.data for d in chart.proto.datasets if d.name == layer["data"]["name"]]
    return pa.ipc.open_stream(data).read_all().to_pylist()


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


# scores -------------------------------------------------------------------------------------

def _scored_store(engine) -> dict[str, int]:
    """_judged_store plus scores: a rating on a (3 final answers, one call adjudicated) and b
    (1), a choice on a; c has calls and no score. Returns configuration ids by name."""
    from evalboard.teams.adjudication import adjudicate
    from evalboard.teams.scores import create_score_config

    _judged_store(engine)
    ids = {"helpfulness": create_score_config(engine, "helpfulness", "rating", maximum=5),
           "tone": create_score_config(engine, "tone", "choice",
                                       choices=["friendly", "neutral", "rude"]),
           "remark": create_score_config(engine, "remark", "text")}
    with Session(engine) as session:
        calls = dict(session.execute(select(Call.input_text, Call.id)).all())
    rate = [("a 0", "ann", 4, "friendly"), ("a 1", "ann", 2, "rude"), ("a 2", "ann", 5, None),
            ("a 2", "bob", 1, None), ("b 0", "ann", 3, None)]
    for name, reviewer, stars, tone in rate:
        scores = (("helpfulness", stars), *((("tone", tone),) if tone else ()))
        annotate(engine, calls[name], reviewer, Judgement("pass", scores=(
            *scores, ("remark", "fine"))))
    # a 2: the reviewers disagree (5 and 1); the adjudication's 3 is the final answer
    adjudicate(engine, calls["a 2"], "lead", Judgement("pass", scores=(("helpfulness", 3),)))
    return ids


def test_the_scores_section_charts_each_configuration_with_intervals_and_n(engine):
    ids = _scored_store(engine)
    at = _page(metrics_period="all time")
    assert not at.exception and not at.error
    subheaders = [s.value for s in at.subheader]
    assert subheaders == ["Core metrics", "Across model versions", "Scores", "Over time"]
    assert any("final answers" in c.value.lower() and "adjudication" in c.value
               for c in at.caption)
    assert not any(c.key == f"chart_score_{ids['remark']}" for c in at.get("vega_lite_chart"))

    spec = _chart(at, f"chart_score_{ids['helpfulness']}")
    bars = spec["layer"][0]
    assert bars["encoding"]["x"]["title"] == "Model version"
    assert bars["encoding"]["x"]["scale"]["domain"] == ["a", "b", "c"]  # every version
    assert bars["encoding"]["y"]["title"] == "Mean helpfulness"
    assert bars["encoding"]["y"]["scale"]["domain"] == [0, 5]  # the rating's whole range
    key = f"chart_score_{ids['helpfulness']}"
    means = {row["model_version"]: row["mean"] for row in _chart_rows(at, key, bars)}
    assert means["a"] == pytest.approx(3.0)  # 4, 2 and the adjudicated 3
    assert means["b"] == 3.0 and means["c"] is None  # c: no data, not 0
    (whiskers,) = [layer for layer in spec["layer"] if layer["mark"]["type"] == "errorbar"]
    assert (whiskers["encoding"]["y"]["field"], whiskers["encoding"]["y2"]["field"]) == (
        "low", "high")
    (notes,) = [layer for layer in spec["layer"] if layer["mark"]["type"] == "text"]
    assert [row["model_version"] for row in _chart_rows(at, key, notes)] == ["c"]
    captions = [c.value for c in at.caption]
    assert ("n per version: a 3 final answers · b 1 final answer · c no data. Final answers "
            "with this score only.") in captions

    tone = _chart(at, f"chart_score_{ids['tone']}")
    assert tone["layer"][0]["encoding"]["color"]["title"] == "Tone"
    assert tone["layer"][0]["encoding"]["y"]["title"] == "Share of answers"
    assert any(layer["mark"]["type"] == "errorbar" for layer in tone["layer"])
    assert "n per version: a 2 final answers · b no data · c no data. Final answers with this " \
           "score only." in captions
    assert any(m.value == "**helpfulness** — rating 1–5" for m in at.markdown)


def test_without_scores_there_is_no_scores_section(engine):
    _judged_store(engine)
    at = _page(metrics_period="all time")
    assert not at.exception and not at.error
    assert "Scores" not in [s.value for s in at.subheader]
