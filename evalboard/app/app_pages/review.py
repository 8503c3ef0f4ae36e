"""Review: look at your data every day and label what is wrong, with the keyboard."""

import streamlit as st

from evalboard.review.sessions import get_session, open_session_of
from evalboard.store.calls_counts import has_calls
from evalboard.teams.queues import queue_of_session
from evalboard.ui.auth_gate import require
from evalboard.ui.queues_view import batch_header
from evalboard.ui.review_downloads import review_downloads
from evalboard.ui.review_focus import focus_view
from evalboard.ui.review_start import (
    SESSION_PARAM,
    nothing_to_review,
    recent_sessions,
    start_form,
)
from evalboard.ui.reviewer import require_reviewer
from evalboard.ui.store import get_engine

engine = get_engine()
st.title("Review")
require("review", "review calls")
if not has_calls(engine):
    nothing_to_review()
    st.stop()
reviewer = require_reviewer()

requested = st.query_params.get(SESSION_PARAM)
session_id = int(requested) if requested and requested.isdigit() else open_session_of(
    engine, reviewer)

if session_id is None or st.query_params.get("new"):
    start_form(engine, reviewer)
    recent_sessions(engine, reviewer)
    review_downloads()
    st.stop()

st.query_params[SESSION_PARAM] = str(session_id)
owner = get_session(engine, session_id)
if owner is not None and owner.reviewer != reviewer:
    st.warning(f"This is {owner.reviewer}'s session: answers here would change their progress. "
               "Start your own session with the same calls (strategy “As displayed”) to compare.")
    if st.button("Start my own session", type="primary"):
        st.query_params.pop(SESSION_PARAM, None)
        st.query_params["new"] = "1"
        st.rerun()
    st.stop()
queue_id = queue_of_session(engine, session_id)
if queue_id is not None:
    batch_header(engine, queue_id, session_id, reviewer)
elif st.button("New session", icon=":material/add:"):
    st.query_params.pop(SESSION_PARAM, None)
    st.query_params["new"] = "1"
    st.rerun()
focus_view(engine, session_id, reviewer)
