"""Compare: what changed between a baseline and a candidate, case by case."""

import streamlit as st

from evalboard.ui.compare_view import flipped_cases, headline, pick_comparison, rate_tables
from evalboard.ui.store import get_engine

engine = get_engine()
st.title("Compare")
result = pick_comparison(engine)
if result is not None:
    headline(result)
    rate_tables(result)
    flipped_cases(result)
