"""Settings: labels (add, rename, recolour, re-key, archive), score configurations, review
guidelines, judges."""

import streamlit as st

from evalboard.ui.auth_gate import require
from evalboard.ui.judges_settings_view import judges_section
from evalboard.ui.settings_view import guidelines_section, labels_section, scores_section
from evalboard.ui.store import get_engine

engine = get_engine()
st.title("Settings")
require("admin", "change labels and guidelines")
labels_section(engine)
st.divider()
scores_section(engine)
st.divider()
guidelines_section(engine)
st.divider()
judges_section(engine)
