"""Judges: versioned prompt templates with a backend, and their cached results.

A judge version never changes once written: editing a judge writes a new version whose
`parent_id` names the one it came from. Every result names the version that produced it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
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

OUTPUT_MODES = ("pass_fail", "score")
JUDGE_VERDICTS = ("pass", "fail")


class Judge(Base):
    """A named judge, for one label of the taxonomy or for the verdict as a whole."""

    __tablename__ = "judges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    label_id: Mapped[int | None] = mapped_column(ForeignKey("labels.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class JudgeVersion(Base):
    """One immutable version of a judge: template, backend, output mode, few-shot examples.

    `backend` holds the kind and its parameters (model directory or base URL, model name,
    temperature, max tokens, timeout, retries, the NAME of the environment variable holding an
    API key) and never a key itself.
    """

    __tablename__ = "judge_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    judge_id: Mapped[int] = mapped_column(ForeignKey("judges.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    template: Mapped[str] = mapped_column(Text)
    backend: Mapped[dict[str, Any]] = mapped_column(JSON)
    output_mode: Mapped[str] = mapped_column(String(10))
    threshold: Mapped[float | None] = mapped_column(Float)
    examples: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("judge_versions.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("judge_id", "version", name="uq_judge_versions_judge_id"),)


class JudgeResult(Base):
    """A judge version's answer to one rendered prompt on one output: the cache.

    Keyed by (version, sha256 of the rendered prompt, sha256 of the output); an answer that
    could not be used (`error`) is kept to be shown, and asked again on the next run.
    """

    __tablename__ = "judge_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    judge_version_id: Mapped[int] = mapped_column(
        ForeignKey("judge_versions.id", ondelete="CASCADE"))
    prompt_hash: Mapped[str] = mapped_column(String(64))
    output_hash: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[str | None] = mapped_column(String(10))
    score: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text, default="")
    raw_answer: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("judge_version_id", "prompt_hash", "output_hash",
                                       name="uq_judge_results_judge_version_id"),)


class JudgeCallResult(Base):
    """Which result a judge version gave on a logged call (its newest)."""

    __tablename__ = "judge_call_results"

    judge_version_id: Mapped[int] = mapped_column(
        ForeignKey("judge_versions.id", ondelete="CASCADE"), primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"),
                                         primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("judge_results.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (Index("ix_judge_call_results_call_id", "call_id"),
                      Index("ix_judge_call_results_result_id", "result_id"))


class JudgeAlignRun(Base):
    """One Align: the version it started from, the version it built, the seeded split of the
    human-labelled calls (examples never evaluated on) and κ before and after on the held-out
    calls."""

    __tablename__ = "judge_align_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    judge_id: Mapped[int] = mapped_column(ForeignKey("judges.id", ondelete="CASCADE"))
    from_version_id: Mapped[int] = mapped_column(
        ForeignKey("judge_versions.id", ondelete="CASCADE"))
    to_version_id: Mapped[int] = mapped_column(
        ForeignKey("judge_versions.id", ondelete="CASCADE"))
    seed: Mapped[int] = mapped_column(Integer)
    example_call_ids: Mapped[list[int]] = mapped_column(JSON)
    eval_call_ids: Mapped[list[int]] = mapped_column(JSON)
    kappa_before: Mapped[float | None] = mapped_column(Float)
    kappa_after: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (Index("ix_judge_align_runs_judge_id", "judge_id", "id"),)
