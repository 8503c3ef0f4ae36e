"""Browse by review state: indexes for verdict, label, reviewer, corrected output, promoted filters

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


CORRECTED = "corrected_output IS NOT NULL"


def upgrade() -> None:
    # current judgements by verdict and by reviewer, each with the call they judge (covering)
    op.create_index("ix_annotations_current_verdict", "annotations",
                    ["is_current", "verdict", "call_id"])
    op.create_index("ix_annotations_current_reviewer", "annotations",
                    ["is_current", "reviewer", "call_id"])
    # judgements with a corrected output: few, so a partial index
    op.create_index("ix_annotations_corrected", "annotations", ["is_current", "call_id"],
                    sqlite_where=sa.text(CORRECTED), postgresql_where=sa.text(CORRECTED))


def downgrade() -> None:
    op.drop_index("ix_annotations_corrected", table_name="annotations")
    op.drop_index("ix_annotations_current_reviewer", table_name="annotations")
    op.drop_index("ix_annotations_current_verdict", table_name="annotations")
