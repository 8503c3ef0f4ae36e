"""A monitor worker killed with SIGKILL mid-batch, then run again: every sampled call ends with
exactly one result per check (nothing lost, nothing repeated). Also the CLI, for real."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from evalboard.checks.base import REGISTRY, CheckContext, CheckOutcome, CheckSpec, register
from evalboard.monitors.definitions import MonitorSpec, create_monitor, get_monitor
from evalboard.monitors.sampling import is_sampled
from evalboard.monitors.worker import WorkerSettings, run_pass
from evalboard.store.models import Call
from evalboard.store.monitor_models import MonitorResult
from tests.support.calls import add_calls, make_rows

PROBE = "test_kill_probe"
# The worker process: a slow model-category check (so batches take a while), small batches.
WORKER = textwrap.dedent(f"""
    import sys, time
    from evalboard.checks.base import CheckOutcome, register
    from evalboard.monitors.worker import WorkerSettings, run_pass
    from evalboard.store import open_store

    def probe(output, params, context):
        time.sleep(0.01)
        return CheckOutcome(True, 1.0, "slow")

    register({PROBE!r}, category="model")(probe)
    run_pass(open_store(sys.argv[1]), WorkerSettings(batch_size=10, concurrency=2))
""")


def _fast_probe(output: str, params: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
    return CheckOutcome(True, 1.0, "slow")


@pytest.fixture
def kill_probe() -> Iterator[None]:
    register(PROBE, category="model")(_fast_probe)
    yield
    REGISTRY.pop(PROBE)


def _result_count(engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(MonitorResult)) or 0


def test_killed_worker_repeats_nothing_and_loses_nothing(engine, db_url, kill_probe):
    add_calls(engine, make_rows(300, model_version="v1"))
    checks = (CheckSpec(PROBE), CheckSpec("regex", {"pattern": "answer"}))
    monitor_id = create_monitor(engine, MonitorSpec("slow", checks, sampling_rate=0.8),
                                backfill=True)
    worker = subprocess.Popen([sys.executable, "-c", WORKER, db_url],
                              env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        deadline = time.monotonic() + 60
        while _result_count(engine) < 20 and time.monotonic() < deadline:
            assert worker.poll() is None, "the worker finished before it could be killed"
            time.sleep(0.02)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
    written = _result_count(engine)
    assert 20 <= written < 2 * 240  # killed part way
    assert get_monitor(engine, monitor_id).last_call_id > 0

    run_pass(engine, WorkerSettings(batch_size=10, concurrency=2))

    with Session(engine) as session:
        ids = list(session.scalars(select(Call.id)))
        results = Counter(session.execute(
            select(MonitorResult.call_id, MonitorResult.check_name)).all())
    sampled = {call_id for call_id in ids if is_sampled(monitor_id, call_id, 0.8)}
    assert {call_id for call_id, _name in results} == sampled
    assert set(results.values()) == {1}
    assert len(results) == 2 * len(sampled)


def _cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from evalboard.cli import main; main()",
                           *args, "--db", db_url], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.getcwd()})


def test_cli_defines_lists_and_runs_monitors(engine, db_url):
    add_calls(engine, [{"input": "q", "output": "1 digit", "model_version": "v1"},
                       {"input": "q", "output": "none", "model_version": "v1"}])
    added = _cli(db_url, "monitors", "add", "digits", "--check",
                 '{"type": "regex", "params": {"pattern": "^\\\\D*$"}}', "--backfill")
    assert added.returncode == 0, added.stderr
    bad = _cli(db_url, "monitors", "add", "bad", "--check",
               '{"type": "regex", "params": {"pattern": "(x"}}')
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith("error: check 1: params.pattern: regex:")
    ran = _cli(db_url, "monitor", "--once")
    assert ran.returncode == 0, ran.stderr
    assert "2 calls checked, 2 results, 1 failing" in ran.stdout
    listed = _cli(db_url, "monitors", "list")
    assert "digits\ton\tregex" in listed.stdout and "2 results, 1 failing" in listed.stdout
    paused = _cli(db_url, "monitors", "pause", "digits")
    assert paused.stdout.strip() == "monitor 'digits' paused"
    assert not get_monitor(engine, "digits").spec.enabled
    removed = _cli(db_url, "monitors", "remove", "digits")
    assert removed.stdout.strip() == "monitor 'digits' removed"
    missing = _cli(db_url, "monitors", "resume", "digits")
    assert missing.returncode == 1 and missing.stderr == "error: there is no monitor 'digits'\n"


def test_cli_monitor_stops_on_sigterm(engine, db_url):
    create_monitor(engine, MonitorSpec("json", (CheckSpec("is_json"),)))
    process = subprocess.Popen(
        [sys.executable, "-c", "from evalboard.cli import main; main()", "monitor",
         "--interval", "0.2", "--db", db_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("monitoring every 0.2 s")
        add_calls(engine, make_rows(2, model_version="v1"))
        deadline = time.monotonic() + 30
        while _result_count(engine) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _result_count(engine) == 2
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "stopped" in out
