"""call rollups per day, model version and source (counts, sums, latency histogram)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from evalboard.store.rollups import rebuild_rollups

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY_COLUMNS = ("day", "model_version_id", "source")


def _key_columns() -> list[sa.Column]:
    return [sa.Column("day", sa.Date(), nullable=False),
            sa.Column("model_version_id", sa.Integer(), nullable=False),
            sa.Column("source", sa.String(length=16), nullable=False)]


def _version_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["model_version_id"], ["model_versions.id"],
                                   name=op.f(f"fk_{table}_model_version_id_model_versions"))


def upgrade() -> None:
    counts = ("calls", "errors", "latency_calls")
    op.create_table(
        "call_days",
        *_key_columns(),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in counts),
        sa.Column("latency_sum", sa.Float(), nullable=False),
        sa.Column("prompt_token_calls", sa.Integer(), nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger(), nullable=False),
        sa.Column("completion_token_calls", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), nullable=False),
        _version_key("call_days"),
        sa.PrimaryKeyConstraint(*KEY_COLUMNS, name=op.f("pk_call_days")),
    )
    op.create_table(
        "call_latency_days",
        *_key_columns(),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        _version_key("call_latency_days"),
        sa.PrimaryKeyConstraint(*KEY_COLUMNS, "bucket", name=op.f("pk_call_latency_days")),
    )
    rebuild_rollups(op.get_bind())


def downgrade() -> None:
    op.drop_table("call_latency_days")
    op.drop_table("call_days")
