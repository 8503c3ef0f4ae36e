"""Several machines logging into PostgreSQL: N processes x M calls through the client
(`evalboard.connect`, batch mode) while the dashboard reads (Browse page 1 and its counts in a
loop). Checks that every call arrived once (0 lost, 0 duplicated) and prints the throughput
and the reader's latencies.

`python -m bench.bench_pg_writers --db postgresql+psycopg://127.0.0.1:PORT/writers
[--processes 8] [--calls 50000] [--raw]` (an empty database, one this bench filled before (its
calls of earlier runs are told apart by a run tag), or a copy of the bench store:
`--copy-of bench` makes <database> a copy of that database first). `--raw` also times the same
number of calls written by one process on a raw psycopg connection (`executemany` of an
INSERT, transactions of 1,000 rows, ids reserved as evalboard reserves them), the baseline of
the batched-logging budget (>= 0.5x raw). Writes bench/results/pg_writers-<processes>.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

import psycopg
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

import evalboard
from bench.bench_pg_store import copy_database, raw_url
from bench.bench_store import BENCH_DIR
from evalboard import clock
from evalboard.store import open_store
from evalboard.store.calls_counts import browse_counts
from evalboard.store.calls_pages import list_calls
from evalboard.store.calls_query import CallFilter
from evalboard.store.ids import reserve_ids
from evalboard.store.models import Call
from evalboard.store.records import input_hash
from evalboard.store.writes import ensure_model_versions

RESULTS_DIR = BENCH_DIR / "results"
RAW_CHUNK = 1_000
RAW_INSERT = ("INSERT INTO calls (id, created_at, model_version_id, source, input_text, output, "
              "latency_ms, session_id, input_hash) VALUES (%s, %s, %s, 'production', %s, 'ok', "
              "%s, %s, %s)")


def write_calls(url: str, tag: str, worker: int, calls: int, spans: Any) -> None:
    """One logging process: `calls` calls, each input naming its run, worker and number; puts
    (first log, all written) wall times on `spans`."""
    eb = evalboard.connect(url, flush_timeout=120)
    started = time.time()
    for i in range(calls):
        eb.log_call(input=f"{tag} writer {worker} call {i}", output="ok",
                    model_version=f"writers-v{worker % 2}", latency_ms=10 + i % 90,
                    session_id=f"{tag}-{worker}")
    eb.close()
    spans.put((started, time.time()))


def write_raw(url: str, tag: str, calls: int) -> float:
    """The same calls as one logging process, on a raw psycopg connection; calls per second."""
    engine = open_store(url)
    with engine.begin() as conn:
        version = ensure_model_versions(conn, ["writers-raw"])["writers-raw"]
    ids = iter(reserve_ids(engine, calls))
    engine.dispose()
    started = time.perf_counter()
    with psycopg.connect(raw_url(url)) as conn:
        for first in range(0, calls, RAW_CHUNK):
            rows = []
            for i in range(first, min(calls, first + RAW_CHUNK)):
                text_ = f"{tag} raw call {i}"
                rows.append((next(ids), clock.now(), version, text_, 10 + i % 90, f"{tag}-raw",
                             input_hash(text_)))
            with conn.transaction(), conn.cursor() as cursor:
                cursor.executemany(RAW_INSERT, rows)
    return calls / (time.perf_counter() - started)


def read_loop(url: str, stop: threading.Event, latencies: list[float]) -> None:
    """The dashboard: Browse page 1 and its counts, again and again."""
    engine = open_store(url)
    while not stop.is_set():
        started = time.perf_counter()
        list_calls(engine, CallFilter(), "newest", None, 50)
        browse_counts(engine, CallFilter())
        latencies.append((time.perf_counter() - started) * 1000)
    engine.dispose()


def own_database(url: str) -> str:
    """<database>_writers beside the database of `url`, created when it does not exist."""
    parsed = make_url(url)
    name = f"{parsed.database}_writers"
    server = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                        {"name": name}).first() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    server.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--calls", type=int, default=50_000, help="calls per process")
    parser.add_argument("--own-database", action="store_true",
                        help="log into <database>_writers on the same server (created if new)")
    parser.add_argument("--copy-of", help="first make the database a copy of this one")
    parser.add_argument("--raw", action="store_true",
                        help="also time the same calls on a raw psycopg connection")
    args = parser.parse_args(argv)
    if args.own_database:
        args.db = own_database(args.db)
    if args.copy_of:
        copy_database(args.db, args.copy_of)
    open_store(args.db).dispose()  # migrate before the writers race to
    tag = uuid.uuid4().hex[:8]
    expected_calls = args.processes * args.calls
    stop, latencies = threading.Event(), []
    reader = threading.Thread(target=read_loop, args=(args.db, stop, latencies))
    reader.start()
    spawn = multiprocessing.get_context("spawn")
    spans = spawn.Queue()
    workers = [spawn.Process(target=write_calls, args=(args.db, tag, k, args.calls, spans))
               for k in range(args.processes)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    ends = [spans.get() for _ in workers]
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - started
    logging_seconds = max(end for _, end in ends) - min(start for start, _ in ends)
    raw_rate = write_raw(args.db, tag, expected_calls) if args.raw else None  # reads go on
    stop.set()
    reader.join()
    engine = open_store(args.db)
    with engine.connect() as conn:
        ours = Call.input_text.like(f"{tag} writer %")
        stored, distinct = conn.execute(
            select(func.count(), func.count(func.distinct(Call.input_text))).where(ours)).one()
    engine.dispose()
    expected = expected_calls
    report = {
        "processes": args.processes, "calls_per_process": args.calls, "expected": expected,
        "stored": stored, "lost": expected - distinct, "duplicated": stored - distinct,
        "seconds_with_process_start": round(seconds, 1),
        "logging_seconds": round(logging_seconds, 1),
        "calls_per_second": round(expected / logging_seconds),
        "raw_calls_per_second": None if raw_rate is None else round(raw_rate),
        "ratio_to_raw": None if raw_rate is None else round(
            expected / logging_seconds / raw_rate, 2),
        "exit_codes": [worker.exitcode for worker in workers],
        "reads": len(latencies),
        "read_p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "read_p95_ms": (round(statistics.quantiles(latencies, n=20)[18], 1)
                        if len(latencies) >= 20 else None),
    }
    print(json.dumps(report, indent=1))
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / f"pg_writers-{args.processes}.json").write_text(json.dumps(report, indent=1))
    return 0 if report["lost"] == report["duplicated"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
