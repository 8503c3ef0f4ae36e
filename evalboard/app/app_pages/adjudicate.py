"""Adjudicate: where reviewers disagree, record the final answer that metrics use."""

import streamlit as st

from evalboard.ui.adjudication_view import CALL_PARAM, QUEUE_PARAM, adjudicate_call, pending_list
from evalboard.ui.auth_gate import require
from evalboard.ui.store import get_engine

engine = get_engine()
st.title("Adjudicate")
require("adjudicate", "adjudicate disagreements")
queue = st.query_params.get(QUEUE_PARAM)
queue_id = int(queue) if queue and queue.isdigit() else None
call = st.query_params.get(CALL_PARAM)
if call and call.isdigit():
    st.query_params[CALL_PARAM] = call  # kept in the URL across this page's reruns
    adjudicate_call(engine, int(call), queue_id)
else:
    pending_list(engine, queue_id)
