"""The Runs and Compare pages under AppTest: runs table, run detail, new-run form, comparison.

Runs are crafted with plain callables so every status is known:

| case      | label                | check               | v1 (baseline) | v2 (candidate) |
|-----------|----------------------|---------------------|---------------|----------------|
| a-capital | hallucination        | contains Paris      | pass          | fail           |
| b-json    | wrong format         | is_json             | pass          | error          |
| c-refund  | hallucination        | contains 30 days    | fail          | pass           |
| d-math    | —                    | contains 4          | pass          | pass           |
| e-insult  | biased or insulting  | NOT contains idiot  | fail          | fail           |
| f-hello   | appropriate response | icontains hello     | pass          | fail           |

So v1 -> v2 has 3 regressions (a, b, f), 1 fix (c), 1 still failing (e), 1 still passing (d).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from evalboard.cases.draft import CaseDraft
from evalboard.cases.repository import create_case
from evalboard.checks import CheckSpec
from evalboard.runs.generators import CallableGenerator
from evalboard.runs.runner import run_suite
from evalboard.runs.stats import mcnemar_exact
from evalboard.store.run_models import EvalRun
from evalboard.ui.navigation import page_path
from tests.support.apptest import open_page
from tests.support.calls import add_calls

SUITE = "page-suite"
CRASH = None

BASELINE: dict[str, str | None] = {
    "Capital of France?": "Paris.",
    "The order as JSON": '{"id": 1}',
    "How long is the refund window?": "14 days.",
    "What is 2+2?": "4",
    "Rate my code": "Only an idiot writes this.",
    "Say hello": "Hello there!",
}
CANDIDATE: dict[str, str | None] = {
    **BASELINE,
    "Capital of France?": "Lyon.",
    "The order as JSON": CRASH,
    "How long is the refund window?": "30 days.",
    "Say hello": "Good morning.",
}


def _answer(table: dict[str, str | None], prompt: Any) -> str:
    output = table[str(prompt)]
    if output is None:
        raise RuntimeError("the API timed out")
    return output


def baseline_model(prompt: Any) -> str:
    return _answer(BASELINE, prompt)


def candidate_model(prompt: Any) -> str:
    return _answer(CANDIDATE, prompt)


def _case(name: str, prompt: str, check: CheckSpec, label: str | None = None) -> CaseDraft:
    return CaseDraft(name=name, input=prompt, checks=(check,), label=label)


CASES = [
    _case("a-capital", "Capital of France?", CheckSpec("contains", {"value": "Paris"}),
          "hallucination"),
    _case("b-json", "The order as JSON", CheckSpec("is_json"), "wrong format"),
    _case("c-refund", "How long is the refund window?",
          CheckSpec("contains", {"value": "30 days"}), "hallucination"),
    _case("d-math", "What is 2+2?", CheckSpec("contains", {"value": "4"})),
    _case("e-insult", "Rate my code",
          CheckSpec("contains", {"value": "idiot"}, negate=True), "biased or insulting"),
    _case("f-hello", "Say hello", CheckSpec("icontains", {"value": "hello"}),
          "appropriate response"),
]


@pytest.fixture
def suite(engine: Engine) -> Engine:
    for draft in CASES:
        create_case(engine, SUITE, draft)
    return engine


@pytest.fixture
def two_runs(suite: Engine) -> tuple[int, int]:
    """Run 1: v1 (4 of 6 pass); run 2: v2 (2 of 6 pass, 1 error); and a version without runs."""
    first = run_suite(suite, SUITE, "v1", CallableGenerator(baseline_model))
    second = run_suite(suite, SUITE, "v2", CallableGenerator(candidate_model))
    add_calls(suite, [{"input": "hi", "output": "hello", "model_version": "v3-no-run"}])
    return first.run_id, second.run_id


def runs_page(**params: str) -> AppTest:
    return open_page(page_path("runs"), **params)


def compare_page(**params: str) -> AppTest:
    return open_page(page_path("compare"), **params)


def texts(at: AppTest) -> str:
    return " ".join(str(e.value) for e in [*at.caption, *at.markdown, *at.info, *at.error,
                                           *at.warning, *at.success, *at.subheader])


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def case_expanders(at: AppTest) -> dict[str, Any]:
    """The run detail's case blocks by case name (the New run expander left out)."""
    return {e.label.split(" — ")[0]: e for e in at.expander if " — " in e.label}


def run_count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(EvalRun)) or 0


# ---------------------------------------------------------------- Runs page


