"""Label one call from its dialog: verdict, labels, note and corrected output, as in Review.

The answer is the reviewer's judgement of the call (appended; the newest is current) and can
be undone. The reviewer is who Review stamps (the signed-in login, or the sidebar's name);
with access control on, only roles with the `review` permission see the controls.
"""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Engine

from evalboard.review.annotations import (
    AnnotationError,
    Judgement,
    annotate,
    current_judgement,
    undo_last,
)
from evalboard.review.labels import LabelError, list_labels
from evalboard.store.review_models import VERDICTS
from evalboard.ui.auth_gate import current_identity, may
from evalboard.ui.reviewer import current_reviewer
from evalboard.ui.store import clear_cached_reads

_MESSAGE = "call_labeling_message"


def _key(kind: str, call_id: int) -> str:
    return f"call_label_{kind}_{call_id}"


def _prefill(engine: Engine, call_id: int, reviewer: str, active: list[str]) -> None:
    """Start the fields from the reviewer's current answer, the first time they show."""
    if _key("loaded", call_id) in st.session_state:
        return
    mine = current_judgement(engine, call_id, reviewer)
    st.session_state[_key("verdict", call_id)] = mine.verdict if mine else None
    st.session_state[_key("labels", call_id)] = [n for n in (mine.labels if mine else ())
                                                 if n in active]
    st.session_state[_key("note", call_id)] = (mine.note or "") if mine else ""
    st.session_state[_key("fix", call_id)] = (mine.corrected_output or "") if mine else ""
    st.session_state[_key("loaded", call_id)] = True


def _forget_fields(call_id: int) -> None:
    st.session_state.pop(_key("loaded", call_id), None)


def _save(engine: Engine, call_id: int, reviewer: str) -> None:
    fix = st.session_state.get(_key("fix", call_id)) or ""
    judgement = Judgement(st.session_state.get(_key("verdict", call_id)),
                          tuple(st.session_state.get(_key("labels", call_id)) or ()),
                          st.session_state.get(_key("note", call_id)) or "",
                          fix if fix.strip() else None)
    try:
        annotate(engine, call_id, reviewer, judgement)
    except (AnnotationError, LabelError) as exc:
        st.session_state[_MESSAGE] = ("warning", f"Not saved: {exc}.")
        return
    clear_cached_reads()
    given = " · ".join([judgement.verdict or "no verdict", *judgement.labels])
    st.session_state[_MESSAGE] = ("success", f"Saved as {reviewer}: {given}. Undo takes it back.")


def _undo(engine: Engine, call_id: int, reviewer: str) -> None:
    result = undo_last(engine, reviewer)
    clear_cached_reads()
    _forget_fields(call_id)  # show what is current again
    if not result.call_ids:
        st.session_state[_MESSAGE] = ("info", "Nothing to undo.")
        return
    where = ", ".join(str(c) for c in sorted(set(result.call_ids)))
    st.session_state[_MESSAGE] = ("info", f"Undone your last answer (call {where}).")


def _show_message() -> None:
    message = st.session_state.pop(_MESSAGE, None)
    if message:
        kind, text = message
        getattr(st, kind)(text)


def labeling_controls(engine: Engine, call_id: int) -> None:
    """The controls, or why they are not shown."""
    st.markdown("**Your review**")
    if not may("review"):
        identity = current_identity()
        st.caption("Sign in to label calls." if identity is None else
                   f"Your role ({identity.role}) cannot label calls.")
        return
    reviewer = current_reviewer()
    if not reviewer:
        st.info("Enter your name under **Reviewer** in the sidebar to label this call.",
                icon=":material/badge:")
        return
    labels = list_labels(engine)
    names = [label.name for label in labels]
    _prefill(engine, call_id, reviewer, names)
    _show_message()
    with st.form(_key("form", call_id), border=True, enter_to_submit=False):
        st.segmented_control("Verdict", list(VERDICTS), key=_key("verdict", call_id),
                             format_func=str.title)
        st.pills("Labels", names, selection_mode="multi", key=_key("labels", call_id),
                 help="Failure and success modes, from Settings.")
        note, fix = st.columns(2)
        note.text_area("Note", key=_key("note", call_id), height=80,
                       placeholder="Why? What is wrong or right?")
        fix.text_area("Corrected output (optional)", key=_key("fix", call_id), height=80,
                      placeholder="What the model should have answered.")
        buttons = st.container(horizontal=True)
        buttons.form_submit_button(f"Save as {reviewer}", type="primary",
                                   icon=":material/save:", on_click=_save,
                                   args=(engine, call_id, reviewer))
    st.button("Undo my last answer", icon=":material/undo:", key=_key("undo", call_id),
              on_click=_undo, args=(engine, call_id, reviewer),
              help="Takes back your newest answer (here, in Review or in bulk).")
