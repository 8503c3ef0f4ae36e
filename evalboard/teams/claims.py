"""Reservations of queue items: who holds which item until when, and what counts toward an
item's answers. A review session that is a queue batch settles its claims as it is worked:
answered (done), skipped, or reopened by an undo; each answer renews the batch's other
reservations, so an item expires only when its reviewer has stopped working."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from evalboard.store.models import utcnow
from evalboard.store.review_models import ReviewItem, ReviewSession
from evalboard.store.team_models import QueueBatch, QueueClaim, ReviewQueue


def counts_toward(now: datetime) -> ColumnElement[bool]:
    """WHERE clause (on QueueClaim): an answer, or a reservation that has not expired."""
    return or_(QueueClaim.status == "done",
               and_(QueueClaim.status == "reserved", QueueClaim.expires_at > now))


def holders(queue_id: int, call_id: object, now: datetime, besides: str | None = None
            ) -> ColumnElement[int]:
    """Scalar subquery: how many reviewers (other than `besides`) answer or hold the item."""
    query = (select(func.count()).select_from(QueueClaim)
             .where(QueueClaim.queue_id == queue_id, QueueClaim.call_id == call_id,
                    counts_toward(now)))
    if besides is not None:
        query = query.where(QueueClaim.reviewer != besides)
    return query.scalar_subquery()


def batch_queue(session: Session, review_session_id: int) -> ReviewQueue | None:
    """The queue a review session was taken from, if it is a batch."""
    return session.scalar(select(ReviewQueue).join(
        QueueBatch, QueueBatch.queue_id == ReviewQueue.id)
        .where(QueueBatch.review_session_id == review_session_id))


def renew(session: Session, queue: ReviewQueue, review_session_id: int, now: datetime) -> None:
    """Push back the expiry of the batch's reservations that are still open."""
    session.execute(update(QueueClaim)
                    .where(QueueClaim.review_session_id == review_session_id,
                           QueueClaim.queue_id == queue.id, QueueClaim.status == "reserved")
                    .values(expires_at=now + timedelta(minutes=queue.reservation_minutes))
                    .execution_options(synchronize_session=False))


def reserve(session: Session, queue: ReviewQueue, call_id: int, reviewer: str,
            review_session_id: int, now: datetime) -> None:
    """Hold the item for the reviewer (a lapsed hold of theirs is taken up again)."""
    claim = session.get(QueueClaim, (queue.id, call_id, reviewer))
    if claim is None:
        claim = QueueClaim(queue_id=queue.id, call_id=call_id, reviewer=reviewer)
        session.add(claim)
    claim.status, claim.claimed_at = "reserved", now
    claim.expires_at = now + timedelta(minutes=queue.reservation_minutes)
    claim.answered_at, claim.annotation_id = None, None
    claim.review_session_id = review_session_id


def settle_in(session: Session, review_session_id: int, position: int) -> None:
    """Bring the claim of a batch's item in line with the item (done, skipped or pending
    again after an undo) and renew the batch's other reservations. Sessions that are not
    batches are left alone."""
    queue = batch_queue(session, review_session_id)
    if queue is None:
        return
    item = session.get(ReviewItem, (review_session_id, position))
    review = session.get(ReviewSession, review_session_id)
    assert item is not None and review is not None
    now = utcnow()
    if item.status == "pending":
        reserve(session, queue, item.call_id, review.reviewer, review_session_id, now)
    else:
        claim = session.get(QueueClaim, (queue.id, item.call_id, review.reviewer))
        if claim is None:
            claim = QueueClaim(queue_id=queue.id, call_id=item.call_id, reviewer=review.reviewer,
                               claimed_at=now, review_session_id=review_session_id)
            session.add(claim)
        claim.status = "done" if item.status == "done" else "skipped"
        claim.expires_at, claim.answered_at = now, now
        claim.annotation_id = item.annotation_id
    session.flush()
    renew(session, queue, review_session_id, now)
