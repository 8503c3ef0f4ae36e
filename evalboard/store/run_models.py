"""Typed ORM models of eval runs: a run, a result per case, a result per check."""

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

RUN_STATUSES = ("running", "finished", "interrupted")
RESULT_STATUSES = ("pass", "fail", "error", "missing")


class EvalRun(Base):
    """One suite run against one model version by one generator."""

    __tablename__ = "eval_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    suite_id: Mapped[int] = mapped_column(ForeignKey("suites.id", ondelete="CASCADE"))
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    generator: Mapped[str] = mapped_column(String(20))
    generator_config: Mapped[dict[str, Any]] = mapped_column(JSON)
    selection: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default="running")
    total_cases: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        Index("ix_eval_runs_suite_version", "suite_id", "model_version_id", "id"),
    )


class CaseResult(Base):
    """A case's outcome in a run, with the case version that ran and the call it produced."""

    __tablename__ = "case_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("eval_runs.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("test_cases.id", ondelete="CASCADE"))
    case_version_id: Mapped[int] = mapped_column(ForeignKey("case_versions.id"))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(10))
    passed: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[float] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("run_id", "case_id", name="uq_case_results_run_case"),
        Index("ix_case_results_call_id", "call_id"),
        Index("ix_case_results_case_id", "case_id"),
    )


class CheckResultRow(Base):
    """One check's outcome inside a case result, with the parameters it ran with."""

    __tablename__ = "check_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_result_id: Mapped[int] = mapped_column(
        ForeignKey("case_results.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    check_type: Mapped[str] = mapped_column(String(50))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    negate: Mapped[bool] = mapped_column(Boolean)
    weight: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    passed: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_check_results_case_result", "case_result_id", "position"),
        Index("ix_check_results_type", "check_type"),
    )


class RunTotal(Base):
    """A finished run's passes and score sums: for the run ("run", key ""), per case label
    ("label") and per check type ("check"). Written when the run finishes
    (evalboard.runs.totals), so charts across versions never re-read every result."""

    __tablename__ = "run_totals"

    run_id: Mapped[int] = mapped_column(ForeignKey("eval_runs.id", ondelete="CASCADE"),
                                        primary_key=True)
    kind: Mapped[str] = mapped_column(String(5), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    passed: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    score_n: Mapped[int] = mapped_column(Integer)
    score_sum: Mapped[float] = mapped_column(Float)
    score_squares: Mapped[float] = mapped_column(Float)
