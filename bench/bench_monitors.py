"""Monitors against logging, in the same run: `python -m bench.bench_monitors [--calls N]`.

Into a fresh store (SQLite in a temporary folder, or `--db URL` of an empty PostgreSQL
database) with two monitors of deterministic checks (every production call: a regex, a
length bound and a must-not-contain; pro-tier calls sampled at 50%: is_json negated and a
word count):

1. logging alone: `evalboard.connect(mode="batch")`, `log_call` for each call, then `flush()`;
2. logging with the monitor worker running beside it (`evalboard monitor --interval 0.2` in
   its own process, as it runs in production): the logging rate again, and the monitor rate:
   calls logged / seconds from the first call logged until every monitor's cursor has passed
   the last one (so it includes the worker's lag behind logging);
3. the worker alone on a backlog of as many calls (a monitor created with backfill).

Figures (calls/s) go to stdout and bench/results/monitors.json; "keeps up" is the ratio of the
monitor rate to the logging rate of the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select

import evalboard
from bench.fake_calls import CallFactory, FakeCall, period_start
from evalboard.checks.base import CheckSpec
from evalboard.monitors.definitions import MonitorSpec, create_monitor
from evalboard.monitors.worker import WorkerSettings, run_pass
from evalboard.store import open_store
from evalboard.store.models import Call
from evalboard.store.monitor_models import MonitorCursor, MonitorResult

RESULTS = Path(__file__).resolve().parent / "results" / "monitors.json"
MONITORS = (
    MonitorSpec("format", (CheckSpec("regex", {"pattern": r"\w+"}),
                           CheckSpec("char_count", {"max": 20_000}),
                           CheckSpec("contains_any", {"values": ["As an AI", "I cannot"]},
                                     negate=True))),
    MonitorSpec("pro json", (CheckSpec("is_json", negate=True), CheckSpec("word_count",
                                                                         {"min": 3})),
                metadata={"tier": "pro"}, sampling_rate=0.5),
)


def log_all(url: str, calls: list[FakeCall]) -> float:
    """Calls/s through the client's batch mode, until flush() returns."""
    began = time.perf_counter()
    with evalboard.connect(url, mode="batch", handle_signals=False) as client:
        for call in calls:
            client.log_call(call.input, call.output, model_version=call.model_version,
                            latency_ms=call.latency_ms, prompt_tokens=call.prompt_tokens,
                            completion_tokens=call.completion_tokens, metadata=call.metadata,
                            created_at=call.created_at)
        client.flush()
    return len(calls) / (time.perf_counter() - began)


def _max_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.coalesce(func.max(Call.id), 0))) or 0)


def _slowest_cursor(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.min(MonitorCursor.last_call_id))) or 0)


def _results(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(MonitorResult)) or 0)


def with_worker(url: str, engine: Engine, calls: list[FakeCall]) -> dict[str, float]:
    """Log while `evalboard monitor` runs in its own process: both rates, and the lag."""
    worker = subprocess.Popen(
        [sys.executable, "-c", "from evalboard.cli import main; main()", "monitor",
         "--interval", "0.2", "--db", url], stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    try:
        time.sleep(3)  # the worker is up (imports, first empty pass)
        began = time.perf_counter()
        logging_rate = log_all(url, calls)
        logged = time.perf_counter()
        head = _max_id(engine)
        while _slowest_cursor(engine) < head:
            if worker.poll() is not None:
                raise RuntimeError("the monitor worker exited")
            time.sleep(0.02)
        caught_up = time.perf_counter()
    finally:
        worker.terminate()
        worker.wait(30)
    return {"logging_calls_per_s": logging_rate,
            "monitor_calls_per_s": len(calls) / (caught_up - began),
            "lag_after_logging_s": caught_up - logged}


def backlog_rate(engine: Engine, count: int) -> float:
    """Calls/s of one pass over `count` stored calls by a backfilling copy of the monitors."""
    for spec in MONITORS:
        create_monitor(engine, MonitorSpec(f"{spec.name} (backlog)", spec.checks,
                                           spec.model_versions, spec.source, spec.metadata,
                                           spec.sampling_rate), backfill=True)
    from evalboard.monitors.definitions import list_monitors

    backlog = [m for m in list_monitors(engine) if m.name.endswith("(backlog)")]
    began = time.perf_counter()
    run_pass(engine, WorkerSettings(), monitors=backlog)
    return count / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=30_000)
    parser.add_argument("--db", help="an empty store URL (default: SQLite in a temp folder)")
    args = parser.parse_args()
    factory = CallFactory(seed=18)
    start = period_start()
    first = list(factory.calls(args.calls, start, timedelta(days=1)))
    second = list(factory.calls(args.calls, start + timedelta(days=1), timedelta(days=1),
                                serial0=args.calls))
    with tempfile.TemporaryDirectory() as folder:
        url = args.db or f"sqlite:///{Path(folder) / 'monitors.db'}"
        engine = open_store(url)
        alone = log_all(url, first)
        for spec in MONITORS:
            create_monitor(engine, spec)
        together = with_worker(url, engine, second)
        results_written = _results(engine)
        backlog = backlog_rate(engine, 2 * args.calls)
        engine.dispose()
    figures = {"calls": args.calls, "dialect": url.split(":", 1)[0],
               "logging_alone_calls_per_s": alone, **together,
               "keeps_up_ratio": together["monitor_calls_per_s"]
               / together["logging_calls_per_s"],
               "results_written": results_written, "backlog_calls_per_s": backlog}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2))
    print(f"{args.calls:,} calls, {figures['dialect']}")
    print(f"logging alone (batch mode)        {alone:10,.0f} calls/s")
    print(f"logging, worker running           {together['logging_calls_per_s']:10,.0f} calls/s")
    print(f"monitors, same run (incl. lag)    {together['monitor_calls_per_s']:10,.0f} calls/s "
          f"({figures['keeps_up_ratio']:.2f}x logging; caught up "
          f"{together['lag_after_logging_s']:.2f} s after the last call)")
    print(f"monitor worker on a backlog       {backlog:10,.0f} calls/s")
    print(f"results written                   {results_written:10,}")


if __name__ == "__main__":
    main()
