"""a stored full-text document on PostgreSQL

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02

0006 indexed the expression `to_tsvector(...)`: the GIN index holds the words, not the
documents, so a query that walks another index (newest first, say) and tests the search on
each row computed the document of every row it passed: ~70 us a row, 3.9 s for a page of a
word in 0.1% of a million calls. The document is now a stored generated column
(`search_document`, computed once when a call is written) with the GIN index on it. Adding
the column rewrites `calls` (about a minute per million calls). On SQLite this revision does
nothing.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen at this revision (evalboard.store.schema_extras names the same objects).
PG_FTS_INDEX = "ix_calls_fulltext"
PG_FTS_COLUMN = "search_document"
PG_FTS_DOCUMENT = "to_tsvector('simple', input_text || ' ' || coalesce(output, ''))"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {PG_FTS_INDEX}")
        op.execute(f"ALTER TABLE calls ADD COLUMN {PG_FTS_COLUMN} tsvector "
                   f"GENERATED ALWAYS AS ({PG_FTS_DOCUMENT}) STORED")
        op.execute(f"CREATE INDEX {PG_FTS_INDEX} ON calls USING gin ({PG_FTS_COLUMN})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {PG_FTS_INDEX}")
        op.execute(f"ALTER TABLE calls DROP COLUMN IF EXISTS {PG_FTS_COLUMN}")
        op.execute(f"CREATE INDEX {PG_FTS_INDEX} ON calls USING gin ({PG_FTS_DOCUMENT})")
