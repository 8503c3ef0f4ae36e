"""Labels drawn as coloured badges (names escaped: they are user-entered text)."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

import streamlit as st

from evalboard.review.labels import LabelView, list_labels
from evalboard.ui.store import engine_for

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
UNSET_COLOUR = "#868e96"
# One meaning per colour wherever verdicts are drawn: pass green, fail red, unsure amber.
VERDICT_COLOURS = {"pass": "#2f9e44", "fail": "#e03131", "unsure": "#f59f00"}


def safe_colour(color: str | None) -> str:
    """A label's colour as set in Settings, or the neutral grey when it is not #RRGGBB."""
    return color if color and _COLOUR.match(color) else UNSET_COLOUR


@st.cache_data(ttl=60, show_spinner=False)
def settings_label_colours(url: str) -> dict[str, str]:
    """Each label's colour as set in Settings (archived labels too), by name."""
    return {label.name: safe_colour(label.color)
            for label in list_labels(engine_for(url), include_archived=True)}


def readable_text_colour(background: str) -> str:
    """Black or white, whichever contrasts more with the background (WCAG luminance)."""
    channels = [int(background[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "#000000" if (luminance + 0.05) / 0.05 > 1.05 / (luminance + 0.05) else "#ffffff"


def badge_html(label: LabelView) -> str:
    colour = safe_colour(label.color)
    return (f'<span style="background:{colour};color:{readable_text_colour(colour)};'
            f'padding:2px 8px;border-radius:10px;margin-right:4px;font-size:0.85em">'
            f"{html.escape(label.name)}</span>")


def label_badges(labels: Sequence[LabelView]) -> None:
    if labels:
        st.markdown(" ".join(badge_html(label) for label in labels), unsafe_allow_html=True)
