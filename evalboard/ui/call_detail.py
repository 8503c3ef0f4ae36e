"""One call in full: input (as a conversation for chat), output, metadata, timings, tokens."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from evalboard.cases.repository import cases_from_call
from evalboard.review.annotations import call_history
from evalboard.store.calls_query import get_call
from evalboard.store.models import Call
from evalboard.ui.auth_gate import may
from evalboard.ui.call_comments import audit_view, comment_thread
from evalboard.ui.call_labeling import labeling_controls
from evalboard.ui.navigation import CASES
from evalboard.ui.similar_view import similar_calls
from evalboard.ui.suggestions_view import show_suggestions
from evalboard.ui.text_view import display_mode, show_conversation, show_text

CALL_PARAM = "call"


def requested_call_id() -> int | None:
    """The call named in the URL (?call=ID); warns about a malformed id."""
    raw = st.query_params.get(CALL_PARAM)
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        st.warning(f"“{raw}” is not a call id.")
        return None


def _fmt(value: object, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.0f}{unit}"
    return f"{value}{unit}"


def close_call() -> None:
    st.query_params.pop(CALL_PARAM, None)


def open_call_dialog(engine: Engine) -> None:
    """Show the call named in the URL in a dialog; closing it drops it from the URL."""
    call_id = requested_call_id()
    if call_id is not None:
        st.dialog(f"Call {call_id}", width="large", on_dismiss=close_call)(call_detail)(
            engine, call_id
        )


def call_detail(engine: Engine, call_id: int) -> None:
    """Everything about one call."""
    call = get_call(engine, call_id)
    if call is None:
        st.warning(f"Call {call_id} is not in this store.")
        return
    facts = st.columns(3)
    facts[0].metric("Model version", call.model_version.name)
    facts[1].metric("Latency", _fmt(call.latency_ms, " ms"))
    facts[2].metric(
        "Tokens (prompt + completion)",
        f"{_fmt(call.prompt_tokens)} + {_fmt(call.completion_tokens)}",
    )
    st.caption(
        f"Logged {call.created_at:%Y-%m-%d %H:%M:%S} UTC · source {call.source} · "
        f"session {call.session_id or '—'} · external id {call.external_id or '—'}"
    )
    if call.error:
        st.error(f"The call failed: {call.error}")
    input_and_output(call, key="view")
    if call.meta:
        with st.expander("Metadata", expanded=True):
            st.json(call.meta)
    show_suggestions(engine, call.id)
    labeling_controls(engine, call.id)
    annotation_history(engine, call.id)
    comment_thread(engine, call.id)
    audit_view(engine, call.id)
    similar_calls(engine, call.id)
    call_cases(engine, call.id)


def input_and_output(call: Call, *, key: str) -> None:
    """The call's input (a conversation for chat) beside its output, raw or as Markdown."""
    mode = display_mode(key=key)
    left, right = st.columns(2)
    with left:
        st.markdown("**Input**")
        if call.input_messages:
            show_conversation(call.input_messages, mode)
        else:
            show_text(call.input_text, mode)
    with right:
        st.markdown("**Output**")
        show_text(call.output, mode, empty="(no output)")


def call_cases(engine: Engine, call_id: int) -> None:
    """The test cases this call produced, and the way to make one."""
    st.markdown("**Test cases**")
    for view in cases_from_call(engine, call_id):
        st.page_link(CASES.path, label=f"{view.suite} / {view.draft.name} "
                     f"(v{view.version}{'' if view.active else ', inactive'})",
                     query_params={"case": str(view.id)}, icon=":material/checklist:")
    if may("edit_cases"):
        st.page_link(CASES.path, label="Promote this call to a test case",
                     query_params={"promote": str(call_id)}, icon=":material/add_task:")


def annotation_history(engine: Engine, call_id: int) -> None:
    """Every review of the call, newest first; undone ones are marked."""
    history = call_history(engine, call_id)
    st.markdown("**Reviews**")
    if not history:
        st.caption("Nobody has reviewed this call yet.")
        return
    st.dataframe(
        pd.DataFrame([
            {"when (UTC)": h.created_at, "reviewer": h.reviewer,
             "action": {"retract": "undo", "adjudicate": "final answer"}.get(h.action, h.action),
             "verdict": h.verdict or "", "labels": ", ".join(h.labels), "note": h.note or "",
             "corrected output": h.corrected_output or "",
             "status": "undone" if h.retracted else ("bulk" if h.batch_id else "")}
            for h in history]),
        hide_index=True, placeholder="—", width="stretch",
        column_config={"when (UTC)": st.column_config.DatetimeColumn(
            format="YYYY-MM-DD HH:mm")},
    )
