"""calls, model versions, id blocks and full-text search

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Frozen at this revision: the SQLite full-text table over calls and its triggers.
SQLITE_FTS_CREATE = [
    """CREATE VIRTUAL TABLE calls_fts USING fts5(
        input_text, output, content='calls', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER calls_fts_ai AFTER INSERT ON calls BEGIN
        INSERT INTO calls_fts(rowid, input_text, output)
        VALUES (new.id, new.input_text, new.output);
    END""",
    """CREATE TRIGGER calls_fts_ad AFTER DELETE ON calls BEGIN
        INSERT INTO calls_fts(calls_fts, rowid, input_text, output)
        VALUES ('delete', old.id, old.input_text, old.output);
    END""",
    """CREATE TRIGGER calls_fts_au AFTER UPDATE OF input_text, output ON calls BEGIN
        INSERT INTO calls_fts(calls_fts, rowid, input_text, output)
        VALUES ('delete', old.id, old.input_text, old.output);
        INSERT INTO calls_fts(rowid, input_text, output)
        VALUES (new.id, new.input_text, new.output);
    END""",
    "INSERT INTO calls_fts(calls_fts) VALUES ('rebuild')",
]
SQLITE_FTS_DROP = [
    "DROP TRIGGER IF EXISTS calls_fts_ai",
    "DROP TRIGGER IF EXISTS calls_fts_ad",
    "DROP TRIGGER IF EXISTS calls_fts_au",
    "DROP TABLE IF EXISTS calls_fts",
]


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("base_model", sa.String(length=200), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["model_versions.id"],
            name=op.f("fk_model_versions_parent_id_model_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
        sa.UniqueConstraint("name", name=op.f("uq_model_versions_name")),
    )
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("input_text", sa.Text(), nullable=False),
        sa.Column("input_messages", sa.JSON(), nullable=True),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("total_tokens", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("session_id", sa.String(length=200), nullable=True),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name=op.f("fk_calls_model_version_id_model_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
        sa.UniqueConstraint("source", "external_id", name="uq_calls_source_external_id"),
    )
    op.create_index("ix_calls_created_at_id", "calls", ["created_at", "id"])
    op.create_index(
        "ix_calls_version_created_at", "calls", ["model_version_id", "created_at", "id"]
    )
    op.create_index("ix_calls_source_created_at", "calls", ["source", "created_at", "id"])
    op.create_index("ix_calls_latency_id", "calls", ["latency_ms", "id"])
    op.create_index("ix_calls_tokens_id", "calls", ["total_tokens", "id"])
    op.create_index("ix_calls_session_id", "calls", ["session_id"])
    op.create_table(
        "id_blocks",
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("next_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("table_name", name=op.f("pk_id_blocks")),
    )
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_FTS_CREATE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_FTS_DROP:
            op.execute(statement)
    op.drop_table("id_blocks")
    op.drop_index("ix_calls_session_id", table_name="calls")
    op.drop_index("ix_calls_tokens_id", table_name="calls")
    op.drop_index("ix_calls_latency_id", table_name="calls")
    op.drop_index("ix_calls_source_created_at", table_name="calls")
    op.drop_index("ix_calls_version_created_at", table_name="calls")
    op.drop_index("ix_calls_created_at_id", table_name="calls")
    op.drop_table("calls")
    op.drop_table("model_versions")
