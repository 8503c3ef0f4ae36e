"""Review queues: calls picked once (by any session strategy, or listed from Browse), worked
through by several reviewers in batches. An item is handed to at most `reviewers_per_item`
people at a time (answers and live reservations both count), never twice to one reviewer;
a reservation not answered lapses after the queue's timeout and the item goes to the next
reviewer who asks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Engine, exists, func, select, update
from sqlalchemy.orm import Session

from evalboard.errors import EvalboardError
from evalboard.review.annotations import clean_reviewer
from evalboard.review.sampling import SessionSpec, pick_calls
from evalboard.review.sessions import filters_as_json
from evalboard.store.engine import is_sqlite, write_session
from evalboard.store.review_models import ReviewItem, ReviewSession
from evalboard.store.team_models import (
    QueueBatch,
    QueueClaim,
    QueueItem,
    ReviewQueue,
    ScoreConfig,
)
from evalboard.teams.claims import counts_toward, holders, renew, reserve

BATCH_SIZE = 10
MAX_REVIEWERS_PER_ITEM = 10
MAX_ITEMS = 10_000


class QueueError(EvalboardError, ValueError):
    """A queue that cannot be made or worked; the message says why."""


@dataclass(frozen=True)
class QueueSpec:
    """A queue to create: its name, which calls (`pick`), and how the work is shared."""

    name: str
    pick: SessionSpec
    reviewers_per_item: int = 1
    assignees: tuple[str, ...] = ()
    due_on: date | None = None
    reservation_minutes: int = 30
    score_config: str | None = None

    def check(self) -> None:
        if not " ".join(self.name.split()):
            raise QueueError("a queue needs a name")
        if not 1 <= self.reviewers_per_item <= MAX_REVIEWERS_PER_ITEM:
            raise QueueError(f"reviewers per item is 1 to {MAX_REVIEWERS_PER_ITEM}")
        if self.assignees and len(set(self.assignees)) < self.reviewers_per_item:
            raise QueueError(f"{self.reviewers_per_item} reviewers per item need at least as "
                             f"many assignees; {len(set(self.assignees))} named")
        if not 1 <= self.reservation_minutes <= 24 * 60:
            raise QueueError("a reservation lasts 1 minute to 24 hours")
        if not 1 <= self.pick.size <= MAX_ITEMS:
            raise QueueError(f"a queue holds 1 to {MAX_ITEMS:,} calls")


@dataclass(frozen=True)
class QueueView:
    """A queue with its progress; the `mine_*` figures are for the reviewer it was read for."""

    id: int
    name: str
    strategy: str
    reviewers_per_item: int
    assignees: tuple[str, ...]
    due_on: date | None
    reservation_minutes: int
    score_config: str | None
    created_by: str
    created_at: datetime
    closed: bool
    items: int
    complete: int  # items with all their answers
    answers: int
    reserved: int  # live reservations now
    mine_done: int = 0
    mine_left: int = 0  # items this reviewer could still take, or holds
    per_reviewer: tuple[tuple[str, int, int], ...] = field(default=())  # (name, done, skipped)

    @property
    def answers_needed(self) -> int:
        return self.items * self.reviewers_per_item

    @property
    def remaining(self) -> int:
        return self.answers_needed - self.answers

    def assigned_to(self, reviewer: str) -> bool:
        return not self.assignees or reviewer in self.assignees

    def due_state(self, today: date) -> str:
        """"overdue", "today", "" (not due yet or no date)."""
        if self.due_on is None or self.complete == self.items:
            return ""
        return "overdue" if self.due_on < today else "today" if self.due_on == today else ""


def _clean_names(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(clean_reviewer(name) for name in names if name.strip()))


def create_queue(engine: Engine, spec: QueueSpec, created_by: str) -> int:
    """Pick the calls and store the queue; raise when the spec is wrong or nothing matches."""
    spec.check()
    created_by = clean_reviewer(created_by)
    assignees = _clean_names(spec.assignees)
    call_ids = pick_calls(engine, spec.pick)
    if not call_ids:
        raise QueueError("no calls match: widen the dates or versions, or pick another "
                         "strategy. Nothing was created.")
    with write_session(engine) as session:
        name = " ".join(spec.name.split())[:200]
        if session.scalar(select(ReviewQueue.id).where(ReviewQueue.name == name)):
            raise QueueError(f"a queue named {name!r} exists already; choose another name")
        config_id = None
        if spec.score_config:
            config_id = session.scalar(select(ScoreConfig.id)
                                       .where(ScoreConfig.name == spec.score_config))
            if config_id is None:
                raise QueueError(f"there is no score configuration {spec.score_config!r}")
        queue = ReviewQueue(
            name=name, strategy=spec.pick.strategy, filters=filters_as_json(spec.pick),
            reviewers_per_item=spec.reviewers_per_item, assignees=list(assignees),
            due_on=spec.due_on, reservation_minutes=spec.reservation_minutes,
            score_config_id=config_id, created_by=created_by)
        session.add(queue)
        session.flush()
        session.add_all(QueueItem(queue_id=queue.id, position=i, call_id=call_id)
                        for i, call_id in enumerate(call_ids))
        return queue.id


def add_calls(engine: Engine, queue_id: int, call_ids: Sequence[int]) -> int:
    """Append calls to a queue (those in it already are left); returns how many were added."""
    with write_session(engine) as session:
        queue = _open_queue(session, queue_id)
        present = set(session.scalars(select(QueueItem.call_id)
                                      .where(QueueItem.queue_id == queue.id)))
        last = session.scalar(select(func.max(QueueItem.position))
                              .where(QueueItem.queue_id == queue.id))
        new = [call_id for call_id in dict.fromkeys(call_ids) if call_id not in present]
        if len(present) + len(new) > MAX_ITEMS:
            raise QueueError(f"a queue holds at most {MAX_ITEMS:,} calls")
        start = -1 if last is None else last
        session.add_all(QueueItem(queue_id=queue.id, position=start + 1 + i, call_id=call_id)
                        for i, call_id in enumerate(new))
        return len(new)


def close_queue(engine: Engine, queue_id: int, now: datetime) -> None:
    """Stop handing out the queue's items (answers given stay)."""
    with write_session(engine) as session:
        _open_queue(session, queue_id).closed_at = now


