"""Suggestions for a reviewer from automatic check results on a call (never applied for them)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evalboard.judges.review_hints import judge_hints
from evalboard.monitors.results import monitor_suggestions
from evalboard.store.case_models import CaseVersion
from evalboard.store.run_models import CaseResult, CheckResultRow


@dataclass(frozen=True)
class Suggestion:
    """A case that ran on this call: its label and the checks that failed, with reasons."""

    case_name: str
    label: str | None
    mode: str
    status: str
    failed_checks: tuple[tuple[str, str], ...]
    kind: str = "case"  # "case": a test case that ran on the call; "monitor": a monitor
    trusted: bool | None = None  # a judge's result: whether the judge reaches κ 0.6

    @property
    def suggested_label(self) -> str | None:
        """A failing failure-mode case suggests its label; a passing success case its own."""
        if self.mode == "failure" and self.status in ("fail", "error"):
            return self.label
        if self.mode == "success" and self.status == "pass":
            return self.label
        return None


def check_suggestions(engine: Engine, call_id: int) -> list[Suggestion]:
    """The newest result of each case that scored this call's output, then each monitor that
    failed it."""
    with Session(engine) as session:
        rows = session.execute(
            select(CaseResult.id, CaseResult.case_id, CaseResult.status, CaseVersion.name,
                   CaseVersion.label, CaseVersion.mode)
            .join(CaseVersion, CaseVersion.id == CaseResult.case_version_id)
            .where(CaseResult.call_id == call_id).order_by(CaseResult.id.desc())).all()
        newest = {}
        for result_id, case_id, status, name, label, mode in rows:
            newest.setdefault(case_id, (result_id, status, name, label, mode))
        failed: dict[int, list[tuple[str, str]]] = {}
        for result_id, check_type, negate, reason in session.execute(
                select(CheckResultRow.case_result_id, CheckResultRow.check_type,
                       CheckResultRow.negate, CheckResultRow.reason)
                .where(CheckResultRow.case_result_id.in_([v[0] for v in newest.values()]),
                       CheckResultRow.passed.is_(False))
                .order_by(CheckResultRow.position)):
            failed.setdefault(result_id, []).append(
                (("NOT " if negate else "") + check_type, reason))
    cases = [Suggestion(name, label, mode, status, tuple(failed.get(result_id, ())))
             for result_id, status, name, label, mode in newest.values()]
    return cases + [Suggestion(m.monitor, None, "monitor", "fail", m.failed_checks, "monitor")
                    for m in monitor_suggestions(engine, call_id)] + [
        Suggestion(f"{h.ref}, {h.trust_text}", h.label, h.kind or "verdict", h.verdict,
                   (("judge", h.reason),) if h.verdict == "fail" else (), kind="judge",
                   trusted=h.trusted)
        for h in judge_hints(engine, call_id)]
