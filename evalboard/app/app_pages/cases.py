"""Test cases: regression tests made from reviewed failures."""

import streamlit as st

from evalboard.cases.repository import list_cases
from evalboard.ui.auth_gate import require
from evalboard.ui.cases_view import (
    CASE_PARAM,
    NEW_PARAM,
    PROMOTE_PARAM,
    case_filters,
    case_section,
    case_table,
    new_case_section,
    promote_section,
)
from evalboard.ui.store import get_engine

CASES_SHOWN = 2000
engine = get_engine()
st.title("Test cases")
require("edit_cases", "edit test cases")

promote = st.query_params.get(PROMOTE_PARAM)
if promote and promote.isdigit():
    promote_section(engine, int(promote))
    st.divider()

query = case_filters(engine)
shown = list_cases(engine, query, limit=CASES_SHOWN)
case_table(shown)
if len(shown) == CASES_SHOWN:
    st.caption(f"The first {CASES_SHOWN:,} matching cases, by suite and name: narrow the "
               "filters above to find the others.")
if st.button("New test case", icon=":material/add:"):
    st.query_params.pop(CASE_PARAM, None)
    st.query_params[NEW_PARAM] = "1"
    st.rerun()

chosen = st.query_params.get(CASE_PARAM)
if st.query_params.get(NEW_PARAM):
    st.divider()
    new_case_section(engine)
elif chosen and chosen.isdigit():
    st.divider()
    case_section(engine, int(chosen))
