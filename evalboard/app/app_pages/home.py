"""Home: what was logged, how much of it people looked at, and what they found."""

import streamlit as st

from evalboard.store.calls_counts import has_calls
from evalboard.ui.auth_gate import may
from evalboard.ui.first_run import first_run
from evalboard.ui.home_view import glance, habit_charts, runs_and_attention
from evalboard.ui.queues_view import your_queues
from evalboard.ui.review_start import switch_to_review
from evalboard.ui.reviewer import current_reviewer
from evalboard.ui.store import get_engine

engine = get_engine()
if not has_calls(engine):
    first_run(engine)
    st.stop()

st.title("evalboard")
reviewer = current_reviewer()
glance(reviewer)
if may("review") and st.button("Start today's review", type="primary",
                               icon=":material/rate_review:"):
    switch_to_review()
your_queues(engine, reviewer)
runs_and_attention()
habit_charts()
