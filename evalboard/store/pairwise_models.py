"""Pairwise review answers: which of two versions' outputs for one input was better."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from evalboard.store.models import Base, utcnow

OUTCOMES = ("a", "b", "tie", "both_bad")
SIDES = ("a", "b")

pairwise_answer_labels = Table(
    "pairwise_answer_labels",
    Base.metadata,
    Column("answer_id", ForeignKey("pairwise_answers.id", ondelete="CASCADE"), primary_key=True),
    Column("side", String(1), primary_key=True),
    Column("label_id", ForeignKey("labels.id"), primary_key=True),
    Index("ix_pairwise_answer_labels_label_id", "label_id"),
)


class PairwiseSession(Base):
    """A blind queue of input-matched call pairs of two model versions, picked by a strategy."""

    __tablename__ = "pairwise_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    reviewer: Mapped[str] = mapped_column(String(200))
    version_a_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    version_b_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    strategy: Mapped[str] = mapped_column(String(32))
    filters: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    size: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    seed: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (
        Index("ix_pairwise_sessions_reviewer_created_at", "reviewer", "created_at"),
    )


class PairwiseItem(Base):
    """One pair's place in a pairwise session, with the side version A is shown on."""

    __tablename__ = "pairwise_items"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("pairwise_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_a_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    call_b_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    left_is_a: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(10), default="pending", server_default="pending")
    answer_id: Mapped[int | None] = mapped_column(ForeignKey("pairwise_answers.id"))

    __table_args__ = (
        Index("ix_pairwise_items_call_a_id", "call_a_id"),
        Index("ix_pairwise_items_call_b_id", "call_b_id"),
    )


class PairwiseAnswer(Base):
    """One reviewer's verdict on a pair, in version terms. Rows are only appended: a row with
    `retracts_id` undoes the row it names; the reviewer's newest unretracted answer on a pair
    is `is_current` (kept on every write by evalboard.pairwise.answers)."""

    __tablename__ = "pairwise_answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    reviewer: Mapped[str] = mapped_column(String(200))
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("pairwise_sessions.id", ondelete="SET NULL")
    )
    call_a_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    call_b_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    outcome: Mapped[str | None] = mapped_column(String(10))
    left_was_a: Mapped[bool | None] = mapped_column(Boolean)
    note_a: Mapped[str | None] = mapped_column(Text)
    note_b: Mapped[str | None] = mapped_column(Text)
    seconds: Mapped[float | None] = mapped_column(Float)
    retracts_id: Mapped[int | None] = mapped_column(ForeignKey("pairwise_answers.id"))
    is_current: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    __table_args__ = (
        Index("ix_pairwise_answers_pair", "call_a_id", "call_b_id"),
        Index("ix_pairwise_answers_reviewer_created_at", "reviewer", "created_at"),
        Index("ix_pairwise_answers_current", "is_current", "call_a_id", "call_b_id"),
        Index("ix_pairwise_answers_retracts_id", "retracts_id"),
        Index("ix_pairwise_answers_session_id", "session_id"),
        Index("ix_pairwise_answers_call_b_id", "call_b_id"),
    )
