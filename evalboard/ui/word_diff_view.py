"""Show one side of a word diff as inert text: every piece is HTML-escaped, so nothing a model
wrote is markup; deleted words are struck through in red, inserted ones underlined in green."""

from __future__ import annotations

import html

import streamlit as st

from evalboard.pairwise.word_diff import DiffPiece
from evalboard.safe_text import show_invisible

_STYLE = {
    "delete": "background:#ffe3e3;color:#c92a2a;text-decoration:line-through",
    "insert": "background:#d3f9d8;color:#2b8a3e;text-decoration:underline",
}
_BOX = ("font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:0.875rem;"
        "white-space:pre-wrap;overflow-wrap:anywhere;padding:0.75rem;border-radius:0.5rem;"
        "background:rgba(151,166,195,0.12)")


def diff_markup(pieces: list[DiffPiece]) -> str:
    """The HTML of one side's pieces: escaped text in spans, no other markup."""
    parts = []
    for piece in pieces:
        text = html.escape(show_invisible(piece.text), quote=True)
        style = _STYLE.get(piece.op)
        parts.append(f'<span class="diff-{piece.op}" style="{style}">{text}</span>' if style
                     else text)
    return f'<div class="word-diff" style="{_BOX}">{"".join(parts) or "(empty)"}</div>'


def show_diff_side(pieces: list[DiffPiece]) -> None:
    st.html(diff_markup(pieces))
