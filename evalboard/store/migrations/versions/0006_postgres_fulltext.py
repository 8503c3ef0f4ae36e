"""full-text index on PostgreSQL

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 15:02:00

A GIN expression index over the call's input and output (schema_extras.PG_FTS_DOCUMENT), the
PostgreSQL twin of the SQLite FTS5 table of 0001. No column is added: the index is kept up to
date by PostgreSQL itself. On SQLite this revision does nothing.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen at this revision (evalboard.store.pg_search queries the same expression).
PG_FTS_INDEX = "ix_calls_fulltext"
PG_FTS_DOCUMENT = "to_tsvector('simple', input_text || ' ' || coalesce(output, ''))"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX {PG_FTS_INDEX} ON calls USING gin ({PG_FTS_DOCUMENT})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {PG_FTS_INDEX}")
