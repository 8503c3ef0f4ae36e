"""Run a case's checks on one output: the same code for previews, replays and eval runs."""

from __future__ import annotations

from dataclasses import replace

from evalboard.cases.draft import CaseDraft
from evalboard.checks import CaseOutcome, CheckContext, run_check, score_case
from evalboard.store.models import Call


def context_for(draft: CaseDraft, call: Call | None = None) -> CheckContext:
    """What checks may know: the case (input, references, entities) and the call's facts."""
    return replace(
        draft.check_context(),
        latency_ms=call.latency_ms if call else None,
        prompt_tokens=call.prompt_tokens if call else None,
        completion_tokens=call.completion_tokens if call else None,
        error=call.error if call else None,
        metadata=(call.meta or {}) if call else {},
    )


def evaluate(draft: CaseDraft, output: str | None, call: Call | None = None) -> CaseOutcome:
    """Every check of the case on `output`, scored as the case says."""
    context = context_for(draft, call)
    results = [run_check(spec, output or "", context) for spec in draft.checks]
    return score_case(results, draft.threshold)
