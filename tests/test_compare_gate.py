"""Comparing two runs, the paired statistics, `evalboard gate` and the pytest helper.

The scenario (built once per module: every test only reads it): a suite of 9 cases run by
two crafted callables, v1 (baseline) then v2 (candidate), so that every flip is known.

| case           | label                | check            | v1    | v2    | flip          |
|----------------|----------------------|------------------|-------|-------|---------------|
| capital-france | hallucination        | contains         | pass  | fail  | regression    |
| json-order     | wrong format         | is_json          | pass  | fail  | regression    |
| greeting       | appropriate response | icontains        | pass  | error | regression    |
| refund-policy  | hallucination        | contains         | fail  | pass  | fix           |
| sql-query      | wrong format         | regex            | error | fail  | still failing |
| no-insult      | biased or insulting  | NOT contains_any | fail  | fail  | still failing |
| arithmetic     | —                    | contains         | pass  | pass  | still passing |
| capital-italy  | —                    | contains         | —     | pass  | new (added)   |
| retired        | —                    | contains         | pass  | —     | removed       |

capital-italy is added after the v1 run; retired is deactivated after it.
"""

from __future__ import annotations

import atexit
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from scipy.stats import binomtest
from sqlalchemy import Engine

from evalboard.cases.draft import CaseDraft
from evalboard.cases.files import import_case_file
from evalboard.cases.repository import create_case, set_active
from evalboard.checks import CheckSpec
from evalboard.cli.main import main
from evalboard.runs.compare import (
    Comparison,
    ComparisonError,
    Flip,
    SideResult,
    compare,
    pair_results,
)
from evalboard.runs.generators import CallableGenerator
from evalboard.runs.runner import run_suite
from evalboard.runs.stats import bootstrap_mean_delta_ci, mcnemar_exact
from evalboard.store import open_store
from evalboard.testing import SuiteCase, assert_case_passes, suite_cases
from tests.support.calls import add_calls

SUITE = "gate-suite"
CRASH = None  # an output of None below: the callable raises instead

BASELINE = {
    "Capital of France?": "Paris.",
    "The order as JSON": '{"id": 1}',
    "Say hello": "Hello there!",
    "How long is the refund window?": "14 days.",
    "Write the SQL": CRASH,
    "Rate my code": "Only an idiot writes this.",
    "What is 2+2?": "4",
    "An old question": "an old answer",
}
CANDIDATE = {
    **BASELINE,
    "Capital of France?": "Lyon.",
    "The order as JSON": "id: 1",
    "Say hello": CRASH,
    "How long is the refund window?": "30 days.",
    "Write the SQL": "DELETE FROM orders",
    "Rate my code": "This is stupid code.",
    "Capital of Italy?": "Rome.",
}


def _answer(table: dict[str, str | None], prompt: object) -> str:
    output = table[str(prompt)]
    if output is CRASH:
        raise RuntimeError("the model crashed")
    return output


def baseline_model(prompt: object) -> str:
    return _answer(BASELINE, prompt)


def candidate_model(prompt: object) -> str:
    return _answer(CANDIDATE, prompt)


def _case(name: str, prompt: str, check: CheckSpec, label: str | None = None,
          mode: str = "success") -> CaseDraft:
    return CaseDraft(name=name, input=prompt, checks=(check,), label=label, mode=mode)


def _contains(value: str) -> CheckSpec:
    return CheckSpec("contains", {"value": value})


CASES = [
    _case("capital-france", "Capital of France?", _contains("Paris"), "hallucination"),
    _case("json-order", "The order as JSON", CheckSpec("is_json"), "wrong format"),
    _case("greeting", "Say hello", CheckSpec("icontains", {"value": "hello"}),
          "appropriate response"),
    _case("refund-policy", "How long is the refund window?", _contains("30 days"),
          "hallucination"),
    _case("sql-query", "Write the SQL", CheckSpec("regex", {"pattern": "^SELECT"}),
          "wrong format"),
    _case("no-insult", "Rate my code",
          CheckSpec("contains_any", {"values": ["idiot", "stupid"]}, negate=True),
          "biased or insulting", mode="failure"),
    _case("arithmetic", "What is 2+2?", _contains("4")),
    _case("retired", "An old question", _contains("old")),
]


