"""Settings: labels (add, rename, recolour, re-key, archive) and review guidelines."""

import streamlit as st

from evalboard.ui.settings_view import guidelines_section, labels_section
from evalboard.ui.store import get_engine

engine = get_engine()
st.title("Settings")
labels_section(engine)
st.divider()
guidelines_section(engine)
