"""The focus view: one call at a time, labelled with the keyboard alone.

Keys: a label's key toggles it; P pass, F fail, U unsure; Enter submits and advances;
K previous, J next, S skip, Z undo. The view is a fragment, so a keypress reruns only it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import streamlit as st
from sqlalchemy import Engine

from evalboard.review.annotations import (
    AnnotationError,
    Judgement,
    annotation_view,
    current_judgement,
)
from evalboard.review.guidelines import get_guidelines
from evalboard.review.labels import LabelError, LabelView, list_labels
from evalboard.review.sessions import (
    SessionView,
    get_session,
    item_at,
    judge_item,
    move_to,
    skip_item,
    undo_in_session,
)
from evalboard.store.calls_query import get_call
from evalboard.ui.navigation import CASES
from evalboard.ui.suggestions_view import show_suggestions
from evalboard.ui.text_view import display_mode, show_conversation, show_text

VERDICT_KEYS = {"pass": "P", "fail": "F", "unsure": "U"}
VERDICT_ICONS = {"pass": ":material/check:", "fail": ":material/close:",
                 "unsure": ":material/help:"}
_DRAFTS = "review_drafts"
_MESSAGE = "review_message"
_SUBMIT = "review_submit_requested"


@dataclass
class Draft:
    """The reviewer's unsaved choices for one item."""

    verdict: str | None = None
    labels: set[str] = field(default_factory=set)
    started: float = field(default_factory=time.monotonic)


def _draft(session_id: int, position: int, engine: Engine, call_id: int, reviewer: str,
           active_labels: set[str]) -> Draft:
    """The unsaved answer for an item, started from the reviewer's saved one (labels archived
    since then are left out: they can no longer be given)."""
    drafts: dict[tuple[int, int], Draft] = st.session_state.setdefault(_DRAFTS, {})
    key = (session_id, position)
    if key not in drafts:
        existing = current_judgement(engine, call_id, reviewer)
        drafts[key] = Draft(existing.verdict, set(existing.labels) & active_labels) \
            if existing else Draft()
    return drafts[key]


def _forget_draft(session_id: int, position: int) -> None:
    st.session_state.setdefault(_DRAFTS, {}).pop((session_id, position), None)


def _field_key(kind: str, session_id: int, position: int) -> str:
    return f"{kind}_{session_id}_{position}"


def _say(kind: str, text: str) -> None:
    st.session_state[_MESSAGE] = (kind, text)


# --- actions (button callbacks: they run before the fragment reruns) ------------------------

def _set_verdict(draft: Draft, verdict: str) -> None:
    draft.verdict = None if draft.verdict == verdict else verdict


def _toggle_label(draft: Draft, name: str) -> None:
    draft.labels.symmetric_difference_update({name})


def _request_submit(view: SessionView, position: int) -> None:
    """Submit waits for the end of the key batch: Streamlit runs the callbacks of keys pressed
    together in widget order, so the save happens in the fragment, after all of them."""
    st.session_state[_SUBMIT] = (view.id, position)


def _save_pending_submit(engine: Engine, session_id: int, reviewer: str,
                         labels: list[LabelView]) -> None:
    """Save the answer whose Submit was pressed, with every key of the batch applied."""
    pending = st.session_state.pop(_SUBMIT, None)
    if pending is None or pending[0] != session_id:
        return
    position = pending[1]
    draft = st.session_state.setdefault(_DRAFTS, {}).get((session_id, position), Draft())
    order = {label.name: label.position for label in labels}
    note = st.session_state.get(_field_key("note", session_id, position), "") or ""
    fix = st.session_state.get(_field_key("fix", session_id, position), "") or ""
    chosen = tuple(sorted(set(draft.labels) & set(order), key=order.__getitem__))
    judgement = Judgement(draft.verdict, chosen, note, fix if fix.strip() else None)
    try:
        judge_item(engine, session_id, position, reviewer, judgement,
                   seconds_spent=round(time.monotonic() - draft.started, 1))
    except (AnnotationError, LabelError) as exc:
        _say("warning", f"Not saved: {exc}.")
        return
    _forget_draft(session_id, position)
    _say("toast", f"Saved call {position + 1} ({draft.verdict or 'no verdict'}). Z undoes it.")


def _skip(engine: Engine, view: SessionView, position: int, reviewer: str) -> None:
    skip_item(engine, view.id, position, reviewer)
    _forget_draft(view.id, position)
    _say("toast", f"Skipped call {position + 1}. Z undoes it.")


def _undo(engine: Engine, view: SessionView, reviewer: str) -> None:
    """Retract the last answer and bring it back as the draft, so it can be corrected."""
    undone = undo_in_session(engine, view.id, reviewer)
    if undone is None:
        _say("toast", "Nothing to undo in this session.")
        return
    retracted = annotation_view(engine, undone.retracted_id)
    drafts: dict[tuple[int, int], Draft] = st.session_state.setdefault(_DRAFTS, {})
    drafts[(view.id, undone.position)] = Draft(retracted.verdict if retracted else None,
                                               set(retracted.labels) if retracted else set())
    st.session_state[_field_key("note", view.id, undone.position)] = (
        retracted.note or "") if retracted else ""
    st.session_state[_field_key("fix", view.id, undone.position)] = (
        retracted.corrected_output or "") if retracted else ""
    _say("toast", f"Undone: call {undone.position + 1} is back to edit.")


def _move(engine: Engine, view: SessionView, position: int) -> None:
    move_to(engine, view.id, position)


# --- rendering ------------------------------------------------------------------------------

