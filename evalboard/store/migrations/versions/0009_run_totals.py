"""run totals: passes and score sums per finished run, label and check type

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

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
    for statement in _FILL_TOTALS:
        op.execute(statement)


# Frozen at this revision: a finished run's totals. Pass rates count pass / (pass + fail +
# error), missing cases do not count; per label only cases with a label; per check type every
# check row, with the count, sum and sum of squares of its scores.
_COLUMNS = "run_id, kind, key, passed, total, score_n, score_sum, score_squares"
_PASSED = "SUM(CASE WHEN r.status = 'pass' THEN 1 ELSE 0 END)"
_FINISHED = "JOIN eval_runs e ON e.id = r.run_id AND e.status = 'finished'"
_FILL_TOTALS = [
    f"""INSERT INTO run_totals ({_COLUMNS})
        SELECT r.run_id, 'run', '', {_PASSED}, COUNT(*), 0, 0.0, 0.0
        FROM case_results r {_FINISHED}
        WHERE r.status != 'missing' GROUP BY r.run_id""",
    f"""INSERT INTO run_totals ({_COLUMNS})
        SELECT r.run_id, 'label', v.label, {_PASSED}, COUNT(*), 0, 0.0, 0.0
        FROM case_results r {_FINISHED} JOIN case_versions v ON v.id = r.case_version_id
        WHERE r.status != 'missing' AND v.label IS NOT NULL GROUP BY r.run_id, v.label""",
    f"""INSERT INTO run_totals ({_COLUMNS})
        SELECT r.run_id, 'check', c.check_type,
               SUM(CASE WHEN c.passed THEN 1 ELSE 0 END), COUNT(*), COUNT(c.score),
               COALESCE(SUM(c.score), 0.0), COALESCE(SUM(c.score * c.score), 0.0)
        FROM check_results c JOIN case_results r ON r.id = c.case_result_id {_FINISHED}
        GROUP BY r.run_id, c.check_type""",
]


def downgrade() -> None:
    op.drop_table("run_totals")