def _open_queue(session: Session, queue_id: int, *, lock: bool = False) -> ReviewQueue:
    query = select(ReviewQueue).where(ReviewQueue.id == queue_id)
    if lock and not is_sqlite(session.get_bind()):  # SQLite's writer holds the lock already
        query = query.with_for_update()
    queue = session.scalar(query)
    if queue is None:
        raise QueueError(f"there is no queue {queue_id}")
    if queue.closed_at is not None:
        raise QueueError(f"the queue {queue.name!r} is closed")
    return queue


def _available(queue: ReviewQueue, reviewer: str, now: datetime):  # type: ignore[no-untyped-def]
    """SELECT of the queue's items the reviewer may take now, in queue order."""
    own = (exists().where(QueueClaim.queue_id == queue.id,
                          QueueClaim.call_id == QueueItem.call_id,
                          QueueClaim.reviewer == reviewer, counts_toward(now) |
                          (QueueClaim.status == "skipped")))
    return (select(QueueItem.call_id)
            .where(QueueItem.queue_id == queue.id, ~own,
                   holders(queue.id, QueueItem.call_id, now, besides=reviewer)
                   < queue.reviewers_per_item)
            .order_by(QueueItem.position))


def _open_batch(session: Session, queue: ReviewQueue, reviewer: str) -> ReviewSession | None:
    return session.scalar(
        select(ReviewSession).join(QueueBatch, QueueBatch.review_session_id == ReviewSession.id)
        .where(QueueBatch.queue_id == queue.id, ReviewSession.reviewer == reviewer,
               ReviewSession.finished_at.is_(None))
        .order_by(ReviewSession.id.desc()).limit(1))


