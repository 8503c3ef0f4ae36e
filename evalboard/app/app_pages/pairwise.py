"""Pairwise: two model versions' answers to the same input, side by side and blind."""

import streamlit as st

from evalboard.pairwise.sessions import (
    get_pairwise_session,
    open_pairwise_session_of,
    resume_position,
)
from evalboard.ui.auth_gate import require
from evalboard.ui.pairwise_start import (
    PAIRWISE_SESSION_PARAM,
    new_session_requested,
    recent_sessions,
    start_form,
)
from evalboard.ui.pairwise_view import pairwise_view
from evalboard.ui.reviewer import require_reviewer
from evalboard.ui.store import get_engine

engine = get_engine()
st.title("Pairwise review")
require("review", "compare versions' answers")
reviewer = require_reviewer()

requested = st.query_params.get(PAIRWISE_SESSION_PARAM)
session_id = int(requested) if requested and requested.isdigit() else None
if session_id is None and not st.query_params.get("new"):
    session_id = open_pairwise_session_of(engine, reviewer)
    if session_id is not None:
        resume_position(engine, session_id)  # at the first unanswered pair

if session_id is None or st.query_params.get("new"):
    start_form(engine, reviewer)
    recent_sessions(engine, reviewer)
    st.stop()

st.query_params[PAIRWISE_SESSION_PARAM] = str(session_id)
owner = get_pairwise_session(engine, session_id)
if owner is not None and owner.reviewer != reviewer:
    st.warning(f"This is {owner.reviewer}'s pairwise session: answers here would change their "
               "progress. Start your own with the same versions.")
    if st.button("Start my own session", type="primary"):
        new_session_requested()
        st.rerun()
    st.stop()
if st.button("New session", icon=":material/add:"):
    new_session_requested()
    st.rerun()
pairwise_view(engine, session_id, reviewer)
