"""Show untrusted text: raw by default (monospace, whitespace kept) or as sanitised Markdown."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from evalboard.safe_text import safe_markdown, show_invisible

RAW, MARKDOWN = "Raw", "Markdown"
MAX_SHOWN_CHARS = 200_000


def display_mode(key: str) -> str:
    """A Raw/Markdown switch; raw is the default."""
    mode = st.segmented_control(
        "Show text as",
        [RAW, MARKDOWN],
        default=RAW,
        key=key,
        bind="query-params",
        required=True,
        help="Raw shows the model's text exactly; Markdown renders it without HTML or images.",
    )
    return mode or RAW


def show_text(text: str | None, mode: str, *, empty: str = "(empty)") -> None:
    """Render one untrusted text in the chosen mode."""
    if text is None or text == "":
        st.caption(empty)
        return
    shown = text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS]
    if mode == MARKDOWN:
        st.markdown(safe_markdown(shown))
    else:
        st.code(show_invisible(shown), language=None, wrap_lines=True, height="content")
    if len(text) > MAX_SHOWN_CHARS:
        st.caption(
            f"Showing the first {MAX_SHOWN_CHARS:,} of {len(text):,} characters; "
            "download the call to see all of it."
        )


def show_conversation(messages: Sequence[Mapping[str, Any]], mode: str) -> None:
    """Chat input as a conversation, one bubble per turn."""
    for message in messages:
        role = str(message.get("role", "user"))
        content = message.get("content")
        if not isinstance(content, str):
            content = "" if content is None else str(content)
        with st.chat_message(
            role if role in ("user", "assistant") else "system",
            avatar=None if role in ("user", "assistant") else ":material/settings:",
        ):
            st.caption(role)
            show_text(content, mode)
