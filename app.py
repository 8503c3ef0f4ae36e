"""evalboard: the Streamlit entry point (`streamlit run app.py`).

`streamlit run` first imports this file to find its server: `app` below, Streamlit with
evalboard's guard in front of its HTTP routes (evalboard/ui/server_guard.py). Each browser
session then runs it as the script (`__main__`): sign-in, navigation, the page.
"""

import streamlit as st

from evalboard.ui.server_guard import AccessGuard

if __name__ != "__main__":
    from starlette.middleware import Middleware

    app = st.App(__file__, middleware=[Middleware(AccessGuard)])
else:
    from evalboard.ui.auth_gate import identify, may, sign_in_gate
    from evalboard.ui.shell import APP_ICON, guarded, sidebar
    from evalboard.ui.store import get_engine

    # A local icon: a Material icon name here would make the browser fetch it from a font CDN.
    st.set_page_config(page_title="evalboard", page_icon=str(APP_ICON), layout="wide")

    identify(get_engine())

    def shown_if(permission: str) -> str:
        """Pages a role may not use stay reachable by link (and say why) but leave the menu."""
        return "visible" if may(permission) else "hidden"

    # Built before the sign-in gate, so the page (and query) a link asked for is still the one
    # that opens once signed in; the menu stays hidden until then.
    navigation = st.navigation(
        [
            st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
            st.Page("app_pages/browse.py", title="Browse", icon=":material/table_rows:"),
            st.Page("app_pages/review.py", title="Review", icon=":material/rate_review:",
                    visibility=shown_if("review")),
            st.Page("app_pages/cases.py", title="Test cases", icon=":material/checklist:",
                    visibility=shown_if("edit_cases")),
            st.Page("app_pages/runs.py", title="Runs", icon=":material/play_circle:"),
            st.Page("app_pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
            st.Page("app_pages/metrics.py", title="Metrics", icon=":material/monitoring:"),
            st.Page("app_pages/agreement.py", title="Agreement", icon=":material/groups:"),
            st.Page("app_pages/settings.py", title="Settings", icon=":material/settings:",
                    visibility=shown_if("admin")),
        ],
        position="sidebar" if may("read") else "hidden",
    )
    sign_in_gate(get_engine())
    sidebar()
    guarded(navigation.run)
