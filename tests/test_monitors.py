"""Monitors: definitions validated on save, deterministic sampling, the worker's batches,
filters, its bounded concurrency for slow checks, and the background worker's start and stop."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from evalboard.checks.base import REGISTRY, CheckContext, CheckOutcome, CheckSpec, register
from evalboard.monitors.definitions import (
    MonitorError,
    MonitorSpec,
    check_names,
    create_monitor,
    delete_monitor,
    get_monitor,
    list_monitors,
    parse_checks,
    set_enabled,
    update_monitor,
)
from evalboard.monitors.sampling import is_sampled, sample_key
from evalboard.monitors.worker import BackgroundMonitors, WorkerSettings, run_pass
from evalboard.store.monitor_models import MonitorResult
from tests.support.calls import add_calls, make_rows

NO_DIGITS = CheckSpec("regex", {"pattern": r"^\D*$"})


def _results(engine) -> list[Any]:
    with Session(engine) as session:
        return list(session.execute(
            select(MonitorResult.call_id, MonitorResult.check_name, MonitorResult.passed)
            .order_by(MonitorResult.call_id, MonitorResult.check_name)).all())


def test_bad_regex_is_refused_on_save_with_a_readable_error(engine):
    spec = MonitorSpec("digits", (CheckSpec("regex", {"pattern": "(unclosed"}),))
    with pytest.raises(MonitorError) as caught:
        create_monitor(engine, spec)
    message = str(caught.value)
    assert message.startswith("check 1: params.pattern: regex:")
    assert "\n" not in message
    assert list_monitors(engine) == []


@pytest.mark.parametrize(("spec", "expected"), [
    (MonitorSpec(" ", (NO_DIGITS,)), "name: a monitor needs a name"),
    (MonitorSpec("m", ()), "checks: a monitor needs at least one check"),
    (MonitorSpec("m", (NO_DIGITS,), sampling_rate=1.5), "sampling rate: a share from 0 to 1"),
    (MonitorSpec("m", (NO_DIGITS,), source="web"), "source: expected one of"),
    (MonitorSpec("m", (CheckSpec("nope"),)), "check 1: type: unknown check 'nope'"),
    (MonitorSpec("m", (CheckSpec("rouge_l"),)), "check 1:"),  # needs a reference
    (MonitorSpec("m", (NO_DIGITS,), metadata={"": "x"}), "metadata: every key needs a name"),
])
def test_invalid_monitors_name_the_field(engine, spec, expected):
    with pytest.raises(MonitorError, match="^" + expected.replace("(", r"\(")):
        create_monitor(engine, spec)


def test_checks_from_plain_data_are_validated():
    assert parse_checks([{"type": "is_json"}, {"type": "is_json", "negate": True}]) == (
        CheckSpec("is_json"), CheckSpec("is_json", negate=True))
    with pytest.raises(MonitorError, match="^check 2: weight: expected a number"):
        parse_checks([{"type": "is_json"}, {"type": "is_json", "weight": "x"}])


def test_check_names_are_unique_in_a_monitor():
    specs = (CheckSpec("is_json"), CheckSpec("is_json"), CheckSpec("is_json", negate=True))
    assert check_names(specs) == ["is_json", "is_json #2", "NOT is_json"]


def test_create_update_pause_delete(engine):
    add_calls(engine, make_rows(3, model_version="v1"))
    monitor_id = create_monitor(engine, MonitorSpec("json", (CheckSpec("is_json"),)))
    view = get_monitor(engine, "json")
    assert view.id == monitor_id and view.last_call_id > 0  # new calls only by default
    with pytest.raises(MonitorError, match="already a monitor called 'json'"):
        create_monitor(engine, MonitorSpec("json", (CheckSpec("is_json"),)))
    update_monitor(engine, monitor_id, MonitorSpec("json!", (NO_DIGITS,), sampling_rate=0.5))
    assert get_monitor(engine, monitor_id).spec.sampling_rate == 0.5
    set_enabled(engine, monitor_id, False)
    assert list_monitors(engine, enabled_only=True) == []
    delete_monitor(engine, monitor_id)
    with pytest.raises(MonitorError, match="no monitor"):
        get_monitor(engine, monitor_id)


def test_sampling_is_deterministic_and_near_the_rate():
    keys = [sample_key(7, call_id) for call_id in range(1, 20_001)]
    assert keys == [sample_key(7, call_id) for call_id in range(1, 20_001)]
    assert all(0 <= k < 1 for k in keys)
    share = sum(is_sampled(7, call_id, 0.25) for call_id in range(1, 20_001)) / 20_000
    assert 0.23 < share < 0.27
    assert keys != [sample_key(8, call_id) for call_id in range(1, 20_001)]
    # raising the rate keeps every call sampled before
    low = {c for c in range(1, 5001) if is_sampled(7, c, 0.1)}
    assert low <= {c for c in range(1, 5001) if is_sampled(7, c, 0.3)}
    assert not any(is_sampled(7, c, 0.0) for c in range(1, 1000))


def test_worker_checks_new_calls_incrementally(engine):
    add_calls(engine, [{"input": "q", "output": "no digits here", "model_version": "v1"},
                       {"input": "q", "output": "call 911", "model_version": "v1"}])
    create_monitor(engine, MonitorSpec("digits", (NO_DIGITS, CheckSpec("is_json"))),
                   backfill=True)
    first = run_pass(engine)
    assert (first.checked, first.results, first.failures) == (2, 4, 3)
    assert run_pass(engine).checked == 0  # nothing new: nothing repeated
    add_calls(engine, [{"input": "q", "output": '{"a": "b"}', "model_version": "v1"}])
    assert run_pass(engine).checked == 1
    rows = _results(engine)
    assert len(rows) == 6 and len({(c, n) for c, n, _ in rows}) == 6
    assert [passed for _c, _n, passed in rows[-2:]] == [True, True]


def test_new_monitor_without_backfill_skips_stored_calls(engine):
    add_calls(engine, make_rows(5, model_version="v1"))
    create_monitor(engine, MonitorSpec("digits", (NO_DIGITS,)))
    assert run_pass(engine).checked == 0
    add_calls(engine, make_rows(2, model_version="v1"))
    assert run_pass(engine).checked == 2


def test_filter_and_sampling(engine):
    rows = [*make_rows(40, model_version="v1", metadata={"tier": "pro"}),
            *make_rows(40, model_version="v2", metadata={"tier": "pro"}),
            *make_rows(40, model_version="v1", metadata={"tier": "free"}),
            *make_rows(40, model_version="v1", source="eval", metadata={"tier": "pro"})]
    add_calls(engine, rows)
    spec = MonitorSpec("pro v1", (NO_DIGITS,), model_versions=("v1", "v9"),
                       metadata={"tier": "pro"}, sampling_rate=0.5)
    monitor_id = create_monitor(engine, spec, backfill=True)
    report = run_pass(engine, WorkerSettings(batch_size=7))
    assert report.scanned == 40
    with Session(engine) as session:
        checked = set(session.scalars(select(MonitorResult.call_id)))
    from evalboard.store.models import Call

    with Session(engine) as session:
        wanted = set(session.scalars(select(Call.id).join(Call.model_version).where(
            Call.source == "production", Call.meta["tier"].as_string() == "pro")
            .where(Call.model_version.has(name="v1"))))
    assert len(wanted) == 40
    assert checked == {c for c in wanted if is_sampled(monitor_id, c, 0.5)}
    assert 0 < len(checked) < 40


def test_unknown_versions_match_nothing(engine):
    add_calls(engine, make_rows(5, model_version="v1"))
    create_monitor(engine, MonitorSpec("future", (NO_DIGITS,), model_versions=("v9",)),
                   backfill=True)
    assert run_pass(engine).checked == 0
    add_calls(engine, make_rows(3, model_version="v9"))
    assert run_pass(engine).checked == 3


class _Probe:
    """A slow model-category check that records how many of it run at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.calls = 0

    def __call__(self, output: str, params: Mapping[str, Any],
                 context: CheckContext) -> CheckOutcome:
        with self.lock:
            self.running += 1
            self.calls += 1
            self.peak = max(self.peak, self.running)
        time.sleep(0.02)
        with self.lock:
            self.running -= 1
        return CheckOutcome("digit" not in output, 1.0, "probed")


