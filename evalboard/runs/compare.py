"""Compare two runs of a suite case by case: what regressed, what got fixed, how sure we are.

`compare` pairs the two runs' results by case and reports the flips, the pass rates per label
and per check type side by side, McNemar's exact p-value on the paired pass/not-pass outcomes
and a bootstrap interval of the mean score delta (see `evalboard.runs.stats`). Whether the
candidate is good enough is the caller's decision (e.g. `evalboard gate`).

A case that is `missing` on either side (replay found no logged call) is not paired: it is
listed under `missing` and counts in no statistic. Each run is read with one SQL query.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from sqlalchemy import Engine, and_, select
from sqlalchemy.orm import Session

from evalboard.errors import EvalboardError
from evalboard.runs.results import RunSummary, latest_finished_run, run_summary
from evalboard.runs.stats import bootstrap_mean_delta_ci, mcnemar_exact
from evalboard.store.case_models import CaseVersion, Suite
from evalboard.store.models import Call, ModelVersion
from evalboard.store.run_models import CaseResult, CheckResultRow, EvalRun


class ComparisonError(EvalboardError, ValueError):
    """Two runs that cannot be compared: unknown suite, version or run, no finished run."""


@dataclass(frozen=True)
class SideResult:
    """A case's result in one run, with the failing checks' reasons ("type: reason")."""

    case_id: int
    name: str
    label: str | None
    status: str
    score: float
    output: str | None
    call_id: int | None
    failures: tuple[str, ...] = ()


@dataclass(frozen=True)
class Flip:
    """A case seen in the baseline and/or the candidate run (None where it did not run)."""

    case_id: int
    name: str
    label: str | None
    baseline_status: str | None
    baseline_score: float | None
    baseline_output: str | None
    candidate_status: str | None
    candidate_score: float | None
    candidate_output: str | None
    baseline_call_id: int | None
    candidate_call_id: int | None
    baseline_failures: tuple[str, ...] = ()
    candidate_failures: tuple[str, ...] = ()

    @staticmethod
    def of(baseline: SideResult | None, candidate: SideResult | None) -> Flip:
        named = candidate or baseline
        assert named is not None, "a flip needs at least one side"
        return Flip(
            named.case_id, named.name, named.label,
            baseline.status if baseline else None, baseline.score if baseline else None,
            baseline.output if baseline else None,
            candidate.status if candidate else None, candidate.score if candidate else None,
            candidate.output if candidate else None,
            baseline.call_id if baseline else None, candidate.call_id if candidate else None,
            baseline.failures if baseline else (), candidate.failures if candidate else ())


@dataclass(frozen=True)
class RateRow:
    """One label's (or check type's) passed/total in both runs; rates are None without data."""

    key: str
    baseline_passed: int
    baseline_total: int
    candidate_passed: int
    candidate_total: int

    @property
    def baseline_rate(self) -> float | None:
        return self.baseline_passed / self.baseline_total if self.baseline_total else None

    @property
    def candidate_rate(self) -> float | None:
        return self.candidate_passed / self.candidate_total if self.candidate_total else None

    @property
    def delta(self) -> float | None:
        """candidate rate - baseline rate, when both exist."""
        if self.baseline_rate is None or self.candidate_rate is None:
            return None
        return self.candidate_rate - self.baseline_rate


@dataclass(frozen=True)
class ScoreDelta:
    """Mean paired score delta (candidate - baseline) with its bootstrap interval."""

    mean: float
    low: float
    high: float
    confidence: float
    cases: int


@dataclass(frozen=True)
class Pairing:
    """Both runs' results matched by case (lists ordered by case name)."""

    regressions: tuple[Flip, ...] = ()
    fixes: tuple[Flip, ...] = ()
    still_failing: tuple[Flip, ...] = ()
    still_passing: tuple[Flip, ...] = ()
    new_cases: tuple[Flip, ...] = ()
    removed_cases: tuple[Flip, ...] = ()
    missing: tuple[Flip, ...] = ()

    @property
    def paired(self) -> tuple[Flip, ...]:
        """Cases scored in both runs: the sample of McNemar's test and the bootstrap."""
        return self.regressions + self.fixes + self.still_failing + self.still_passing


@dataclass(frozen=True)
class Comparison:
    """Baseline vs candidate: summaries, flips, rates side by side, paired statistics."""

    baseline: RunSummary
    candidate: RunSummary
    pairing: Pairing
    by_label: tuple[RateRow, ...]
    by_check: tuple[RateRow, ...]
    mcnemar_p: float
    score_delta: ScoreDelta | None

    @property
    def regressions(self) -> tuple[Flip, ...]:
        return self.pairing.regressions

    @property
    def fixes(self) -> tuple[Flip, ...]:
        return self.pairing.fixes

    @property
    def still_failing(self) -> tuple[Flip, ...]:
        return self.pairing.still_failing

    @property
    def new_cases(self) -> tuple[Flip, ...]:
        return self.pairing.new_cases

    @property
    def removed_cases(self) -> tuple[Flip, ...]:
        return self.pairing.removed_cases

    @property
    def missing(self) -> tuple[Flip, ...]:
        return self.pairing.missing

    @property
    def pass_rate_delta(self) -> float:
        return self.candidate.pass_rate - self.baseline.pass_rate


