"""Bad input across the loop: hostile checks in a run, an import killed mid-way, huge text."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from evalboard.cases.draft import CaseDraft
from evalboard.cases.repository import create_case
from evalboard.checks import CheckSpec
from evalboard.runs.generators import CallableGenerator
from evalboard.runs.results import case_results
from evalboard.runs.runner import run_suite
from evalboard.store.calls_counts import count_calls
from evalboard.store.case_models import CaseVersion
from evalboard.store.models import Call
from evalboard.store.records import normalize_call


def raising_check(output, params, context):  # a custom check that fails to run
    raise RuntimeError("the custom check broke")


def hanging_check(output, params, context):  # a custom check that never returns
    time.sleep(60)


def _answer(prompt: object) -> str:
    return "a" * 5000 + "b"


def test_a_run_turns_every_broken_check_into_an_error_result_and_goes_on(engine):
    broken = {
        "catastrophic regex": CheckSpec("regex", {"pattern": "(a+)+$", "timeout_s": 0.3}),
        "raising custom": CheckSpec(
            "custom", {"function": "tests.test_bad_input:raising_check"}),
        "hanging custom": CheckSpec(
            "custom", {"function": "tests.test_bad_input:hanging_check", "timeout_s": 0.3}),
    }
    for name, spec in broken.items():
        create_case(engine, "hostile", CaseDraft(name=name, input=name, checks=(spec,)))
    create_case(engine, "hostile", CaseDraft(name="invalid schema", input="schema", checks=(
        CheckSpec("json_schema", {"schema": {"type": "object"}}),)))
    _store_raw_checks(engine, "invalid schema",
                      [{"type": "json_schema", "params": {"schema": {"type": "no-such-type"}}}])
    broken["invalid schema"] = None  # saved before schemas were validated on save
    create_case(engine, "hostile", CaseDraft(
        name="healthy", input="fine", checks=(CheckSpec("contains", {"value": "b"}),)))
    started = time.monotonic()
    summary = run_suite(engine, "hostile", "v1", CallableGenerator(_answer))
    assert time.monotonic() - started < 30
    results = {r.name: r for r in case_results(engine, summary.run_id)}
    assert results["healthy"].status == "pass"
    for name in broken:
        assert results[name].status == "error", name
        assert results[name].checks[0].error, name
        assert results[name].checks[0].reason.startswith("error"), name


def _store_raw_checks(engine, name: str, checks: list[dict]) -> None:
    """Overwrite a stored case version's checks, as an older evalboard might have saved them."""
    with Session(engine) as session:
        version = session.scalars(select(CaseVersion).where(CaseVersion.name == name)).one()
        version.checks = checks
        session.commit()


def test_an_unknown_check_in_a_stored_case_is_an_error_result(engine):
    create_case(engine, "s", CaseDraft(name="ok", input="x",
                                       checks=(CheckSpec("contains", {"value": "x"}),)))
    _store_raw_checks(engine, "ok", [{"type": "retired_check", "params": {}}])
    summary = run_suite(engine, "s", "v1", CallableGenerator(_answer))
    assert (summary.errors, summary.passed) == (1, 0)


def test_huge_and_odd_text_is_stored_whole(engine):
    from tests.support.calls import add_calls

    one_mb_line = "x" * 1_000_000
    odd = "\u202eevil\u202c zero\u200bwidth \u05e9\u05dc\u05d5\u05dd NUL\x00 \x07bell"
    add_calls(engine, [{"input": odd, "output": one_mb_line}, {"input": "q", "output": odd}])
    with Session(engine) as session:
        outputs = [c.output for c in session.scalars(select(Call).order_by(Call.id))]
    assert len(outputs[0]) == 1_000_000
    assert outputs[1] == normalize_call(input="q", output=odd)["output"]


def test_an_import_killed_mid_way_finishes_on_the_second_run(engine, db_url, tmp_path):
    path = tmp_path / "big.jsonl"
    rows = 30_000
    path.write_text("".join(json.dumps({"input": f"prompt {i}", "output": "o", "id": i}) + "\n"
                            for i in range(rows)))
    command = [shutil.which("evalboard") or "evalboard", "import", str(path), "--db", db_url]
    env = dict(os.environ)
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while count_calls(engine) < 3000 and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    landed = count_calls(engine)
    assert 0 < landed < rows  # it really was interrupted mid-way
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert f"already present {landed}" in finished.stdout
    with Session(engine) as session:
        assert session.scalar(select(func.count(func.distinct(Call.external_id)))) == rows
    assert count_calls(engine) == rows
