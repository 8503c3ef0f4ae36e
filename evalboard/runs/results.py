"""Read runs back: summaries with pass rates per label and check type, runs lists, details."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, case, func, select
from sqlalchemy.orm import Session

from evalboard.runs.totals import count_if
from evalboard.store.case_models import CaseVersion, EvalCase, Suite
from evalboard.store.models import Call, ModelVersion
from evalboard.store.run_models import CaseResult, CheckResultRow, EvalRun


@dataclass
class RunSummary:
    """A run's outcome; pass rates count pass / (pass + fail + error), not missing cases."""

    run_id: int
    suite: str
    model_version: str
    generator: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    total_cases: int
    passed: int = 0
    failed: int = 0
    errors: int = 0
    missing: list[str] = field(default_factory=list)
    by_label: dict[str, tuple[int, int]] = field(default_factory=dict)
    by_check: dict[str, tuple[int, int]] = field(default_factory=dict)
    resumed: bool = False

    @property
    def scored(self) -> int:
        return self.passed + self.failed + self.errors

    @property
    def pass_rate(self) -> float:
        return self.passed / self.scored if self.scored else 0.0

    def label_rates(self) -> dict[str, float]:
        return {k: p / n for k, (p, n) in sorted(self.by_label.items()) if n}

    def check_rates(self) -> dict[str, float]:
        return {k: p / n for k, (p, n) in sorted(self.by_check.items()) if n}


def run_summary(engine: Engine, run_id: int) -> RunSummary:
    with Session(engine) as session:
        head = session.execute(
            select(EvalRun, Suite.name, ModelVersion.name)
            .join(Suite, Suite.id == EvalRun.suite_id)
            .join(ModelVersion, ModelVersion.id == EvalRun.model_version_id)
            .where(EvalRun.id == run_id)).first()
        if head is None:
            raise ValueError(f"there is no run {run_id}")
        run, suite, version = head
        summary = RunSummary(run.id, suite, version, run.generator, run.status, run.started_at,
                             run.finished_at, run.total_cases)
        for status, count in session.execute(
                select(CaseResult.status, func.count()).where(CaseResult.run_id == run_id)
                .group_by(CaseResult.status)):
            if status == "pass":
                summary.passed = count
            elif status == "fail":
                summary.failed = count
            elif status == "error":
                summary.errors = count
        summary.missing = list(session.scalars(
            select(CaseVersion.name).join(CaseResult, CaseResult.case_version_id == CaseVersion.id)
            .where(CaseResult.run_id == run_id, CaseResult.status == "missing")
            .order_by(CaseVersion.name)))
        scored = CaseResult.status != "missing"
        summary.by_label = {label: (int(p), n) for label, p, n in session.execute(
            select(CaseVersion.label, count_if(CaseResult.status == "pass"), func.count())
            .join(CaseResult, CaseResult.case_version_id == CaseVersion.id)
            .where(CaseResult.run_id == run_id, scored, CaseVersion.label.isnot(None))
            .group_by(CaseVersion.label))}
        summary.by_check = {kind: (int(p), n) for kind, p, n in session.execute(
            select(CheckResultRow.check_type, count_if(CheckResultRow.passed), func.count())
            .join(CaseResult, CaseResult.id == CheckResultRow.case_result_id)
            .where(CaseResult.run_id == run_id).group_by(CheckResultRow.check_type))}
        return summary


def list_runs(engine: Engine, *, suite: str | None = None, model_version: str | None = None,
              limit: int = 200) -> list[RunSummary]:
    """Newest runs first, with their summaries."""
    with Session(engine) as session:
        query = select(EvalRun.id).join(Suite, Suite.id == EvalRun.suite_id).join(
            ModelVersion, ModelVersion.id == EvalRun.model_version_id)
        if suite:
            query = query.where(Suite.name == suite)
        if model_version:
            query = query.where(ModelVersion.name == model_version)
        ids = list(session.scalars(query.order_by(EvalRun.id.desc()).limit(limit)))
    return [run_summary(engine, run_id) for run_id in ids]


def latest_finished_run(engine: Engine, suite: str, model_version: str) -> int | None:
    with Session(engine) as session:
        return session.scalar(
            select(EvalRun.id).join(Suite, Suite.id == EvalRun.suite_id)
            .join(ModelVersion, ModelVersion.id == EvalRun.model_version_id)
            .where(Suite.name == suite, ModelVersion.name == model_version,
                   EvalRun.status == "finished")
            .order_by(EvalRun.id.desc()).limit(1))


@dataclass(frozen=True)
class CheckRowView:
    check_type: str
    params: dict[str, Any]
    negate: bool
    passed: bool
    score: float
    reason: str
    error: str | None


@dataclass(frozen=True)
class CaseResultView:
    """One case of a run: its result, output, references and check results."""

    case_id: int
    name: str
    label: str | None
    mode: str
    version: int
    status: str
    score: float
    error: str | None
    call_id: int | None
    output: str | None
    references: tuple[str, ...]
    origin_call_id: int | None
    checks: tuple[CheckRowView, ...]


def case_results(engine: Engine, run_id: int, *, failing_only: bool = False
                 ) -> list[CaseResultView]:
    """Every case result of a run (failing, erroring and missing ones first)."""
    with Session(engine) as session:
        query = (
            select(CaseResult, CaseVersion, EvalCase.origin_call_id, Call.output)
            .join(CaseVersion, CaseVersion.id == CaseResult.case_version_id)
            .join(EvalCase, EvalCase.id == CaseResult.case_id)
            .outerjoin(Call, Call.id == CaseResult.call_id)
            .where(CaseResult.run_id == run_id)
            .order_by(case((CaseResult.status == "pass", 1), else_=0), CaseVersion.name))
        if failing_only:
            query = query.where(CaseResult.status != "pass")
        rows = session.execute(query).all()
        checks: dict[int, list[CheckRowView]] = {}
        for row in session.scalars(
                select(CheckResultRow)
                .join(CaseResult, CaseResult.id == CheckResultRow.case_result_id)
                .where(CaseResult.run_id == run_id).order_by(CheckResultRow.position)):
            checks.setdefault(row.case_result_id, []).append(CheckRowView(
                row.check_type, row.params, row.negate, row.passed, row.score, row.reason,
                row.error))
        return [CaseResultView(
            result.case_id, version.name, version.label, version.mode, version.version,
            result.status, result.score, result.error, result.call_id, output,
            tuple(version.references), origin, tuple(checks.get(result.id, ())))
            for result, version, origin, output in rows]
