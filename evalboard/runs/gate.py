"""The release gate's rules: when is a candidate worse than its baseline, and by which rule.

Rules (each optional; with none given, `max_regressions=0` applies as it always did):
- max regressions: more pass -> fail flips than allowed fails, whatever the fixes;
- significance (`alpha`): fails when the candidate is worse (more pass -> fail than
  fail -> pass) and McNemar's exact p on the paired outcomes is below alpha, so noise in both
  directions (76 regressions against 91 fixes) is not read as a regression;
- minimum pass rates: for the whole run, per case label and per check type.

A case the candidate did not judge cleanly is a *problem*: an active case missing from the
candidate's run (or replay found no call for it), a duplicated case (several cases judged on
one call, or with the same input and checks), a generation error, or a check that errored.
Problems fail the gate (`incomplete="fail"`, the default) or count as failed cases
(`incomplete="count"`); either way the report lists them. None of them counts as a pass.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evalboard.runs.compare import Comparison, Flip
from evalboard.runs.stats import mcnemar_exact
from evalboard.store.case_models import CaseVersion, EvalCase, Suite
from evalboard.store.run_models import CaseResult, CheckResultRow, EvalRun

Incomplete = Literal["fail", "count"]
PROBLEM_KINDS = {
    "missing": "missing from the candidate's run",
    "duplicate": "duplicated",
    "generation error": "generation error",
    "check error": "a check errored",
}


@dataclass(frozen=True)
class GateRules:
    """What the candidate must satisfy; rates are 0..1, `alpha` a significance level."""

    max_regressions: int | None = None
    alpha: float | None = None
    min_pass_rate: float | None = None
    min_label_rates: Mapping[str, float] = field(default_factory=dict)
    min_check_rates: Mapping[str, float] = field(default_factory=dict)
    incomplete: Incomplete = "fail"

    def __post_init__(self) -> None:
        if self.max_regressions is not None and self.max_regressions < 0:
            raise ValueError(f"max regressions is a count, not {self.max_regressions}")
        if self.alpha is not None and not 0 < self.alpha < 1:
            raise ValueError(f"alpha is a significance level between 0 and 1 (e.g. 0.05), "
                             f"not {self.alpha}")
        rates = {"the minimum pass rate": self.min_pass_rate,
                 **{f"the minimum rate of label {k!r}": v
                    for k, v in self.min_label_rates.items()},
                 **{f"the minimum rate of check {k!r}": v
                    for k, v in self.min_check_rates.items()}}
        for name, rate in rates.items():
            if rate is not None and not 0 <= rate <= 1:
                raise ValueError(f"{name} is a rate between 0 and 1, not {rate}")
        if self.incomplete not in ("fail", "count"):
            raise ValueError(f"incomplete is 'fail' or 'count', not {self.incomplete!r}")

    @property
    def regression_limit(self) -> int | None:
        """The regressions allowed: as given; else 0, unless the significance rule replaces
        that default."""
        if self.max_regressions is not None:
            return self.max_regressions
        return 0 if self.alpha is None else None


@dataclass(frozen=True)
class Problem:
    """A candidate case that was not judged cleanly."""

    case_id: int
    name: str
    kind: str  # a key of PROBLEM_KINDS
    detail: str
    baseline_passed: bool | None


@dataclass(frozen=True)
class RuleOutcome:
    """One rule's verdict with the figures behind it."""

    rule: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class GateFigures:
    """The candidate's outcomes as the rules read them (problems counted by `incomplete`)."""

    regressions: int
    fixes: int
    passed: int
    judged: int
    label_rates: Mapping[str, tuple[int, int]]
    mcnemar_p: float

    @property
    def pass_rate(self) -> float:
        return self.passed / self.judged if self.judged else 0.0


@dataclass(frozen=True)
class GateResult:
    rules: GateRules
    outcomes: tuple[RuleOutcome, ...]
    problems: tuple[Problem, ...]
    figures: GateFigures

    @property
    def passed(self) -> bool:
        return all(outcome.passed for outcome in self.outcomes)

    @property
    def failed_rules(self) -> tuple[RuleOutcome, ...]:
        return tuple(outcome for outcome in self.outcomes if not outcome.passed)


