"""review answers sent by the focus view: a client sequence number per session, stored once

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # One row per action the browser sent (judge, skip, undo, move), keyed by the page that
    # sent it and its sequence number there: a resent action finds its row and is not applied
    # twice.
    op.create_table(
        "review_answers",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("annotation_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["annotation_id"], ["annotations.id"],
            name=op.f("fk_review_answers_annotation_id_annotations"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["session_id"], ["review_sessions.id"],
            name=op.f("fk_review_answers_session_id_review_sessions"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("session_id", "client_id", "seq", name=op.f("pk_review_answers")),
    )


def downgrade() -> None:
    op.drop_table("review_answers")
