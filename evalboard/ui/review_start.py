"""Start a review session, or resume one: the screen before the focus view."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import streamlit as st
from sqlalchemy import Engine

from evalboard.review.sampling import STRATEGIES, SessionSpec
from evalboard.review.sessions import ReviewSessionError, list_sessions, start_session
from evalboard.store.calls_query import CallFilter, list_model_versions
from evalboard.store.models import SOURCES
from evalboard.ui.browse_state import last_browse_view
from evalboard.ui.navigation import HOME, REVIEW
from evalboard.ui.reviewer import current_reviewer

SESSION_PARAM = "session"


def open_session(session_id: int) -> None:
    st.query_params.pop("new", None)
    st.query_params[SESSION_PARAM] = str(session_id)


def switch_to_review(session_id: int | None = None) -> None:
    """Go to the Review page (on this session when given). Parameters bound to a widget (the
    reviewer's name) are left out: Streamlit refuses to clear or set them on a page switch,
    and the field keeps its value (and puts it back in the URL) on the next page."""
    st.switch_page(REVIEW.path,
                   query_params={} if session_id is None else {SESSION_PARAM: str(session_id)})


def _as_displayed_caption(browse_view: tuple[CallFilter, str] | None) -> str:
    if browse_view is None:
        return ("Not available yet: open Browse in this tab first (a reload or another tab "
                "forgets it), then come back or use its “Review these” button.")
    _, sort_key = browse_view
    return f"Browse's list as you left it (sorted by {sort_key}); the fields on the right are " \
        "ignored."


def nothing_to_review() -> None:
    """The Review page of an empty store: say where calls come from."""
    st.info("No calls in this store yet, so there is nothing to review. Load the demo data on "
            "Home (one click), run `evalboard demo`, or log calls from your code "
            "(`evalboard.connect().log_call(...)`).", icon=":material/inbox:")
    st.page_link(HOME.path, label="Go to Home", icon=":material/home:")


def start_form(engine: Engine, reviewer: str) -> None:
    """Pick how many calls, from which slice, by which strategy; start on submit."""
    st.subheader("Start a review session")
    browse_view = last_browse_view()
    with st.form("start_session"):
        left, right = st.columns(2)
        size = left.number_input("How many calls", min_value=1, max_value=1000, value=20,
                                 step=5)
        strategy = left.radio(
            "Pick calls", list(STRATEGIES), format_func=STRATEGIES.get,
            captions=[_as_displayed_caption(browse_view) if name == "as_displayed" else ""
                      for name in STRATEGIES],
            help="Random, stratified and newest skip calls someone has reviewed already.",
        )
        versions = right.multiselect("Model versions",
                                     [v.name for v in list_model_versions(engine)],
                                     placeholder="All versions")
        sources = right.multiselect("Sources", list(SOURCES), placeholder="All sources")
        days = right.date_input("Logged between", value=(), format="YYYY-MM-DD",
                                help="Leave empty for all dates.")
        submitted = st.form_submit_button("Start reviewing", type="primary",
                                          icon=":material/play_arrow:")
    if not submitted:
        return
    if strategy == "as_displayed" and browse_view is None:
        st.warning("“As displayed in Browse” needs Browse's list: open Browse in this tab, set "
                   "the filter and sort, then press its “Review these” button. Nothing was "
                   "started.")
        return
    if strategy == "as_displayed" and browse_view is not None:
        call_filter, sort_key = browse_view
    else:
        since = datetime.combine(days[0], time.min) if len(days) >= 1 else None
        until = datetime.combine(days[1], time.min) + timedelta(days=1) if len(days) == 2 \
            else None
        call_filter = CallFilter(model_versions=tuple(versions), sources=tuple(sources),
                                 since=since, until=until)
        sort_key = "newest"
    try:
        session_id = start_session(engine, reviewer, SessionSpec(
            size=int(size), strategy=str(strategy), call_filter=call_filter, sort_key=sort_key))
    except ReviewSessionError as exc:
        st.warning(str(exc))
        return
    open_session(session_id)
    st.rerun()


def review_view_button(engine: Engine, call_filter: CallFilter, sort_key: str,
                       count: int) -> None:
    """On Browse: review the calls as displayed, in a new session."""
    size = min(count, 50)
    if not st.button(f"Review these ({size})", icon=":material/rate_review:",
                     disabled=count == 0,
                     help="Start a review session with the first calls of this list, as shown."):
        return
    reviewer = current_reviewer()
    if not reviewer:
        st.warning("Enter your name under **Reviewer** in the sidebar first.")
        return
    try:
        session_id = start_session(engine, reviewer, SessionSpec(
            size=size, strategy="as_displayed", call_filter=call_filter, sort_key=sort_key))
    except ReviewSessionError as exc:
        st.warning(str(exc))
        return
    switch_to_review(session_id)


def recent_sessions(engine: Engine, reviewer: str) -> None:
    """The reviewer's recent sessions, each a link that resumes it."""
    sessions = list_sessions(engine, reviewer, limit=10)
    if not sessions:
        return
    st.subheader("Your recent sessions")
    for view in sessions:
        cols = st.columns([4, 2, 1], vertical_alignment="center")
        cols[0].markdown(f"**{view.name}**  \n{view.created_at:%Y-%m-%d %H:%M} UTC")
        cols[1].progress((view.done + view.skipped) / view.size,
                         text=f"{view.done + view.skipped} of {view.size}"
                         + (" · finished" if view.finished else ""))
        if cols[2].button("Open", key=f"open_session_{view.id}"):
            open_session(view.id)
            st.rerun()