@pytest.fixture
def probe() -> Iterator[_Probe]:
    checker = _Probe()
    register("test_slow_probe", category="model")(checker)
    yield checker
    REGISTRY.pop("test_slow_probe")


def test_slow_checks_run_with_bounded_concurrency(engine, probe):
    add_calls(engine, make_rows(24, model_version="v1"))
    create_monitor(engine, MonitorSpec("slow", (CheckSpec("test_slow_probe"), NO_DIGITS)),
                   backfill=True)
    report = run_pass(engine, WorkerSettings(batch_size=12, concurrency=3))
    assert report.results == 48 and probe.calls == 24
    assert 1 < probe.peak <= 3


def test_background_worker_starts_checks_and_stops(engine):
    create_monitor(engine, MonitorSpec("digits", (NO_DIGITS,)))
    worker = BackgroundMonitors(engine, interval=0.05).start()
    try:
        add_calls(engine, make_rows(3, model_version="v1"))
        deadline = time.monotonic() + 20
        while len(_results(engine)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_results(engine)) == 3
        assert worker.alive
    finally:
        assert worker.stop(timeout=10)
    assert not worker.alive


def test_background_worker_survives_a_failing_pass(engine, monkeypatch, caplog):
    from evalboard.monitors import worker as worker_module

    calls = {"n": 0}
    real = worker_module.run_pass

    def flaky(*args: Any, **kwargs: Any):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("store went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(worker_module, "run_pass", flaky)
    monkeypatch.setattr(worker_module, "MAX_BACKOFF_SECONDS", 0.05)
    create_monitor(engine, MonitorSpec("digits", (NO_DIGITS,)))
    add_calls(engine, make_rows(1, model_version="v1"))
    with caplog.at_level("ERROR", logger="evalboard.monitors"):
        worker = BackgroundMonitors(engine, interval=0.05).start()
        deadline = time.monotonic() + 20
        while calls["n"] < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert worker.stop(timeout=10)
    assert calls["n"] >= 3
    assert "monitor pass failed" in caplog.text and "store went away" in caplog.text


def test_results_count_per_monitor(engine):
    add_calls(engine, [{"input": "q", "output": "a1", "model_version": "v1"},
                       {"input": "q", "output": "b", "model_version": "v1"}])
    create_monitor(engine, MonitorSpec("digits", (NO_DIGITS,)), backfill=True)
    run_pass(engine)
    view = get_monitor(engine, "digits")
    assert (view.results, view.failures) == (2, 1)
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(MonitorResult)) == 2


