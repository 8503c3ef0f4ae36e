"""Check results become review suggestions and a sampling strategy; nothing is auto-applied."""

from __future__ import annotations

from evalboard.cases.draft import CaseDraft
from evalboard.cases.repository import create_case
from evalboard.checks import CheckSpec
from evalboard.review.annotations import current_judgements
from evalboard.review.sampling import SessionSpec, pick_calls
from evalboard.review.suggestions import check_suggestions
from evalboard.runs.runner import run_suite
from tests.support.calls import add_calls


def test_replayed_failures_suggest_labels_and_come_first(engine):
    add_calls(engine, [
        {"input": "Who was Caesar?", "output": "He acted with Tom Hanks.", "model_version": "v1"},
        {"input": "Capital of France?", "output": "Paris.", "model_version": "v1"},
        {"input": "unrelated", "output": "x", "model_version": "v1"},
    ])
    create_case(engine, "s", CaseDraft(
        name="no-hanks", input="who was  CAESAR?", mode="failure", label="hallucination",
        checks=(CheckSpec("icontains_any", {"values": ["tom hanks"]}, negate=True),)))
    create_case(engine, "s", CaseDraft(
        name="paris", input="Capital of France?", label="appropriate response",
        checks=(CheckSpec("icontains", {"value": "paris"}),)))
    run_suite(engine, "s", "v1", None)  # replay matches the normalised inputs
    hanks = check_suggestions(engine, 1)
    assert [(s.case_name, s.status, s.suggested_label) for s in hanks] == [
        ("no-hanks", "fail", "hallucination")]
    assert hanks[0].failed_checks[0][0] == "NOT icontains_any"
    assert check_suggestions(engine, 2)[0].suggested_label == "appropriate response"
    assert check_suggestions(engine, 3) == []
    assert current_judgements(engine, [1, 2]) == {}  # suggestions are never applied
    assert pick_calls(engine, SessionSpec(10, "failing_checks")) == [1]
