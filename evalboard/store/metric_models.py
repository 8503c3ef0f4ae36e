"""Typed ORM model of metric targets: which metrics are core, and the value each should reach."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from evalboard.store.models import Base, utcnow

DIRECTIONS = ("min", "max")  # "max": higher is better (meet the target from above)


class MetricTarget(Base):
    """A metric (by catalogue key) the team watches: core or not, with an optional target."""

    __tablename__ = "metric_targets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    is_core: Mapped[bool] = mapped_column(Boolean, default=True)
    target: Mapped[float | None] = mapped_column(Float)
    direction: Mapped[str] = mapped_column(String(3))
    position: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
