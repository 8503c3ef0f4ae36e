"""Metrics: did this fine-tuning iteration work? Core metrics across versions and over time."""

import streamlit as st

from evalboard.cases.repository import list_suites
from evalboard.store.calls_query import list_model_versions
from evalboard.ui.metrics_view import (
    PERIODS,
    core_section,
    scores_section,
    time_section,
    versions_section,
)
from evalboard.ui.monitors_view import metrics_page_section
from evalboard.ui.store import get_engine

engine = get_engine()
st.title("Metrics")
cols = st.columns([3, 2, 2])
versions = tuple(cols[0].multiselect(
    "Model versions (in this order)", [v.name for v in list_model_versions(engine)],
    key="metrics_versions", bind="query-params", placeholder="All, in creation order"))
suite = cols[1].selectbox("Suite", [None, *(name for name, _ in list_suites(engine))],
                          format_func=lambda s: "All suites" if s is None else s,
                          key="metrics_suite", bind="query-params")
period = cols[2].selectbox("Production calls from", list(PERIODS), index=0,
                           key="metrics_period", bind="query-params")
core_section(engine, versions, suite, period)
versions_section(engine, versions, suite, period)
scores_section(versions, period)
time_section(versions, suite, period)
metrics_page_section(versions, period)
