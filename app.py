"""evalboard: the Streamlit entry point (`streamlit run app.py`)."""

import streamlit as st

from evalboard.ui.shell import APP_ICON, guarded, sidebar

# A local icon: a Material icon name here would make the browser fetch it from a font CDN.
st.set_page_config(page_title="evalboard", page_icon=str(APP_ICON), layout="wide")

navigation = st.navigation(
    [
        st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("app_pages/browse.py", title="Browse", icon=":material/table_rows:"),
        st.Page("app_pages/review.py", title="Review", icon=":material/rate_review:"),
        st.Page("app_pages/cases.py", title="Test cases", icon=":material/checklist:"),
        st.Page("app_pages/runs.py", title="Runs", icon=":material/play_circle:"),
        st.Page("app_pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
        st.Page("app_pages/metrics.py", title="Metrics", icon=":material/monitoring:"),
        st.Page("app_pages/agreement.py", title="Agreement", icon=":material/groups:"),
        st.Page("app_pages/settings.py", title="Settings", icon=":material/settings:"),
    ]
)
sidebar()
guarded(navigation.run)
