"""Monitors against logging, in the same run: `python -m bench.bench_monitors [--calls N]`.

Into a fresh store (SQLite in a temporary folder, or `--db URL` of an empty PostgreSQL
database) with two monitors of deterministic checks (every production call: a regex, a
length bound and a must-not-contain; pro-tier calls sampled at 50%: is_json negated and a
word count), with `evalboard monitor --interval 0.2` running in its own process, as in
production:

1. logging alone: `evalboard.connect(mode="batch")`, `log_call` for each call, then `flush()`;
2. logging paced at --rate calls/s (default 1,000) with the worker running: the logging rate
   reached, the monitor rate (calls checked per second while logging) and how far behind the
   worker was when logging stopped, and how long it took to catch up;
3. logging as fast as it goes with the worker running: both rates (the monitor rate counts
   from the first call logged until every cursor has passed the last one, lag included);
4. the worker alone on a backlog of every call logged (monitors created with backfill).

Figures (calls/s) go to stdout and bench/results/monitors.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select

import evalboard
from bench.fake_calls import CallFactory, FakeCall, period_start
from evalboard.checks.base import CheckSpec
from evalboard.monitors.definitions import MonitorSpec, create_monitor, list_monitors
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


def log_all(url: str, calls: list[FakeCall], rate: float | None = None) -> float:
    """Calls/s through the client's batch mode, until flush() returns; with `rate`, paced to
    at most that many calls per second."""
    began = time.perf_counter()
    with evalboard.connect(url, mode="batch", handle_signals=False) as client:
        for n, call in enumerate(calls):
            if rate is not None and n % 50 == 0:
                ahead = began + n / rate - time.perf_counter()
                if ahead > 0:
                    time.sleep(ahead)
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


def _checked_calls(engine: Engine, after: int) -> int:
    """Calls above id `after` that the slowest monitor has passed."""
    with engine.connect() as conn:
        cursor = int(conn.scalar(select(func.min(MonitorCursor.last_call_id))) or 0)
        return int(conn.scalar(select(func.count()).select_from(Call).where(
            Call.id > after, Call.id <= cursor)) or 0)


def with_worker(url: str, engine: Engine, calls: list[FakeCall],
                rate: float | None = None) -> dict[str, float]:
    """Log (paced to `rate`, or as fast as it goes) while `evalboard monitor` runs in its own
    process: both rates, how far behind the worker was when logging ended, and the catch-up."""
    worker = subprocess.Popen(
        [sys.executable, "-c", "from evalboard.cli import main; main()", "monitor",
         "--interval", "0.2", "--db", url], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    try:
        assert worker.stdout is not None
        worker.stdout.readline()  # "monitoring every ...": imported, store open, first pass
        threading.Thread(target=worker.stdout.read, daemon=True).start()  # drain the rest
        before = _max_id(engine)
        began = time.perf_counter()
        logging_rate = log_all(url, calls, rate)
        logged = time.perf_counter()
        behind = len(calls) - _checked_calls(engine, before)
        head = _max_id(engine)
        while _slowest_cursor(engine) < head:
            if worker.poll() is not None:
                raise RuntimeError("the monitor worker exited")
            time.sleep(0.02)
        caught_up = time.perf_counter()
    finally:
        stopping = time.perf_counter()
        worker.terminate()
        try:
            worker.wait(120)
        except subprocess.TimeoutExpired:
            worker.kill()
            raise
    stop_s = time.perf_counter() - stopping
    return {"worker_stop_s": stop_s, "logging_calls_per_s": logging_rate,
            "monitor_calls_per_s_while_logging": (len(calls) - behind) / (logged - began),
            "monitor_calls_per_s": len(calls) / (caught_up - began),
            "behind_when_logging_ended": behind,
            "lag_after_logging_s": caught_up - logged}


def backlog_rate(engine: Engine, count: int) -> float:
    """Calls/s of one pass over `count` stored calls by a backfilling copy of the monitors."""
    for spec in MONITORS:
        create_monitor(engine, MonitorSpec(f"{spec.name} (backlog)", spec.checks,
                                           spec.model_versions, spec.source, spec.metadata,
                                           spec.sampling_rate), backfill=True)
    backlog = [m for m in list_monitors(engine) if m.name.endswith("(backlog)")]
    began = time.perf_counter()
    run_pass(engine, WorkerSettings(), monitors=backlog)
    return count / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=1_000.0,
                        help="calls/s of the paced logging run")
    parser.add_argument("--db", help="an empty store URL (default: SQLite in a temp folder)")
    args = parser.parse_args()
    factory = CallFactory(seed=18)
    start = period_start()
    batches = [list(factory.calls(args.calls, start + timedelta(days=day), timedelta(days=1),
                                  serial0=day * args.calls)) for day in range(3)]
    with tempfile.TemporaryDirectory() as folder:
        url = args.db or f"sqlite:///{Path(folder) / 'monitors.db'}"
        engine = open_store(url)
        alone = log_all(url, batches[0])
        for spec in MONITORS:
            create_monitor(engine, spec)
        paced = with_worker(url, engine, batches[1], args.rate)
        flat_out = with_worker(url, engine, batches[2])
        results_written = _results(engine)
        backlog = backlog_rate(engine, 3 * args.calls)
        engine.dispose()
    figures = {"calls": args.calls, "dialect": url.split(":", 1)[0],
               "logging_alone_calls_per_s": alone, "paced": paced, "flat_out": flat_out,
               "results_written": results_written, "backlog_calls_per_s": backlog}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2))
    print(f"{args.calls:,} calls a run, {figures['dialect']}")
    print(f"logging alone (batch mode)             {alone:10,.0f} calls/s")
    print(f"paced logging, worker running          {paced['logging_calls_per_s']:10,.0f} calls/s")
    print(f"  monitors while logging               "
          f"{paced['monitor_calls_per_s_while_logging']:10,.0f} calls/s "
          f"({paced['behind_when_logging_ended']:,} calls behind at the end, caught up "
          f"{paced['lag_after_logging_s']:.2f} s later)")
    print(f"flat-out logging, worker running       "
          f"{flat_out['logging_calls_per_s']:10,.0f} calls/s")
    print(f"  monitors, same run (incl. lag)       {flat_out['monitor_calls_per_s']:10,.0f} "
          f"calls/s ({flat_out['monitor_calls_per_s'] / flat_out['logging_calls_per_s']:.2f}x "
          f"logging; caught up {flat_out['lag_after_logging_s']:.2f} s after the last call)")
    print(f"monitor worker alone on a backlog      {backlog:10,.0f} calls/s")
    print(f"worker stopped (SIGTERM) in            {paced['worker_stop_s']:.2f} s, "
          f"{flat_out['worker_stop_s']:.2f} s")
    print(f"results written                        {results_written:10,}")


if __name__ == "__main__":
    main()
