"""A call's comment thread (author and time on each) with a box to post, and its audit: who
did what on the call. Shown in the call's detail and in adjudication."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from evalboard.teams.audit import call_audit
from evalboard.teams.comments import CommentError, add_comment, comments
from evalboard.ui.auth_gate import may
from evalboard.ui.reviewer import current_reviewer

_POSTED = "call_comment_posted"


def _key(call_id: int) -> str:
    return f"call_comment_{call_id}"


def _post(engine: Engine, call_id: int, author: str) -> None:
    body = st.session_state.get(_key(call_id)) or ""
    try:
        add_comment(engine, call_id, author, body)
    except CommentError as exc:
        st.session_state[_POSTED] = ("warning", f"Not posted: {exc}.")
        return
    st.session_state[_key(call_id)] = ""
    st.session_state[_POSTED] = ("success", "Comment posted.")


def comment_thread(engine: Engine, call_id: int) -> None:
    """The thread, oldest first, and (for those who may review) a box to add to it."""
    thread = comments(engine, call_id)
    st.markdown(f"**Comments ({len(thread)})**" if thread else "**Comments**")
    for comment in thread:
        with st.container(border=True):
            st.caption(f"{comment.author} · {comment.created_at:%Y-%m-%d %H:%M} UTC")
            st.text(comment.body)  # untrusted text: never rendered as Markdown or HTML
    if not thread:
        st.caption("No comments yet.")
    message = st.session_state.pop(_POSTED, None)
    if message:
        getattr(st, message[0])(message[1])
    author = current_reviewer()
    if not may("review") or not author:
        return
    with st.form(f"{_key(call_id)}_form", border=False, enter_to_submit=False):
        st.text_area("Add a comment", key=_key(call_id), height=70,
                     placeholder="Ask a question, point at the evidence…")
        st.form_submit_button(f"Post as {author}", icon=":material/send:",
                              on_click=_post, args=(engine, call_id, author))


def audit_view(engine: Engine, call_id: int) -> None:
    """Every answer, undo, adjudication, comment and queue reservation on the call."""
    events = call_audit(engine, call_id)
    with st.expander(f"Audit: who did what ({len(events)})"):
        if not events:
            st.caption("Nothing yet.")
            return
        st.dataframe(pd.DataFrame([{"when (UTC)": e.at, "who": e.who, "what": e.what,
                                    "detail": e.detail} for e in events]),
                     hide_index=True, width="stretch",
                     column_config={"when (UTC)": st.column_config.DatetimeColumn(
                         format="YYYY-MM-DD HH:mm:ss")})
