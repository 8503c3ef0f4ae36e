"""The focus view: one call at a time, labelled with the keyboard alone, as one browser
component (assets/review_focus/).

The component holds the current call and the next ones of the session (prefetched, with
their comment threads), applies keys in the browser in the order typed and shows the next call
at once on submit. Every action (judge, skip, undo, move, comment) is numbered by the page and
sent as the component's `outbox` state until the server acknowledges it; here each rerun
applies the actions not stored yet (evalboard.review.answers) and sends back the
acknowledgements and a fresh prefetch (evalboard.review.focus_feed).

Keys: a label's key toggles it; P pass, F fail, U unsure; Enter submits and advances (Ctrl+Enter
from a text field); K previous, J next, S skip, Z undo; N note, C corrected output, Esc leaves
a field; G guidelines, R reference or corrected output beside the output, M raw/Markdown,
O comment (Ctrl+Enter posts, Esc closes the box), ? every key. In a queue batch with a score:
digits 1…N rate (a rating) or choose (a choice), overriding labels' digit keys; V focuses a
number score, T a text score.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import streamlit as st
from sqlalchemy import Engine

from evalboard.review.answers import Outcome, acknowledged, apply_actions, parse_actions
from evalboard.review.focus_feed import answer_json, comment_json, focus_feed
from evalboard.ui.browser_component import browser_component
from evalboard.ui.navigation import CASES
from evalboard.ui.store import store_url

COMPONENT_NAME = "evalboard.review_focus"
MODES = ("Raw", "Markdown")
_OUTCOMES = "review_focus_outcomes"
KEEP_OUTCOMES = 50


_focus_component = browser_component(COMPONENT_NAME, "review_focus", "focus")


def component_key(session_id: int) -> str:
    """The component's key for one session (its state, the page's outbox, lives under it)."""
    return f"review_focus_{session_id}"


def _outcome_json(outcome: Outcome) -> dict[str, Any]:
    restored, comment = outcome.restored, outcome.comment
    return {
        "client": outcome.client_id, "seq": outcome.seq, "kind": outcome.kind,
        "position": outcome.position, "error": outcome.error,
        "restored": None if restored is None else answer_json(
            restored, dict(outcome.restored_scores)),
        "comment": None if comment is None else comment_json(comment),
    }


def _remember(session_id: int, outcomes: Iterable[Outcome]) -> list[dict[str, Any]]:
    """Recent outcomes, kept across reruns: a rerun cut short by the next one must not lose
    what it applied (the page shows each outcome once)."""
    kept: dict[int, list[dict[str, Any]]] = st.session_state.setdefault(_OUTCOMES, {})
    recent = kept.setdefault(session_id, [])
    recent.extend(_outcome_json(o) for o in outcomes)
    del recent[:-KEEP_OUTCOMES]
    return list(recent)


def _store_key() -> str:
    """A short name of the store, so answers kept in the browser go back to the right one."""
    return hashlib.sha256(store_url().encode()).hexdigest()[:12]


def take_outbox(engine: Engine, session_id: int, reviewer: str
                ) -> tuple[dict[str, Any], int | None, set[int]]:
    """Apply what the page sent for this session; returns the acknowledgements and outcomes
    to send back, where the page's cursor is and the places whose calls it holds."""
    state = st.session_state.get(component_key(session_id)) or {}

    box = state.get("outbox") if isinstance(state, dict) else None
    if not isinstance(box, dict) or box.get("session") != session_id:
        return {"acks": {}, "outcomes": _remember(session_id, [])}, None, set()
    actions = parse_actions(box.get("actions"))
    outcomes = apply_actions(engine, session_id, reviewer, actions)
    cursor, have = box.get("cursor"), box.get("have")
    held = {p for p in have if isinstance(p, int)} if isinstance(have, list) else set()
    return {
        "acks": acknowledged(engine, session_id, (a.client_id for a in actions)),
        "outcomes": _remember(session_id, outcomes),
    }, cursor if isinstance(cursor, int) and not isinstance(cursor, bool) else None, held


def _mode(session_id: int) -> str:
    state = st.session_state.get(component_key(session_id)) or {}

    mode = state.get("mode") if isinstance(state, dict) else None
    return mode if mode in MODES else MODES[0]


@st.fragment
def focus_view(engine: Engine, session_id: int, reviewer: str) -> None:
    """The session's focus view; a message instead when it has nothing to show. Applies what
    the page sent, then sends back acknowledgements and the calls of the window the page does
    not hold yet (a keypress reruns only this fragment)."""
    replies, cursor, held = take_outbox(engine, session_id, reviewer)
    feed = focus_feed(engine, session_id, reviewer, cursor, known=held)
    if feed is None:
        st.warning(f"There is no review session {session_id}.")
        return
    if not feed["statuses"]:
        st.warning("This session has no calls: its calls were deleted from the store. Start a "
                   "new session.")
        return
    feed.update(replies)
    feed.update(store=_store_key(), mode=_mode(session_id),
                promote=f"{CASES.name}?reviewer={quote(reviewer)}&promote=")
    # one JSON text: Streamlit would turn table-like lists into Arrow tables
    _focus_component(key=component_key(session_id), data=json.dumps(feed, default=str),
                     default={"outbox": None, "mode": None},
                     on_outbox_change=lambda: None, on_mode_change=lambda: None)
