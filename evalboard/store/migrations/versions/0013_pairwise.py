"""pairwise review: answers comparing two versions' outputs for one input

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pairwise_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("reviewer", sa.String(length=200), nullable=False),
        sa.Column("version_a_id", sa.Integer(), nullable=False),
        sa.Column("version_b_id", sa.Integer(), nullable=False),
        sa.Column("strategy", sa.String(length=32), nullable=False),
        sa.Column("filters", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["version_a_id"], ["model_versions.id"],
                                name=op.f("fk_pairwise_sessions_version_a_id_model_versions")),
        sa.ForeignKeyConstraint(["version_b_id"], ["model_versions.id"],
                                name=op.f("fk_pairwise_sessions_version_b_id_model_versions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pairwise_sessions")),
    )
    op.create_index("ix_pairwise_sessions_reviewer_created_at", "pairwise_sessions",
                    ["reviewer", "created_at"])

    op.create_table(
        "pairwise_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("reviewer", sa.String(length=200), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("call_a_id", sa.Integer(), nullable=False),
        sa.Column("call_b_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=True),
        sa.Column("left_was_a", sa.Boolean(), nullable=True),
        sa.Column("note_a", sa.Text(), nullable=True),
        sa.Column("note_b", sa.Text(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("retracts_id", sa.Integer(), nullable=True),
        sa.Column("is_current", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.ForeignKeyConstraint(["session_id"], ["pairwise_sessions.id"],
                                name=op.f("fk_pairwise_answers_session_id_pairwise_sessions"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["call_a_id"], ["calls.id"],
                                name=op.f("fk_pairwise_answers_call_a_id_calls"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["call_b_id"], ["calls.id"],
                                name=op.f("fk_pairwise_answers_call_b_id_calls"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["retracts_id"], ["pairwise_answers.id"],
                                name=op.f("fk_pairwise_answers_retracts_id_pairwise_answers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pairwise_answers")),
    )
    op.create_index("ix_pairwise_answers_pair", "pairwise_answers", ["call_a_id", "call_b_id"])
    op.create_index("ix_pairwise_answers_reviewer_created_at", "pairwise_answers",
                    ["reviewer", "created_at"])
    op.create_index("ix_pairwise_answers_current", "pairwise_answers",
                    ["is_current", "call_a_id", "call_b_id"])
    op.create_index("ix_pairwise_answers_retracts_id", "pairwise_answers", ["retracts_id"])
    op.create_index("ix_pairwise_answers_session_id", "pairwise_answers", ["session_id"])
    op.create_index("ix_pairwise_answers_call_b_id", "pairwise_answers", ["call_b_id"])

    op.create_table(
        "pairwise_items",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("call_a_id", sa.Integer(), nullable=False),
        sa.Column("call_b_id", sa.Integer(), nullable=False),
        sa.Column("left_is_a", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False, server_default="pending"),
        sa.Column("answer_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["session_id"], ["pairwise_sessions.id"],
                                name=op.f("fk_pairwise_items_session_id_pairwise_sessions"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["call_a_id"], ["calls.id"],
                                name=op.f("fk_pairwise_items_call_a_id_calls"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["call_b_id"], ["calls.id"],
                                name=op.f("fk_pairwise_items_call_b_id_calls"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["answer_id"], ["pairwise_answers.id"],
                                name=op.f("fk_pairwise_items_answer_id_pairwise_answers")),
        sa.PrimaryKeyConstraint("session_id", "position", name=op.f("pk_pairwise_items")),
    )
    op.create_index("ix_pairwise_items_call_a_id", "pairwise_items", ["call_a_id"])
    op.create_index("ix_pairwise_items_call_b_id", "pairwise_items", ["call_b_id"])

    op.create_table(
        "pairwise_answer_labels",
        sa.Column("answer_id", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(length=1), nullable=False),
        sa.Column("label_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["answer_id"], ["pairwise_answers.id"],
            name=op.f("fk_pairwise_answer_labels_answer_id_pairwise_answers"),
            ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["label_id"], ["labels.id"],
                                name=op.f("fk_pairwise_answer_labels_label_id_labels")),
        sa.PrimaryKeyConstraint("answer_id", "side", "label_id",
                                name=op.f("pk_pairwise_answer_labels")),
    )
    op.create_index("ix_pairwise_answer_labels_label_id", "pairwise_answer_labels", ["label_id"])


def downgrade() -> None:
    op.drop_index("ix_pairwise_answer_labels_label_id", table_name="pairwise_answer_labels")
    op.drop_table("pairwise_answer_labels")
    op.drop_index("ix_pairwise_items_call_b_id", table_name="pairwise_items")
    op.drop_index("ix_pairwise_items_call_a_id", table_name="pairwise_items")
    op.drop_table("pairwise_items")
    for name in ("call_b_id", "session_id", "retracts_id", "current", "reviewer_created_at",
                 "pair"):
        op.drop_index(f"ix_pairwise_answers_{name}", table_name="pairwise_answers")
    op.drop_table("pairwise_answers")
    op.drop_index("ix_pairwise_sessions_reviewer_created_at", table_name="pairwise_sessions")
    op.drop_table("pairwise_sessions")
