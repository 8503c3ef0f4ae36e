"""`INSERT ... ON CONFLICT` for the store's dialect: SQLAlchemy spells it alike for SQLite and
PostgreSQL, from two modules; this is the one place that picks."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert


def conflict_insert(dialect_name: str, table: Any) -> Any:
    """An insert into `table` that takes `.on_conflict_do_nothing()` / `_do_update()`."""
    return (pg_insert if dialect_name == "postgresql" else sqlite_insert)(table)
