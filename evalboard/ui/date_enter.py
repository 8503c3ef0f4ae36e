"""Enter in a date field applies the date, as it does in a text field.

Streamlit's date input applies a typed date only when focus moves to another element (a bare
blur() does not apply it); a small script, installed once per page, moves focus from the field
to its wrapper on Enter, which applies the date and keeps the keyboard position.
"""

from __future__ import annotations

import streamlit as st

_SCRIPT = """<script>
if (!window.__evalboardDateEnter) {
  window.__evalboardDateEnter = true;
  document.addEventListener("keydown", (event) => {
    const field = event.target instanceof Element
      && event.target.closest('[data-testid="stDateInput"]');
    if (event.key === "Enter" && field && !event.isComposing) {
      field.tabIndex = -1;
      field.focus({preventScroll: true});
    }
  }, true);
}
</script>"""


def apply_dates_on_enter() -> None:
    """Let Enter apply a date typed into any st.date_input of the page."""
    with st.sidebar:
        st.html(_SCRIPT, unsafe_allow_javascript=True, width=1)
