"""Answer one call from a page: verdict, labels, note and corrected output, as in Review.

Two kinds of answer share the form: a reviewer's judgement (appended; the newest is current;
Undo takes back their last answer) and, where reviewers disagree, an adjudicator's final
answer (`final_answer_controls`; withdrawing it makes the reviewers' answers count again).
The one answering is who Review stamps (the signed-in login, or the sidebar's name); with
access control on, only roles with the mode's permission see the controls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st
from sqlalchemy import Engine

from evalboard.review.annotations import (
    AnnotationError,
    AnnotationView,
    Judgement,
    annotate,
    current_judgement,
    undo_last,
)
from evalboard.review.labels import LabelError, list_labels
from evalboard.store.review_models import VERDICTS
from evalboard.teams.adjudication import adjudicate, adjudication_of, withdraw_adjudication
from evalboard.ui.auth_gate import current_identity, may
from evalboard.ui.reviewer import current_reviewer
from evalboard.ui.store import clear_cached_reads

_MESSAGE = "call_labeling_message"


def _undo_review(engine: Engine, call_id: int, who: str) -> str:
    result = undo_last(engine, who)
    if not result.call_ids:
        return "Nothing to undo."
    where = ", ".join(str(c) for c in sorted(set(result.call_ids)))
    return f"Undone your last answer (call {where})."


def _withdraw(engine: Engine, call_id: int, who: str) -> str:
    if not withdraw_adjudication(engine, call_id, who):
        return "There is no final answer to withdraw."
    return "Final answer withdrawn: the reviewers' answers count again."


@dataclass(frozen=True)
class _Mode:
    prefix: str  # of the widget keys
    title: str
    permission: str
    cannot: str  # what a role without the permission cannot do
    current: Callable[[Engine, int, str], AnnotationView | None]
    record: Callable[[Engine, int, str, Judgement], object]
    take_back: Callable[[Engine, int, str], str]
    submit: str  # with {who}
    take_back_label: str
    take_back_help: str
    saved: str  # with {who} and {given}


REVIEW = _Mode("call_label", "Your review", "review", "label calls",
               lambda e, c, who: current_judgement(e, c, who), annotate, _undo_review,
               "Save as {who}", "Undo my last answer",
               "Takes back your newest answer (here, in Review or in bulk).",
               "Saved as {who}: {given}. Undo takes it back.")
FINAL = _Mode("final_answer", "Final answer", "adjudicate", "record final answers",
              lambda e, c, _who: adjudication_of(e, c), adjudicate, _withdraw,
              "Record final answer as {who}", "Withdraw the final answer",
              "The reviewers' own answers count again (all of them are kept).",
              "Final answer recorded by {who}: {given}. Metrics, exports and promotion use it.")


def _key(mode: _Mode, kind: str, call_id: int) -> str:
    return f"{mode.prefix}_{kind}_{call_id}"


def _prefill(engine: Engine, mode: _Mode, call_id: int, who: str, active: list[str]) -> None:
    """Start the fields from the current answer, the first time they show."""
    if _key(mode, "loaded", call_id) in st.session_state:
        return
    mine = mode.current(engine, call_id, who)
    st.session_state[_key(mode, "verdict", call_id)] = mine.verdict if mine else None
    st.session_state[_key(mode, "labels", call_id)] = [n for n in (mine.labels if mine else ())
                                                       if n in active]
    st.session_state[_key(mode, "note", call_id)] = (mine.note or "") if mine else ""
    st.session_state[_key(mode, "fix", call_id)] = (mine.corrected_output or "") if mine else ""
    st.session_state[_key(mode, "loaded", call_id)] = True


def _save(engine: Engine, mode: _Mode, call_id: int, who: str) -> None:
    fix = st.session_state.get(_key(mode, "fix", call_id)) or ""
    judgement = Judgement(st.session_state.get(_key(mode, "verdict", call_id)),
                          tuple(st.session_state.get(_key(mode, "labels", call_id)) or ()),
                          st.session_state.get(_key(mode, "note", call_id)) or "",
                          fix if fix.strip() else None)
    try:
        mode.record(engine, call_id, who, judgement)
    except (AnnotationError, LabelError) as exc:
        st.session_state[_MESSAGE] = ("warning", f"Not saved: {exc}.")
        return
    clear_cached_reads()
    given = " · ".join([judgement.verdict or "no verdict", *judgement.labels])
    st.session_state[_MESSAGE] = ("success", mode.saved.format(who=who, given=given))


def _take_back(engine: Engine, mode: _Mode, call_id: int, who: str) -> None:
    message = mode.take_back(engine, call_id, who)
    clear_cached_reads()
    st.session_state.pop(_key(mode, "loaded", call_id), None)  # show what is current again
    st.session_state[_MESSAGE] = ("info", message)


def _show_message() -> None:
    message = st.session_state.pop(_MESSAGE, None)
    if message:
        kind, text = message
        getattr(st, kind)(text)


def _controls(engine: Engine, mode: _Mode, call_id: int) -> None:
    st.markdown(f"**{mode.title}**")
    if not may(mode.permission):
        identity = current_identity()
        st.caption(f"Sign in to {mode.cannot}." if identity is None else
                   f"Your role ({identity.role}) cannot {mode.cannot}.")
        return
    who = current_reviewer()
    if not who:
        st.info(f"Enter your name under **Reviewer** in the sidebar to {mode.cannot}.",
                icon=":material/badge:")
        return
    names = [label.name for label in list_labels(engine)]
    _prefill(engine, mode, call_id, who, names)
    _show_message()
    with st.form(_key(mode, "form", call_id), border=True, enter_to_submit=False):
        st.segmented_control("Verdict", list(VERDICTS), key=_key(mode, "verdict", call_id),
                             format_func=str.title)
        st.pills("Labels", names, selection_mode="multi", key=_key(mode, "labels", call_id),
                 help="Failure and success modes, from Settings.")
        note, fix = st.columns(2)
        note.text_area("Note", key=_key(mode, "note", call_id), height=80,
                       placeholder="Why? What is wrong or right?")
        fix.text_area("Corrected output (optional)", key=_key(mode, "fix", call_id), height=80,
                      placeholder="What the model should have answered.")
        buttons = st.container(horizontal=True)
        buttons.form_submit_button(mode.submit.format(who=who), type="primary",
                                   icon=":material/save:", on_click=_save,
                                   args=(engine, mode, call_id, who))
    st.button(mode.take_back_label, icon=":material/undo:", key=_key(mode, "undo", call_id),
              on_click=_take_back, args=(engine, mode, call_id, who),
              help=mode.take_back_help)


def labeling_controls(engine: Engine, call_id: int) -> None:
    """The reviewer's own answer, or why the controls are not shown."""
    _controls(engine, REVIEW, call_id)


def final_answer_controls(engine: Engine, call_id: int) -> None:
    """The adjudicator's final answer, or why the controls are not shown."""
    _controls(engine, FINAL, call_id)
