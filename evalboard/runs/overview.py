"""At a glance: each version's latest run of each suite, and what changed from the previous."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, and_, func, select, true
from sqlalchemy.orm import Session

from evalboard.review.annotations import is_reviewed
from evalboard.runs.compare import compare
from evalboard.runs.results import latest_finished_run, run_summary
from evalboard.store.case_models import Suite
from evalboard.store.models import Call, ModelVersion
from evalboard.store.run_models import CaseResult, EvalRun


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
    """Per suite, every version with a finished run, in version creation order."""
    with Session(engine) as session:
        pairs = session.execute(
            select(Suite.name, ModelVersion.name)
            .join(EvalRun, EvalRun.suite_id == Suite.id)
            .join(ModelVersion, ModelVersion.id == EvalRun.model_version_id)
            .where(EvalRun.status == "finished")
            .group_by(Suite.name, ModelVersion.name, ModelVersion.created_at, ModelVersion.id)
            .order_by(Suite.name, ModelVersion.created_at, ModelVersion.id)).all()
    rows: list[VersionRun] = []
    previous: tuple[str, str] | None = None
    for suite, version in pairs:
        run_id = latest_finished_run(engine, suite, version)
        assert run_id is not None
        before = previous[1] if previous and previous[0] == suite else None
        flips = compare(engine, suite=suite, baseline_version=before,
                        candidate_version=version, iterations=200) if before else None
        rows.append(VersionRun(suite, version, run_id, run_summary(engine, run_id).pass_rate,
                               before, len(flips.regressions) if flips else None,
                               len(flips.fixes) if flips else None))
        previous = (suite, version)
    return rows


def failing_unreviewed_calls(engine: Engine) -> int:
    """Calls a test case failed on that nobody has judged yet."""
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(Call).where(and_(
                true(), ~is_reviewed(), Call.id.in_(select(CaseResult.call_id).where(
                    CaseResult.status.in_(("fail", "error"))))))).scalar_one()
