"""evalboard: the Streamlit entry point (`streamlit run app.py`)."""

import streamlit as st

from evalboard.ui.shell import guarded, sidebar

st.set_page_config(page_title="evalboard", page_icon=":material/fact_check:", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/browse.py", title="Browse", icon=":material/table_rows:", default=True),
    ]
)
sidebar()
guarded(navigation.run)
