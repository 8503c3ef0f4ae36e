"""The pairwise screen: one input, two versions' outputs side by side, blind, answered with the
keyboard alone.

Keys: A (or 1) the left response (A) is better, B (2) the right one (B), T (3) tie, X (4)
both bad, Z undo, D word diff on/off, K previous pair, J next pair. Which version wrote which
response is shown only once the pair is answered. The view is a fragment: a keypress reruns only it.
"""

from __future__ import annotations

import time

import streamlit as st
from sqlalchemy import Engine

from evalboard.pairwise.answers import (
    PairVerdict,
    PairwiseAnswerError,
    answer_view,
    current_answer,
    outcome_for,
    side_of,
)
from evalboard.pairwise.sessions import (
    PairItemView,
    PairwiseSessionView,
    answer_pair,
    get_pairwise_session,
    move_pair_to,
    pair_item_at,
    session_tally,
    undo_in_pairwise_session,
)
from evalboard.pairwise.word_diff import side, word_diff
from evalboard.review.labels import LabelError, list_labels
from evalboard.store.calls_query import get_call
from evalboard.store.models import Call
from evalboard.ui.text_view import display_mode, show_conversation, show_text
from evalboard.ui.word_diff_view import show_diff_side

CHOICES = {  # screen choice: (button text, key, number key, icon)
    "left": ("A is better", "A", "1", ":material/arrow_back:"),
    "right": ("B is better", "B", "2", ":material/arrow_forward:"),
    "tie": ("Tie", "T", "3", ":material/drag_handle:"),
    "both_bad": ("Both bad", "X", "4", ":material/block:"),
}
_NUMBER_KEYS = "pairwise_number_keys"  # a hidden row: 1-4 answer like A/B/T/X
SAID = {"left": "A (left) is better", "right": "B (right) is better", "tie": "a tie",
        "both_bad": "both bad"}
_MESSAGE = "pairwise_message"
_REVEALED = "pairwise_revealed"
_DIFF = "pairwise_diff"
_STARTED = "pairwise_started"


def _key(kind: str, session_id: int, position: int, screen_side: str = "") -> str:
    return f"pairwise_{kind}_{session_id}_{position}{'_' + screen_side if screen_side else ''}"


def _versions_on_screen(view: PairwiseSessionView, item: PairItemView) -> tuple[str, str]:
    return ((view.version_a, view.version_b) if item.left_is_a
            else (view.version_b, view.version_a))


def reveal_text(view: PairwiseSessionView, item: PairItemView, outcome: str) -> str:
    """What the screen says once a pair is answered: which version wrote which side."""
    left, right = _versions_on_screen(view, item)
    return (f"Pair {item.position + 1}: you said {SAID[side_of(outcome, item.left_is_a)]}. "
            f"A was {left}, B was {right}.")


# --- actions (button callbacks: they run before the fragment reruns) ------------------------

def _answer(engine: Engine, view: PairwiseSessionView, item: PairItemView, reviewer: str,
            choice: str) -> None:
    sid, pos = view.id, item.position
    shown = get_pairwise_session(engine, sid)
    if shown is None or shown.position != pos:
        # a key pressed again before the next pair showed (Streamlit batches keys typed
        # faster than a rerun): it was meant for the next pair, so it answers nothing
        st.session_state[_MESSAGE] = ("toast", "A key came before the next pair showed: "
                                      "it was ignored. Answer the pair on screen.")
        return
    per_side = {s: (tuple(st.session_state.get(_key("labels", sid, pos, s)) or ()),
                    st.session_state.get(_key("note", sid, pos, s)) or "")
                for s in ("left", "right")}
    (labels_a, note_a), (labels_b, note_b) = (
        (per_side["left"], per_side["right"]) if item.left_is_a
        else (per_side["right"], per_side["left"]))
    outcome = outcome_for(choice, item.left_is_a)
    started = st.session_state.setdefault(_STARTED, {}).pop((sid, pos), None)
    try:
        answer_pair(engine, sid, pos, reviewer,
                    PairVerdict(outcome, labels_a, labels_b, note_a, note_b),
                    seconds=None if started is None else round(time.monotonic() - started, 1))
    except (PairwiseAnswerError, LabelError) as exc:
        st.session_state[_MESSAGE] = ("warning", f"Not saved: {exc}.")
        return
    revealed = reveal_text(view, item, outcome)
    st.session_state[_REVEALED] = revealed
    st.session_state[_MESSAGE] = ("toast", f"{revealed} Z undoes it.")


