"""Monitors: checks, a filter and a sampling rate applied to calls as they arrive."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
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


class Monitor(Base):
    """A set of check specs (as test cases store them), a call filter and a sampling rate."""

    __tablename__ = "monitors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # The filter: model version names (empty: every version), one source (None: every
    # source) and metadata key=value pairs that must all hold.
    model_versions: Mapped[list[str]] = mapped_column(JSON)
    source: Mapped[str | None] = mapped_column(String(16))
    metadata_filter: Mapped[dict[str, str]] = mapped_column(JSON)
    sampling_rate: Mapped[float] = mapped_column(Float, default=1.0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class MonitorCursor(Base):
    """The last call id a monitor has processed: the worker resumes after it. Calls at or
    below `start_call_id` (stored before the monitor, when it did not backfill) are never
    checked."""

    __tablename__ = "monitor_cursors"

    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"),
                                            primary_key=True)
    last_call_id: Mapped[int] = mapped_column(Integer, default=0)
    start_call_id: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class MonitorResult(Base):
    """One check of a monitor on one call; written with the cursor's advance, once."""

    __tablename__ = "monitor_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    model_version_id: Mapped[int] = mapped_column(Integer)  # the call's, for per-version rates
    call_created_at: Mapped[datetime] = mapped_column(DateTime)  # the call's, for per-day rates
    check_name: Mapped[str] = mapped_column(String(200))
    passed: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text)
    judge_version_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("monitor_id", "call_id", "check_name",
                         name="uq_monitor_results_monitor_call_check"),
        Index("ix_monitor_results_failing", "monitor_id", "passed", "call_id"),
        Index("ix_monitor_results_call", "call_id"),
        Index("ix_monitor_results_rates", "monitor_id", "model_version_id", "call_created_at",
              "passed"),
    )
