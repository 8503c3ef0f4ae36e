"""Append-only pairwise answers: record, undo (a retraction row) and read the live answer.

A reviewer's live answer on a pair of calls is their newest answer (in either orientation of
the pair) that no retraction names; `is_current` marks it and is kept on every write here.
Outcomes are in version terms (`a`: version A's call is better); the screen's sides are
mapped with `outcome_for`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased

from evalboard.errors import EvalboardError
from evalboard.review.annotations import clean_reviewer
from evalboard.review.labels import labels_by_name
from evalboard.store.engine import write_session
from evalboard.store.models import Call
from evalboard.store.pairwise_models import (
    OUTCOMES,
    SIDES,
    PairwiseAnswer,
    pairwise_answer_labels,
)
from evalboard.store.review_models import Label

SCREEN_CHOICES = ("left", "right", "tie", "both_bad")


class PairwiseAnswerError(EvalboardError, ValueError):
    """An answer that cannot be recorded; the message says why."""


@dataclass(frozen=True)
class PairVerdict:
    """What a reviewer decides about a pair, in version terms."""

    outcome: str
    labels_a: tuple[str, ...] = ()
    labels_b: tuple[str, ...] = ()
    note_a: str = ""
    note_b: str = ""

    def check(self) -> None:
        if self.outcome not in OUTCOMES:
            raise PairwiseAnswerError(f"an outcome is one of {', '.join(OUTCOMES)}, "
                                      f"not {self.outcome!r}")


@dataclass(frozen=True)
class AnswerView:
    id: int
    reviewer: str
    session_id: int | None
    call_a_id: int
    call_b_id: int
    outcome: str | None
    left_was_a: bool | None
    note_a: str | None
    note_b: str | None
    labels_a: tuple[str, ...]
    labels_b: tuple[str, ...]
    seconds: float | None
    retracts_id: int | None
    is_current: bool
    created_at: datetime


def outcome_for(choice: str, left_is_a: bool) -> str:
    """The outcome in version terms of a choice made on the screen (`left` better, ...)."""
    if choice not in SCREEN_CHOICES:
        raise PairwiseAnswerError(f"a choice is one of {', '.join(SCREEN_CHOICES)}, "
                                  f"not {choice!r}")
    if choice in ("tie", "both_bad"):
        return choice
    return "a" if (choice == "left") == left_is_a else "b"


def side_of(outcome: str, left_is_a: bool) -> str:
    """The screen choice an outcome in version terms was (the inverse of `outcome_for`)."""
    if outcome in ("tie", "both_bad"):
        return outcome
    return "left" if (outcome == "a") == left_is_a else "right"


def _same_pair(row: Any, call_a_id: Any, call_b_id: Any) -> ColumnElement[bool]:
    """WHERE clause (on `row`, PairwiseAnswer or an alias): the pair in either orientation."""
    return or_(and_(row.call_a_id == call_a_id, row.call_b_id == call_b_id),
               and_(row.call_a_id == call_b_id, row.call_b_id == call_a_id))


def live_answers() -> ColumnElement[bool]:
    """WHERE clause (on PairwiseAnswer) of answer rows no retraction has undone."""
    retract = aliased(PairwiseAnswer)
    return and_(PairwiseAnswer.retracts_id.is_(None), PairwiseAnswer.outcome.is_not(None),
                ~exists().where(retract.retracts_id == PairwiseAnswer.id))


def _set_current(session: Session, reviewer: str, call_a_id: int, call_b_id: int) -> None:
    """Mark the reviewer's live answer on the pair (none if every answer is retracted)."""
    session.execute(update(PairwiseAnswer)
                    .where(PairwiseAnswer.reviewer == reviewer,
                           _same_pair(PairwiseAnswer, call_a_id, call_b_id),
                           PairwiseAnswer.is_current.is_(True))
                    .values(is_current=False).execution_options(synchronize_session=False))
    newest = session.scalar(select(func.max(PairwiseAnswer.id)).where(
        PairwiseAnswer.reviewer == reviewer, _same_pair(PairwiseAnswer, call_a_id, call_b_id),
        live_answers()))
    if newest is not None:
        session.execute(update(PairwiseAnswer).where(PairwiseAnswer.id == newest)
                        .values(is_current=True).execution_options(synchronize_session=False))


def rebuild_current_flags(conn: Connection) -> None:
    """Set every pairwise answer's is_current from the answers themselves (after a bulk load)."""
    conn.execute(update(PairwiseAnswer).values(is_current=False))
    row, newer, retract = (aliased(PairwiseAnswer), aliased(PairwiseAnswer),
                           aliased(PairwiseAnswer))
    newer_live = exists().where(
        newer.reviewer == row.reviewer, _same_pair(newer, row.call_a_id, row.call_b_id),
        newer.id > row.id, newer.retracts_id.is_(None), newer.outcome.is_not(None),
        ~exists().where(retract.retracts_id == newer.id))
    own = aliased(PairwiseAnswer)
    conn.execute(update(PairwiseAnswer).where(PairwiseAnswer.id.in_(
        select(row.id).where(row.retracts_id.is_(None), row.outcome.is_not(None),
                             ~exists().where(own.retracts_id == row.id), ~newer_live)))
        .values(is_current=True))


