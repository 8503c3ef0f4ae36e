"""Browse: filter, search and page through every logged call; open one in full."""

import streamlit as st

from evalboard.ui.auth_gate import may
from evalboard.ui.browse_filters import filter_bar
from evalboard.ui.browse_results import results_view, version_counts
from evalboard.ui.browse_state import remember_browse_view, store_has_calls, version_names
from evalboard.ui.bulk_label import bulk_mode
from evalboard.ui.call_detail import open_call_dialog
from evalboard.ui.first_run import first_run
from evalboard.ui.queues_view import add_listed_to_queue
from evalboard.ui.review_start import review_view_button
from evalboard.ui.store import get_engine

engine = get_engine()
if not store_has_calls():
    first_run(engine)
    st.stop()

st.title("Browse calls")
chosen = filter_bar(engine, version_names())
if chosen is not None:
    call_filter, sort_key = chosen
    remember_browse_view(call_filter, sort_key)
    with st.sidebar:
        counts = version_counts(call_filter)
    total = counts.total  # a lower bound when not exact: enough for the first 50 or 500
    bulk = False
    if may("review"):
        with st.container(horizontal=True, vertical_alignment="center",
                          horizontal_alignment="distribute"):
            bulk = bulk_mode()
            review_view_button(engine, call_filter, sort_key, total)
            add_listed_to_queue(engine, call_filter, sort_key, total)
    results_view(engine, call_filter, sort_key, counts, bulk=bulk)  # opens the call dialog too
else:
    open_call_dialog(engine)
