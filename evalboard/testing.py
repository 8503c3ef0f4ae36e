"""Run an evalboard suite as pytest tests, e.g. in a training repository's CI.

Example (``tests/test_support_bot.py`` of the repository that trains the model)::

    import pytest
    from evalboard.testing import assert_case_passes, suite_cases

    from my_model import generate  # prompt (text or chat messages) -> output text


    @pytest.mark.parametrize("case", suite_cases("support-bot"), ids=lambda c: c.name)
    def test_support_bot(case):
        assert_case_passes(case, generate(case.input))

`suite_cases` reads the store named by `db` (a URL or an engine; default `$EVALBOARD_DB_URL`,
else `sqlite:///evalboard.db`) when pytest collects the tests. A failing case's message lists
each failed check with its reason. Results are not stored: `evalboard run` records runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from evalboard.cases.draft import CaseDraft
from evalboard.cases.evaluate import evaluate
from evalboard.cases.repository import checks_summary
from evalboard.checks import CaseOutcome
from evalboard.runs.runner import Selection, select_cases
from evalboard.store import open_store


@dataclass(frozen=True)
class SuiteCase:
    """An active case of a suite: its name, its input (prompt or messages) and its content."""

    id: int
    suite: str
    name: str
    input: str | tuple[Mapping[str, Any], ...]
    draft: CaseDraft

    def __str__(self) -> str:
        return self.name


def suite_cases(suite: str, db: str | Engine | None = None, *, tags: Sequence[str] = (),
                labels: Sequence[str] = ()) -> list[SuiteCase]:
    """The suite's active cases (only those with one of `tags` / `labels` when given)."""
    engine = db if isinstance(db, Engine) else open_store(db)
    try:
        views = select_cases(engine, suite, Selection(tuple(tags), tuple(labels)))
    finally:
        if engine is not db:
            engine.dispose()
    return [SuiteCase(v.id, v.suite, v.draft.name, v.draft.input, v.draft) for v in views]


def assert_case_passes(case: SuiteCase | CaseDraft, output: str | None) -> CaseOutcome:
    """Run the case's checks on `output`; raise AssertionError naming every failed check."""
    __tracebackhide__ = True  # pytest shows the caller's line, not this one
    draft = case.draft if isinstance(case, SuiteCase) else case
    outcome = evaluate(draft, output)
    if outcome.passed:
        return outcome
    failed = [r for r in outcome.results if not r.passed]
    threshold = f", threshold {draft.threshold:g}" if draft.threshold is not None else ""
    lines = [f"case {draft.name!r} failed: {len(failed)} of {len(outcome.results)} checks "
             f"(score {outcome.score:.3f}{threshold})"]
    lines += [f"  - {checks_summary([r.spec])}: {r.reason}" for r in failed]
    shown = output if output is None or len(output) <= 300 else output[:299] + "…"
    lines.append(f"  output: {shown!r}")
    raise AssertionError("\n".join(lines))
