"""Components drawn by evalboard's own HTML, CSS and JavaScript (evalboard/ui/assets/NAME/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

ASSETS = Path(__file__).parent / "assets"


def browser_component(name: str, folder: str, stem: str) -> Any:
    """The component `name` from assets/<folder>/<stem>.html, .css and .js, in the page's own
    DOM (its classes are prefixed eb-): keyboard focus, labels and text are then where the
    page's accessibility checks and the browser's tools look."""
    def asset(suffix: str) -> str:
        return (ASSETS / folder / f"{stem}.{suffix}").read_text(encoding="utf-8")

    return st.components.v2.component(name, html=asset("html"), css=asset("css"),
                                      js=asset("js"), isolate_styles=False)
