"""team review: queues with reservations, final answers (adjudication), comments, scores

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(table: str, column: str, target: str, ondelete: str | None = None
        ) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], ondelete=ondelete,
                                   name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    op.add_column("annotations", sa.Column("is_final", sa.Boolean(), nullable=False,
                                           server_default=sa.false()))
    op.create_index("ix_annotations_final", "annotations", ["is_final", "call_id", "verdict"])
    op.create_index("ix_annotations_final_verdict", "annotations",
                    ["is_final", "verdict", "call_id"])
    # Frozen at this revision: no call is adjudicated yet, so every current judgement is final.
    op.execute("UPDATE annotations SET is_final = is_current")
    op.add_column("users", sa.Column("can_adjudicate", sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.create_table(
        "score_configs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("minimum", sa.Float(), nullable=True),
        sa.Column("maximum", sa.Float(), nullable=True),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_score_configs"),
        sa.UniqueConstraint("name", name="uq_score_configs_name"),
    )
    op.create_table(
        "annotation_scores",
        sa.Column("annotation_id", sa.Integer(), nullable=False),
        sa.Column("score_config_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Float(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        _fk("annotation_scores", "annotation_id", "annotations", "CASCADE"),
        _fk("annotation_scores", "score_config_id", "score_configs"),
        sa.PrimaryKeyConstraint("annotation_id", "score_config_id", name="pk_annotation_scores"),
    )
    op.create_index("ix_annotation_scores_config", "annotation_scores",
                    ["score_config_id", "annotation_id"])
    op.create_table(
        "review_queues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("strategy", sa.String(length=32), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=True),
        sa.Column("reviewers_per_item", sa.Integer(), nullable=False),
        sa.Column("assignees", sa.JSON(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("reservation_minutes", sa.Integer(), nullable=False),
        sa.Column("score_config_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        _fk("review_queues", "score_config_id", "score_configs"),
        sa.PrimaryKeyConstraint("id", name="pk_review_queues"),
        sa.UniqueConstraint("name", name="uq_review_queues_name"),
    )
    op.create_table(
        "queue_items",
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        _fk("queue_items", "queue_id", "review_queues", "CASCADE"),
        _fk("queue_items", "call_id", "calls", "CASCADE"),
        sa.PrimaryKeyConstraint("queue_id", "position", name="pk_queue_items"),
        sa.UniqueConstraint("queue_id", "call_id", name="uq_queue_items_queue_call"),
    )
    op.create_index("ix_queue_items_call_id", "queue_items", ["call_id"])
    op.create_table(
        "queue_batches",
        sa.Column("review_session_id", sa.Integer(), nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        _fk("queue_batches", "review_session_id", "review_sessions", "CASCADE"),
        _fk("queue_batches", "queue_id", "review_queues", "CASCADE"),
        sa.PrimaryKeyConstraint("review_session_id", name="pk_queue_batches"),
    )
    op.create_index("ix_queue_batches_queue_id", "queue_batches", ["queue_id"])
    op.create_table(
        "queue_claims",
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("reviewer", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("annotation_id", sa.Integer(), nullable=True),
        sa.Column("review_session_id", sa.Integer(), nullable=True),
        _fk("queue_claims", "queue_id", "review_queues", "CASCADE"),
        _fk("queue_claims", "call_id", "calls", "CASCADE"),
        _fk("queue_claims", "annotation_id", "annotations", "SET NULL"),
        _fk("queue_claims", "review_session_id", "review_sessions", "SET NULL"),
        sa.PrimaryKeyConstraint("queue_id", "call_id", "reviewer", name="pk_queue_claims"),
    )
    op.create_index("ix_queue_claims_queue_status", "queue_claims",
                    ["queue_id", "status", "call_id"])
    op.create_index("ix_queue_claims_reviewer", "queue_claims", ["reviewer", "queue_id"])
    op.create_table(
        "call_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _fk("call_comments", "call_id", "calls", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_call_comments"),
    )
    op.create_index("ix_call_comments_call_id", "call_comments", ["call_id", "id"])
    op.create_index("ix_call_comments_author", "call_comments", ["author", "created_at"])


def downgrade() -> None:
    for table in ("call_comments", "queue_claims", "queue_batches", "queue_items",
                  "review_queues", "annotation_scores", "score_configs"):
        op.drop_table(table)
    op.drop_index("ix_annotations_final_verdict", table_name="annotations")
    op.drop_index("ix_annotations_final", table_name="annotations")
    # in place (see 0010): a batch copy would drop tables that others' foreign keys name
    op.execute("ALTER TABLE annotations DROP COLUMN is_final")
    op.execute("ALTER TABLE users DROP COLUMN can_adjudicate")