@dataclass(frozen=True)
class Scenario:
    db_url: str
    engine: Engine
    baseline_run: int
    candidate_run: int


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Iterator[Scenario]:
    db_url = f"sqlite:///{tmp_path_factory.mktemp('gate') / 'evalboard.db'}"
    engine = open_store(db_url)
    ids = {draft.name: create_case(engine, SUITE, draft) for draft in CASES}
    baseline = run_suite(engine, SUITE, "v1", CallableGenerator(baseline_model))
    create_case(engine, SUITE, _case("capital-italy", "Capital of Italy?", _contains("Rome")))
    set_active(engine, ids["retired"], False)
    candidate = run_suite(engine, SUITE, "v2", CallableGenerator(candidate_model))
    add_calls(engine, [{"input": "hi", "output": "hello", "model_version": "v3-no-run"}])
    yield Scenario(db_url, engine, baseline.run_id, candidate.run_id)
    engine.dispose()


@pytest.fixture(scope="module")
def comparison(scenario) -> Comparison:
    return compare(scenario.engine, suite=SUITE, baseline_version="v1", candidate_version="v2")


# ---------------------------------------------------------------- stats


@pytest.mark.parametrize(("b", "c", "expected"), [
    (1, 9, 0.021484375), (9, 1, 0.021484375), (3, 1, 0.625), (0, 5, 0.0625), (4, 4, 1.0),
    (0, 0, 1.0), (0, 1, 1.0),
])
def test_mcnemar_exact_known_values(b: int, c: int, expected: float) -> None:
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12)


def test_mcnemar_exact_matches_scipy_binomtest() -> None:
    for b in range(0, 25, 3):
        for c in range(0, 40, 7):
            if b + c:
                scipy_p = binomtest(b, b + c, 0.5, alternative="two-sided").pvalue
                assert mcnemar_exact(b, c) == pytest.approx(scipy_p, rel=1e-9), (b, c)
    assert mcnemar_exact(480, 400) == pytest.approx(binomtest(480, 880).pvalue, rel=1e-9)
    with pytest.raises(ValueError, match="count"):
        mcnemar_exact(-1, 2)


def test_bootstrap_ci_contains_the_delta_and_is_deterministic() -> None:
    baseline = [0.2, 0.5, 0.9, 0.4, 0.7, 0.1, 0.6, 0.3, 0.8, 0.5] * 3
    candidate = [b + d for b, d in zip(baseline, [0.1, 0.3, -0.1, 0.2, 0.0] * 6, strict=True)]
    mean, low, high = bootstrap_mean_delta_ci(baseline, candidate, seed=7)
    assert mean == pytest.approx(0.1)
    assert low < 0.1 < high
    assert 0 < high - low < 0.2
    assert bootstrap_mean_delta_ci(baseline, candidate, seed=7) == (mean, low, high)
    assert bootstrap_mean_delta_ci(baseline, candidate, seed=8) != (mean, low, high)
    narrow = bootstrap_mean_delta_ci(baseline, candidate, seed=7, confidence=0.5)
    assert low < narrow[1] <= narrow[2] < high


def test_bootstrap_ci_has_zero_width_when_every_delta_is_equal() -> None:
    mean, low, high = bootstrap_mean_delta_ci([0.25, 0.5, 0.0, 0.5], [0.5, 0.75, 0.25, 0.75])
    assert mean == low == high == 0.25
    for bad in ({"iterations": 0}, {"confidence": 1.0}):
        with pytest.raises(ValueError):
            bootstrap_mean_delta_ci([1.0], [0.0], **bad)
    with pytest.raises(ValueError, match="same length"):
        bootstrap_mean_delta_ci([1.0, 0.0], [0.0])


# ---------------------------------------------------------------- compare


def _names(flips: tuple[Flip, ...]) -> list[str]:
    return [flip.name for flip in flips]


