"""Actions the focus view sends from the browser (judge, skip, undo, move, comment), applied
once each, in the order each page numbered them.

A page (`client_id`, random per page load) numbers its actions 1, 2, 3 ... and sends every one
it has no acknowledgement for, each time. The server stores an action with its number in
`review_answers` in the same transaction as its effect, so a resent action is recognised and
not applied twice, and applies a page's actions strictly in number order (a later one waits
for a missing earlier one). A refused action (say, a label archived meanwhile) is stored with
its reason, so it is acknowledged and not resent forever.

A comment is posted in the same transaction as its action (`add_comment_in`); one it refuses
has its reason stored on the action, as any refused action does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from evalboard.errors import EvalboardError
from evalboard.review.annotations import AnnotationView, Judgement, annotation_view
from evalboard.review.labels import labels_by_name
from evalboard.review.sessions import (
    judge_item_in,
    skip_item_in,
    undo_in_session_in,
)
from evalboard.store.engine import write_session
from evalboard.store.review_models import ReviewAnswer, ReviewItem, ReviewSession
from evalboard.teams.comments import CommentView, add_comment_in
from evalboard.teams.scores import score_values

KINDS = ("judge", "skip", "undo", "move", "comment")
MAX_SECONDS = 86_400.0
MAX_CLIENT_ID = 40
MAX_SCORES = 20
Scores = tuple[tuple[str, object], ...]


@dataclass(frozen=True)
class Action:
    """One keypress-level action of a page, numbered by that page."""

    client_id: str
    seq: int
    kind: str
    position: int | None = None
    call_id: int | None = None
    verdict: str | None = None
    labels: tuple[str, ...] = ()
    note: str = ""
    corrected_output: str | None = None
    seconds_spent: float | None = None
    scores: Scores = ()  # (score configuration name, raw value)
    body: str = ""  # a comment's text

    def judgement(self) -> Judgement:
        fix = self.corrected_output if self.corrected_output and \
            self.corrected_output.strip() else None
        return Judgement(self.verdict, self.labels, self.note, fix, self.scores)


@dataclass(frozen=True)
class Outcome:
    """What applying one action did: its annotation or comment, or why it was refused; for an
    undo, the position it went back to and the retracted answer with its scores (to edit it
    again)."""

    client_id: str
    seq: int
    kind: str
    position: int | None
    annotation_id: int | None = None
    error: str | None = None
    restored: AnnotationView | None = None
    restored_scores: Scores = ()
    comment: CommentView | None = None


@dataclass
class _Applied:
    """What storing one action did."""

    annotation_id: int | None = None
    position: int | None = None
    retracted: int | None = None
    error: str | None = None
    comment: CommentView | None = None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _seconds(value: Any) -> float | None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return None
    return round(min(max(float(value), 0.0), MAX_SECONDS), 1)


def _scores(raw: Any) -> Scores:
    """The scores of a judge action, by configuration name; a value that is neither a text
    nor a finite number (a cleared score: null) is left out."""
    if not isinstance(raw, dict):
        return ()
    kept = [(name, value) for name, value in raw.items() if isinstance(name, str) and (
        isinstance(value, str) or isinstance(value, int | float) and not isinstance(value, bool)
        and math.isfinite(value))]
    return tuple(sorted(kept, key=lambda pair: pair[0]))[:MAX_SCORES]


def parse_action(raw: Any) -> Action | None:
    """An action from the page's JSON, or None when it is not one (ignored, never applied)."""
    if not isinstance(raw, dict):
        return None
    client_id, seq, kind = raw.get("client"), _int(raw.get("seq")), raw.get("kind")
    if not isinstance(client_id, str) or not 0 < len(client_id) <= MAX_CLIENT_ID:
        return None
    if seq is None or seq < 1 or kind not in KINDS:
        return None
    labels = raw.get("labels") or []
    note, fix, verdict = raw.get("note") or "", raw.get("fix"), raw.get("verdict")
    body = raw.get("body")
    return Action(
        client_id, seq, str(kind), _int(raw.get("position")), _int(raw.get("call")),
        verdict if isinstance(verdict, str) else None,
        tuple(str(label) for label in labels if isinstance(label, str))
        if isinstance(labels, list) else (),
        note if isinstance(note, str) else "",
        fix if isinstance(fix, str) else None,
        _seconds(raw.get("seconds")),
        _scores(raw.get("scores")),
        body if isinstance(body, str) else "",
    )


def parse_actions(raw: Any) -> list[Action]:
    return [a for a in (parse_action(r) for r in raw) if a] if isinstance(raw, list) else []


def acknowledged(engine: Engine, session_id: int, client_ids: Iterable[str]) -> dict[str, int]:
    """The highest action number stored for each page (0 for a page with none)."""
    ids = sorted(set(client_ids))
    if not ids:
        return {}
    with Session(engine) as session:
        stored = dict(session.execute(
            select(ReviewAnswer.client_id, func.max(ReviewAnswer.seq))
            .where(ReviewAnswer.session_id == session_id, ReviewAnswer.client_id.in_(ids))
            .group_by(ReviewAnswer.client_id)).all())
    return {client: int(stored.get(client) or 0) for client in ids}


