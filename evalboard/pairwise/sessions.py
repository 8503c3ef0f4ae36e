"""Pairwise review sessions: start, resume, move, answer and undo, like review sessions.

Each item shows version A's call on a seeded random side (`left_is_a`); the page hides which
version is which until the item is answered.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from evalboard.pairwise.answers import (
    PairVerdict,
    last_live_answer_id,
    live_answers,
    record_answer,
    retract_answer,
)
from evalboard.pairwise.pairing import STRATEGIES, PairingError, PairSpec, pick_pairs
from evalboard.review.annotations import clean_reviewer
from evalboard.store.engine import write_session
from evalboard.store.models import ModelVersion, utcnow
from evalboard.store.pairwise_models import (
    OUTCOMES,
    PairwiseAnswer,
    PairwiseItem,
    PairwiseSession,
)

SEED_RANGE = 2**31 - 1


@dataclass(frozen=True)
class PairwiseSessionView:
    id: int
    name: str
    reviewer: str
    version_a: str
    version_b: str
    strategy: str
    size: int
    position: int
    done: int
    seed: int
    created_at: datetime
    finished: bool

    @property
    def remaining(self) -> int:
        return self.size - self.done


@dataclass(frozen=True)
class PairItemView:
    position: int
    call_a_id: int
    call_b_id: int
    left_is_a: bool
    status: str
    answer_id: int | None

    @property
    def left_call_id(self) -> int:
        return self.call_a_id if self.left_is_a else self.call_b_id

    @property
    def right_call_id(self) -> int:
        return self.call_b_id if self.left_is_a else self.call_a_id


def start_pairwise_session(engine: Engine, reviewer: str, spec: PairSpec, name: str = "") -> int:
    """Pick the pairs, randomise their sides (seeded) and store the session."""
    reviewer = clean_reviewer(reviewer)
    seed = spec.seed if spec.seed is not None else random.SystemRandom().randrange(SEED_RANGE)
    pairs = pick_pairs(engine, PairSpec(spec.version_a, spec.version_b, spec.size,
                                        spec.strategy, spec.sources, seed), reviewer)
    if not pairs:
        raise PairingError(
            f"no pairs to review: {spec.version_a} and {spec.version_b} share no input you have "
            "not answered yet (with these sources). Pick other versions or sources.")
    sides = random.Random(seed)
    with write_session(engine) as session:
        ids = dict(session.execute(select(ModelVersion.name, ModelVersion.id).where(
            ModelVersion.name.in_((spec.version_a, spec.version_b)))).all())
        pairwise = PairwiseSession(
            name=name.strip() or f"{spec.version_a} vs {spec.version_b} · {utcnow():%Y-%m-%d}",
            reviewer=reviewer, version_a_id=ids[spec.version_a],
            version_b_id=ids[spec.version_b], strategy=spec.strategy,
            filters={"sources": list(spec.sources)} if spec.sources else None,
            size=len(pairs), position=0, seed=seed)
        session.add(pairwise)
        session.flush()
        session.add_all(PairwiseItem(session_id=pairwise.id, position=i, call_a_id=p.call_a_id,
                                     call_b_id=p.call_b_id, left_is_a=sides.random() < 0.5)
                        for i, p in enumerate(pairs))
        return pairwise.id


def _view(session: Session, pairwise: PairwiseSession) -> PairwiseSessionView:
    done = session.scalar(select(func.count()).select_from(PairwiseItem).where(
        PairwiseItem.session_id == pairwise.id, PairwiseItem.status == "done")) or 0
    names = dict(session.execute(select(ModelVersion.id, ModelVersion.name).where(
        ModelVersion.id.in_((pairwise.version_a_id, pairwise.version_b_id)))).all())
    return PairwiseSessionView(
        pairwise.id, pairwise.name, pairwise.reviewer, names[pairwise.version_a_id],
        names[pairwise.version_b_id], pairwise.strategy, pairwise.size, pairwise.position,
        done, pairwise.seed, pairwise.created_at, pairwise.finished_at is not None)


def get_pairwise_session(engine: Engine, session_id: int) -> PairwiseSessionView | None:
    with Session(engine) as session:
        pairwise = session.get(PairwiseSession, session_id)
        return None if pairwise is None else _view(session, pairwise)


def list_pairwise_sessions(engine: Engine, reviewer: str | None = None, limit: int = 20
                           ) -> list[PairwiseSessionView]:
    """Newest sessions first (one reviewer's, or everyone's)."""
    with Session(engine) as session:
        query = select(PairwiseSession).order_by(PairwiseSession.id.desc()).limit(limit)
        if reviewer:
            query = query.where(PairwiseSession.reviewer == reviewer)
        return [_view(session, pairwise) for pairwise in session.scalars(query)]


def open_pairwise_session_of(engine: Engine, reviewer: str) -> int | None:
    """The reviewer's newest unfinished pairwise session, to resume."""
    with Session(engine) as session:
        return session.scalar(select(PairwiseSession.id).where(
            PairwiseSession.reviewer == reviewer, PairwiseSession.finished_at.is_(None))
            .order_by(PairwiseSession.id.desc()).limit(1))


def _item_view(item: PairwiseItem) -> PairItemView:
    return PairItemView(item.position, item.call_a_id, item.call_b_id, item.left_is_a,
                        item.status, item.answer_id)


