"""Components drawn by evalboard's own HTML, CSS and JavaScript (evalboard/ui/assets/NAME/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

ASSETS = Path(__file__).parent / "assets"
COMMON_JS = ("dom.js",)


def browser_component(name: str, folder: str, stem: str) -> Any:
    """The component `name` from assets/<folder>/<stem>.html, .css and .js (after the helpers
    of assets/common/, which every component's module shares), in the page's own DOM (its
    classes are prefixed eb-): keyboard focus, labels and text are then where the page's
    accessibility checks and the browser's tools look."""
    def asset(path: str) -> str:
        return (ASSETS / path).read_text(encoding="utf-8")

    js = "\n".join(asset(f"common/{common}") for common in COMMON_JS) + "\n" + asset(
        f"{folder}/{stem}.js")
    return st.components.v2.component(name, html=asset(f"{folder}/{stem}.html"),
                                      css=asset(f"{folder}/{stem}.css"), js=js,
                                      isolate_styles=False)
