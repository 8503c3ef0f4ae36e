"""Home under AppTest: today at a glance, the latest run per version, what needs attention."""

from __future__ import annotations

from evalboard.demo.builder import load_demo
from evalboard.runs.compare import compare
from evalboard.runs.overview import failing_unreviewed_calls, latest_runs_by_version
from evalboard.runs.results import run_summary
from tests.support.apptest import open_page


def test_home_shows_the_glance_runs_and_attention(engine):
    load_demo(engine, calls=800, seed=2)
    runs = latest_runs_by_version(engine)
    assert [r.model_version for r in runs][:2] == ["Llama-3.1-8B-Instruct", "support-bot-v1"]
    assert runs[0].regressions is None and runs[1].regressions is not None
    at = open_page(timeout=60)
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert set(metrics) >= {"Calls logged today (UTC)", "Calls in the last 7 days",
                            "Of those, reviewed", "Team review streak"}
    table = next(df.value for df in at.dataframe if "regressions" in df.value.columns)
    assert list(table["model version"]) == [r.model_version for r in runs]
    assert list(table["regressions"].fillna(-1)) == [
        -1 if r.regressions is None else r.regressions for r in runs]
    failing = failing_unreviewed_calls(engine)
    newest = runs[-1]
    assert failing > 0 and newest.regressions  # the demo plants failures in every version
    links = " ".join(str(link.proto.label) for link in at.get("page_link"))
    assert f"{failing:,} calls failed a test case" in links
    assert f"{newest.regressions} regressions in {newest.model_version}" in links


def test_the_overview_counts_what_a_full_comparison_finds(engine):
    load_demo(engine, calls=600, seed=3)
    runs = latest_runs_by_version(engine)
    assert len(runs) >= 3
    for run in runs:
        assert run.pass_rate == run_summary(engine, run.run_id).pass_rate
        if run.previous_version is None:
            continue
        full = compare(engine, suite=run.suite, baseline_version=run.previous_version,
                       candidate_version=run.model_version, iterations=10)
        assert (run.regressions, run.fixes) == (len(full.regressions), len(full.fixes))
    assert any(run.fixes for run in runs) and any(run.regressions for run in runs)