def _show_message() -> None:
    message = st.session_state.pop(_MESSAGE, None)
    if message is None:
        return
    kind, text = message
    if kind == "toast":
        st.toast(text, icon=":material/undo:")
    else:
        st.warning(text)


def _call_panel(engine: Engine, call_id: int) -> None:
    call = get_call(engine, call_id)
    if call is None:
        st.warning(f"Call {call_id} is no longer in the store; skip it.")
        return
    st.caption(f"Call {call.id} · {call.model_version.name} · {call.source} · "
               f"{call.created_at:%Y-%m-%d %H:%M} UTC"
               + (f" · {call.latency_ms:,.0f} ms" if call.latency_ms is not None else ""))
    if call.error:
        st.error(f"The call failed: {call.error}")
    mode = display_mode(key="review_view")
    st.markdown("**Input**")
    if call.input_messages:
        show_conversation(call.input_messages, mode)
    else:
        show_text(call.input_text, mode)
    st.markdown("**Output**")
    show_text(call.output, mode, empty="(no output)")
    if call.meta:
        with st.expander("Metadata"):
            st.json(call.meta)
    st.page_link(CASES.path, label="Promote to a test case",
                 query_params={"promote": str(call.id)}, icon=":material/add_task:")


def _judgement_panel(engine: Engine, view: SessionView, position: int, reviewer: str,
                     draft: Draft, labels: list[LabelView]) -> None:
    st.markdown("**Verdict**")
    # rows of buttons as wide as their labels, wrapping in a narrow window (never cut off)
    verdicts = st.container(horizontal=True, gap="small")
    for verdict, key in VERDICT_KEYS.items():
        verdicts.button(verdict.title(), key=f"verdict_{verdict}", shortcut=key,
                   icon=VERDICT_ICONS[verdict],
                   type="primary" if draft.verdict == verdict else "secondary",
                   on_click=_set_verdict, args=(draft, verdict))
    for kind, title in (("failure", "Failure modes"), ("success", "Success modes")):
        group = [label for label in labels if label.kind == kind]
        if not group:
            continue
        st.markdown(f"**{title}**")
        cells = st.container(horizontal=True, gap="small")
        for label in group:
            chosen = label.name in draft.labels
            cells.button(
                label.name, key=f"label_{label.id}", shortcut=label.shortcut,
                help=label.description or None,
                icon=":material/check_box:" if chosen else ":material/check_box_outline_blank:",
                type="primary" if chosen else "secondary",
                on_click=_toggle_label, args=(draft, label.name))
    st.button("Submit and next", key="submit", shortcut="Enter", type="primary",
              width="stretch", icon=":material/keyboard_return:",
              on_click=_request_submit, args=(view, position))
    nav = st.container(horizontal=True, gap="small")
    nav.button("Prev", key="prev", shortcut="K",
               disabled=position == 0, on_click=_move, args=(engine, view, position - 1))
    nav.button("Next", key="next", shortcut="J", disabled=position >= view.size - 1,
               on_click=_move, args=(engine, view, position + 1))
    nav.button("Skip", key="skip", shortcut="S",
               on_click=_skip, args=(engine, view, position, reviewer))
    nav.button("Undo", key="undo", shortcut="Z", on_click=_undo, args=(engine, view, reviewer))
    st.text_area("Note", key=_field_key("note", view.id, position), height=80,
                 placeholder="Why? What is wrong or right?")
    st.text_area("Corrected output (optional)", key=_field_key("fix", view.id, position),
                 height=100, placeholder="What the model should have answered: it becomes a "
                 "fine-tuning example and a test reference.")


def _prefill_fields(engine: Engine, view: SessionView, position: int, call_id: int,
                    reviewer: str) -> None:
    """Put the reviewer's saved note and correction in the fields the first time they show."""
    note_key = _field_key("note", view.id, position)
    if note_key in st.session_state:
        return
    existing = current_judgement(engine, call_id, reviewer)
    st.session_state[note_key] = (existing.note or "") if existing else ""
    st.session_state[_field_key("fix", view.id, position)] = (
        (existing.corrected_output or "") if existing else "")


@st.fragment
def focus_view(engine: Engine, session_id: int, reviewer: str) -> None:
    """One call of the session with the labelling controls beside it."""
    labels = list_labels(engine)
    _save_pending_submit(engine, session_id, reviewer, labels)
    view = get_session(engine, session_id)
    if view is None:
        st.warning(f"There is no review session {session_id}.")
        return
    _show_message()
    reviewed = view.done + view.skipped
    st.progress(reviewed / view.size,
                text=f"Call {view.position + 1} of {view.size} · {view.done} reviewed · "
                f"{view.skipped} skipped")
    if view.finished and view.remaining == 0:
        st.success("Session finished: every call is reviewed or skipped. Start another from "
                   "“New session”, or step back with Prev to change an answer.",
                   icon=":material/celebration:")
    item = item_at(engine, session_id, view.position)
    if item is None:
        st.warning("This session has no calls.")
        return
    draft = _draft(session_id, item.position, engine, item.call_id, reviewer,
                   {label.name for label in labels})
    _prefill_fields(engine, view, item.position, item.call_id, reviewer)
    left, right = st.columns([5, 4], gap="medium")
    with left:
        _call_panel(engine, item.call_id)
    with right:
        with st.popover("Guidelines", icon=":material/menu_book:"):
            st.markdown(get_guidelines(engine) or "No guidelines yet: write them in Settings.")
        show_suggestions(engine, item.call_id)
        if item.status != "pending":
            st.caption(f"You {'skipped' if item.status == 'skipped' else 'reviewed'} this call; "
                       "submitting again replaces your answer.")
        _judgement_panel(engine, view, item.position, reviewer, draft, labels)
