"""Home: today at a glance and the reviewing habit."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from evalboard.monitors.results import unreviewed_failures
from evalboard.review.habit import (
    coverage_per_day,
    review_streak,
    reviewed_per_day,
)
from evalboard.review.labels import USAGE_DEFINITION, label_usage
from evalboard.runs.overview import VersionRun, failing_unreviewed_calls, latest_runs_by_version
from evalboard.store.calls_counts import count_calls
from evalboard.store.calls_query import CallFilter
from evalboard.store.models import utcnow
from evalboard.ui.chart_specs import vega_lite_spec
from evalboard.ui.label_badges import UNSET_COLOUR, settings_label_colours
from evalboard.ui.navigation import COMPARE, MONITORS, REVIEW
from evalboard.ui.store import engine_for, store_url


@st.cache_data(ttl=30, show_spinner=False)
def _glance(url: str, reviewer: str) -> dict[str, int | float]:
    engine = engine_for(url)
    today = datetime.combine(utcnow().date(), time.min)
    week = today - timedelta(days=6)
    coverage = coverage_per_day(engine, days=7)
    logged = sum(d.logged for d in coverage)
    return {
        "today": count_calls(engine, CallFilter(since=today)),
        "week": count_calls(engine, CallFilter(since=week)),
        "share": sum(d.reviewed for d in coverage) / logged if logged else 0.0,
        "team_streak": review_streak(engine),
        "my_streak": review_streak(engine, reviewer) if reviewer else 0,
    }


def glance(reviewer: str) -> None:
    facts = _glance(store_url(), reviewer)
    cols = st.columns(4)
    cols[0].metric("Calls logged today (UTC)", f"{facts['today']:,}")
    cols[1].metric("Calls in the last 7 days", f"{facts['week']:,}")
    cols[2].metric("Of those, reviewed", f"{facts['share']:.1%}",
                   help="Production calls of the last 7 days that someone has judged.")
    streak = facts["my_streak"] if reviewer else facts["team_streak"]
    cols[3].metric("Your review streak" if reviewer else "Team review streak",
                   f"{streak} day{'s' if streak != 1 else ''}",
                   help="Consecutive days with at least one review, up to today.")


@st.cache_data(ttl=30, show_spinner=False)
def _habit_frames(url: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    engine = engine_for(url)
    per_day = pd.DataFrame(reviewed_per_day(engine, days=30),
                           columns=["day", "reviewer", "calls reviewed"])
    coverage = pd.DataFrame(
        [(d.day, d.logged, d.reviewed, d.share) for d in coverage_per_day(engine, days=14)],
        columns=["day", "calls logged", "calls reviewed", "share reviewed"])
    usage = label_usage(engine)
    labels = pd.DataFrame([(name, count, usage.share(name)) for name, count in sorted(
        usage.calls.items(), key=lambda kv: (-kv[1], kv[0]))],
        columns=["label", "calls", "share of judged calls"])
    return per_day, coverage, labels


# The charts' specs are built once per content (their frames are the key), not per rerun.
@st.cache_data(show_spinner=False, max_entries=32)
def _reviewed_spec(per_day: pd.DataFrame) -> dict[str, Any]:
    return vega_lite_spec(alt.Chart(per_day).mark_bar().encode(
        x=alt.X("day:T", title=None), y=alt.Y("calls reviewed:Q"),
        color=alt.Color("reviewer:N"),
        tooltip=["day:T", "reviewer:N", "calls reviewed:Q"]))


@st.cache_data(show_spinner=False, max_entries=32)
def _coverage_spec(coverage: pd.DataFrame) -> dict[str, Any]:
    return vega_lite_spec(alt.Chart(coverage).mark_bar().encode(
        x=alt.X("day:T", title=None),
        y=alt.Y("share reviewed:Q", axis=alt.Axis(format="%"), title=None),
        tooltip=["day:T", "calls logged:Q", "calls reviewed:Q",
                 alt.Tooltip("share reviewed:Q", format=".1%")]))


@st.cache_data(show_spinner=False, max_entries=32)
def _labels_spec(labels: pd.DataFrame, colours: tuple[str, ...]) -> dict[str, Any]:
    return vega_lite_spec(alt.Chart(labels).mark_bar().encode(
        y=alt.Y("label:N", sort="-x", title=None, axis=alt.Axis(labelLimit=0)),
        x=alt.X("share of judged calls:Q", axis=alt.Axis(format="%"),
                title="Share of judged calls"),
        color=alt.Color("label:N", legend=None, scale=alt.Scale(
            domain=list(labels["label"]), range=list(colours))),
        tooltip=["label:N", "calls:Q",
                 alt.Tooltip("share of judged calls:Q", format=".1%")]))


def habit_charts() -> None:
    per_day, coverage, labels = _habit_frames(store_url())
    left, right = st.columns(2)
    with left:
        st.subheader("Reviewed per day")
        if per_day.empty:
            st.caption("No reviews in the last 30 days yet.")
        else:
            st.vega_lite_chart(_reviewed_spec(per_day), width="stretch")
    with right:
        st.subheader("Share of each day's calls reviewed")
        if coverage.empty:
            st.caption("No production calls in the last 14 days.")
        else:
            st.vega_lite_chart(_coverage_spec(coverage), width="stretch")
    st.subheader("What reviewers found")
    if labels.empty:
        st.caption("No labels given yet.")
    else:
        st.caption(f"Each bar: the {USAGE_DEFINITION}.")
        colours = settings_label_colours(store_url())
        st.vega_lite_chart(_labels_spec(labels, tuple(
            colours.get(name, UNSET_COLOUR) for name in labels["label"])), width="stretch")


@st.cache_data(ttl=30, show_spinner=False)
def _runs_overview(url: str) -> tuple[list[VersionRun], int]:
    engine = engine_for(url)
    return latest_runs_by_version(engine), failing_unreviewed_calls(engine)


@st.cache_data(ttl=30, show_spinner=False)
def _monitor_failures(url: str) -> int:
    return unreviewed_failures(engine_for(url))


def runs_and_attention() -> None:
    """The latest run of each version with its regressions, and what needs a look."""
    runs, failing = _runs_overview(store_url())
    newest: dict[str, VersionRun] = {}
    for row in runs:
        newest[row.suite] = row
    attention = [row for row in newest.values() if row.regressions]
    monitor_failing = _monitor_failures(store_url())
    if attention or failing or monitor_failing:
        with st.container(border=True):
            st.markdown("**Needs attention**")
            for row in attention:
                st.page_link(COMPARE.path, icon=":material/trending_down:",
                             label=f"{row.regressions} regressions in {row.model_version} vs "
                                   f"{row.previous_version} ({row.suite})",
                             query_params={"cmp_suite": row.suite,
                                           "cmp_base": row.previous_version or "",
                                           "cmp_cand": row.model_version})
            if failing:
                st.page_link(REVIEW.path, icon=":material/rate_review:",
                             label=f"{failing:,} calls failed a test case and nobody has "
                                   "reviewed them (start a session: “Failing checks first”)",
                             query_params={"new": "1"})
            if monitor_failing:
                st.page_link(MONITORS.path, icon=":material/monitor_heart:",
                             label=f"{monitor_failing:,} call{'s' if monitor_failing != 1 else ''}"
                                   f" failed a monitor and nobody has reviewed "
                                   f"{'them' if monitor_failing != 1 else 'it'}")
    st.subheader("Latest run per model version")
    if not runs:
        st.caption("No finished runs yet: run a suite on the Runs page or with `evalboard run`.")
        return
    st.dataframe(pd.DataFrame([{
        "suite": r.suite, "model version": r.model_version, "run": r.run_id,
        "pass rate": r.pass_rate, "vs": r.previous_version or "",
        "regressions": r.regressions, "fixes": r.fixes} for r in runs]),
        hide_index=True, placeholder="—", width="stretch", column_config={
            "pass rate": st.column_config.ProgressColumn(format="percent", min_value=0.0,
                                                         max_value=1.0)})
