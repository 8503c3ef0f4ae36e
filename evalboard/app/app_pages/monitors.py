"""Monitors: checks on production calls as they arrive, their failures and pass rates, and the
recurring ways calls fail."""

import streamlit as st

from evalboard.ui.clusters_view import clusters_section
from evalboard.ui.monitors_view import (
    monitor_details,
    monitors_table,
    new_monitor_form,
    pass_rate_section,
)
from evalboard.ui.store import get_engine

engine = get_engine()
st.title("Monitors")
monitors, clusters = st.tabs(["Monitors", "Failure clusters"])
with monitors:
    views = monitors_table(engine)
    monitor_details(engine, views)
    pass_rate_section(views)
    new_monitor_form(engine)
with clusters:
    clusters_section(engine)
