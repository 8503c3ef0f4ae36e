"""annotations.is_current: a reviewer's current judgement of a call, kept on write

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from evalboard.review.annotations import rebuild_current_flags

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("annotations", sa.Column("is_current", sa.Boolean(), nullable=False,
                                           server_default=sa.false()))
    op.create_index("ix_annotations_current", "annotations",
                    ["is_current", "call_id", "verdict"])
    rebuild_current_flags(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_annotations_current", table_name="annotations")
    # ALTER TABLE ... DROP COLUMN in place: a batch copy of the table would have to drop
    # `annotations`, which other tables' foreign keys name
    op.execute("ALTER TABLE annotations DROP COLUMN is_current")
