"""Crafted stores for metric tests: model versions in a chosen order, suites, and runs whose
results name the case version that ran."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from evalboard.runs.totals import record_run_totals
from evalboard.store.case_models import CaseVersion, EvalCase, Suite
from evalboard.store.models import ModelVersion
from evalboard.store.run_models import CaseResult, CheckResultRow, EvalRun

Checks = dict[str, list[tuple[str, bool, float]]]


def order_versions(engine, *names: str) -> None:
    """Give the versions creation times in this order."""
    with Session(engine) as session, session.begin():
        for k, name in enumerate(names):
            session.execute(update(ModelVersion).where(ModelVersion.name == name)
                            .values(created_at=datetime(2026, 1, 1) + timedelta(days=k)))


def add_suite(session: Session, name: str, cases) -> Suite:
    """A suite of (case name, label) cases, each at version 1."""
    suite = Suite(name=name)
    session.add(suite)
    session.flush()
    for case_name, label in cases:
        case = EvalCase(suite_id=suite.id, name=case_name, mode="success", label=label)
        session.add(case)
        session.flush()
        session.add(CaseVersion(case_id=case.id, version=1, name=case_name, input_text="q",
                                mode="success", label=label, checks=[], references=[],
                                expected_entities=[], tags=[], severity="medium"))
    session.flush()
    return suite


def add_case_version(session: Session, suite: Suite, name: str) -> int:
    """A new version of a case (an edit); returns its number."""
    case = session.scalar(select(EvalCase).where(EvalCase.suite_id == suite.id,
                                                 EvalCase.name == name))
    case.current_version += 1
    session.add(CaseVersion(case_id=case.id, version=case.current_version, name=name,
                            input_text=f"q edited {case.current_version}", mode="success",
                            label=case.label, checks=[], references=[], expected_entities=[],
                            tags=[], severity="medium"))
    session.flush()
    return case.current_version


def add_run(session: Session, suite: Suite, version: str, started: datetime, status: str,
            outcomes: dict[str, str], checks: Checks | None = None,
            case_versions: dict[str, int] | None = None) -> int:
    """A run with one result per case (at version 1 unless case_versions says otherwise);
    a finished run gets its totals as the runner's finish() writes them."""
    version_id = session.scalar(select(ModelVersion.id).where(ModelVersion.name == version))
    run = EvalRun(suite_id=suite.id, model_version_id=version_id, generator="replay",
                  generator_config={}, selection={}, status=status, started_at=started)
    session.add(run)
    session.flush()
    for name, outcome in outcomes.items():
        case = session.scalar(select(EvalCase).where(EvalCase.suite_id == suite.id,
                                                     EvalCase.name == name))
        number = (case_versions or {}).get(name, 1)
        case_version = session.scalar(select(CaseVersion).where(
            CaseVersion.case_id == case.id, CaseVersion.version == number))
        result = CaseResult(run_id=run.id, case_id=case.id, case_version_id=case_version.id,
                            status=outcome, passed=outcome == "pass", score=0.0)
        session.add(result)
        session.flush()
        for position, (kind, passed, score) in enumerate((checks or {}).get(name, [])):
            session.add(CheckResultRow(case_result_id=result.id, position=position,
                                       check_type=kind, params={}, negate=False, weight=1.0,
                                       passed=passed, score=score, reason=""))
    if status == "finished":
        session.flush()
        record_run_totals(session.connection(), run.id)
    return run.id