def _undo(engine: Engine, view: PairwiseSessionView, reviewer: str) -> None:
    """Retract the last answer and put its labels and notes back in the fields."""
    undone = undo_in_pairwise_session(engine, view.id, reviewer)
    if undone is None:
        st.session_state[_MESSAGE] = ("toast", "Nothing to undo in this session.")
        return
    retracted = answer_view(engine, undone.retracted_id)
    item = pair_item_at(engine, view.id, undone.position)
    if retracted is not None and item is not None:
        _fill_fields(view.id, item, retracted.labels_a, retracted.labels_b,
                     retracted.note_a, retracted.note_b)
    st.session_state.pop(_REVEALED, None)
    st.session_state[_MESSAGE] = ("toast", f"Undone: pair {undone.position + 1} is back.")


def _toggle_diff() -> None:
    st.session_state[_DIFF] = not st.session_state.get(_DIFF, False)


def _move(engine: Engine, view: PairwiseSessionView, position: int) -> None:
    move_pair_to(engine, view.id, position)


# --- rendering ------------------------------------------------------------------------------

def _fill_fields(session_id: int, item: PairItemView, labels_a: tuple[str, ...],
                 labels_b: tuple[str, ...], note_a: str | None, note_b: str | None) -> None:
    by_version = {"a": (labels_a, note_a), "b": (labels_b, note_b)}
    for screen_side, version in (("left", "a" if item.left_is_a else "b"),
                                 ("right", "b" if item.left_is_a else "a")):
        labels, note = by_version[version]
        st.session_state[_key("labels", session_id, item.position, screen_side)] = list(labels)
        st.session_state[_key("note", session_id, item.position, screen_side)] = note or ""


def _prefill(engine: Engine, view: PairwiseSessionView, item: PairItemView,
             reviewer: str, active: set[str]) -> None:
    """The reviewer's saved labels and notes in the fields the first time the pair shows."""
    if _key("note", view.id, item.position, "left") in st.session_state:
        return
    saved = current_answer(engine, item.call_a_id, item.call_b_id, reviewer)
    if saved is None or (saved.call_a_id, saved.call_b_id) != (item.call_a_id, item.call_b_id):
        _fill_fields(view.id, item, (), (), None, None)
        return
    _fill_fields(view.id, item, tuple(n for n in saved.labels_a if n in active),
                 tuple(n for n in saved.labels_b if n in active), saved.note_a, saved.note_b)


def _show_message() -> None:
    message = st.session_state.pop(_MESSAGE, None)
    if message is None:
        return
    kind, text = message
    if kind == "toast":
        st.toast(text, icon=":material/visibility:")
    else:
        st.warning(text)


def _show_input(call: Call, mode: str) -> None:
    st.markdown("**Input**")
    if call.input_messages:
        show_conversation(call.input_messages, mode)
    else:
        show_text(call.input_text, mode)


def _side_panel(view: PairwiseSessionView, item: PairItemView, screen_side: str,
                call: Call | None, diff_pieces: list | None, mode: str,
                label_names: list[str], revealed_version: str | None) -> None:
    letter = "A" if screen_side == "left" else "B"
    st.markdown(f"**Response {letter}**"
                + (f" · {revealed_version}" if revealed_version else ""))
    if call is None:
        st.warning("This call is no longer in the store.")
    elif diff_pieces is not None:
        show_diff_side(side(diff_pieces, screen_side))
    else:
        if call.error:
            st.error(f"The call failed: {call.error}")
        show_text(call.output, mode, empty="(no output)")
    st.multiselect(f"Labels for {letter}", label_names,
                   key=_key("labels", view.id, item.position, screen_side),
                   placeholder="Failure or success modes")
    st.text_input(f"Note on {letter}", key=_key("note", view.id, item.position, screen_side),
                  placeholder=f"What is wrong or right in {letter}?")


