"""The Metrics page under AppTest: charts from SQL aggregates, core metrics with targets."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from evalboard.demo import load_demo
from evalboard.metrics.targets import list_targets, set_target

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _page(**params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    return at.switch_page("app_pages/metrics.py").run()


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