@pytest.mark.parametrize("monitors", [True, False])
def test_serve_runs_the_worker_only_with_monitors_and_stops_it(engine, db_url, monkeypatch,
                                                                monitors):
    import typer

    from evalboard.cli import serve_command

    create_monitor(engine, MonitorSpec("digits", (NO_DIGITS,)))
    seen: dict[str, Any] = {}

    def fake_streamlit(command: list[str], env: dict[str, str]) -> int:
        add_calls(engine, make_rows(2, model_version="v1"))
        deadline = time.monotonic() + (20 if monitors else 1)
        while len(_results(engine)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        seen["results"] = len(_results(engine))
        seen["threads"] = [t.name for t in threading.enumerate()]
        return 0

    monkeypatch.setattr(serve_command.subprocess, "call", fake_streamlit)
    with pytest.raises(typer.Exit) as exited:
        serve_command.serve_command(port=8599, host="127.0.0.1", db=db_url, monitors=monitors)
    assert exited.value.exit_code == 0
    assert seen["results"] == (2 if monitors else 0)
    assert ("evalboard-monitors" in seen["threads"]) is monitors
    assert "evalboard-monitors" not in [t.name for t in threading.enumerate()]


def test_a_judge_monitor_runs_with_bounded_concurrency_and_records_the_judge(engine,
                                                                            monkeypatch):
    from evalboard.checks import judge as judge_check
    from tests.support.fake_openai import FAIL, PASS, Reply, fake_openai
    from tests.support.judge_stores import openai_judge

    lock = threading.Lock()
    state = {"running": 0, "peak": 0}
    real_run_judge = judge_check.run_judge

    def counted(*args: Any) -> CheckOutcome:
        with lock:
            state["running"] += 1
            state["peak"] = max(state["peak"], state["running"])
        try:
            return real_run_judge(*args)
        finally:
            with lock:
                state["running"] -= 1

    def answer(body: dict[str, Any]) -> Reply:
        failing = re.search(r"answer number [13]\b", json.dumps(body)) is not None
        return Reply(FAIL if failing else PASS, delay_s=0.05)

    monkeypatch.setattr(judge_check, "run_judge", counted)
    add_calls(engine, make_rows(12, model_version="v1"))
    with fake_openai(answer=answer) as server:
        version = openai_judge(engine, server.url)
        judge = CheckSpec("judge", {"judge": "hallucination"})
        create_monitor(engine, MonitorSpec("judged", (judge, NO_DIGITS)), backfill=True)
        report = run_pass(engine, WorkerSettings(batch_size=6, concurrency=2))
    assert report.checked == 12 and report.results == 24
    assert 1 < state["peak"] <= 2
    with Session(engine) as session:
        judged = session.execute(select(MonitorResult.call_id, MonitorResult.passed,
                                        MonitorResult.judge_version_id)
                                 .where(MonitorResult.check_name == "judge")
                                 .order_by(MonitorResult.call_id)).all()
    assert {row.judge_version_id for row in judged} == {version.id}
    assert [row.passed for row in judged].count(False) == 2


def test_calls_stored_late_below_the_cursor_are_checked_once(engine):
    from evalboard.store.ids import IdPool
    from evalboard.store.records import normalize_call
    from evalboard.store.writes import write_calls

    def write(pool: IdPool, count: int) -> tuple[int, ...]:
        rows = [normalize_call(input="q", output=f"late {i}", model_version="v1")
                for i in range(count)]
        return write_calls(engine, rows, pool).ids

    slow, fast = IdPool(engine, block_size=100), IdPool(engine, block_size=100)
    early = write(slow, 1)  # the slow writer holds ids 1-100
    create_monitor(engine, MonitorSpec("digits", (NO_DIGITS,)), backfill=True)
    fast_ids = write(fast, 5)  # 101-105
    assert run_pass(engine).checked == 6
    late_ids = write(slow, 3)  # 2-4: below the cursor now
    assert max(late_ids) < min(fast_ids)
    report = run_pass(engine)
    assert (report.checked, report.late) == (3, 3)
    assert run_pass(engine).checked == 0
    checked = [call_id for call_id, _name, _passed in _results(engine)]
    assert sorted(checked) == sorted([*early, *fast_ids, *late_ids])


def test_the_late_look_back_never_reaches_calls_stored_before_the_monitor(engine):
    from evalboard.store.ids import IdPool
    from evalboard.store.records import normalize_call
    from evalboard.store.writes import write_calls

    slow, fast = IdPool(engine, block_size=100), IdPool(engine, block_size=100)
    for pool in (slow, fast, fast):
        write_calls(engine, [normalize_call(input="q", output="old", model_version="v1")], pool)
    create_monitor(engine, MonitorSpec("digits", (NO_DIGITS,)))  # from now on
    assert run_pass(engine).checked == 0
    write_calls(engine, [normalize_call(input="q", output="new", model_version="v1")], fast)
    assert run_pass(engine).checked == 1


def test_a_judge_that_cannot_answer_holds_its_monitor_not_the_others(engine):
    from tests.support.fake_openai import PASS, Reply, fake_openai
    from tests.support.judge_stores import openai_judge

    add_calls(engine, make_rows(4, model_version="v1"))
    with fake_openai(default=Reply("down", status=500)) as server:
        openai_judge(engine, server.url, max_retries=0)
        judged = create_monitor(engine, MonitorSpec(
            "judged", (CheckSpec("judge", {"judge": "hallucination"}), NO_DIGITS)),
            backfill=True)
        create_monitor(engine, MonitorSpec("plain", (NO_DIGITS,)), backfill=True)
        report = run_pass(engine)
        assert list(report.errors) == ["judged"]
        assert "every model-based check failed" in report.errors["judged"]
        assert report.per_monitor == {"plain": 4} and len(_results(engine)) == 4
        assert get_monitor(engine, judged).last_call_id == 0  # the calls wait
        server.default = PASS
        again = run_pass(engine)
    assert again.errors == {} and again.per_monitor["judged"] == 4
    assert len(_results(engine)) == 12