def _controls(engine: Engine, view: PairwiseSessionView, item: PairItemView,
              reviewer: str) -> None:
    row = st.container(horizontal=True, gap="small")
    for choice, (text, key, number, icon) in CHOICES.items():
        row.button(text, key=f"pairwise_choice_{choice}", shortcut=key, icon=icon,
                   type="primary" if choice in ("left", "right") else "secondary",
                   help=f"{key} or {number}",
                   on_click=_answer, args=(engine, view, item, reviewer, choice))
    nav = st.container(horizontal=True, gap="small")
    nav.button("Prev", key="pairwise_prev", shortcut="K", disabled=item.position == 0,
               on_click=_move, args=(engine, view, item.position - 1))
    nav.button("Next", key="pairwise_next", shortcut="J",
               disabled=item.position >= view.size - 1,
               on_click=_move, args=(engine, view, item.position + 1))
    nav.button("Undo", key="pairwise_undo", shortcut="Z", icon=":material/undo:",
               on_click=_undo, args=(engine, view, reviewer))
    diff_on = st.session_state.get(_DIFF, False)
    nav.button("Hide word diff" if diff_on else "Word diff", key="pairwise_diff_toggle",
               shortcut="D", icon=":material/difference:", on_click=_toggle_diff)


def _number_keys(engine: Engine, view: PairwiseSessionView, item: PairItemView,
                 reviewer: str) -> None:
    """1-4 answer like A/B/T/X: buttons with those shortcuts in a row the page hides."""
    st.html(f"<style>.st-key-{_NUMBER_KEYS} {{display: none;}}</style>")
    numbers = st.container(key=_NUMBER_KEYS)
    for choice, (text, _key, number, _icon) in CHOICES.items():
        numbers.button(f"{text} ({number})", key=f"pairwise_number_{choice}", shortcut=number,
                       on_click=_answer, args=(engine, view, item, reviewer, choice))


@st.fragment
def pairwise_view(engine: Engine, session_id: int, reviewer: str) -> None:
    """One pair of the session, blind until answered, with the answer keys below it."""
    view = get_pairwise_session(engine, session_id)
    if view is None:
        st.warning(f"There is no pairwise session {session_id}.")
        return
    _show_message()
    st.progress(view.done / view.size,
                text=f"Pair {view.position + 1} of {view.size} · {view.done} answered")
    last = st.session_state.get(_REVEALED)
    if last:
        st.caption(f":material/visibility: {last}")
    if view.finished and view.remaining == 0:
        tally = session_tally(engine, session_id)
        st.success(f"Session finished: {view.version_a} better {tally['a']} · "
                   f"{view.version_b} better {tally['b']} · ties {tally['tie']} · both bad "
                   f"{tally['both_bad']}. Start another from “New session”, or step back "
                   "with Prev to change an answer.", icon=":material/celebration:")
    item = pair_item_at(engine, session_id, view.position)
    if item is None:
        st.warning("This session has no pairs.")
        return
    labels = [label.name for label in list_labels(engine)]
    _prefill(engine, view, item, reviewer, set(labels))
    st.session_state.setdefault(_STARTED, {}).setdefault((view.id, item.position),
                                                         time.monotonic())
    left_call, right_call = get_call(engine, item.left_call_id), get_call(engine,
                                                                          item.right_call_id)
    _controls(engine, view, item, reviewer)
    mode = display_mode(key="pairwise_text")
    shown_input = left_call or right_call
    if shown_input is not None:
        _show_input(shown_input, mode)
    diff_pieces = (word_diff((left_call.output or "") if left_call else "",
                             (right_call.output or "") if right_call else "")
                   if st.session_state.get(_DIFF, False) else None)
    saved = current_answer(engine, item.call_a_id, item.call_b_id, reviewer) \
        if item.status == "done" else None
    left_version, right_version = _versions_on_screen(view, item) if saved else (None, None)
    if saved is not None and saved.outcome:
        st.info(f"You answered this pair: {SAID[side_of(saved.outcome, item.left_is_a)]}. "
                "Answering again replaces it.", icon=":material/check_circle:")
    columns = st.columns(2, gap="medium")
    for column, screen_side, call, version in ((columns[0], "left", left_call, left_version),
                                               (columns[1], "right", right_call,
                                                right_version)):
        with column:
            _side_panel(view, item, screen_side, call, diff_pieces, mode, labels, version)
    _number_keys(engine, view, item, reviewer)
