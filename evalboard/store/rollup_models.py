"""Typed ORM models of the call rollups: per day, model version and source, kept current on
every write of calls (evalboard.store.rollups), so charts over a million calls read a few
thousand rows instead of every call."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from evalboard.store.models import Base


class CallDay(Base):
    """Counts and sums of the calls of one UTC day, model version and source."""

    __tablename__ = "call_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    model_version_id: Mapped[int] = mapped_column(
        ForeignKey("model_versions.id"), primary_key=True)
    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    calls: Mapped[int] = mapped_column(Integer)
    errors: Mapped[int] = mapped_column(Integer)
    latency_calls: Mapped[int] = mapped_column(Integer)
    latency_sum: Mapped[float] = mapped_column(Float)
    prompt_token_calls: Mapped[int] = mapped_column(Integer)
    prompt_tokens: Mapped[int] = mapped_column(BigInteger)
    completion_token_calls: Mapped[int] = mapped_column(Integer)
    completion_tokens: Mapped[int] = mapped_column(BigInteger)


class CallLatencyDay(Base):
    """How many calls of one day, version and source fell in one latency bucket (a log-scale
    histogram: see evalboard.store.rollups.latency_bucket)."""

    __tablename__ = "call_latency_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    model_version_id: Mapped[int] = mapped_column(
        ForeignKey("model_versions.id"), primary_key=True)
    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    calls: Mapped[int] = mapped_column(Integer)
