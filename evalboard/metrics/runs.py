"""Eval run metrics per model version, from the latest finished run per (suite, version): pass
rates overall, per case label and per check type, and mean reference scores with a 95% CI.

Pass rates count like `RunSummary`: a case passes / (pass + fail + error); missing cases do
not count. Per check type, a check row passes / all check rows of that type. Everything is
read from the run totals written when a run finishes (evalboard.runs.totals).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import pandas as pd
from sqlalchemy import Engine, Subquery, func, select

from evalboard.metrics.axis import on_axis, version_axis
from evalboard.metrics.intervals import mean_interval, with_wilson
from evalboard.store.case_models import Suite
from evalboard.store.run_models import EvalRun, RunTotal

REFERENCE_CHECKS = ("rouge", "bleu", "chrf", "semantic_similarity", "token_f1", "exact_match")

GroupBy = Literal["label", "check"] | None


def latest_runs(suite: str | None = None) -> Subquery:
    """run_id, suite_id, model_version_id of the newest finished run per (suite, version)."""
    query = (select(func.max(EvalRun.id).label("run_id"), EvalRun.suite_id,
                    EvalRun.model_version_id)
             .where(EvalRun.status == "finished")
             .group_by(EvalRun.suite_id, EvalRun.model_version_id))
    if suite is not None:
        query = query.join(Suite, Suite.id == EvalRun.suite_id).where(Suite.name == suite)
    return query.subquery("latest")


def pass_rate_query(latest: Subquery, by: GroupBy = None) -> Any:
    """(model_version_id, suite, run_id, [group], passed, total) per latest run, from the
    totals written when each run finished."""
    head = [latest.c.model_version_id, Suite.name, latest.c.run_id]
    group = [RunTotal.key] if by else []
    query = (select(*head, *group, RunTotal.passed, RunTotal.total).select_from(latest)
             .join(Suite, Suite.id == latest.c.suite_id)
             .join(RunTotal, RunTotal.run_id == latest.c.run_id)
             .where(RunTotal.kind == (by or "run")))
    return query.order_by(*head[1:], *group)


def pass_rates(engine: Engine, *, suite: str | None = None, by: GroupBy = None,
               versions: Sequence[str] | None = None) -> pd.DataFrame:
    """Per (model version, suite[, label | check_type]) of the latest finished runs:
    model_version, version_order, suite, run_id, [label | check_type], passed, total,
    pass_rate, low, high (95% Wilson interval of the pass rate)."""
    if by not in (None, "label", "check"):
        raise ValueError(f"group pass rates by 'label' or 'check', not {by!r}")
    group = {"label": ["label"], "check": ["check_type"], None: []}[by]
    with engine.connect() as conn:
        axis = version_axis(conn, versions)
        rows = conn.execute(pass_rate_query(latest_runs(suite), by)).all()
    frame = on_axis(rows, ["suite", "run_id", *group, "passed", "total"], axis)
    frame["passed"] = frame["passed"].astype(int)
    frame["pass_rate"] = frame["passed"] / frame["total"].where(frame["total"] > 0)
    return with_wilson(frame, "passed", "total")


def pool_pass_rates(frame: pd.DataFrame, group: str | None = None) -> pd.DataFrame:
    """A pass_rates frame pooled over suites: per model version (and group column) the summed
    passed and total, pass_rate, and the Wilson interval (low, high) of the pooled counts."""
    keys = ["model_version", "version_order", *([group] if group else [])]
    pooled = frame.groupby(keys, as_index=False, sort=False)[["passed", "total"]].sum()
    pooled = pooled.sort_values("version_order", kind="stable").reset_index(drop=True)
    pooled["pass_rate"] = pooled["passed"] / pooled["total"].where(pooled["total"] > 0)
    return with_wilson(pooled, "passed", "total")


def reference_score_query(latest: Subquery, check_types: Sequence[str]) -> Any:
    """(model_version_id, check_type, n, sum, sum of squares) over the latest runs."""
    return (select(latest.c.model_version_id, RunTotal.key, func.sum(RunTotal.score_n),
                   func.sum(RunTotal.score_sum), func.sum(RunTotal.score_squares))
            .select_from(latest)
            .join(RunTotal, RunTotal.run_id == latest.c.run_id)
            .where(RunTotal.kind == "check", RunTotal.key.in_(check_types))
            .group_by(latest.c.model_version_id, RunTotal.key)
            .order_by(RunTotal.key))


def reference_scores(engine: Engine, *, suite: str | None = None,
                     versions: Sequence[str] | None = None,
                     check_types: Sequence[str] = REFERENCE_CHECKS) -> pd.DataFrame:
    """Mean score of each reference check per model version, pooled over the latest finished
    run of every suite (or one suite): model_version, version_order, check_type, n, mean, std,
    low, high (95% normal-approximation interval, not clipped to the score range)."""
    with engine.connect() as conn:
        axis = version_axis(conn, versions)
        rows = conn.execute(reference_score_query(latest_runs(suite), check_types)).all()
    stats = [(vid, kind, n, *mean_interval(n, float(total), float(squares)))
             for vid, kind, n, total, squares in rows]
    return on_axis(stats, ["check_type", "n", "mean", "std", "low", "high"], axis)