def find_problems(engine: Engine, comparison: Comparison) -> tuple[Problem, ...]:
    """Every candidate case that was not judged cleanly, read from the store."""
    candidate_run = comparison.candidate.run_id
    flips = {flip.case_id: flip for flip in _all_flips(comparison)}
    baseline_passed = {case_id: flip.baseline_status == "pass" if flip.baseline_status
                       else None for case_id, flip in flips.items()}
    problems: list[Problem] = []
    with Session(engine) as session:
        rows = session.execute(
            select(CaseResult.case_id, CaseVersion.name, CaseResult.status, CaseResult.error,
                   CaseResult.call_id, CaseVersion.input_text, CaseVersion.input_messages,
                   CaseVersion.checks, CaseVersion.references)
            .join(CaseVersion, CaseVersion.id == CaseResult.case_version_id)
            .where(CaseResult.run_id == candidate_run)
            .order_by(CaseVersion.name, CaseResult.case_id)).all()
        check_errors: dict[int, list[str]] = defaultdict(list)
        for case_id, check_type, error in session.execute(
                select(CaseResult.case_id, CheckResultRow.check_type, CheckResultRow.error)
                .join(CaseResult, CaseResult.id == CheckResultRow.case_result_id)
                .where(CaseResult.run_id == candidate_run, CheckResultRow.error.isnot(None))
                .order_by(CaseResult.case_id, CheckResultRow.position)):
            check_errors[case_id].append(f"{check_type}: {error}")
        absent = session.execute(
            select(EvalCase.id, EvalCase.name)
            .join(Suite, Suite.id == EvalCase.suite_id)
            .join(EvalRun, EvalRun.suite_id == Suite.id)
            .where(EvalRun.id == candidate_run, EvalCase.active.is_(True),
                   EvalCase.id.not_in(select(CaseResult.case_id)
                                      .where(CaseResult.run_id == candidate_run)))
            .order_by(EvalCase.name)).all()
    for case_id, name in absent:
        problems.append(Problem(case_id, name, "missing", "active in the suite, not in the run",
                                baseline_passed.get(case_id)))
    for case_id, name, status, error, *_ in rows:
        was = baseline_passed.get(case_id)
        if status == "missing":
            problems.append(Problem(case_id, name, "missing", error or "no output to judge", was))
        elif check_errors.get(case_id) and not error:
            problems.append(Problem(case_id, name, "check error",
                                    "; ".join(check_errors[case_id]), was))
        elif status == "error":
            problems.append(Problem(case_id, name, "generation error", error or "error", was))
    problems.extend(_duplicates(rows, baseline_passed))
    return tuple(problems)


def _all_flips(comparison: Comparison) -> Iterable[Flip]:
    pairing = comparison.pairing
    return (*pairing.paired, *pairing.new_cases, *pairing.removed_cases, *pairing.missing)


def _duplicates(rows: Sequence, baseline_passed: Mapping[int, bool | None]) -> list[Problem]:
    """Cases judged on one call, or with the same input, checks and references."""
    by_call: dict[int, list[tuple[int, str]]] = defaultdict(list)
    by_content: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for case_id, name, _status, _error, call_id, text, messages, checks, references in rows:
        if call_id is not None:
            by_call[call_id].append((case_id, name))
        content = json.dumps([text, messages, checks, references], sort_keys=True, default=str)
        by_content[content].append((case_id, name))
    groups = [(f"judged on the same call {call_id}", cases)
              for call_id, cases in by_call.items() if len(cases) > 1]
    groups += [("the same input, checks and references", cases)
               for cases in by_content.values() if len(cases) > 1]
    seen: set[int] = set()
    found = []
    for why, cases in groups:
        names = ", ".join(name for _, name in cases)
        for case_id, name in cases:
            if case_id not in seen:
                seen.add(case_id)
                found.append(Problem(case_id, name, "duplicate", f"{why} as {names}",
                                     baseline_passed.get(case_id)))
    return found