def pair_item_at(engine: Engine, session_id: int, position: int) -> PairItemView | None:
    with Session(engine) as session:
        item = session.get(PairwiseItem, (session_id, position))
        return None if item is None else _item_view(item)


def pair_items(engine: Engine, session_id: int) -> list[PairItemView]:
    with Session(engine) as session:
        return [_item_view(item) for item in session.scalars(
            select(PairwiseItem).where(PairwiseItem.session_id == session_id)
            .order_by(PairwiseItem.position))]


def _session_row(session: Session, session_id: int) -> PairwiseSession:
    pairwise = session.get(PairwiseSession, session_id)
    if pairwise is None:
        raise PairingError(f"there is no pairwise session {session_id}")
    return pairwise


def resume_position(engine: Engine, session_id: int) -> int:
    """Move the session to its first unanswered item (if any) and return its position."""
    with write_session(engine) as session:
        pairwise = _session_row(session, session_id)
        first = _first_pending(session, session_id, -1)
        if first is not None:
            pairwise.position = first
        return pairwise.position


def move_pair_to(engine: Engine, session_id: int, position: int) -> int:
    """Set the session's current position (clamped to its items); returns it."""
    with write_session(engine) as session:
        pairwise = _session_row(session, session_id)
        pairwise.position = max(0, min(position, pairwise.size - 1))
        return pairwise.position


def _first_pending(session: Session, session_id: int, after: int) -> int | None:
    return session.scalar(select(PairwiseItem.position).where(
        PairwiseItem.session_id == session_id, PairwiseItem.status == "pending",
        PairwiseItem.position > after).order_by(PairwiseItem.position).limit(1))


def answer_pair(engine: Engine, session_id: int, position: int, reviewer: str,
                verdict: PairVerdict, seconds: float | None = None) -> int:
    """Record the answer on the item at `position` and advance to the next unanswered one."""
    item = pair_item_at(engine, session_id, position)
    if item is None:
        raise PairingError(f"pairwise session {session_id} has no item {position}")
    answer_id = record_answer(engine, item.call_a_id, item.call_b_id, reviewer, verdict,
                              left_was_a=item.left_is_a, session_id=session_id, seconds=seconds)
    with write_session(engine) as session:
        row = session.get(PairwiseItem, (session_id, position))
        assert row is not None
        row.status, row.answer_id = "done", answer_id
        pairwise = _session_row(session, session_id)
        following = _first_pending(session, session_id, position)
        if following is None:
            following = _first_pending(session, session_id, -1)
        if following is None:
            pairwise.finished_at = pairwise.finished_at or utcnow()
            pairwise.position = min(position + 1, pairwise.size - 1)
        else:
            pairwise.position = following
    return answer_id


def session_tally(engine: Engine, session_id: int) -> dict[str, int]:
    """How the session's answered pairs came out: {'a': 3, 'b': 1, 'tie': 2, 'both_bad': 0}."""
    with Session(engine) as session:
        counts = dict(session.execute(
            select(PairwiseAnswer.outcome, func.count())
            .join(PairwiseItem, PairwiseItem.answer_id == PairwiseAnswer.id)
            .where(PairwiseItem.session_id == session_id, PairwiseItem.status == "done")
            .group_by(PairwiseAnswer.outcome)).all())
    return {outcome: counts.get(outcome, 0) for outcome in OUTCOMES}


@dataclass(frozen=True)
class PairUndone:
    """Where an undo landed: the item's position and the answer it retracted."""

    position: int
    retracted_id: int


def undo_in_pairwise_session(engine: Engine, session_id: int, reviewer: str
                             ) -> PairUndone | None:
    """Retract the reviewer's last answer in this session and make its item current again:
    done with their earlier answer in this session if one is live, else pending."""
    reviewer = clean_reviewer(reviewer)
    answer_id = last_live_answer_id(engine, reviewer, session_id)
    if answer_id is None:
        return None
    retract_answer(engine, answer_id, reviewer)
    with write_session(engine) as session:
        answered = session.get(PairwiseAnswer, answer_id)
        assert answered is not None
        item = session.scalars(select(PairwiseItem).where(
            PairwiseItem.session_id == session_id,
            PairwiseItem.call_a_id == answered.call_a_id,
            PairwiseItem.call_b_id == answered.call_b_id)).first()
        if item is None:
            return None
        earlier = session.scalar(select(func.max(PairwiseAnswer.id)).where(
            PairwiseAnswer.reviewer == reviewer, PairwiseAnswer.session_id == session_id,
            PairwiseAnswer.call_a_id == item.call_a_id,
            PairwiseAnswer.call_b_id == item.call_b_id, live_answers()))
        item.status, item.answer_id = ("pending", None) if earlier is None else ("done", earlier)
        pairwise = _session_row(session, session_id)
        pairwise.position = item.position
        if item.status == "pending":
            pairwise.finished_at = None
        return PairUndone(item.position, answer_id)


__all__ = ["STRATEGIES", "PairItemView", "PairUndone", "PairwiseSessionView", "answer_pair",
           "get_pairwise_session", "list_pairwise_sessions", "move_pair_to",
           "open_pairwise_session_of", "pair_item_at", "pair_items", "resume_position",
           "session_tally", "start_pairwise_session", "undo_in_pairwise_session"]