def test_compare_lists_every_flip(comparison: Comparison) -> None:
    assert _names(comparison.regressions) == ["capital-france", "greeting", "json-order"]
    assert _names(comparison.fixes) == ["refund-policy"]
    assert _names(comparison.still_failing) == ["no-insult", "sql-query"]
    assert _names(comparison.pairing.still_passing) == ["arithmetic"]
    assert _names(comparison.new_cases) == ["capital-italy"]
    assert _names(comparison.removed_cases) == ["retired"]
    assert comparison.missing == ()
    assert [(f.baseline_status, f.candidate_status) for f in comparison.regressions] == [
        ("pass", "fail"), ("pass", "error"), ("pass", "fail")]
    assert [(f.baseline_status, f.candidate_status) for f in comparison.still_failing] == [
        ("fail", "fail"), ("error", "fail")]
    france = comparison.regressions[0]
    assert (france.label, france.baseline_output, france.candidate_output) == (
        "hallucination", "Paris.", "Lyon.")
    assert (france.baseline_score, france.candidate_score) == (1.0, 0.0)
    assert france.baseline_call_id and france.candidate_call_id
    assert france.baseline_call_id != france.candidate_call_id
    assert france.baseline_failures == ()
    assert len(france.candidate_failures) == 1
    assert france.candidate_failures[0].startswith("contains: ")
    assert "Paris" in france.candidate_failures[0]
    greeting = comparison.regressions[1]
    assert greeting.candidate_output is None
    assert greeting.candidate_failures[0] == "error: RuntimeError: the model crashed"
    new, removed = comparison.new_cases[0], comparison.removed_cases[0]
    assert (new.baseline_status, new.candidate_status, new.candidate_output) == (
        None, "pass", "Rome.")
    assert (removed.baseline_status, removed.candidate_status) == ("pass", None)


def test_compare_rates_side_by_side(comparison: Comparison) -> None:
    assert (comparison.baseline.model_version, comparison.candidate.model_version) == (
        "v1", "v2")
    assert (comparison.baseline.passed, comparison.baseline.scored) == (5, 8)
    assert (comparison.candidate.passed, comparison.candidate.scored) == (3, 8)
    assert comparison.pass_rate_delta == pytest.approx(-0.25)
    labels = {row.key: (row.baseline_rate, row.candidate_rate, row.delta)
              for row in comparison.by_label}
    assert labels == {
        "appropriate response": (1.0, 0.0, -1.0),
        "biased or insulting": (0.0, 0.0, 0.0),
        "hallucination": (0.5, 0.5, 0.0),
        "wrong format": (0.5, 0.0, -0.5),
    }
    checks = {row.key: (row.baseline_passed, row.baseline_total, row.candidate_passed,
                        row.candidate_total) for row in comparison.by_check}
    # a case whose generator failed has no output, so none of its checks ran on either side
    assert checks == {"contains": (3, 4, 3, 4), "contains_any": (0, 1, 0, 1),
                      "icontains": (1, 1, 0, 0), "is_json": (1, 1, 0, 1), "regex": (0, 0, 0, 1)}


def test_compare_statistics(comparison: Comparison) -> None:
    assert comparison.mcnemar_p == mcnemar_exact(3, 1) == pytest.approx(0.625)
    assert comparison.mcnemar_p == pytest.approx(binomtest(3, 4, 0.5).pvalue)
    delta = comparison.score_delta
    assert delta is not None and delta.cases == 7 and delta.confidence == 0.95
    assert delta.mean == pytest.approx(-2 / 7)
    assert delta.low <= delta.mean <= delta.high


