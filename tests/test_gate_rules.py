"""The gate's rules (evalboard.runs.gate): significance, minimum rates, cases not judged cleanly.

Synthetic comparisons test the rules' arithmetic; small real runs in a store test that every
kind of problem (missing, duplicated, generation error, errored check) is found and never
counts as a pass.
"""

from __future__ import annotations

import random
from datetime import datetime

import pytest

from evalboard.cases.draft import CaseDraft
from evalboard.cases.repository import create_case
from evalboard.checks import CheckSpec
from evalboard.cli.gate_command import gate_lines
from evalboard.runs.compare import Comparison, SideResult, compare, pair_results, rate_rows
from evalboard.runs.gate import GateRules, Problem, evaluate_gate, find_problems, gate_figures
from evalboard.runs.generators import CallableGenerator
from evalboard.runs.results import RunSummary
from evalboard.runs.runner import run_suite
from evalboard.runs.stats import mcnemar_exact

T0 = datetime(2026, 11, 1)


def _summary(run_id: int, version: str, results: dict[int, SideResult],
             labels: dict[int, str | None]) -> RunSummary:
    summary = RunSummary(run_id, "s", version, "callable", "finished", T0, T0, len(results))
    by_label: dict[str, list[int]] = {}
    for case_id, result in results.items():
        if result.status == "missing":
            continue
        summary.passed += result.status == "pass"
        summary.failed += result.status == "fail"
        summary.errors += result.status == "error"
        label = labels.get(case_id)
        if label:
            entry = by_label.setdefault(label, [0, 0])
            entry[0] += result.status == "pass"
            entry[1] += 1
    summary.by_label = {key: (p, n) for key, (p, n) in by_label.items()}
    return summary


def synthetic(outcomes: list[tuple[str | None, str | None]],
              labels: dict[int, str | None] | None = None) -> Comparison:
    """A comparison of (baseline status, candidate status) per case (None: not in that run)."""
    labels = labels or {}

    def side(index: int) -> dict[int, SideResult]:
        return {case_id: SideResult(case_id, f"case-{case_id:03d}", labels.get(case_id),
                                    statuses[index], 1.0 if statuses[index] == "pass" else 0.0,
                                    "out", case_id)
                for case_id, statuses in enumerate(outcomes) if statuses[index] is not None}

    baseline, candidate = side(0), side(1)
    pairing = pair_results(baseline, candidate)
    base, cand = _summary(1, "v1", baseline, labels), _summary(2, "v2", candidate, labels)
    return Comparison(base, cand, pairing, rate_rows(base.by_label, cand.by_label), (),
                      mcnemar_exact(len(pairing.regressions), len(pairing.fixes)), None)


def noisy(regressions: int, fixes: int, steady: int = 100) -> Comparison:
    return synthetic([("pass", "fail")] * regressions + [("fail", "pass")] * fixes
                     + [("pass", "pass")] * steady)


# ---------------------------------------------------------------- significance


def test_noise_in_both_directions_fails_max_regressions_but_not_the_significance_rule() -> None:
    """The report that motivated the rule: 76 regressions, 91 fixes, p = 0.28."""
    comparison = noisy(76, 91)
    strict = evaluate_gate(comparison, (), GateRules())
    assert not strict.passed
    assert [o.rule for o in strict.failed_rules] == ["max-regressions"]
    significance = evaluate_gate(comparison, (), GateRules(alpha=0.05))
    assert significance.passed, significance.outcomes
    (alpha,) = [o for o in significance.outcomes if o.rule == "alpha"]
    assert alpha.detail.startswith("not worse: McNemar exact p = 0.2")
    assert "76 pass->fail vs 91 fail->pass" in alpha.detail
    assert not [o for o in significance.outcomes if o.rule == "max-regressions"]


def test_a_significant_regression_fails_and_a_small_one_is_called_noise() -> None:
    worse = evaluate_gate(noisy(30, 10), (), GateRules(alpha=0.05))
    assert [o.rule for o in worse.failed_rules] == ["alpha"]
    assert worse.failed_rules[0].detail.startswith("significantly worse")
    within = evaluate_gate(noisy(12, 8), (), GateRules(alpha=0.05))
    assert within.passed
    assert [o.detail for o in within.outcomes if o.rule == "alpha"][0].startswith(
        "worse, but within noise")


def test_the_significance_rule_agrees_with_mcnemar_for_random_flip_counts() -> None:
    rng = random.Random(13)
    for _ in range(60):
        b, c = rng.randint(0, 60), rng.randint(0, 60)
        alpha = rng.choice([0.01, 0.05, 0.1])
        result = evaluate_gate(noisy(b, c, steady=5), (), GateRules(alpha=alpha))
        expected_fail = b > c and mcnemar_exact(b, c) < alpha
        assert result.passed is not expected_fail, (b, c, alpha)


def test_both_rules_apply_when_both_are_given() -> None:
    result = evaluate_gate(noisy(3, 9), (), GateRules(max_regressions=2, alpha=0.05))
    assert [o.rule for o in result.outcomes] == ["complete", "max-regressions", "alpha"]
    assert [o.rule for o in result.failed_rules] == ["max-regressions"]


# ---------------------------------------------------------------- minimum rates


