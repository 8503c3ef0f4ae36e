"""At a glance: each version's latest run of each suite, and what changed from the previous."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, and_, func, select, true
from sqlalchemy.orm import aliased

from evalboard.review.annotations import is_reviewed
from evalboard.runs.totals import count_if
from evalboard.store.case_models import Suite
from evalboard.store.models import Call, ModelVersion
from evalboard.store.run_models import CaseResult, EvalRun, RunTotal


@dataclass(frozen=True)
class VersionRun:
    """A version's latest finished run of a suite, against the previous version's."""

    suite: str
    model_version: str
    run_id: int
    pass_rate: float
    previous_version: str | None
    regressions: int | None
    fixes: int | None


def latest_runs_by_version(engine: Engine) -> list[VersionRun]:
    """Per suite, every version with a finished run, in version creation order: its latest
    finished run's pass rate, and the regressions and fixes against the previous version's
    (counted in SQL: the Home page needs no outputs or intervals)."""
    with engine.connect() as conn:
        latest = conn.execute(
            select(Suite.name, ModelVersion.name, func.max(EvalRun.id))
            .join(EvalRun, EvalRun.suite_id == Suite.id)
            .join(ModelVersion, ModelVersion.id == EvalRun.model_version_id)
            .where(EvalRun.status == "finished")
            .group_by(Suite.name, ModelVersion.name, ModelVersion.created_at, ModelVersion.id)
            .order_by(Suite.name, ModelVersion.created_at, ModelVersion.id)).all()
        rates = _pass_rates(conn, [run_id for _, _, run_id in latest])
        rows: list[VersionRun] = []
        previous: tuple[str, str, int] | None = None
        for suite, version, run_id in latest:
            before = previous if previous and previous[0] == suite else None
            flips = flip_counts(conn, before[2], run_id) if before else None
            rows.append(VersionRun(suite, version, run_id, rates.get(run_id, 0.0),
                                   before[1] if before else None,
                                   flips[0] if flips else None, flips[1] if flips else None))
            previous = (suite, version, run_id)
    return rows


def _pass_rates(conn: Connection, run_ids: list[int]) -> dict[int, float]:
    """Passed / scored per finished run, from the totals written when it finished."""
    rows = conn.execute(select(RunTotal.run_id, RunTotal.passed, RunTotal.total).where(
        RunTotal.run_id.in_(run_ids), RunTotal.kind == "run")).all()
    return {run_id: passed / total for run_id, passed, total in rows if total}


def flip_counts(conn: Connection, baseline_run: int, candidate_run: int) -> tuple[int, int]:
    """(regressions, fixes) between two runs: cases scored in both that passed in one and
    failed or errored in the other (as `compare` sorts them)."""
    before, after = aliased(CaseResult), aliased(CaseResult)
    failed = ("fail", "error")
    regressions, fixes = conn.execute(
        select(count_if(and_(before.status == "pass", after.status.in_(failed))),
               count_if(and_(before.status.in_(failed), after.status == "pass")))
        .select_from(before)
        .join(after, and_(after.case_id == before.case_id, after.run_id == candidate_run))
        .where(before.run_id == baseline_run)).one()
    return int(regressions), int(fixes)


def failing_unreviewed_calls(engine: Engine) -> int:
    """Calls a test case failed on that nobody has judged yet."""
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(Call).where(and_(
                true(), ~is_reviewed(), Call.id.in_(select(CaseResult.call_id).where(
                    CaseResult.status.in_(("fail", "error"))))))).scalar_one()