def pair_results(baseline: Mapping[int, SideResult], candidate: Mapping[int, SideResult]
                 ) -> Pairing:
    """Match results by case id and sort each case into exactly one list."""
    lists: dict[str, list[Flip]] = {field.name: [] for field in fields(Pairing)}
    for case_id in baseline.keys() | candidate.keys():
        before, after = baseline.get(case_id), candidate.get(case_id)
        if before is None:
            kind = "new_cases"
        elif after is None:
            kind = "removed_cases"
        elif "missing" in (before.status, after.status):
            kind = "missing"
        elif before.status == "pass":
            kind = "still_passing" if after.status == "pass" else "regressions"
        else:
            kind = "fixes" if after.status == "pass" else "still_failing"
        lists[kind].append(Flip.of(before, after))
    return Pairing(**{name: tuple(sorted(flips, key=lambda f: (f.name, f.case_id)))
                      for name, flips in lists.items()})


def rate_rows(baseline: Mapping[str, tuple[int, int]], candidate: Mapping[str, tuple[int, int]]
              ) -> tuple[RateRow, ...]:
    """(passed, total) per key of both runs as rows, by key; a key one run lacks counts 0/0."""
    return tuple(RateRow(key, *baseline.get(key, (0, 0)), *candidate.get(key, (0, 0)))
                 for key in sorted(baseline.keys() | candidate.keys()))


def load_results(session: Session, run_id: int) -> dict[int, SideResult]:
    """Every case result of a run with its output and failing checks, in one query."""
    query = (
        select(CaseResult.case_id, CaseResult.status, CaseResult.score, CaseResult.error,
               CaseResult.call_id, CaseVersion.name, CaseVersion.label, Call.output,
               CheckResultRow.check_type, CheckResultRow.reason)
        .join(CaseVersion, CaseVersion.id == CaseResult.case_version_id)
        .outerjoin(Call, Call.id == CaseResult.call_id)
        .outerjoin(CheckResultRow, and_(CheckResultRow.case_result_id == CaseResult.id,
                                        CheckResultRow.passed.is_(False)))
        .where(CaseResult.run_id == run_id)
        .order_by(CaseResult.case_id, CheckResultRow.position))
    results: dict[int, SideResult] = {}
    failures: dict[int, list[str]] = {}
    for (case_id, status, score, error, call_id, name, label, output, check_type,
         reason) in session.execute(query):
        if case_id not in results:
            results[case_id] = SideResult(case_id, name, label, status, score, output, call_id)
            failures[case_id] = [f"error: {error}"] if error else []
        if check_type is not None:
            failures[case_id].append(f"{check_type}: {reason}")
    return {case_id: SideResult(r.case_id, r.name, r.label, r.status, r.score, r.output,
                                r.call_id, tuple(failures[case_id]))
            for case_id, r in results.items()}


def _resolve_run(engine: Engine, side: str, suite: str | None, run_id: int | None,
                 version: str | None) -> int:
    """The run id for one side: given directly, or the version's latest finished run."""
    if run_id is not None:
        if version is not None:
            raise ComparisonError(f"give the {side} as a run or as a model version, not both")
        with Session(engine) as session:
            found = session.execute(select(Suite.name).join(EvalRun, EvalRun.suite_id == Suite.id)
                                    .where(EvalRun.id == run_id)).first()
        if found is None:
            raise ComparisonError(f"there is no run {run_id} (the {side})")
        if suite is not None and found[0] != suite:
            raise ComparisonError(f"run {run_id} (the {side}) is a run of suite {found[0]!r}, "
                                  f"not {suite!r}")
        return run_id
    if version is None:
        raise ComparisonError(f"name the {side}: a run id or a model version")
    if suite is None:
        raise ComparisonError(f"name the suite whose latest run of {version!r} is the {side}")
    with Session(engine) as session:
        if session.scalar(select(Suite.id).where(Suite.name == suite)) is None:
            raise ComparisonError(f"there is no suite {suite!r}")
        if session.scalar(select(ModelVersion.id).where(ModelVersion.name == version)) is None:
            raise ComparisonError(f"there is no model version {version!r} (the {side})")
    found_run = latest_finished_run(engine, suite, version)
    if found_run is None:
        raise ComparisonError(f"model version {version!r} (the {side}) has no finished run of "
                              f"suite {suite!r}: run `evalboard run {suite} --model-version "
                              f"{version} ...` first")
    return found_run


def compare(engine: Engine, *, suite: str | None = None, baseline_run: int | None = None,
            candidate_run: int | None = None, baseline_version: str | None = None,
            candidate_version: str | None = None, confidence: float = 0.95,
            iterations: int = 2000, seed: int = 0) -> Comparison:
    """Compare two runs of one suite, each given by id or as a version's latest finished run."""
    baseline_id = _resolve_run(engine, "baseline", suite, baseline_run, baseline_version)
    candidate_id = _resolve_run(engine, "candidate", suite, candidate_run, candidate_version)
    baseline, candidate = run_summary(engine, baseline_id), run_summary(engine, candidate_id)
    if baseline.suite != candidate.suite:
        raise ComparisonError(f"run {baseline_id} is of suite {baseline.suite!r} and run "
                              f"{candidate_id} of suite {candidate.suite!r}: compare runs of "
                              "one suite")
    with Session(engine) as session:
        pairing = pair_results(load_results(session, baseline_id),
                               load_results(session, candidate_id))
    paired = pairing.paired
    score_delta = None
    if paired:
        mean, low, high = bootstrap_mean_delta_ci(
            [f.baseline_score or 0.0 for f in paired], [f.candidate_score or 0.0 for f in paired],
            iterations=iterations, confidence=confidence, seed=seed)
        score_delta = ScoreDelta(mean, low, high, confidence, len(paired))
    return Comparison(
        baseline, candidate, pairing,
        by_label=rate_rows(baseline.by_label, candidate.by_label),
        by_check=rate_rows(baseline.by_check, candidate.by_check),
        mcnemar_p=mcnemar_exact(len(pairing.regressions), len(pairing.fixes)),
        score_delta=score_delta)