def test_minimum_rates_per_label_and_for_the_run() -> None:
    outcomes = [("pass", "pass"), ("pass", "fail"), ("fail", "pass"), ("pass", "pass"),
                ("fail", "fail")]
    labels = {0: "hallucination", 1: "hallucination", 2: "wrong format", 3: "wrong format"}
    comparison = synthetic(outcomes, labels)
    rules = GateRules(max_regressions=5, min_pass_rate=0.5,
                      min_label_rates={"hallucination": 0.6, "wrong format": 1.0,
                                       "garbled": 0.5})
    result = evaluate_gate(comparison, (), rules)
    by_rule = {o.rule: o for o in result.outcomes}
    assert by_rule["min-pass-rate"].passed  # 3 of 5
    assert by_rule["min-pass-rate"].detail == (
        "candidate pass rate 60.0% (3/5) meets the minimum 50.0%")
    assert not by_rule["min-label-rate hallucination"].passed  # 1 of 2
    assert by_rule["min-label-rate hallucination"].detail == (
        "label 'hallucination' 50.0% (1/2) is below the minimum 60.0%")
    assert by_rule["min-label-rate wrong format"].passed  # 2 of 2
    assert not by_rule["min-label-rate garbled"].passed  # no case: cannot be held
    assert "no judged case" in by_rule["min-label-rate garbled"].detail


@pytest.mark.parametrize("bad", [
    {"alpha": 0.0}, {"alpha": 1.0}, {"min_pass_rate": 1.5}, {"max_regressions": -1},
    {"min_label_rates": {"x": -0.1}}, {"incomplete": "ignore"},
])
def test_rules_refuse_values_out_of_range(bad) -> None:
    with pytest.raises(ValueError):
        GateRules(**bad)


# ---------------------------------------------------------------- problems never pass


def test_problems_fail_the_gate_or_count_as_failures() -> None:
    comparison = synthetic([("pass", "pass"), ("pass", "pass"), ("fail", "pass"),
                            ("pass", "pass")], {0: "edge case mishandled"})
    problems = (Problem(0, "case-000", "check error", "regex: timeout", True),
                Problem(2, "case-002", "duplicate", "the same input", False))
    failing = evaluate_gate(comparison, problems, GateRules())
    assert [o.rule for o in failing.failed_rules] == ["complete"]
    counted = gate_figures(comparison, problems, "count")
    assert (counted.passed, counted.judged) == (2, 4)
    assert (counted.regressions, counted.fixes) == (1, 0)  # case 0 was passing
    assert counted.label_rates["edge case mishandled"] == (0, 1)
    as_failures = evaluate_gate(comparison, problems, GateRules(incomplete="count"))
    assert [o.rule for o in as_failures.failed_rules] == ["max-regressions"]
    lines = list(gate_lines(as_failures))
    assert lines[0] == "not judged cleanly (2; each counts as a failed case):"
    assert "  - case-000: a check errored: regex: timeout" in lines
    assert lines[-1] == "GATE FAILED: max-regressions: 1 regression (at most 0 allowed)"


def test_a_case_missing_from_the_candidate_counts_as_judged_when_counted() -> None:
    comparison = synthetic([("pass", "pass"), ("pass", None)])
    problems = (Problem(1, "case-001", "missing", "active in the suite, not in the run",
                        True),)
    counted = gate_figures(comparison, problems, "count")
    assert (counted.passed, counted.judged, counted.regressions) == (1, 2, 1)
    assert gate_figures(comparison, problems, "fail").judged == 1


# ---------------------------------------------------------------- found in a real store


def _draft(name: str, prompt: str, check: CheckSpec, threshold: float | None = None
           ) -> CaseDraft:
    return CaseDraft(name=name, input=prompt, checks=(check,), threshold=threshold)


def test_find_problems_in_real_runs(engine) -> None:
    contains = CheckSpec("contains", {"value": "ok"})
    create_case(engine, "s", _draft("fine", "say ok", contains))
    create_case(engine, "s", _draft("crash", "crash please", contains))
    create_case(engine, "s", _draft("twin-a", "say ok twice", contains))
    create_case(engine, "s", _draft("twin-b", "say ok twice", contains))
    # a check that errors (a custom function that raises), with a case threshold of 0 so the
    # case itself "passes" in the run
    create_case(engine, "s", _draft("check-error", "any", CheckSpec(
        "custom", {"function": "tests.test_gate_rules:raising_check"}), threshold=0.0))

    def baseline(prompt: object) -> str:
        return "ok"

    def candidate(prompt: object) -> str:
        if prompt == "crash please":
            raise RuntimeError("model crashed")
        return "ok"

    run_suite(engine, "s", "v1", CallableGenerator(baseline))
    create_case(engine, "s", _draft("added-late", "new", contains))
    run_suite(engine, "s", "v2", CallableGenerator(candidate))
    create_case(engine, "s", _draft("never-ran", "newer", contains))
    comparison = compare(engine, suite="s", baseline_version="v1", candidate_version="v2")
    problems = find_problems(engine, comparison)
    kinds = sorted((p.name, p.kind) for p in problems)
    assert kinds == [("check-error", "check error"), ("crash", "generation error"),
                     ("never-ran", "missing"), ("twin-a", "duplicate"),
                     ("twin-b", "duplicate")]
    baseline_passed = {p.name: p.baseline_passed for p in problems}
    assert baseline_passed == {"check-error": False, "crash": True, "never-ran": None,
                               "twin-a": True, "twin-b": True}
    assert comparison.candidate.passed == 4  # fine, the twins, added-late
    counted = gate_figures(comparison, problems, "count")
    assert (counted.passed, counted.judged) == (2, 7)  # the twins fail, never-ran is judged
    assert not evaluate_gate(comparison, problems, GateRules(max_regressions=10)).passed


def raising_check(output: str, params: dict, context: object) -> bool:
    raise RuntimeError("the check itself broke")
