"""Typed ORM models of the store."""

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
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from evalboard import clock

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SOURCES = ("production", "eval", "import")


def utcnow() -> datetime:
    """Naive UTC now (from `evalboard.clock`): the store keeps every timestamp in UTC."""
    return clock.now()


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ModelVersion(Base):
    """A named version of a model: the main axis of every chart."""

    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    base_model: Mapped[str | None] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    parent: Mapped[ModelVersion | None] = relationship(remote_side=[id])


class Call(Base):
    """One logged model invocation.

    Ids come from the id allocator (``store.ids``) so a client can hand an id back before the
    row is written; they grow with time within each writer.
    """

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    source: Mapped[str] = mapped_column(String(16), default="production")
    input_text: Mapped[str] = mapped_column(Text, default="")
    input_messages: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON(none_as_null=True))
    output: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    total_tokens: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON(none_as_null=True))
    session_id: Mapped[str | None] = mapped_column(String(200))
    external_id: Mapped[str | None] = mapped_column(String(200))
    # sha1 of the normalised input (see records.input_hash): replay finds a case's calls by it
    input_hash: Mapped[str | None] = mapped_column(String(40))

    model_version: Mapped[ModelVersion] = relationship()

    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_calls_source_external_id"),
        Index("ix_calls_created_at_id", "created_at", "id"),
        Index("ix_calls_version_created_at", "model_version_id", "created_at", "id"),
        Index("ix_calls_source_created_at", "source", "created_at", "id"),
        Index("ix_calls_latency_id", "latency_ms", "id"),
        Index("ix_calls_tokens_id", "total_tokens", "id"),
        Index("ix_calls_session_id", "session_id"),
        Index("ix_calls_version_input_hash", "model_version_id", "input_hash"),
        Index("ix_calls_version_latency", "model_version_id", "source", "latency_ms", "created_at",
              "prompt_tokens", "completion_tokens", error.column.is_not(None)),
    )


class IdBlock(Base):
    """The next free id of a table; writers reserve blocks of ids from it."""

    __tablename__ = "id_blocks"

    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_id: Mapped[int] = mapped_column(Integer, default=1)
