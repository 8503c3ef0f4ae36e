"""Typed ORM models of test cases: suites, versioned cases, their tags and provenance."""

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
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from evalboard.store.models import Base, utcnow

CASE_MODES = ("success", "failure")
SEVERITIES = ("low", "medium", "high", "critical")

case_tags = Table(
    "case_tags",
    Base.metadata,
    Column("case_id", ForeignKey("test_cases.id", ondelete="CASCADE"), primary_key=True),
    Column("tag", String(100), primary_key=True),
    Index("ix_case_tags_tag", "tag"),
)


class Suite(Base):
    """A named collection of test cases (a regression suite)."""

    __tablename__ = "suites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class EvalCase(Base):
    """A test case. Its content lives in versions; the row keeps identity, state, provenance,
    and copies of the current version's filterable fields (mode, label, severity)."""

    __tablename__ = "test_cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    suite_id: Mapped[int] = mapped_column(ForeignKey("suites.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    mode: Mapped[str] = mapped_column(String(10))
    label: Mapped[str | None] = mapped_column(String(100))
    severity: Mapped[str] = mapped_column(String(10), default="medium")
    origin_call_id: Mapped[int | None] = mapped_column(
        ForeignKey("calls.id", ondelete="SET NULL"))
    origin_model_version: Mapped[str | None] = mapped_column(String(200))
    origin_reviewer: Mapped[str | None] = mapped_column(String(200))
    origin_labels: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    origin_note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    suite: Mapped[Suite] = relationship()

    __table_args__ = (
        UniqueConstraint("suite_id", "name", name="uq_test_cases_suite_name"),
        Index("ix_test_cases_origin_call_id", "origin_call_id"),
        Index("ix_test_cases_label", "label"),
    )


class CaseVersion(Base):
    """One immutable version of a case's content; results record which version ran."""

    __tablename__ = "case_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("test_cases.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    input_text: Mapped[str] = mapped_column(Text)
    input_messages: Mapped[list[dict[str, Any]] | None] = mapped_column(
        JSON(none_as_null=True))
    mode: Mapped[str] = mapped_column(String(10))
    label: Mapped[str | None] = mapped_column(String(100))
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    references: Mapped[list[str]] = mapped_column(JSON)
    expected_entities: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    tags: Mapped[list[str]] = mapped_column(JSON)
    severity: Mapped[str] = mapped_column(String(10))
    threshold: Mapped[float | None] = mapped_column(Float)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("case_id", "version", name="uq_case_versions_case_version"),)
