"""Replay: which logged call of a model version each case of a run is scored on.

A case matches the newest logged call of the version whose input equals the case's up to case
and whitespace: both sides go through the same `records.input_hash`. A logged call is scored
once per run: when several cases match one call, the case created first takes it (the same
case in every run, so runs of two versions pair it) and the others are left without a call
(status missing, naming the case that took it): one output never counts as two results, e.g.
two regressions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from evalboard.cases.repository import CaseView
from evalboard.store.case_models import CaseVersion
from evalboard.store.models import Call
from evalboard.store.records import input_hash
from evalboard.store.run_models import CaseResult


@dataclass(frozen=True)
class ReplayMatch:
    """A case and the logged call it is scored on; without one, `note` may say why."""

    case: CaseView
    call: Call | None
    note: str | None = None


def _newest_matching(session: Session, version_id: int, case: CaseView) -> Call | None:
    return session.scalars(select(Call).where(
        Call.model_version_id == version_id, Call.input_hash == input_hash(case.draft.input_text)
    ).order_by(Call.id.desc()).limit(1)).first()


def _taken_in_run(session: Session, run_id: int) -> dict[int, str]:
    """{call id: case name} of the calls results of this run are scored on already (a
    resumed run)."""
    return dict(session.execute(
        select(CaseResult.call_id, CaseVersion.name)
        .join(CaseVersion, CaseVersion.id == CaseResult.case_version_id)
        .where(CaseResult.run_id == run_id, CaseResult.call_id.isnot(None))).all())


def match_logged_calls(session: Session, run_id: int, version_id: int | None,
                       cases: Sequence[CaseView]) -> list[ReplayMatch]:
    """Each case with the logged call it is scored on, in the order given."""
    found = {case.id: _newest_matching(session, version_id, case)
             for case in cases} if version_id is not None else {}
    owners = _taken_in_run(session, run_id)
    by_call: dict[int, list[CaseView]] = defaultdict(list)
    for case in cases:
        if (call := found.get(case.id)) is not None:
            by_call[call.id].append(case)
    claimant: dict[int, int] = {}
    for call_id, group in by_call.items():
        if call_id not in owners:
            chosen = min(group, key=lambda c: c.id)
            claimant[call_id], owners[call_id] = chosen.id, chosen.draft.name
    matches = []
    for case in cases:
        call = found.get(case.id)
        if call is None or claimant.get(call.id) == case.id:
            matches.append(ReplayMatch(case, call))
        else:
            matches.append(ReplayMatch(case, None, (
                f"Not scored: logged call {call.id} is scored for case “{owners[call.id]}”, "
                "whose input is the same up to case and whitespace (replay scores a logged "
                "call once).")))
    return matches
