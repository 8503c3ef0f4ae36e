"""monitors: checks applied to calls as they arrive, a cursor per monitor, their results

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "monitors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("model_versions", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=True),
        sa.Column("metadata_filter", sa.JSON(), nullable=False),
        sa.Column("sampling_rate", sa.Float(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_monitors"),
        sa.UniqueConstraint("name", name="uq_monitors_name"),
    )
    op.create_table(
        "monitor_cursors",
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("last_call_id", sa.Integer(), nullable=False),
        sa.Column("start_call_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["monitor_id"], ["monitors.id"], ondelete="CASCADE",
                                name="fk_monitor_cursors_monitor_id_monitors"),
        sa.PrimaryKeyConstraint("monitor_id", name="pk_monitor_cursors"),
    )
    op.create_table(
        "monitor_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("call_created_at", sa.DateTime(), nullable=False),
        sa.Column("check_name", sa.String(length=200), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("judge_version_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], ondelete="CASCADE",
                                name="fk_monitor_results_call_id_calls"),
        sa.ForeignKeyConstraint(["monitor_id"], ["monitors.id"], ondelete="CASCADE",
                                name="fk_monitor_results_monitor_id_monitors"),
        sa.PrimaryKeyConstraint("id", name="pk_monitor_results"),
        sa.UniqueConstraint("monitor_id", "call_id", "check_name",
                            name="uq_monitor_results_monitor_call_check"),
    )
    op.create_index("ix_monitor_results_failing", "monitor_results",
                    ["monitor_id", "passed", "call_id"])
    op.create_index("ix_monitor_results_call", "monitor_results", ["call_id"])
    op.create_index("ix_monitor_results_rates", "monitor_results",
                    ["monitor_id", "model_version_id", "call_created_at", "passed"])


def downgrade() -> None:
    op.drop_index("ix_monitor_results_rates", table_name="monitor_results")
    op.drop_index("ix_monitor_results_call", table_name="monitor_results")
    op.drop_index("ix_monitor_results_failing", table_name="monitor_results")
    op.drop_table("monitor_results")
    op.drop_table("monitor_cursors")
    op.drop_table("monitors")
