"""`evalboard gate --suite S --baseline V1 --candidate V2`: CI's "no regressions" check.

Compares the latest finished runs of the two versions on the suite, prints a report and exits
0 when the gate passes, 1 when a rule fails (see `evalboard.runs.gate`: regressions, the
significance rule, minimum pass rates, cases not judged cleanly), 2 when it cannot decide
(unknown suite or version, no run, bad option). The verdict line names the rules that failed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Annotated

import typer

from evalboard.cli.common import DbOption, fail, store
from evalboard.runs.compare import Comparison, ComparisonError, Flip, RateRow, compare
from evalboard.runs.gate import (
    PROBLEM_KINDS,
    GateResult,
    GateRules,
    count_noun,
    evaluate_gate,
    find_problems,
)

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
LISTED = 50  # regressions shown in full; the rest are counted


def _safe(text: str, limit: int = 160) -> str:
    """One terminal line of untrusted text: control characters escaped, long text cut."""
    text = _CONTROL.sub(lambda m: repr(m.group(0))[1:-1], text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.1%}"


def _points(delta: float | None) -> str:
    return "—" if delta is None else f"{delta * 100:+.1f} pts"


def _rate_lines(title: str, rows: Sequence[RateRow]) -> Iterator[str]:
    if not rows:
        return
    yield f"{title}:"
    width = max(len(row.key) for row in rows)
    for row in rows:
        yield (f"  {_safe(row.key).ljust(width)}  {_percent(row.baseline_rate):>6} "
               f"({row.baseline_passed}/{row.baseline_total}) -> "
               f"{_percent(row.candidate_rate):>6} ({row.candidate_passed}/"
               f"{row.candidate_total})  {_points(row.delta)}")


def _regression_lines(regressions: Sequence[Flip]) -> Iterator[str]:
    if not regressions:
        return
    yield f"regressions ({len(regressions)}):"
    for flip in regressions[:LISTED]:
        label = f" [{_safe(flip.label)}]" if flip.label else ""
        yield f"  - {_safe(flip.name)}{label}: pass -> {flip.candidate_status}"
        for reason in flip.candidate_failures:
            yield f"      {_safe(reason)}"
    if len(regressions) > LISTED:
        yield f"  … and {len(regressions) - LISTED} more"


def report_lines(comparison: Comparison) -> Iterator[str]:
    """The comparison part of the gate's report."""
    base, cand = comparison.baseline, comparison.candidate
    yield (f"gate: suite {_safe(base.suite)!r}: baseline {_safe(base.model_version)} "
           f"(run {base.run_id}) vs candidate {_safe(cand.model_version)} (run {cand.run_id})")
    yield (f"pass rate: {base.pass_rate:.1%} ({base.passed}/{base.scored}) -> "
           f"{cand.pass_rate:.1%} ({cand.passed}/{cand.scored})  "
           f"{_points(comparison.pass_rate_delta)}")
    pairing = comparison.pairing
    yield (f"paired cases: {len(pairing.paired)}; "
           f"{count_noun(len(pairing.regressions), 'regression')}, "
           f"{count_noun(len(pairing.fixes), 'fix', 'fixes')}, {len(pairing.still_failing)} still "
           f"failing, {len(pairing.still_passing)} still passing")
    for title, flips in (("new cases (candidate only)", pairing.new_cases),
                         ("removed cases (baseline only)", pairing.removed_cases),
                         ("not compared (no output on one side)", pairing.missing)):
        if flips:
            yield f"{title}: " + ", ".join(_safe(f.name, 60) for f in flips[:20]) + (
                " …" if len(flips) > 20 else "")
    yield from _regression_lines(comparison.regressions)
    if comparison.fixes:
        yield f"fixes ({len(comparison.fixes)}): " + ", ".join(
            _safe(f.name, 60) for f in comparison.fixes[:20]) + (
            " …" if len(comparison.fixes) > 20 else "")
    yield from _rate_lines("per label", comparison.by_label)
    yield from _rate_lines("per check", comparison.by_check)
    yield (f"McNemar exact p = {comparison.mcnemar_p:.4g} "
           f"({len(pairing.regressions)} pass->fail vs {len(pairing.fixes)} fail->pass)")
    if comparison.score_delta is not None:
        delta = comparison.score_delta
        yield (f"mean score delta {delta.mean:+.3f} ({delta.confidence:.0%} bootstrap CI "
               f"{delta.low:+.3f} .. {delta.high:+.3f}, {delta.cases} cases)")



