"""run totals: passes and score sums per finished run, label and check type

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from evalboard.runs.totals import record_run_totals

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "run_totals",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=5), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("passed", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("score_n", sa.Integer(), nullable=False),
        sa.Column("score_sum", sa.Float(), nullable=False),
        sa.Column("score_squares", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["eval_runs.id"], ondelete="CASCADE",
                                name=op.f("fk_run_totals_run_id_eval_runs")),
        sa.PrimaryKeyConstraint("run_id", "kind", "key", name=op.f("pk_run_totals")),
    )
    conn = op.get_bind()
    for (run_id,) in conn.execute(sa.text("SELECT id FROM eval_runs WHERE status = 'finished'")):
        record_run_totals(conn, run_id)


def downgrade() -> None:
    op.drop_table("run_totals")
