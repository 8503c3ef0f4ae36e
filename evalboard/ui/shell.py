"""The frame around every page: sidebar facts and a guard that turns crashes into messages."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from evalboard.errors import EvalboardError
from evalboard.ui.reviewer import reviewer_input
from evalboard.ui.store import store_url

log = logging.getLogger("evalboard.ui")
APP_ICON = Path(__file__).parent / "assets" / "icon.png"


# Streamlit's own focus tint on these links and toolbar buttons is nearly invisible (about
# 1.1:1); keyboard users need to see where they are.
FOCUS_STYLE = """<style>
a[data-testid=stSidebarNavLink]:focus-visible, a[data-testid=stPageLink-NavLink]:focus-visible,
button[data-testid=stBaseButton-elementToolbar]:focus-visible {
  outline: 2px solid #3b5bdb; outline-offset: 1px;
}
</style>"""


def sidebar() -> None:
    st.html(FOCUS_STYLE)
    reviewer_input()
    with st.sidebar:
        st.caption(f"Store: `{store_url()}`")  # password hidden


def guarded(run_page: Callable[[], None]) -> None:
    """Run a page; a user-facing error shows its message, an unexpected one is logged with its
    traceback and shown as one line."""
    try:
        run_page()
    except EvalboardError as exc:  # a user-facing error: its message says what to do
        st.error(str(exc))
    except Exception as exc:  # noqa: BLE001 - the last line of defence for the UI
        log.exception("page failed")
        st.error(
            f"Something went wrong on this page ({type(exc).__name__}). The details are in the "
            "server log. Try again, or change the filters that led here."
        )