def gate_lines(result: GateResult) -> Iterator[str]:
    """The problems, each rule's outcome, and the verdict line naming the rules that failed."""
    if result.problems:
        how = ("they fail the gate" if result.rules.incomplete == "fail"
               else "each counts as a failed case")
        yield f"not judged cleanly ({len(result.problems)}; {how}):"
        for problem in result.problems[:LISTED]:
            yield (f"  - {_safe(problem.name)}: {PROBLEM_KINDS[problem.kind]}: "
                   f"{_safe(problem.detail)}")
        if len(result.problems) > LISTED:
            yield f"  … and {len(result.problems) - LISTED} more"
    yield "rules:"
    for outcome in result.outcomes:
        yield f"  {'pass' if outcome.passed else 'FAIL'}  {outcome.rule}: {outcome.detail}"
    if result.passed:
        yield "GATE PASSED"
    else:
        yield "GATE FAILED: " + "; ".join(f"{o.rule}: {o.detail}" for o in result.failed_rules)


def _rates(values: Sequence[str], option: str) -> dict[str, float]:
    """`NAME=RATE` pairs of a repeated option."""
    rates = {}
    for value in values:
        name, equals, rate = value.rpartition("=")
        try:
            number = float(rate)
        except ValueError:
            number = -1.0
        if not equals or not name.strip() or not 0 <= number <= 1:
            raise typer.BadParameter(f"{value!r}: give NAME=RATE with a rate from 0 to 1",
                                     param_hint=option)
        rates[name.strip()] = number
    return rates


def gate_command(
    suite: Annotated[str, typer.Option(metavar="SUITE", help="The suite both versions ran.")],
    baseline: Annotated[str, typer.Option(
        metavar="VERSION", help="The model version to compare against (its latest finished "
        "run of the suite).")],
    candidate: Annotated[str, typer.Option(
        metavar="VERSION", help="The model version under test (its latest finished run).")],
    max_regressions: Annotated[int | None, typer.Option(
        min=0, metavar="N",
        help="Regressions (pass -> fail or error) allowed before the gate fails "
        "[default: 0, unless --alpha is given]")] = None,
    alpha: Annotated[float | None, typer.Option(
        min=0.0, max=1.0, metavar="P",
        help="Fail when the candidate is worse and McNemar's exact p is below P "
        "(e.g. 0.05): regressions that fixes balance are noise, not a failure.")] = None,
    min_pass_rate: Annotated[float | None, typer.Option(
        min=0.0, max=1.0, metavar="RATE",
        help="Fail when the candidate's pass rate is below this (0..1).")] = None,
    min_label_rate: Annotated[list[str] | None, typer.Option(
        metavar="LABEL=RATE", help="Fail when the candidate's pass rate on the cases of a "
        "label is below RATE (repeatable).")] = None,
    min_check_rate: Annotated[list[str] | None, typer.Option(
        metavar="CHECK=RATE", help="Fail when a check type passes less often than RATE in "
        "the candidate's run (repeatable).")] = None,
    incomplete: Annotated[str, typer.Option(
        metavar="fail|count", help="A case not judged cleanly (missing from the candidate's "
        "run, duplicated, a generation error, an errored check): fail the gate, or count it "
        "as a failed case.")] = "fail",
    db: DbOption = None,
) -> None:
    """Gate a release on the suite: exit 0 pass, 1 a rule failed, 2 cannot decide."""
    if incomplete not in ("fail", "count"):
        raise typer.BadParameter(f"{incomplete!r}: give fail or count",
                                 param_hint="--incomplete")
    try:
        rules = GateRules(max_regressions=max_regressions, alpha=alpha,
                          min_pass_rate=min_pass_rate,
                          min_label_rates=_rates(min_label_rate or [], "--min-label-rate"),
                          min_check_rates=_rates(min_check_rate or [], "--min-check-rate"),
                          incomplete="fail" if incomplete == "fail" else "count")
    except ValueError as exc:
        fail(str(exc), 2)
    engine = store(db)
    try:
        comparison = compare(engine, suite=suite, baseline_version=baseline,
                             candidate_version=candidate)
        problems = find_problems(engine, comparison)
    except ComparisonError as exc:
        fail(str(exc), 2)
    finally:
        engine.dispose()
    result = evaluate_gate(comparison, problems, rules)
    for line in (*report_lines(comparison), *gate_lines(result)):
        typer.echo(line)
    if not result.passed:
        raise SystemExit(1)  # SystemExit, not typer.Exit: main() runs typer non-standalone


def register(app: typer.Typer) -> None:
    app.command("gate")(gate_command)
