"""`evalboard gate --suite S --baseline V1 --candidate V2`: CI's "no regressions" check.

Compares the latest finished runs of the two versions on the suite, prints a report and exits
0 when the gate passes, 1 when it fails (more regressions than allowed, or a candidate pass
rate below the minimum), 2 when it cannot decide (unknown suite or version, no run, bad option).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Annotated

import typer

from evalboard.cli.common import DbOption, fail, store
from evalboard.runs.compare import Comparison, ComparisonError, Flip, RateRow, compare

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


def _count(number: int, noun: str, plural: str | None = None) -> str:
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def gate_reasons(comparison: Comparison, max_regressions: int = 0,
                 min_pass_rate: float | None = None) -> list[str]:
    """Why the gate fails; an empty list means it passes."""
    reasons = []
    regressions = len(comparison.regressions)
    if regressions > max_regressions:
        reasons.append(f"{_count(regressions, 'regression')} (at most {max_regressions} "
                       "allowed)")
    rate = comparison.candidate.pass_rate
    if min_pass_rate is not None and rate < min_pass_rate:
        reasons.append(f"candidate pass rate {rate:.1%} is below the minimum "
                       f"{min_pass_rate:.1%}")
    return reasons


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


def report_lines(comparison: Comparison, reasons: Sequence[str]) -> Iterator[str]:
    """The gate's report, ending with the verdict line."""
    base, cand = comparison.baseline, comparison.candidate
    yield (f"gate: suite {_safe(base.suite)!r}: baseline {_safe(base.model_version)} "
           f"(run {base.run_id}) vs candidate {_safe(cand.model_version)} (run {cand.run_id})")
    yield (f"pass rate: {base.pass_rate:.1%} ({base.passed}/{base.scored}) -> "
           f"{cand.pass_rate:.1%} ({cand.passed}/{cand.scored})  "
           f"{_points(comparison.pass_rate_delta)}")
    pairing = comparison.pairing
    yield (f"paired cases: {len(pairing.paired)}; "
           f"{_count(len(pairing.regressions), 'regression')}, "
           f"{_count(len(pairing.fixes), 'fix', 'fixes')}, {len(pairing.still_failing)} still "
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
    yield "GATE PASSED" if not reasons else "GATE FAILED: " + "; ".join(reasons)


def gate_command(
    suite: Annotated[str, typer.Option(metavar="SUITE", help="The suite both versions ran.")],
    baseline: Annotated[str, typer.Option(
        metavar="VERSION", help="The model version to compare against (its latest finished "
        "run of the suite).")],
    candidate: Annotated[str, typer.Option(
        metavar="VERSION", help="The model version under test (its latest finished run).")],
    max_regressions: Annotated[int, typer.Option(
        min=0, metavar="N",
        help="Regressions (pass -> fail or error) allowed before the gate fails.")] = 0,
    min_pass_rate: Annotated[float | None, typer.Option(
        min=0.0, max=1.0, metavar="RATE",
        help="Fail when the candidate's pass rate is below this (0..1).")] = None,
    db: DbOption = None,
) -> None:
    """Gate a release on the suite: exit 0 pass, 1 regressions or low pass rate, 2 error."""
    engine = store(db)
    try:
        comparison = compare(engine, suite=suite, baseline_version=baseline,
                             candidate_version=candidate)
    except ComparisonError as exc:
        fail(str(exc), 2)
    finally:
        engine.dispose()
    reasons = gate_reasons(comparison, max_regressions, min_pass_rate)
    for line in report_lines(comparison, reasons):
        typer.echo(line)
    if reasons:
        raise SystemExit(1)  # SystemExit, not typer.Exit: main() runs typer non-standalone


def register(app: typer.Typer) -> None:
    app.command("gate")(gate_command)
