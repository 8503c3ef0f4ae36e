"""Benchmark the metric (chart) queries on a store of a million calls.

Run from the repository root:

    python -m bench.bench_metrics [--calls N] [--db PATH] [--reuse] [--repeat R]

It builds (or, with --reuse, reuses) its own store at bench/metrics.db: N calls over 60 days
and 8 model versions (90% production, 1% errors, log-normal latency) bulk-written with raw
sqlite3 into the migrated schema, plus a suite of 500 cases with three finished runs per
version and 20,000 annotations, and gives it the bounded ANALYZE a migrated store gets. Then
it prints the median wall and CPU time of every chart query (target: < 200 ms at 1M calls,
judged on CPU time, the fairer figure on a shared machine), the SQLite plan of each call
aggregate and whether it reads table rows, and writes the figures to
bench/results/metrics.json.

The bulk load leaves the full-text index empty (its insert trigger is off during the load):
no metric reads it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import Engine

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
from evalboard.metrics.calls import nth_latency_query, totals_query
from evalboard.metrics.plans import query_plan, reads_table_rows
from evalboard.metrics.timeseries import calls_over_time_query, latency_over_time_query
from evalboard.store import open_store
from evalboard.store.schema_extras import SQLITE_FTS_CREATE

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_DB = BENCH_DIR / "metrics.db"
RESULTS_FILE = BENCH_DIR / "results" / "metrics.json"
DEFAULT_CALLS = 1_000_000
TARGET_MS = 200.0
START = datetime(2026, 1, 5)
DAYS = 60
VERSIONS = tuple(f"support-bot-v{k}" for k in range(1, 9))
CASES = 500
RUNS_PER_VERSION = 3
ANNOTATIONS = 20_000
CHUNK = 50_000
SEED = 20260105

INSERT_CALL = (
    "INSERT INTO calls (id, created_at, model_version_id, source, input_text, output, "
    "latency_ms, prompt_tokens, completion_tokens, total_tokens, error, input_hash) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


# --------------------------------------------------------------------------- building


def stamp(moment: datetime) -> str:
    return moment.isoformat(sep=" ", timespec="microseconds")


def fake_calls(count: int, rng: random.Random, version_ids: list[int]) -> Iterator[tuple]:
    """Calls in time order; versions roll out one after another, three live at a time."""
    texts = ["".join(rng.choice("abcdefghij klmnopqrst uvwxyz.") for _ in range(rng.randint(
        80, 500))) for _ in range(3000)]
    step = timedelta(days=DAYS) / count
    for i in range(count):
        progress = i / count
        live = [vid for k, vid in enumerate(version_ids) if k * 0.11 <= progress <= k * 0.11 + 0.33]
        source = rng.choices(("production", "eval", "import"), (0.90, 0.08, 0.02))[0]
        prompt, completion = rng.randint(20, 900), rng.randint(5, 400)
        yield (i + 1, stamp(START + step * i), rng.choice(live or version_ids[-1:]), source,
               texts[rng.randrange(3000)], texts[rng.randrange(3000)],
               round(rng.lognormvariate(6.2, 0.6), 1), prompt, completion, prompt + completion,
               "TimeoutError: upstream model did not answer" if rng.random() < 0.01 else None,
               f"{i:040x}")


def load_calls(path: Path, count: int, rng: random.Random, version_ids: list[int]) -> None:
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA cache_size=-500000")
        conn.execute("DROP TRIGGER calls_fts_ai")
        rows = fake_calls(count, rng, version_ids)
        while batch := [row for _, row in zip(range(CHUNK), rows, strict=False)]:
            conn.execute("BEGIN")
            conn.executemany(INSERT_CALL, batch)
            conn.execute("COMMIT")
        trigger = next(sql for sql in SQLITE_FTS_CREATE if "calls_fts_ai" in sql)
        conn.execute(trigger)
        conn.execute("INSERT INTO id_blocks (table_name, next_id) VALUES ('calls', ?) "
                     "ON CONFLICT (table_name) DO UPDATE SET next_id = excluded.next_id",
                     (count + 1,))
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def load_runs(conn: sqlite3.Connection, rng: random.Random, version_ids: list[int]) -> None:
    """One suite of CASES cases; RUNS_PER_VERSION finished runs per version with 3 checks each."""
    labels = ["hallucination", "wrong format", "biased or insulting", "garbled or incoherent",
              "edge case mishandled", None]
    now = stamp(START)
    conn.execute("INSERT INTO suites (id, name, description, created_at) VALUES (1, 'regression',"
                 " '', ?)", (now,))
    for case_id in range(1, CASES + 1):
        label = labels[case_id % len(labels)]
        conn.execute("INSERT INTO test_cases (id, suite_id, name, active, current_version, mode, "
                     "label, severity, created_at) VALUES (?, 1, ?, 1, 1, 'failure', ?, "
                     "'medium', ?)", (case_id, f"case {case_id}", label, now))
        conn.execute("INSERT INTO case_versions (id, case_id, version, name, input_text, mode, "
                     "label, checks, \"references\", expected_entities, tags, severity, "
                     "created_at) VALUES (?, ?, 1, ?, 'q', 'failure', ?, '[]', '[]', '[]', '[]', "
                     "'medium', ?)", (case_id, case_id, f"case {case_id}", label, now))
    run_id = result_id = check_id = 0
    for k, version_id in enumerate(version_ids):
        quality = 0.6 + 0.04 * k
        for r in range(RUNS_PER_VERSION):
            run_id += 1
            started = stamp(START + timedelta(days=7 * k + 2 * r))
            conn.execute("INSERT INTO eval_runs (id, suite_id, model_version_id, generator, "
                         "generator_config, selection, status, total_cases, started_at, "
                         "finished_at) VALUES (?, 1, ?, 'replay', '{}', '{}', 'finished', ?, ?, ?)",
                         (run_id, version_id, CASES, started, started))
            results, checks = [], []
            for case_id in range(1, CASES + 1):
                result_id += 1
                status = "pass" if rng.random() < quality else rng.choice(("fail", "error"))
                results.append((result_id, run_id, case_id, case_id, status, status == "pass",
                                float(status == "pass"), started))
                for position, kind in enumerate(("rouge", "bleu", "regex")):
                    check_id += 1
                    score = min(1.0, max(0.0, rng.gauss(quality, 0.2)))
                    checks.append((check_id, result_id, position, kind, score >= 0.5, score))
            conn.executemany("INSERT INTO case_results (id, run_id, case_id, case_version_id, "
                             "status, passed, score, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             results)
            conn.executemany("INSERT INTO check_results (id, case_result_id, position, check_type,"
                             " params, negate, weight, passed, score, reason) VALUES (?, ?, ?, ?, "
                             "'{}', 0, 1.0, ?, ?, '')", checks)


def load_annotations(conn: sqlite3.Connection, rng: random.Random, calls: int) -> None:
    """ANNOTATIONS judge rows by three reviewers, a fifth with a label, ~2% retracted."""
    label_ids = [row[0] for row in conn.execute("SELECT id FROM labels")]
    rows, labelled, retracts = [], [], []
    for annotation_id in range(1, ANNOTATIONS + 1):
        call_id = rng.randint(1, calls)
        verdict = rng.choices(("pass", "fail", "unsure"), (0.7, 0.25, 0.05))[0]
        rows.append((annotation_id, call_id, rng.choice(("ana", "ben", "chloe")), verdict,
                     stamp(START + timedelta(minutes=annotation_id))))
        if rng.random() < 0.2:
            labelled.append((annotation_id, rng.choice(label_ids)))
        if rng.random() < 0.02:
            retracts.append((ANNOTATIONS + len(retracts) + 1, call_id, rows[-1][2],
                             annotation_id, rows[-1][4]))
    conn.executemany("INSERT INTO annotations (id, call_id, reviewer, action, verdict, "
                     "created_at) VALUES (?, ?, ?, 'judge', ?, ?)", rows)
    conn.executemany("INSERT INTO annotation_labels (annotation_id, label_id) VALUES (?, ?)",
                     labelled)
    conn.executemany("INSERT INTO annotations (id, call_id, reviewer, action, retracts_id, "
                     "created_at) VALUES (?, ?, ?, 'retract', ?, ?)", retracts)


def build_store(path: Path, count: int) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    engine = open_store(f"sqlite:///{path}")
    engine.dispose()
    rng = random.Random(SEED)
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.executemany("INSERT INTO model_versions (id, name, created_at) VALUES (?, ?, ?)",
                         [(k + 1, name, stamp(START + timedelta(days=7 * k)))
                          for k, name in enumerate(VERSIONS)])
    version_ids = list(range(1, len(VERSIONS) + 1))
    load_calls(path, count, rng, version_ids)
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("BEGIN")
        load_runs(conn, rng, version_ids)
        load_annotations(conn, rng, count)
        conn.execute("COMMIT")
        # the planner statistics a migrated store of this size gets (store.migrate)
        conn.execute("PRAGMA analysis_limit=400")
        conn.execute("ANALYZE")
    print(f"built {count:,} calls in {time.perf_counter() - started:.0f} s", flush=True)


# --------------------------------------------------------------------------- measuring


def timings(fn: Callable[[], object], repeat: int) -> dict[str, float]:
    """Median, min and max wall milliseconds of `repeat` runs after a warm-up run, and the
    median CPU milliseconds of this process (SQLite runs in it): on a shared machine the CPU
    time is what the query costs, the wall time adds the wait for a core."""
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
    return {
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
    """The SQLite plan of each call aggregate, and whether it reads table rows."""
    scope = CallScope(since=end - timedelta(days=7))
    with engine.connect() as conn:
        ids = [v.id for v in version_axis(conn)]
        queries = {
            "totals per version": totals_query(conn, scope, ids),
            "nth latency (p50 walk)": nth_latency_query(conn, scope, ids[-1], 5000, 10000),
            "calls per day": calls_over_time_query(conn, scope, ids, "day"),
            "latency per day": latency_over_time_query(conn, scope, ids, "day", (0.5, 0.95)),
        }
        return [{"query": name, "plan": query_plan(conn, query),
                 "reads_table_rows": reads_table_rows(conn, query, "calls")}
                for name, query in queries.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=DEFAULT_CALLS)
    parser.add_argument("--db", type=Path, default=DEFAULT_DB)
    parser.add_argument("--reuse", action="store_true", help="reuse the store at --db if it exists")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not (args.reuse and args.db.exists()):
        build_store(args.db, args.calls)
    engine = open_store(f"sqlite:///{args.db}")
    with closing(sqlite3.connect(args.db)) as conn:
        calls, newest = conn.execute("SELECT count(*), max(created_at) FROM calls").fetchone()
    end = datetime.fromisoformat(newest)
    print(f"{calls:,} calls in {args.db} ({args.db.stat().st_size / 1e6:,.0f} MB)\n")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    print("     wall (min-max)          cpu       target  chart")
    results = []
    for name, fn in charts(engine, end).items():
        t = timings(fn, args.repeat)
        verdict = "ok" if t["cpu_median_ms"] < TARGET_MS else "MISS"  # see timings()
        print(f"{t['median_ms']:8.1f} ms ({t['min_ms']:.0f}-{t['max_ms']:.0f})"
              f"  {t['cpu_median_ms']:8.1f} ms  {verdict:6}  {name}", flush=True)
        results.append({"chart": name, **t, "target_ms": TARGET_MS, "verdict": verdict})
    print()
    query_plans = plans(engine, end)
    for entry in query_plans:
        reads = "reads table rows" if entry["reads_table_rows"] else "index only"
        print(f"{entry['query']} ({reads}):\n  " + "\n  ".join(entry["plan"]))
    RESULTS_FILE.parent.mkdir(exist_ok=True)
    RESULTS_FILE.write_text(json.dumps({
        "environment": {"calls": calls, "db": str(args.db), "when": datetime.now().isoformat(
            timespec="seconds"), "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "sqlalchemy": sqlalchemy.__version__,
            "repeat": args.repeat, "cpus": os.cpu_count(), "load": os.getloadavg()[0]},
        "results": results, "plans": query_plans}, indent=2) + "\n")
    print(f"\nwrote {RESULTS_FILE}")
    engine.dispose()


if __name__ == "__main__":
    main()