def record_answer(
    engine: Engine,
    call_a_id: int,
    call_b_id: int,
    reviewer: str,
    verdict: PairVerdict,
    *,
    left_was_a: bool | None = None,
    session_id: int | None = None,
    seconds: float | None = None,
) -> int:
    """Append a reviewer's answer on a pair (it becomes their live one); returns its id."""
    verdict.check()
    reviewer = clean_reviewer(reviewer)
    if call_a_id == call_b_id:
        raise PairwiseAnswerError("a pair needs two different calls")
    label_ids = labels_by_name(engine, tuple(dict.fromkeys(verdict.labels_a + verdict.labels_b)))
    with write_session(engine) as session:
        found = set(session.scalars(select(Call.id).where(Call.id.in_((call_a_id, call_b_id)))))
        missing = [str(i) for i in (call_a_id, call_b_id) if i not in found]
        if missing:
            raise PairwiseAnswerError(f"there is no call {', '.join(missing)}")
        answer = PairwiseAnswer(
            reviewer=reviewer, session_id=session_id, call_a_id=call_a_id,
            call_b_id=call_b_id, outcome=verdict.outcome, left_was_a=left_was_a,
            note_a=verdict.note_a.strip() or None, note_b=verdict.note_b.strip() or None,
            seconds=seconds, is_current=False)
        session.add(answer)
        session.flush()
        links = [{"answer_id": answer.id, "side": side, "label_id": label_ids[name]}
                 for side, names in zip(SIDES, (verdict.labels_a, verdict.labels_b),
                                        strict=True)
                 for name in dict.fromkeys(names)]
        if links:
            session.execute(insert(pairwise_answer_labels), links)
        _set_current(session, reviewer, call_a_id, call_b_id)
        return answer.id


def retract_answer(engine: Engine, answer_id: int, reviewer: str) -> int:
    """Undo one of the reviewer's answers with a retraction row; returns the retraction's id."""
    reviewer = clean_reviewer(reviewer)
    with write_session(engine) as session:
        target = session.get(PairwiseAnswer, answer_id)
        if target is None or target.outcome is None:
            raise PairwiseAnswerError(f"there is no pairwise answer {answer_id}")
        if target.reviewer != reviewer:
            raise PairwiseAnswerError(f"answer {answer_id} is {target.reviewer}'s, not yours")
        if session.scalar(select(PairwiseAnswer.id).where(
                PairwiseAnswer.retracts_id == answer_id).limit(1)) is not None:
            raise PairwiseAnswerError(f"answer {answer_id} is already undone")
        retraction = PairwiseAnswer(
            reviewer=reviewer, session_id=target.session_id, call_a_id=target.call_a_id,
            call_b_id=target.call_b_id, outcome=None, retracts_id=target.id, is_current=False)
        session.add(retraction)
        session.flush()
        _set_current(session, reviewer, target.call_a_id, target.call_b_id)
        return retraction.id


def last_live_answer_id(engine: Engine, reviewer: str, session_id: int | None = None
                        ) -> int | None:
    """The reviewer's newest answer that is not undone (in one session, when given)."""
    with Session(engine) as session:
        query = select(func.max(PairwiseAnswer.id)).where(
            PairwiseAnswer.reviewer == clean_reviewer(reviewer), live_answers())
        if session_id is not None:
            query = query.where(PairwiseAnswer.session_id == session_id)
        return session.scalar(query)


def _labels(session: Session, answer_ids: Sequence[int]) -> dict[tuple[int, str], list[str]]:
    found: dict[tuple[int, str], list[str]] = {}
    rows = session.execute(
        select(pairwise_answer_labels.c.answer_id, pairwise_answer_labels.c.side, Label.name)
        .join(Label, Label.id == pairwise_answer_labels.c.label_id)
        .where(pairwise_answer_labels.c.answer_id.in_(list(answer_ids)))
        .order_by(Label.position, Label.id))
    for answer_id, side, name in rows:
        found.setdefault((answer_id, side), []).append(name)
    return found


def _views(session: Session, rows: Sequence[PairwiseAnswer]) -> list[AnswerView]:
    labels = _labels(session, [row.id for row in rows])
    return [AnswerView(
        row.id, row.reviewer, row.session_id, row.call_a_id, row.call_b_id, row.outcome,
        row.left_was_a, row.note_a, row.note_b, tuple(labels.get((row.id, "a"), ())),
        tuple(labels.get((row.id, "b"), ())), row.seconds, row.retracts_id, row.is_current,
        row.created_at) for row in rows]


def answer_view(engine: Engine, answer_id: int) -> AnswerView | None:
    with Session(engine) as session:
        row = session.get(PairwiseAnswer, answer_id)
        return None if row is None else _views(session, [row])[0]


def current_answer(engine: Engine, call_a_id: int, call_b_id: int, reviewer: str
                   ) -> AnswerView | None:
    """The reviewer's live answer on the pair (in either orientation), or None."""
    with Session(engine) as session:
        row = session.scalars(select(PairwiseAnswer).where(
            PairwiseAnswer.reviewer == clean_reviewer(reviewer), PairwiseAnswer.is_current,
            _same_pair(PairwiseAnswer, call_a_id, call_b_id))).first()
        return None if row is None else _views(session, [row])[0]


def answers_of(engine: Engine, *, reviewer: str | None = None, session_id: int | None = None,
               current_only: bool = False) -> list[AnswerView]:
    """Answer rows (retractions included unless `current_only`), oldest first."""
    with Session(engine) as session:
        query = select(PairwiseAnswer).order_by(PairwiseAnswer.id)
        if reviewer is not None:
            query = query.where(PairwiseAnswer.reviewer == reviewer)
        if session_id is not None:
            query = query.where(PairwiseAnswer.session_id == session_id)
        if current_only:
            query = query.where(PairwiseAnswer.is_current.is_(True))
        return _views(session, list(session.scalars(query)))