def _resume(session: Session, queue: ReviewQueue, batch: ReviewSession, now: datetime
            ) -> bool:
    """Take up the batch's pending items again; those others took meanwhile (the reviewer's
    hold had lapsed and the item was handed on) are passed over. False when none is left."""
    pending = list(session.scalars(select(ReviewItem).where(
        ReviewItem.session_id == batch.id, ReviewItem.status == "pending")
        .order_by(ReviewItem.position)))
    kept = 0
    for item in pending:
        taken = session.scalar(select(holders(queue.id, item.call_id, now,
                                              besides=batch.reviewer)))
        if (taken or 0) >= queue.reviewers_per_item:
            item.status = "skipped"  # handed on: no annotation, nothing of theirs is lost
            continue
        reserve(session, queue, item.call_id, batch.reviewer, batch.id, now)
        kept += 1
    if not kept:
        batch.finished_at = now
        return False
    first = next(item for item in pending if item.status == "pending")
    batch.position = first.position
    renew(session, queue, batch.id, now)
    return True


def take_batch(engine: Engine, queue_id: int, reviewer: str, now: datetime,
               size: int = BATCH_SIZE) -> int | None:
    """The review session to work the queue in: the reviewer's unfinished batch, else a new
    batch of up to `size` items reserved for them. None when nothing is left for them."""
    reviewer = clean_reviewer(reviewer)
    with write_session(engine) as session:
        queue = _open_queue(session, queue_id, lock=True)
        if queue.assignees and reviewer not in queue.assignees:
            raise QueueError(f"the queue {queue.name!r} is assigned to "
                             f"{', '.join(queue.assignees)}, not to {reviewer}")
        batch = _open_batch(session, queue, reviewer)
        if batch is not None and _resume(session, queue, batch, now):
            return batch.id
        call_ids = list(session.scalars(_available(queue, reviewer, now).limit(size)))
        if not call_ids:
            return None
        number = 1 + (session.scalar(select(func.count()).select_from(QueueBatch)
                                     .where(QueueBatch.queue_id == queue.id)) or 0)
        batch = ReviewSession(name=f"{queue.name} · batch {number}", reviewer=reviewer,
                              strategy="queue", filters={"queue": queue.id},
                              size=len(call_ids), position=0, created_at=now)
        session.add(batch)
        session.flush()
        session.add(QueueBatch(review_session_id=batch.id, queue_id=queue.id))
        for position, call_id in enumerate(call_ids):
            session.add(ReviewItem(session_id=batch.id, position=position, call_id=call_id))
            reserve(session, queue, call_id, reviewer, batch.id, now)
        return batch.id


def release_batch(engine: Engine, review_session_id: int, now: datetime) -> int:
    """Finish a batch early: its unanswered items go back to the queue (their reservations
    end now; nothing answered changes). Returns how many were released."""
    with write_session(engine) as session:
        batch = session.get(ReviewSession, review_session_id)
        if batch is None or session.get(QueueBatch, review_session_id) is None:
            return 0
        pending = list(session.scalars(select(ReviewItem).where(
            ReviewItem.session_id == batch.id, ReviewItem.status == "pending")))
        for item in pending:
            item.status = "skipped"  # passed over without an annotation
        session.execute(update(QueueClaim)
                        .where(QueueClaim.review_session_id == batch.id,
                               QueueClaim.status == "reserved")
                        .values(expires_at=now).execution_options(synchronize_session=False))
        batch.finished_at = batch.finished_at or now
        return len(pending)


def queue_of_session(engine: Engine, review_session_id: int) -> int | None:
    """The queue a review session is a batch of, if it is one."""
    with Session(engine) as session:
        return session.scalar(select(QueueBatch.queue_id)
                              .where(QueueBatch.review_session_id == review_session_id))