def _check_call(session: Session, session_id: int, action: Action) -> ReviewItem:
    if action.position is None:
        raise EvalboardError("the answer names no call")
    item = session.get(ReviewItem, (session_id, action.position))
    if item is None or (action.call_id is not None and item.call_id != action.call_id):
        raise EvalboardError(f"call {action.call_id} is not at place {action.position + 1} of "
                             "this session")
    return item


def _effect(session: Session, session_id: int, reviewer: str, action: Action,
            label_ids: dict[str, int]) -> _Applied:
    """Apply the action."""
    if action.kind == "undo":
        undone = undo_in_session_in(session, session_id, reviewer)
        if undone is None:
            raise EvalboardError("nothing to undo in this session")
        return _Applied(position=undone.position, retracted=undone.retracted_id)
    item = _check_call(session, session_id, action)
    position = item.position
    if action.kind == "judge":
        return _Applied(judge_item_in(session, session_id, position, reviewer,
                                      action.judgement(), label_ids, action.seconds_spent))
    if action.kind == "skip":
        return _Applied(skip_item_in(session, session_id, position, reviewer))
    if action.kind == "comment":
        return _Applied(comment=add_comment_in(session, item.call_id, reviewer, action.body))
    review = session.get(ReviewSession, session_id)
    assert review is not None
    review.position = max(0, min(position, review.size - 1))
    return _Applied(position=review.position)


def _precheck(engine: Engine, action: Action) -> tuple[str | None, dict[str, int]]:
    """Why a judge action cannot be stored (read before the write transaction), and the ids
    of its labels."""
    if action.kind != "judge":
        return None, {}
    try:
        action.judgement().check()
        return None, labels_by_name(engine, action.labels)
    except EvalboardError as exc:
        return str(exc), {}


def _apply_in(session: Session, session_id: int, reviewer: str, action: Action,
              error: str | None, label_ids: dict[str, int]) -> _Applied | None:
    """Store one action and its effect inside the batch's transaction (each in a savepoint);
    None when it was stored already."""
    row = ReviewAnswer(session_id=session_id, client_id=action.client_id, seq=action.seq,
                       kind=action.kind, position=action.position)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()  # a resent action stops here: nothing is applied twice
    except IntegrityError:
        return None
    applied = _Applied(error=error)
    if error is None:
        try:
            with session.begin_nested():
                applied = _effect(session, session_id, reviewer, action, label_ids)
        except EvalboardError as exc:
            applied.error = str(exc)
    row.annotation_id, row.error = applied.annotation_id, applied.error
    session.flush()
    return applied


def apply_actions(engine: Engine, session_id: int, reviewer: str,
                  actions: Sequence[Action]) -> list[Outcome]:
    """Apply the actions not stored yet, each page's in number order, in one write
    transaction; returns what each newly applied one did (an empty list when every action was
    stored already)."""
    if not actions:
        return []
    expected = {client: seq + 1 for client, seq in
                acknowledged(engine, session_id, (a.client_id for a in actions)).items()}
    blocked: set[str] = set()
    todo: list[Action] = []
    for action in sorted(actions, key=lambda a: (a.client_id, a.seq)) \
            if _interleaved(actions) else actions:
        client = action.client_id
        if client in blocked or action.seq < expected[client]:
            continue
        if action.seq > expected[client]:  # an earlier action of this page is missing
            blocked.add(client)
            continue
        todo.append(action)
        expected[client] = action.seq + 1
    if not todo:
        return []
    checks = [_precheck(engine, action) for action in todo]
    done: list[tuple[Action, _Applied]] = []
    with write_session(engine) as session:
        for action, (error, label_ids) in zip(todo, checks, strict=True):
            applied = _apply_in(session, session_id, reviewer, action, error, label_ids)
            if applied is not None:
                done.append((action, applied))
    return [_outcome(engine, action, applied) for action, applied in done]


def _outcome(engine: Engine, action: Action, applied: _Applied) -> Outcome:
    restored = scores = None
    if applied.retracted is not None:
        restored = annotation_view(engine, applied.retracted)
        scores = score_values(engine, [applied.retracted]).get(applied.retracted)
    return Outcome(action.client_id, action.seq, action.kind,
                   applied.position if applied.position is not None else action.position,
                   applied.annotation_id, applied.error, restored,
                   tuple(sorted((scores or {}).items())), applied.comment)


def _interleaved(actions: Sequence[Action]) -> bool:
    """True when some page's actions are not listed in number order (then sort them)."""
    last: dict[str, int] = {}
    for action in actions:
        if action.seq <= last.get(action.client_id, 0):
            return True
        last[action.client_id] = action.seq
    return False
