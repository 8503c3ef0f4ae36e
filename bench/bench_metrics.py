"""Benchmark every Home and Metrics chart query on the store bench_store built.

Run from the repository root:

    python -m bench.bench_metrics [--db PATH|URL] [--repeat R]

The store (bench/bench.db by default: 1M calls over 60 days and 10 model versions, 50k
annotations, a 10k-case suite with a finished run per version, and the daily rollups) comes
from `python -m bench.bench_store`. It prints the median wall and CPU time of every chart
query (target: < 200 ms at 1M calls, judged on CPU time, the fairer figure on a shared
machine; on PostgreSQL, whose work is in its server's processes, on wall time) and the plan
of the queries behind them, and writes the figures to bench/results/metrics.json
(metrics-postgresql.json for a PostgreSQL URL: a store `python -m bench.bench_pg_store`
built).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import Engine, func, select

from bench.bench_store import store_url
from evalboard import clock
from evalboard.metrics import (
    CallScope,
    call_metrics,
    calls_over_time,
    label_rates,
    latency_over_time,
    metric_catalogue,
    metric_table,
    pass_rate_over_time,
    pass_rates,
    reference_scores,
    verdict_rates,
)
from evalboard.metrics.axis import version_axis
from evalboard.metrics.calls import nth_latency_query
from evalboard.metrics.daily import histogram_rollup_query, partial_day_query, totals_rollup_query
from evalboard.review.habit import coverage_per_day, review_streak, reviewed_per_day
from evalboard.review.labels import label_usage
from evalboard.runs.overview import failing_unreviewed_calls, latest_runs_by_version
from evalboard.store import open_store
from evalboard.store.calls_counts import count_calls
from evalboard.store.calls_query import CallFilter
from evalboard.store.models import Call
from tests.support.query_plans import query_plan, reads_table_rows

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_DB = BENCH_DIR / "bench.db"
RESULTS_FILE = BENCH_DIR / "results" / "metrics.json"
TARGET_MS = 200.0


# --------------------------------------------------------------------------- measuring


def timings(fn: Callable[[], object], repeat: int) -> dict[str, float]:
    """Median, min and max wall milliseconds of `repeat` runs after a warm-up run, and the
    median CPU milliseconds of this process (SQLite runs in it): on a shared machine the CPU
    time is what the query costs, the wall time adds the wait for a core. PostgreSQL works in
    its own processes, so its charts are judged on the wall time."""
    fn()
    wall, cpu = [], []
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    return {"median_ms": statistics.median(wall), "min_ms": min(wall), "max_ms": max(wall),
            "cpu_median_ms": statistics.median(cpu)}


def charts(engine: Engine, end: datetime) -> dict[str, Callable[[], object]]:
    """Every chart query of the metrics library, by name."""
    last_week = CallScope(since=end - timedelta(days=7))
    today = end.date()
    midnight = datetime.combine(today, datetime.min.time())
    return {
        "Home: calls today and this week": lambda: (
            count_calls(engine, CallFilter(since=midnight)),
            count_calls(engine, CallFilter(since=midnight - timedelta(days=6)))),
        "Home: review coverage per day (14 days)": lambda: coverage_per_day(engine, today=today),
        "Home: reviewed per day and reviewer (30 days)": lambda: reviewed_per_day(
            engine, today=today),
        "Home: review streaks (team, one reviewer)": lambda: (
            review_streak(engine, today=today), review_streak(engine, "ana", today=today)),
        "Home: label usage (calls carrying each label, judged calls)": lambda: label_usage(
            engine),
        "Home: latest run per version, regressions": lambda: latest_runs_by_version(engine),
        "Home: failing calls nobody reviewed": lambda: failing_unreviewed_calls(engine),
        "call metrics per version (production, all time)": lambda: call_metrics(engine),
        "call metrics per version (last 7 days)": lambda: call_metrics(engine, scope=last_week),
        "call metrics per version (every source)": lambda: call_metrics(
            engine, scope=CallScope(source=None)),
        "calls per day and version": lambda: calls_over_time(engine),
        "calls per week and version": lambda: calls_over_time(engine, unit="week"),
        "calls per day and version (last 7 days)": lambda: calls_over_time(engine,
                                                                           scope=last_week),
        "latency p50/p95 per day and version": lambda: latency_over_time(engine),
        "latency p50/p95 per day and version (last 7 days)": lambda: latency_over_time(
            engine, scope=last_week),
        "pass rate per version": lambda: pass_rates(engine),
        "pass rate per version and label": lambda: pass_rates(engine, by="label"),
        "pass rate per version and check type": lambda: pass_rates(engine, by="check"),
        "reference scores per version (95% CI)": lambda: reference_scores(engine),
        "pass rate per day and version": lambda: pass_rate_over_time(engine),
        "human verdict rates per version": lambda: verdict_rates(engine),
        "label rates per version": lambda: label_rates(engine),
        "metric catalogue": lambda: metric_catalogue(engine),
        "every metric per version (metric_table)": lambda: metric_table(engine),
    }


def plans(engine: Engine, end: datetime) -> list[dict[str, Any]]:
    """The plan of the queries behind the call charts, and (SQLite) whether they read rows of
    the calls table."""
    scope = CallScope(since=end - timedelta(days=7))
    with engine.connect() as conn:
        ids = [v.id for v in version_axis(conn)]
        queries = {
            "daily totals (rollup)": totals_rollup_query(scope, ids),
            "daily latency histograms (rollup)": histogram_rollup_query(scope, ids),
            "the part of the first day (calls)": partial_day_query(
                scope, ids, end - timedelta(days=7),
                datetime.combine((end - timedelta(days=6)).date(), datetime.min.time())),
            "exact percentile (p50 walk)": nth_latency_query(conn, scope, ids[-1], 5000, 10000),
        }
        return [{"query": name, "plan": query_plan(conn, query),
                 "reads_table_rows": conn.dialect.name == "sqlite"
                 and reads_table_rows(conn, query, "calls")}
                for name, query in queries.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=str(DEFAULT_DB),
                        help="a store bench_store built (a path), or a PostgreSQL URL")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    engine = open_store(store_url(args.db))
    with engine.connect() as conn:
        calls, end = conn.execute(select(func.count(), func.max(Call.created_at))).one()
    print(f"{calls:,} calls in {engine.url.render_as_string()}\n")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    print("     wall (min-max)          cpu       target  chart")
    results = []
    for name, fn in charts(engine, end).items():
        t = timings(fn, args.repeat)
        judged = t["cpu_median_ms"] if engine.dialect.name == "sqlite" else t["median_ms"]
        verdict = "ok" if judged < TARGET_MS else "MISS"  # see timings()
        print(f"{t['median_ms']:8.1f} ms ({t['min_ms']:.0f}-{t['max_ms']:.0f})"
              f"  {t['cpu_median_ms']:8.1f} ms  {verdict:6}  {name}", flush=True)
        results.append({"chart": name, **t, "target_ms": TARGET_MS, "verdict": verdict})
    print()
    query_plans = plans(engine, end)
    for entry in query_plans:
        reads = "reads table rows" if entry["reads_table_rows"] else "index only"
        print(f"{entry['query']} ({reads}):\n  " + "\n  ".join(entry["plan"]))
    results_file = (RESULTS_FILE if engine.dialect.name == "sqlite"
                    else RESULTS_FILE.with_name(f"metrics-{engine.dialect.name}.json"))
    results_file.parent.mkdir(exist_ok=True)
    results_file.write_text(json.dumps({
        "environment": {"calls": calls, "db": str(args.db), "when": clock.now().isoformat(
            timespec="seconds"), "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "sqlalchemy": sqlalchemy.__version__,
            "repeat": args.repeat, "cpus": os.cpu_count(), "load": os.getloadavg()[0]},
        "results": results, "plans": query_plans}, indent=2) + "\n")
    print(f"\nwrote {results_file}")
    engine.dispose()


if __name__ == "__main__":
    main()