def test_compare_by_run_ids_and_errors(scenario: Scenario, comparison: Comparison) -> None:
    by_ids = compare(scenario.engine, baseline_run=scenario.baseline_run,
                     candidate_run=scenario.candidate_run)
    assert by_ids.regressions == comparison.regressions
    assert by_ids.score_delta == comparison.score_delta
    for kwargs, message in [
        ({"suite": "nope", "baseline_version": "v1", "candidate_version": "v2"},
         "there is no suite 'nope'"),
        ({"suite": SUITE, "baseline_version": "v1", "candidate_version": "v9"},
         "there is no model version 'v9'"),
        ({"suite": SUITE, "baseline_version": "v1", "candidate_version": "v3-no-run"},
         "'v3-no-run' .* has no finished run of suite"),
        ({"baseline_run": 999, "candidate_run": scenario.candidate_run}, "there is no run 999"),
        ({"baseline_version": "v1", "candidate_version": "v2"}, "name the suite"),
        ({"suite": "other", "baseline_run": scenario.baseline_run, "candidate_version": "v2"},
         "is a run of suite 'gate-suite'"),
    ]:
        with pytest.raises(ComparisonError, match=message):
            compare(scenario.engine, **kwargs)


def test_pair_results_keeps_missing_cases_out_of_the_pairs() -> None:
    def side(case_id: int, status: str) -> SideResult:
        return SideResult(case_id, f"case-{case_id}", None, status,
                          1.0 if status == "pass" else 0.0, None, None)

    pairing = pair_results({1: side(1, "pass"), 2: side(2, "missing"), 3: side(3, "fail")},
                           {1: side(1, "missing"), 2: side(2, "pass"), 3: side(3, "pass")})
    assert _names(pairing.missing) == ["case-1", "case-2"]
    assert _names(pairing.fixes) == ["case-3"]
    assert _names(pairing.paired) == ["case-3"]


# ---------------------------------------------------------------- evalboard gate


def _evalboard() -> str | None:
    """The installed console script (next to this interpreter, else on PATH)."""
    beside = Path(sys.executable).with_name("evalboard")
    return str(beside) if beside.is_file() else shutil.which("evalboard")


@pytest.fixture(scope="module")
def gate_runs(scenario: Scenario) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every gate invocation of the tests below, run concurrently (each costs ~1-2 s)."""
    script = _evalboard()
    if script is None:
        pytest.skip("the evalboard script is not installed")
    common = ["--db", scenario.db_url]
    versions = ["--suite", SUITE, "--baseline", "v1", "--candidate", "v2"]
    commands = {
        "allowed": versions + ["--max-regressions", "3", "--incomplete", "count"],
        "default": versions,
        "low-rate": versions + ["--max-regressions", "3", "--min-pass-rate", "0.5",
                                "--incomplete", "count"],
        "unknown-suite": ["--suite", "nope", "--baseline", "v1", "--candidate", "v2"],
        "no-run": ["--suite", SUITE, "--baseline", "v1", "--candidate", "v3-no-run"],
    }
    processes = {key: subprocess.Popen([script, "gate", *args, *common], text=True,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for key, args in commands.items()}
    done = {}
    for key, process in processes.items():
        stdout, stderr = process.communicate(timeout=120)
        done[key] = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    return done


def test_gate_passes_within_the_allowed_regressions(gate_runs) -> None:
    run = gate_runs["allowed"]
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[-1] == "GATE PASSED"
    assert "pass rate: 62.5% (5/8) -> 37.5% (3/8)  -25.0 pts" in lines
    assert "McNemar exact p = 0.625 (3 pass->fail vs 1 fail->pass)" in lines
    assert "fixes (1): refund-policy" in lines
    assert "new cases (candidate only): capital-italy" in lines


def test_gate_fails_on_regressions_and_lists_them(gate_runs) -> None:
    run = gate_runs["default"]
    assert run.returncode == 1, run.stderr
    out = run.stdout
    assert out.splitlines()[-1] == ("GATE FAILED: complete: 1 case not judged cleanly (listed "
                                    "above); max-regressions: 3 regressions (at most 0 allowed)")
    assert ("not judged cleanly (1; they fail the gate):\n"
            "  - greeting: generation error: RuntimeError: the model crashed\n") in out
    assert "  FAIL  max-regressions: 3 regressions (at most 0 allowed)\n" in out
    assert "  - capital-france [hallucination]: pass -> fail\n      contains: " in out
    assert "  - greeting [appropriate response]: pass -> error\n" \
           "      error: RuntimeError: the model crashed\n" in out
    assert "  - json-order [wrong format]: pass -> fail\n      is_json: " in out
    assert "paired cases: 7; 3 regressions, 1 fix, 2 still failing, 1 still passing" in out
    assert "  wrong format           50.0% (1/2) ->   0.0% (0/2)  -50.0 pts\n" in out
    assert "  is_json       100.0% (1/1) ->   0.0% (0/1)  -100.0 pts\n" in out


def test_gate_fails_below_the_minimum_pass_rate(gate_runs) -> None:
    run = gate_runs["low-rate"]
    assert run.returncode == 1, run.stderr
    assert run.stdout.splitlines()[-1] == (
        "GATE FAILED: min-pass-rate: candidate pass rate 37.5% (3/8) is below the minimum 50.0%")
    assert "  pass  max-regressions: 3 regressions (at most 3 allowed)" in run.stdout


@pytest.mark.parametrize(("key", "message"), [
    ("unknown-suite", "error: there is no suite 'nope'"),
    ("no-run", "error: model version 'v3-no-run' (the candidate) has no finished run"),
])
def test_gate_exits_2_when_it_cannot_decide(gate_runs, key: str, message: str) -> None:
    run = gate_runs[key]
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert message in run.stderr
    assert "Traceback" not in run.stderr and "GATE" not in run.stdout


def test_gate_rejects_a_pass_rate_outside_0_1(scenario: Scenario, monkeypatch, capsys) -> None:
    """In process (the option check needs no store), through the console script's main()."""
    monkeypatch.setattr(sys, "argv", ["evalboard", "gate", "--suite", SUITE, "--baseline",
                                      "v1", "--candidate", "v2", "--min-pass-rate", "1.5",
                                      "--db", scenario.db_url])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 2
    assert "--min-pass-rate" in capsys.readouterr().err