def gate_figures(comparison: Comparison, problems: Sequence[Problem],
                 incomplete: Incomplete) -> GateFigures:
    """Regressions, fixes, pass rate and label rates as the comparison counts them (fail:
    the problems fail the gate on their own), or with every problem counted as a failed case
    (count)."""
    pairing = comparison.pairing
    candidate = comparison.candidate
    labels = dict(candidate.by_label)
    if incomplete == "fail":
        return GateFigures(len(pairing.regressions), len(pairing.fixes), candidate.passed,
                           candidate.scored, labels, comparison.mcnemar_p)
    first_problem = {problem.case_id: problem for problem in reversed(problems)}
    regressions = sum(1 for flip in pairing.regressions if flip.case_id not in first_problem)
    regressions += sum(1 for problem in first_problem.values() if problem.baseline_passed)
    fixes = sum(1 for flip in pairing.fixes if flip.case_id not in first_problem)
    passed, judged = candidate.passed, candidate.scored
    flips = {flip.case_id: flip for flip in _all_flips(comparison)}
    for case_id in first_problem:
        flip = flips.get(case_id)
        was_pass = flip is not None and flip.candidate_status == "pass"
        scored = flip is not None and flip.candidate_status in ("pass", "fail", "error")
        passed -= was_pass
        judged += not scored
        if flip is not None and flip.label is not None:
            label_passed, label_total = labels.get(flip.label, (0, 0))
            labels[flip.label] = (label_passed - was_pass, label_total + (not scored))
    return GateFigures(regressions, fixes, passed, judged, labels,
                       mcnemar_exact(regressions, fixes))


def evaluate_gate(comparison: Comparison, problems: Sequence[Problem],
                  rules: GateRules) -> GateResult:
    """Apply every rule given; the result says which passed and which failed, and why."""
    figures = gate_figures(comparison, problems, rules.incomplete)
    outcomes: list[RuleOutcome] = []
    if rules.incomplete == "fail":
        outcomes.append(RuleOutcome(
            "complete", not problems,
            "every case judged cleanly" if not problems else
            f"{count_noun(len(problems), 'case')} not judged cleanly (listed above)"))
    limit = rules.regression_limit
    if limit is not None:
        outcomes.append(RuleOutcome(
            "max-regressions", figures.regressions <= limit,
            f"{count_noun(figures.regressions, 'regression')} (at most {limit} allowed)"))
    if rules.alpha is not None:
        worse = figures.regressions > figures.fixes
        significant = worse and figures.mcnemar_p < rules.alpha
        verdict = ("significantly worse" if significant else
                   "worse, but within noise" if worse else "not worse")
        outcomes.append(RuleOutcome(
            "alpha", not significant,
            f"{verdict}: McNemar exact p = {figures.mcnemar_p:.4g} vs alpha {rules.alpha:g} "
            f"({figures.regressions} pass->fail vs {figures.fixes} fail->pass)"))
    if rules.min_pass_rate is not None:
        outcomes.append(_rate_outcome("min-pass-rate", "candidate pass rate",
                                      (figures.passed, figures.judged), rules.min_pass_rate))
    for label, minimum in sorted(rules.min_label_rates.items()):
        outcomes.append(_rate_outcome(f"min-label-rate {label}", f"label {label!r}",
                                      figures.label_rates.get(label, (0, 0)), minimum))
    for check, minimum in sorted(rules.min_check_rates.items()):
        outcomes.append(_rate_outcome(f"min-check-rate {check}", f"check {check!r}",
                                      comparison.candidate.by_check.get(check, (0, 0)),
                                      minimum))
    return GateResult(rules, tuple(outcomes), tuple(problems), figures)


def _rate_outcome(rule: str, what: str, counts: tuple[int, int], minimum: float
                  ) -> RuleOutcome:
    passed, total = counts
    if not total:
        return RuleOutcome(rule, False, f"{what}: no judged case to hold to {minimum:.1%}")
    rate = passed / total
    relation = "is below" if rate < minimum else "meets"
    return RuleOutcome(rule, rate >= minimum,
                       f"{what} {rate:.1%} ({passed}/{total}) {relation} the minimum "
                       f"{minimum:.1%}")


def count_noun(number: int, noun: str, plural: str | None = None) -> str:
    """`3 regressions`, `1 fix`."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"