def test_runs_table_lists_runs_with_pass_rates(two_runs: tuple[int, int]) -> None:
    at = runs_page()

    assert not at.exception
    assert at.title[0].value == "Eval runs"
    frame = next(df.value for df in at.dataframe if "pass rate" in df.value.columns)
    rows = {int(r["run"]): r for r in frame.to_dict("records")}
    assert list(rows) == [two_runs[1], two_runs[0]]  # newest first
    first, second = rows[two_runs[0]], rows[two_runs[1]]
    assert (first["model version"], first["suite"], first["status"]) == ("v1", SUITE,
                                                                          "finished")
    assert (first["outputs from"], first["passed"], first["failed"], first["errors"]) == (
        "callable", 4, 2, 0)
    assert first["pass rate"] == pytest.approx(4 / 6)
    assert (second["passed"], second["failed"], second["errors"]) == (2, 3, 1)
    assert second["pass rate"] == pytest.approx(2 / 6)


def test_run_detail_shows_metrics_rates_and_failing_cases(two_runs: tuple[int, int]) -> None:
    at = runs_page(run=str(two_runs[1]))

    assert not at.exception
    assert f"Run {two_runs[1]}: {SUITE} on v2" in texts(at)
    assert metrics(at) == {"Pass rate": "33.3%", "Passed": "2", "Failed": "3", "Errors": "1",
                           "No logged call": "0"}
    rates = next(df.value for df in at.dataframe if "by" in df.value.columns)
    table = {(r["by"], r["name"]): (r["passed"], r["of"]) for r in rates.to_dict("records")}
    assert table == {
        ("label", "appropriate response"): (0, 1), ("label", "biased or insulting"): (0, 1),
        ("label", "hallucination"): (1, 2), ("label", "wrong format"): (0, 1),
        ("check", "contains"): (2, 4), ("check", "icontains"): (0, 1)}
    # failing cases only, by default: fail and error, none of the passing ones
    assert sorted(case_expanders(at)) == ["a-capital", "b-json", "e-insult", "f-hello"]


def test_a_failing_case_shows_its_check_reasons_and_output(two_runs: tuple[int, int]) -> None:
    at = runs_page(run=str(two_runs[1]))

    blocks = case_expanders(at)
    capital = blocks["a-capital"]
    assert capital.label.startswith("a-capital — fail, score 0.00 · hallucination")
    [checks] = [df.value for df in capital.dataframe]
    [row] = checks.to_dict("records")
    assert (row["check"], row["passed"]) == ("contains", False)
    assert row["reason"] == "output does not contain 'Paris'"
    assert [c.value for c in capital.code] == ["Lyon."]
    insult = next(df.value for df in blocks["e-insult"].dataframe).to_dict("records")[0]
    assert insult["check"] == "NOT contains" and insult["reason"].startswith("NOT: ")
    crashed = blocks["b-json"]
    assert [e.value for e in crashed.error] == ["RuntimeError: the API timed out"]


def test_failing_only_toggle_shows_passing_cases_too(two_runs: tuple[int, int]) -> None:
    at = runs_page(run=str(two_runs[0]))
    assert sorted(case_expanders(at)) == ["c-refund", "e-insult"]

    at.toggle(key="failing_only").set_value(False).run()

    assert not at.exception
    blocks = case_expanders(at)
    assert sorted(blocks) == ["a-capital", "b-json", "c-refund", "d-math", "e-insult",
                              "f-hello"]
    assert blocks["d-math"].label.startswith("d-math — pass, score 1.00")


def test_unknown_run_shows_a_warning(two_runs: tuple[int, int]) -> None:
    at = runs_page(run="99")

    assert not at.exception
    assert [w.value for w in at.warning] == ["there is no run 99"]


def _fill_new_run(at: AppTest, callable_ref: str, version: str = "v3-no-run") -> AppTest:
    form_version = next(s for s in at.selectbox if s.label == "Model version")
    form_version.set_value(version)
    next(t for t in at.text_input if t.label == "Callable").input(callable_ref)
    next(b for b in at.button if b.label == "Run the suite").click()
    return at.run()


def test_new_run_form_with_a_callable_creates_a_run_and_opens_it(
        two_runs: tuple[int, int], engine: Engine) -> None:
    at = runs_page()
    assert next(s for s in at.selectbox if s.label == "Suite").value == SUITE
    assert next(r for r in at.radio if r.label == "Outputs from").value == "callable"

    at = _fill_new_run(at, "tests.tiny_models:echo_model")

    assert not at.exception
    assert run_count(engine) == 3
    assert at.query_params["run"] == "3"
    assert f"Run 3: {SUITE} on v3-no-run" in texts(at)
    # an echo repeats the prompt: "What is 2+2?" contains 4, and it insults nobody
    assert (metrics(at)["Passed"], metrics(at)["Failed"]) == ("2", "4")
    assert "contains" in " ".join(str(df.value) for df in at.dataframe)


@pytest.mark.parametrize(("reference", "reason"), [
    ("tests.tiny_models:no_such_function", "has no function 'no_such_function'"),
    ("no_such_module_for_evalboard:generate", "cannot import 'no_such_module_for_evalboard'"),
    ("just-a-name", "expected module:function"),
])
def test_bad_callable_shows_an_error_and_no_run(
        two_runs: tuple[int, int], engine: Engine, reference: str, reason: str) -> None:
    at = _fill_new_run(runs_page(), reference)

    assert not at.exception
    [error] = [e.value for e in at.error]
    assert error.startswith("The run could not start: ") and reason in error
    assert "Traceback" not in texts(at)
    assert run_count(engine) == 2
    assert "run" not in at.query_params


