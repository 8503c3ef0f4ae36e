"""What an entry script runs for each browser session: page config, sign-in, navigation over
the page registry (evalboard/ui/navigation.py), the sidebar, the page."""

from __future__ import annotations

import streamlit as st

from evalboard.errors import EvalboardError
from evalboard.ui.auth_gate import identify, may, sign_in_gate
from evalboard.ui.navigation import navigation_pages
from evalboard.ui.shell import APP_ICON, guarded, sidebar
from evalboard.ui.store import get_engine


def run_session() -> None:
    """Run the dashboard for the current session (the entry script's `__main__` part)."""
    # A local icon: a Material icon name here would make the browser fetch it from a font CDN.
    st.set_page_config(page_title="evalboard", page_icon=str(APP_ICON), layout="wide")
    try:
        engine = get_engine()
    except EvalboardError as exc:  # a store this evalboard cannot use: say why, in one line
        st.error(f"evalboard cannot open the store: {exc}")
        st.stop()
    identify(engine)
    # Built before the sign-in gate, so the page (and query) a link asked for is still the one
    # that opens once signed in; the menu stays hidden until then.
    # expanded: every page in the menu (folded, Streamlit would hide those past the tenth
    # behind "View more")
    navigation = st.navigation(navigation_pages(may),
                               position="sidebar" if may("read") else "hidden", expanded=True)
    sign_in_gate(engine)
    sidebar()
    guarded(navigation.run)
