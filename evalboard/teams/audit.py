"""Who did what on a call: every answer, skip, undo, adjudication, comment and queue
reservation, in time order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evalboard.review.annotations import call_history
from evalboard.store.team_models import CallComment, QueueClaim, ReviewQueue

_ANSWER_WORDS = {"judge": "judged", "skip": "skipped", "retract": "undid",
                 "adjudicate": "adjudicated"}


@dataclass(frozen=True)
class AuditEvent:
    at: datetime
    who: str
    what: str  # judged, skipped, undid, adjudicated, commented, reserved, answered in queue…
    detail: str


def _answer_detail(verdict: str | None, labels: tuple[str, ...], note: str | None) -> str:
    parts = [verdict or "no verdict"]
    if labels:
        parts.append(", ".join(labels))
    if note:
        parts.append(f"note: {note[:80]}")
    return " · ".join(parts)


def call_audit(engine: Engine, call_id: int) -> list[AuditEvent]:
    """The call's events, oldest first."""
    events = []
    for view in call_history(engine, call_id):
        detail = (f"annotation #{view.id}" if view.action in ("skip", "retract") else
                  _answer_detail(view.verdict, view.labels, view.note))
        if view.retracted:
            detail += " (undone later)"
        events.append(AuditEvent(view.created_at, view.reviewer,
                                 _ANSWER_WORDS.get(view.action, view.action), detail))
    with Session(engine) as session:
        for comment in session.scalars(select(CallComment).where(CallComment.call_id == call_id)):
            events.append(AuditEvent(comment.created_at, comment.author, "commented",
                                     comment.body[:120]))
        for claim, queue_name in session.execute(
                select(QueueClaim, ReviewQueue.name)
                .join(ReviewQueue, ReviewQueue.id == QueueClaim.queue_id)
                .where(QueueClaim.call_id == call_id)):
            events.append(AuditEvent(claim.claimed_at, claim.reviewer, "took from queue",
                                     queue_name))
    return sorted(events, key=lambda event: event.at)
