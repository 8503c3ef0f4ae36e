"""Typed ORM model of the people who may sign in (when access control is on)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from evalboard.store.models import Base, utcnow

ROLES = ("viewer", "reviewer", "admin")


class User(Base):
    """A local account (hashed password), or an identity-provider user's role (no password)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(200), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(10), default="viewer")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # a reviewer who may also record final answers where reviewers disagree (admins always may)
    can_adjudicate: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
