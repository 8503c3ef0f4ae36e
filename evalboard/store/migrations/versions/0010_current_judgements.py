"""annotations.is_current: a reviewer's current judgement of a call, kept on write

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("annotations", sa.Column("is_current", sa.Boolean(), nullable=False,
                                           server_default=sa.false()))
    op.create_index("ix_annotations_current", "annotations",
                    ["is_current", "call_id", "verdict"])
    # Frozen at this revision: a reviewer's current judgement of a call is a live judge row
    # (not retracted) with no newer live judge row by the same reviewer on the same call.
    op.execute("""
        UPDATE annotations SET is_current = TRUE
        WHERE action = 'judge'
          AND NOT EXISTS (SELECT 1 FROM annotations own WHERE own.retracts_id = annotations.id)
          AND NOT EXISTS (
            SELECT 1 FROM annotations newer
            WHERE newer.call_id = annotations.call_id AND newer.reviewer = annotations.reviewer
              AND newer.id > annotations.id AND newer.action = 'judge'
              AND NOT EXISTS (SELECT 1 FROM annotations r WHERE r.retracts_id = newer.id))""")


def downgrade() -> None:
    op.drop_index("ix_annotations_current", table_name="annotations")
    # ALTER TABLE ... DROP COLUMN in place: a batch copy of the table would have to drop
    # `annotations`, which other tables' foreign keys name
    op.execute("ALTER TABLE annotations DROP COLUMN is_current")