def _view(session: Session, queue: ReviewQueue, reviewer: str | None, now: datetime
          ) -> QueueView:
    items = session.scalar(select(func.count()).select_from(QueueItem)
                           .where(QueueItem.queue_id == queue.id)) or 0
    done_per_item = (select(QueueClaim.call_id, func.count().label("n"))
                     .where(QueueClaim.queue_id == queue.id, QueueClaim.status == "done")
                     .group_by(QueueClaim.call_id).subquery())
    complete = session.scalar(select(func.count()).select_from(done_per_item)
                              .where(done_per_item.c.n >= queue.reviewers_per_item)) or 0
    answers = session.scalar(select(func.count()).select_from(QueueClaim).where(
        QueueClaim.queue_id == queue.id, QueueClaim.status == "done")) or 0
    reserved = session.scalar(select(func.count()).select_from(QueueClaim).where(
        QueueClaim.queue_id == queue.id, QueueClaim.status == "reserved",
        QueueClaim.expires_at > now)) or 0
    per_reviewer = tuple(
        (name, int(done), int(skipped)) for name, done, skipped in session.execute(
            select(QueueClaim.reviewer,
                   func.count().filter(QueueClaim.status == "done"),
                   func.count().filter(QueueClaim.status == "skipped"))
            .where(QueueClaim.queue_id == queue.id, QueueClaim.status != "reserved")
            .group_by(QueueClaim.reviewer).order_by(QueueClaim.reviewer)))
    mine_done = mine_left = 0
    if reviewer:
        mine_done = next((done for name, done, _ in per_reviewer if name == reviewer), 0)
        if queue.closed_at is None and (not queue.assignees or reviewer in queue.assignees):
            takeable = session.scalar(select(func.count()).select_from(
                _available(queue, reviewer, now).subquery())) or 0
            held = session.scalar(select(func.count()).select_from(QueueClaim).where(
                QueueClaim.queue_id == queue.id, QueueClaim.reviewer == reviewer,
                QueueClaim.status == "reserved", QueueClaim.expires_at > now)) or 0
            mine_left = takeable + held
    config = session.get(ScoreConfig, queue.score_config_id) if queue.score_config_id else None
    return QueueView(
        queue.id, queue.name, queue.strategy, queue.reviewers_per_item, tuple(queue.assignees),
        queue.due_on, queue.reservation_minutes, config.name if config else None,
        queue.created_by, queue.created_at, queue.closed_at is not None, items, complete,
        answers, reserved, mine_done, mine_left, per_reviewer)


def get_queue(engine: Engine, queue_id: int, now: datetime, reviewer: str | None = None
              ) -> QueueView | None:
    with Session(engine) as session:
        queue = session.get(ReviewQueue, queue_id)
        return None if queue is None else _view(session, queue, reviewer, now)


def list_queues(engine: Engine, now: datetime, reviewer: str | None = None, *,
                mine_only: bool = False, include_closed: bool = False) -> list[QueueView]:
    """Queues, newest first; `mine_only` keeps those assigned to the reviewer (or everyone)."""
    with Session(engine) as session:
        query = select(ReviewQueue).order_by(ReviewQueue.id.desc())
        if not include_closed:
            query = query.where(ReviewQueue.closed_at.is_(None))
        views = [_view(session, queue, reviewer, now) for queue in session.scalars(query)]
    if mine_only and reviewer:
        views = [view for view in views if view.assigned_to(reviewer)]
    return views


def claims_of(engine: Engine, queue_id: int) -> list[tuple[int, str, str]]:
    """(call id, reviewer, status) of every claim on the queue, by call then reviewer."""
    with Session(engine) as session:
        return [tuple(row) for row in session.execute(  # type: ignore[misc]
            select(QueueClaim.call_id, QueueClaim.reviewer, QueueClaim.status)
            .where(QueueClaim.queue_id == queue_id)
            .order_by(QueueClaim.call_id, QueueClaim.reviewer))]

