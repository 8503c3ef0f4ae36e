"""Typed ORM models of reviewing: labels, append-only annotations, review sessions, settings."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from evalboard.store.models import Base, utcnow

if TYPE_CHECKING:
    from evalboard.store.team_models import AnnotationScore

LABEL_KINDS = ("failure", "success")
VERDICTS = ("pass", "fail", "unsure")
ACTIONS = ("judge", "skip", "retract", "adjudicate")

annotation_labels = Table(
    "annotation_labels",
    Base.metadata,
    Column("annotation_id", ForeignKey("annotations.id", ondelete="CASCADE"), primary_key=True),
    Column("label_id", ForeignKey("labels.id"), primary_key=True),
    Index("ix_annotation_labels_label_id", "label_id"),
)


class Label(Base):
    """An entry of the failure/success taxonomy; a used label is archived, never deleted."""

    __tablename__ = "labels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    description: Mapped[str] = mapped_column(Text, default="")
    color: Mapped[str] = mapped_column(String(7), default="#868e96")
    shortcut: Mapped[str | None] = mapped_column(String(1))
    position: Mapped[int] = mapped_column(Integer, default=0)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Annotation(Base):
    """One reviewer's action on a call. Rows are only appended: a `retract` row undoes the row
    it names, and a reviewer's newest unretracted `judge` row is their current judgement
    (`is_current`, kept on every write by evalboard.review.annotations)."""

    __tablename__ = "annotations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    reviewer: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(10), default="judge")
    verdict: Mapped[str | None] = mapped_column(String(10))
    note: Mapped[str | None] = mapped_column(Text)
    corrected_output: Mapped[str | None] = mapped_column(Text)
    seconds_spent: Mapped[float | None] = mapped_column(Float)
    retracts_id: Mapped[int | None] = mapped_column(ForeignKey("annotations.id"))
    batch_id: Mapped[str | None] = mapped_column(String(36))
    review_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("review_sessions.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    is_current: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The call's final answer: its newest live `adjudicate` row when it has one, else every
    # current judgement (kept on every write by evalboard.review.annotations). Metrics,
    # exports and promotion read final answers; agreement reads current judgements.
    is_final: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    labels: Mapped[list[Label]] = relationship(
        secondary=annotation_labels, lazy="selectin", order_by=lambda: (Label.position, Label.id)
    )
    # scores under score configurations (evalboard.store.team_models), written with the row
    scores: Mapped[list[AnnotationScore]] = relationship(cascade="all")

    __table_args__ = (
        Index("ix_annotations_call_reviewer", "call_id", "reviewer", "id"),
        Index("ix_annotations_reviewer_created_at", "reviewer", "created_at"),
        Index("ix_annotations_created_at", "created_at"),
        Index("ix_annotations_retracts_id", "retracts_id"),
        Index("ix_annotations_batch_id", "batch_id"),
        Index("ix_annotations_current", "is_current", "call_id", "verdict"),
        # Browse's review-state filters (migration 0011)
        Index("ix_annotations_current_verdict", "is_current", "verdict", "call_id"),
        Index("ix_annotations_current_reviewer", "is_current", "reviewer", "call_id"),
        # the same two for final answers (migration 0016): metrics, exports, promotion
        Index("ix_annotations_final", "is_final", "call_id", "verdict"),
        Index("ix_annotations_final_verdict", "is_final", "verdict", "call_id"),
        Index("ix_annotations_corrected", "is_current", "call_id",
              sqlite_where=text("corrected_output IS NOT NULL"),
              postgresql_where=text("corrected_output IS NOT NULL")),
    )


class ReviewSession(Base):
    """A daily "look at your data" queue of calls picked by a strategy."""

    __tablename__ = "review_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    reviewer: Mapped[str] = mapped_column(String(200))
    strategy: Mapped[str] = mapped_column(String(32))
    filters: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    size: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (Index("ix_review_sessions_reviewer_created_at", "reviewer", "created_at"),)


class ReviewItem(Base):
    """One call's place in a review session."""

    __tablename__ = "review_items"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("review_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    annotation_id: Mapped[int | None] = mapped_column(ForeignKey("annotations.id"))

    __table_args__ = (
        UniqueConstraint("session_id", "call_id", name="uq_review_items_session_call"),
        Index("ix_review_items_call_id", "call_id"),
    )


class ReviewAnswer(Base):
    """One action the focus view sent (judge, skip, undo, move), stored once: the page that
    sent it (`client_id`) and its sequence number there are the key, so a resent action is
    recognised and not applied again. `error` says why an action was refused."""

    __tablename__ = "review_answers"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("review_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    position: Mapped[int | None] = mapped_column(Integer)
    annotation_id: Mapped[int | None] = mapped_column(
        ForeignKey("annotations.id", ondelete="SET NULL")
    )
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Setting(Base):
    """A named piece of configuration kept in the store (e.g. the review guidelines)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class CallEmbedding(Base):
    """Normalised sentence embeddings of a call's input and output (float32 bytes)."""

    __tablename__ = "call_embeddings"

    call_id: Mapped[int] = mapped_column(
        ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True
    )
    model: Mapped[str] = mapped_column(String(200))
    input_vector: Mapped[bytes] = mapped_column(LargeBinary)
    output_vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# Annotation.scores names a class of team_models: import it wherever annotations are mapped
# (a process that reads only review models must still configure its mappers).
from evalboard.store import team_models  # noqa: E402, F401