# ---------------------------------------------------------------- the pytest helper

EXAMPLE_SUITE = """\
suite: greetings
cases:
  - {name: hello, input: "Say hello", expect: {icontains: hello}, tags: [smoke]}
  - {name: bye, input: "Say goodbye", expect: {icontains: bye}}
  - {name: polite, input: "Say hello politely", expect: {icontains_all: [hello, please]}}
"""


def _example_store() -> str:
    """A store with the `greetings` suite, made when pytest collects this module."""
    folder = Path(tempfile.mkdtemp(prefix="evalboard-helper-"))
    atexit.register(shutil.rmtree, folder, True)
    (folder / "greetings.yaml").write_text(EXAMPLE_SUITE, encoding="utf-8")
    url = f"sqlite:///{folder / 'evalboard.db'}"
    engine = open_store(url)
    import_case_file(engine, folder / "greetings.yaml")
    engine.dispose()
    return url


EXAMPLE_DB = _example_store()
REPLIES = {"Say hello": "Hello!", "Say goodbye": "Bye now.",
           "Say hello politely": "Hello, please come in."}


@pytest.mark.parametrize("case", suite_cases("greetings", EXAMPLE_DB), ids=lambda c: c.name)
def test_example_suite_as_pytest_cases(case: SuiteCase) -> None:
    assert_case_passes(case, REPLIES[case.input])


def test_suite_cases_filters_and_failure_message() -> None:
    assert [c.name for c in suite_cases("greetings", EXAMPLE_DB)] == ["bye", "hello", "polite"]
    (smoke,) = suite_cases("greetings", EXAMPLE_DB, tags=["smoke"])
    assert (smoke.name, smoke.input, str(smoke)) == ("hello", "Say hello", "hello")
    (polite,) = [c for c in suite_cases("greetings", EXAMPLE_DB) if c.name == "polite"]
    with pytest.raises(AssertionError) as failure:
        assert_case_passes(polite, "Hello you.")
    assert str(failure.value) == (
        "case 'polite' failed: 1 of 1 checks (score 0.500)\n"
        "  - icontains_all(hello, please): output does not contain 'please' (1 of 2 found)\n"
        "  output: 'Hello you.'")
    assert assert_case_passes(polite.draft, "hello, please").passed
    with pytest.raises(ValueError, match="there is no suite 'nope'"):
        suite_cases("nope", EXAMPLE_DB)
