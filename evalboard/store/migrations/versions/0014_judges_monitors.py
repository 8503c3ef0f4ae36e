"""judges (versioned), judge result cache, judge results per call, align runs

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(columns: list[str], target: str, table: str, ondelete: str | None = None
        ) -> sa.ForeignKeyConstraint:
    referred = target.split(".")[0]
    return sa.ForeignKeyConstraint(columns, [target], ondelete=ondelete,
                                   name=op.f(f"fk_{table}_{columns[0]}_{referred}"))


def upgrade() -> None:
    op.create_table(
        "judges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("label_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _fk(["label_id"], "labels.id", "judges", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_judges")),
        sa.UniqueConstraint("name", name=op.f("uq_judges_name")),
    )
    op.create_table(
        "judge_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("judge_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("backend", sa.JSON(), nullable=False),
        sa.Column("output_mode", sa.String(length=10), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("examples", sa.JSON(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _fk(["judge_id"], "judges.id", "judge_versions", "CASCADE"),
        _fk(["parent_id"], "judge_versions.id", "judge_versions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_judge_versions")),
        sa.UniqueConstraint("judge_id", "version", name=op.f("uq_judge_versions_judge_id")),
    )
    op.create_table(
        "judge_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("judge_version_id", sa.Integer(), nullable=False),
        sa.Column("prompt_hash", sa.String(length=64), nullable=False),
        sa.Column("output_hash", sa.String(length=64), nullable=False),
        sa.Column("verdict", sa.String(length=10), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw_answer", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _fk(["judge_version_id"], "judge_versions.id", "judge_results", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_judge_results")),
        sa.UniqueConstraint("judge_version_id", "prompt_hash", "output_hash",
                            name=op.f("uq_judge_results_judge_version_id")),
    )
    op.create_table(
        "judge_call_results",
        sa.Column("judge_version_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _fk(["judge_version_id"], "judge_versions.id", "judge_call_results", "CASCADE"),
        _fk(["call_id"], "calls.id", "judge_call_results", "CASCADE"),
        _fk(["result_id"], "judge_results.id", "judge_call_results", "CASCADE"),
        sa.PrimaryKeyConstraint("judge_version_id", "call_id", name=op.f("pk_judge_call_results")),
    )
    op.create_index("ix_judge_call_results_call_id", "judge_call_results", ["call_id"])
    op.create_index("ix_judge_call_results_result_id", "judge_call_results", ["result_id"])
    op.create_table(
        "judge_align_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("judge_id", sa.Integer(), nullable=False),
        sa.Column("from_version_id", sa.Integer(), nullable=False),
        sa.Column("to_version_id", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("example_call_ids", sa.JSON(), nullable=False),
        sa.Column("eval_call_ids", sa.JSON(), nullable=False),
        sa.Column("kappa_before", sa.Float(), nullable=True),
        sa.Column("kappa_after", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _fk(["judge_id"], "judges.id", "judge_align_runs", "CASCADE"),
        _fk(["from_version_id"], "judge_versions.id", "judge_align_runs", "CASCADE"),
        _fk(["to_version_id"], "judge_versions.id", "judge_align_runs", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_judge_align_runs")),
    )
    op.create_index("ix_judge_align_runs_judge_id", "judge_align_runs", ["judge_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_judge_align_runs_judge_id", table_name="judge_align_runs")
    op.drop_table("judge_align_runs")
    op.drop_index("ix_judge_call_results_result_id", table_name="judge_call_results")
    op.drop_index("ix_judge_call_results_call_id", table_name="judge_call_results")
    op.drop_table("judge_call_results")
    op.drop_table("judge_results")
    op.drop_table("judge_versions")
    op.drop_table("judges")
