"""Automatic check results shown as suggestions: the reviewer decides, nothing is pre-ticked."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Engine

from evalboard.review.suggestions import check_suggestions


def show_suggestions(engine: Engine, call_id: int) -> None:
    suggestions = check_suggestions(engine, call_id)
    if not suggestions:
        return
    labels = sorted({s.suggested_label for s in suggestions if s.suggested_label})
    with st.container(border=True):
        st.markdown("**Automatic checks** (suggestions only)"
                    + (f": consider {', '.join(labels)}" if labels else ""))
        for s in suggestions:
            detail = "; ".join(f"{kind}: {reason}" for kind, reason in s.failed_checks[:3])
            st.caption(f"{s.status.upper()} · {s.kind} “{s.case_name}”"
                       + ("" if s.kind == "monitor" else
                          f" ({s.mode}, {s.label})" if s.label else f" ({s.mode})")
                       + (f" — {detail}" if detail else ""))
