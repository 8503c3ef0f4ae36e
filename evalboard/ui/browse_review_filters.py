"""Browse's review-state filters: what reviewers said (verdict, labels, who, corrected output,
reviewed or not, made a test case) and which monitors a call failed (shown once a monitor
exists), each bound to a query parameter like every filter."""

from __future__ import annotations

from typing import Any

import streamlit as st

from evalboard.monitors.results import monitor_ids_by_name
from evalboard.review.call_marks import reviewer_names
from evalboard.review.labels import list_labels
from evalboard.store.review_models import VERDICTS
from evalboard.ui.store import engine_for, store_url

BOUND = "query-params"
REVIEW_STATES = {"any": None, "reviewed": True, "not reviewed": False}  # shown as in the URL
PARAMS = ("verdict", "label", "by", "reviewed", "corrected", "promoted", "monitor")


@st.cache_data(ttl=60, show_spinner=False)
def _choices(url: str) -> tuple[list[str], list[str]]:
    """Label names (archived ones too: a link may name them) and reviewer names."""
    engine = engine_for(url)
    return ([label.name for label in list_labels(engine, include_archived=True)],
            reviewer_names(engine))


@st.cache_data(ttl=60, show_spinner=False)
def _cached_monitors(url: str) -> dict[str, int]:
    return monitor_ids_by_name(engine_for(url))


def _monitors() -> dict[str, int]:
    """Monitor ids by name (none is never cached: a first monitor shows at once)."""
    monitors = _cached_monitors(store_url())
    if not monitors:
        _cached_monitors.clear()
    return monitors


def review_filters() -> dict[str, Any]:
    """Draw the review-state filters; return them as CallFilter fields."""
    labels, reviewers = _choices(store_url())
    monitors = _monitors()
    active = any(st.query_params.get(param) for param in PARAMS)
    title = "Review: verdict, labels, reviewer, corrected, test cases"
    with st.expander(title + (", failing monitors" if monitors else ""), expanded=active):
        row = st.columns([2, 3, 2, 2])
        verdicts = row[0].multiselect("Verdict", list(VERDICTS), key="verdict", bind=BOUND,
                                      placeholder="Any verdict",
                                      help="A reviewer's current judgement of the call.")
        chosen_labels = row[1].multiselect("Labels", labels, key="label", bind=BOUND,
                                           placeholder="Any label",
                                           help="Calls given any of these labels.")
        by = row[2].multiselect("Reviewed by", reviewers, key="by", bind=BOUND,
                                placeholder="Anyone",
                                help="With a verdict or labels: what these reviewers said. "
                                "With “Not reviewed”: calls these reviewers have not judged.")
        state = row[3].selectbox("Reviewed", list(REVIEW_STATES), key="reviewed", bind=BOUND)
        toggles = st.container(horizontal=True)
        corrected = toggles.toggle("Has a corrected output", key="corrected", bind=BOUND)
        promoted = toggles.toggle("Made into a test case", key="promoted", bind=BOUND)
        failing = st.multiselect(
            "Failing monitors", list(monitors), key="monitor", bind=BOUND,
            placeholder="Any or no monitor",
            help="Calls that failed a check of any of these monitors.") if monitors else []
    if state == "not reviewed" and (verdicts or chosen_labels or corrected):
        st.warning("“Not reviewed” with a verdict, labels or a corrected output matches no "
                   "call: a call with those has been reviewed.")
    return {"verdicts": tuple(verdicts), "labels": tuple(chosen_labels), "reviewers": tuple(by),
            "reviewed": REVIEW_STATES.get(state or "any"),
            "corrected": bool(corrected), "promoted": bool(promoted),
            "failing_monitors": tuple(monitors[name] for name in failing if name in monitors)}
