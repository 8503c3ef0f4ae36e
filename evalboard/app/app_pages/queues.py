"""Queues: calls that several people review, handed out so nobody does the same one twice."""

import streamlit as st

from evalboard.store.calls_counts import has_calls
from evalboard.ui.queues_view import QUEUE_PARAM, new_queue_form, queue_detail, queue_list
from evalboard.ui.review_start import nothing_to_review
from evalboard.ui.reviewer import current_reviewer
from evalboard.ui.store import get_engine

engine = get_engine()
st.title("Queues")
if not has_calls(engine):
    nothing_to_review()
    st.stop()
reviewer = current_reviewer()
requested = st.query_params.get(QUEUE_PARAM)
if requested and requested.isdigit():
    st.query_params[QUEUE_PARAM] = requested  # kept in the URL across this page's reruns
    queue_detail(engine, int(requested), reviewer)
else:
    queue_list(engine, reviewer)
    new_queue_form(engine, reviewer)
