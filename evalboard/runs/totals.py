"""Write a finished run's totals (evalboard.store.run_models.RunTotal) from its results.

Pass rates count like `RunSummary`: a case passes / (pass + fail + error), missing cases do not
count; per label only cases with a label; per check type every check row of that type, with
the count, sum and sum of squares of its scores for the reference-score intervals.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, case, delete, func, insert, literal, select

from evalboard.store.case_models import CaseVersion
from evalboard.store.run_models import CaseResult, CheckResultRow, RunTotal

COLUMNS = ["run_id", "kind", "key", "passed", "total", "score_n", "score_sum", "score_squares"]


def count_if(condition: Any) -> Any:
    """SQL: how many rows meet the condition (0, not NULL, over no rows)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def record_run_totals(conn: Connection, run_id: int) -> None:
    """Replace the run's totals with sums over its results (call when it finishes)."""
    conn.execute(delete(RunTotal).where(RunTotal.run_id == run_id))
    scored = CaseResult.status != "missing"
    zero, no_score = literal(0), literal(0.0)
    whole = (select(literal(run_id), literal("run"), literal(""),
                    count_if(CaseResult.status == "pass"), func.count(), zero, no_score,
                    no_score)
             .where(CaseResult.run_id == run_id, scored)
             .having(func.count() > 0))
    labels = (select(literal(run_id), literal("label"), CaseVersion.label,
                     count_if(CaseResult.status == "pass"), func.count(), zero, no_score,
                     no_score)
              .join(CaseVersion, CaseVersion.id == CaseResult.case_version_id)
              .where(CaseResult.run_id == run_id, scored, CaseVersion.label.is_not(None))
              .group_by(CaseVersion.label))
    score = CheckResultRow.score
    checks = (select(literal(run_id), literal("check"), CheckResultRow.check_type,
                     count_if(CheckResultRow.passed), func.count(), func.count(score),
                     func.coalesce(func.sum(score), 0.0),
                     func.coalesce(func.sum(score * score), 0.0))
              .join(CaseResult, CaseResult.id == CheckResultRow.case_result_id)
              .where(CaseResult.run_id == run_id)
              .group_by(CheckResultRow.check_type))
    for query in (whole, labels, checks):
        conn.execute(insert(RunTotal).from_select(COLUMNS, query))