def test_output_against_the_reference_is_a_word_diff_with_escaped_html(
        engine: Engine) -> None:
    create_case(engine, "diff-suite", CaseDraft(
        name="refund", input="Refund window?", references=("You have 30 days to ask.",),
        checks=(CheckSpec("contains", {"value": "30 days"}),)))
    summary = run_suite(engine, "diff-suite", "v1",
                        CallableGenerator(lambda prompt: "You have <b>14</b> days to ask."))

    at = runs_page(run=str(summary.run_id))

    assert not at.exception
    block = case_expanders(at)["refund"]
    [diff] = [m.value for m in block.markdown if "monospace" in m.value]
    assert "&lt;b&gt;14&lt;/b&gt;" in diff and "<b>" not in diff  # model output stays text
    assert "line-through\">30</span>" in diff  # removed from the reference
    assert "You have " in diff and " days to ask." in diff


BROKEN_MODULE = "def generate(prompt:\n    return prompt\n"


def test_callable_module_that_fails_to_import_shows_the_reason(
        two_runs: tuple[int, int], engine: Engine, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "evalboard_broken_model.py").write_text(BROKEN_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))

    at = _fill_new_run(runs_page(), "evalboard_broken_model:generate")

    assert not at.exception
    assert run_count(engine) == 2
    [error] = [e.value for e in at.error]
    assert error.startswith("The run could not start: ") and "SyntaxError" in error


# ---------------------------------------------------------------- Compare page


def test_compare_versions_shows_flips_and_significance(two_runs: tuple[int, int]) -> None:
    at = compare_page(cmp_suite=SUITE, cmp_base="v1", cmp_cand="v2")

    assert not at.exception
    shown = metrics(at)
    assert shown["Regressions"] == "3" and shown["Fixes"] == "1"
    assert shown["Still failing"] == "1"
    assert shown["McNemar p"] == f"{mcnemar_exact(3, 1):.3f}" == "0.625"
    assert shown["Candidate pass rate"] == "33.3%"
    assert f"Baseline: run {two_runs[0]} (v1) · candidate: run {two_runs[1]} (v2)" in texts(at)
    flips = {e.label: e for e in at.expander if " → " in e.label}
    assert sorted(flips) == [
        "a-capital — pass → fail · hallucination", "b-json — pass → error · wrong format",
        "c-refund — fail → pass · hallucination",
        "f-hello — pass → fail · appropriate response"]
    capital = flips["a-capital — pass → fail · hallucination"]
    assert [c.value for c in capital.code] == ["Paris.", "Lyon."]
    assert "failed: contains: output does not contain 'Paris'" in [
        c.value for c in capital.caption]
    crashed = flips["b-json — pass → error · wrong format"]
    assert [c.value for c in crashed.code] == ['{"id": 1}']
    assert "(no output)" in [c.value for c in crashed.caption]
    assert "failed: error: RuntimeError: the API timed out" in [
        c.value for c in crashed.caption]
    assert "Regressions (3)" in texts(at) and "Fixes (1)" in texts(at)


def test_compare_without_a_full_choice_shows_the_info(two_runs: tuple[int, int]) -> None:
    at = compare_page()
    assert not at.exception
    assert [i.value for i in at.info][0].startswith("Pick a suite and two model versions")
    assert not at.metric

    partial = compare_page(cmp_suite=SUITE, cmp_base="v1")
    assert [i.value for i in partial.info][0].startswith("Pick a suite and two model versions")
    assert not partial.metric


def test_compare_by_runs(two_runs: tuple[int, int]) -> None:
    at = compare_page(cmp_by="runs", cmp_base_run=str(two_runs[0]),
                      cmp_cand_run=str(two_runs[1]))

    assert not at.exception
    assert metrics(at)["Regressions"] == "3" and metrics(at)["Fixes"] == "1"

    reversed_ = compare_page(cmp_by="runs", cmp_base_run=str(two_runs[1]),
                             cmp_cand_run=str(two_runs[0]))
    assert metrics(reversed_)["Regressions"] == "1" and metrics(reversed_)["Fixes"] == "3"

    incomplete = compare_page(cmp_by="runs", cmp_base_run=str(two_runs[0]))
    assert [i.value for i in incomplete.info][0].startswith("Pick two runs")


def test_compare_with_a_version_without_a_finished_run_warns(
        two_runs: tuple[int, int]) -> None:
    at = compare_page(cmp_suite=SUITE, cmp_base="v1", cmp_cand="v3-no-run")

    assert not at.exception
    [warning] = [w.value for w in at.warning]
    assert "'v3-no-run' (the candidate) has no finished run" in warning
    assert not at.metric
