"""Typed ORM models of reviewing as a team: queues and their reservations, comments on calls,
and score configurations with the scores given under them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from evalboard.store.models import Base, utcnow

CLAIM_STATES = ("reserved", "done", "skipped")
SCORE_KINDS = ("rating", "numeric", "choice", "text")


class ScoreConfig(Base):
    """An answer type beyond the verdict: a 1–N rating, a number in a range, one choice of
    several, or free text."""

    __tablename__ = "score_configs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    minimum: Mapped[float | None] = mapped_column(Float)
    maximum: Mapped[float | None] = mapped_column(Float)
    choices: Mapped[list[str]] = mapped_column(JSON, default=list)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AnnotationScore(Base):
    """The score an annotation gave under one configuration (a number, or a text)."""

    __tablename__ = "annotation_scores"

    annotation_id: Mapped[int] = mapped_column(
        ForeignKey("annotations.id", ondelete="CASCADE"), primary_key=True)
    score_config_id: Mapped[int] = mapped_column(ForeignKey("score_configs.id"),
                                                 primary_key=True)
    number: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_annotation_scores_config", "score_config_id", "annotation_id"),)


class ReviewQueue(Base):
    """Calls that several reviewers work through: each item needs `reviewers_per_item`
    answers (1 splits the work, 2+ overlap for agreement), from its assignees (none named:
    everyone who may review). A reviewer takes items in batches; an item taken and not answered
    goes back to the queue after `reservation_minutes`."""

    __tablename__ = "review_queues"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    strategy: Mapped[str] = mapped_column(String(32))
    filters: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    reviewers_per_item: Mapped[int] = mapped_column(Integer, default=1)
    assignees: Mapped[list[str]] = mapped_column(JSON, default=list)
    due_on: Mapped[date | None] = mapped_column(Date)
    reservation_minutes: Mapped[int] = mapped_column(Integer, default=30)
    score_config_id: Mapped[int | None] = mapped_column(ForeignKey("score_configs.id"))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)


class QueueItem(Base):
    """One call's place in a queue."""

    __tablename__ = "queue_items"

    queue_id: Mapped[int] = mapped_column(ForeignKey("review_queues.id", ondelete="CASCADE"),
                                          primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))

    __table_args__ = (
        UniqueConstraint("queue_id", "call_id", name="uq_queue_items_queue_call"),
        Index("ix_queue_items_call_id", "call_id"),
    )


class QueueBatch(Base):
    """A review session that is a batch of items taken from a queue."""

    __tablename__ = "queue_batches"

    review_session_id: Mapped[int] = mapped_column(
        ForeignKey("review_sessions.id", ondelete="CASCADE"), primary_key=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("review_queues.id", ondelete="CASCADE"))

    __table_args__ = (Index("ix_queue_batches_queue_id", "queue_id"),)


class QueueClaim(Base):
    """A reviewer's hold on a queue item: `reserved` until `expires_at` (then it no longer
    counts and the item goes to someone else), `done` once answered, `skipped` when passed
    over (the item goes to someone else, never back to this reviewer)."""

    __tablename__ = "queue_claims"

    queue_id: Mapped[int] = mapped_column(ForeignKey("review_queues.id", ondelete="CASCADE"),
                                          primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"),
                                         primary_key=True)
    reviewer: Mapped[str] = mapped_column(String(200), primary_key=True)
    status: Mapped[str] = mapped_column(String(10), default="reserved")
    claimed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)
    annotation_id: Mapped[int | None] = mapped_column(
        ForeignKey("annotations.id", ondelete="SET NULL"))
    review_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("review_sessions.id", ondelete="SET NULL"))

    __table_args__ = (
        Index("ix_queue_claims_queue_status", "queue_id", "status", "call_id"),
        Index("ix_queue_claims_reviewer", "reviewer", "queue_id"),
    )


class CallComment(Base):
    """One message of a call's comment thread (append-only)."""

    __tablename__ = "call_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (Index("ix_call_comments_call_id", "call_id", "id"),
                      Index("ix_call_comments_author", "author", "created_at"))
