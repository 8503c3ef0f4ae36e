"""Replay matches inputs up to case and whitespace on both sides, and scores a logged call once
per run: cases whose inputs differ only in whitespace are not two regressions."""

from __future__ import annotations

from evalboard.cases.draft import CaseDraft
from evalboard.cases.repository import create_case
from evalboard.checks import CheckSpec
from evalboard.runs.compare import compare
from evalboard.runs.results import case_results
from evalboard.runs.runner import run_suite
from tests.support.calls import T0, add_calls

HELLO = CheckSpec("icontains", {"value": "hello"})


def _cases(engine) -> dict[str, int]:
    """Two cases whose inputs differ only in case and whitespace, the first created first."""
    return {name: create_case(engine, "s", CaseDraft(name=name, input=text, checks=(HELLO,)))
            for name, text in (("first", "Say hello"), ("twin", "say   hello "),
                               ("other", "Wave"))}


def test_a_logged_call_is_scored_once_for_the_case_created_first(engine):
    ids = _cases(engine)
    add_calls(engine, [
        {"input": "say   hello ", "output": "Hello!", "model_version": "v1", "created_at": T0},
        {"input": "Wave", "output": "hello wave", "model_version": "v1", "created_at": T0},
    ])
    summary = run_suite(engine, "s", "v1", None)
    results = {r.case_id: r for r in case_results(engine, summary.run_id)}
    assert results[ids["first"]].status == "pass" and results[ids["first"]].call_id == 1
    twin = results[ids["twin"]]
    assert (twin.status, twin.call_id) == ("missing", None)
    assert "“first”" in twin.error and "logged call 1" in twin.error
    assert (summary.passed, summary.scored, summary.missing) == (2, 2, ["twin"])


def test_whitespace_twins_make_one_regression_not_two(engine):
    _cases(engine)
    add_calls(engine, [
        {"input": "Say hello", "output": "Hello!", "model_version": "v1", "created_at": T0},
        {"input": "Wave", "output": "hello", "model_version": "v1", "created_at": T0},
        {"input": "say hello", "output": "Bye.", "model_version": "v2", "created_at": T0},
        {"input": "Wave", "output": "hello", "model_version": "v2", "created_at": T0},
    ])
    run_suite(engine, "s", "v1", None)
    run_suite(engine, "s", "v2", None)
    report = compare(engine, suite="s", baseline_version="v1", candidate_version="v2",
                     iterations=10)
    assert [flip.name for flip in report.regressions] == ["first"]
    assert [flip.name for flip in report.missing] == ["twin"]


def test_without_a_twin_a_case_matches_up_to_case_and_whitespace(engine):
    create_case(engine, "s", CaseDraft(name="loose", input="  SAY\nhello", checks=(HELLO,)))
    add_calls(engine, [{"input": "say hello", "output": "hello", "model_version": "v1"}])
    summary = run_suite(engine, "s", "v1", None)
    assert (summary.passed, summary.missing) == (1, [])
