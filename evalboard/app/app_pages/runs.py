"""Runs: run a suite against a model version and read every case's result."""

import streamlit as st

from evalboard.ui.auth_gate import may
from evalboard.ui.run_views import RUN_PARAM, new_run_form, run_detail, runs_table
from evalboard.ui.store import get_engine

engine = get_engine()
st.title("Eval runs")
if may("run"):
    with st.expander("New run", icon=":material/play_arrow:",
                     expanded=not st.query_params.get(RUN_PARAM)):
        new_run_form(engine)
runs_table(engine)
chosen = st.query_params.get(RUN_PARAM)
if chosen and chosen.isdigit():
    st.divider()
    run_detail(engine, int(chosen))
