"""Home: today at a glance and the reviewing habit."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import altair as alt
import pandas as pd
import streamlit as st

from evalboard.review.annotations import label_usage
from evalboard.review.habit import coverage_per_day, review_streak, reviewed_per_day
from evalboard.store.calls_query import CallFilter, count_calls
from evalboard.store.models import utcnow
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
    labels = pd.DataFrame(sorted(label_usage(engine).items(), key=lambda kv: -kv[1]),
                          columns=["label", "calls"])
    return per_day, coverage, labels


def habit_charts() -> None:
    per_day, coverage, labels = _habit_frames(store_url())
    left, right = st.columns(2)
    with left:
        st.subheader("Reviewed per day")
        if per_day.empty:
            st.caption("No reviews in the last 30 days yet.")
        else:
            st.altair_chart(alt.Chart(per_day).mark_bar().encode(
                x=alt.X("day:T", title=None), y=alt.Y("calls reviewed:Q"),
                color=alt.Color("reviewer:N"),
                tooltip=["day:T", "reviewer:N", "calls reviewed:Q"]), width="stretch")
    with right:
        st.subheader("Share of each day's calls reviewed")
        if coverage.empty:
            st.caption("No production calls in the last 14 days.")
        else:
            st.altair_chart(alt.Chart(coverage).mark_bar().encode(
                x=alt.X("day:T", title=None),
                y=alt.Y("share reviewed:Q", axis=alt.Axis(format="%"), title=None),
                tooltip=["day:T", "calls logged:Q", "calls reviewed:Q",
                         alt.Tooltip("share reviewed:Q", format=".1%")]), width="stretch")
    st.subheader("What reviewers found")
    if labels.empty:
        st.caption("No labels given yet.")
    else:
        st.altair_chart(alt.Chart(labels).mark_bar().encode(
            y=alt.Y("label:N", sort="-x", title=None), x=alt.X("calls:Q", title="calls labelled"),
            tooltip=["label:N", "calls:Q"]), width="stretch")
