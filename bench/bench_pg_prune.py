"""Retention on PostgreSQL: `prune --older-than AGE` on two copies of the bench store, its
calls in one table and partitioned by month, while a client logs beside it.

`python -m bench.bench_pg_prune --db postgresql+psycopg://127.0.0.1:PORT/bench
[--older-than 30d]` (a store `python -m bench --db` built). For each shape: a fresh copy of
the store (`<database>_prune_table`, `<database>_prune_months`), the conversion timed
(partitioned copy), then the prune timed while one process logs through the client from before
it starts to after it ends, flushing every 1,000 calls: its calls per second, its longest
flush (what a writer waited for at worst) and whether every call arrived once. Writes
bench/results/pg_prune.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select

import evalboard
from bench.bench_pg_store import copy_of
from bench.bench_store import BENCH_DIR
from evalboard import clock
from evalboard.store import open_store
from evalboard.store.models import Call
from evalboard.store.partitions import partition_calls_by_month
from evalboard.store.prune import PruneOptions, parse_age, prune_calls

FLUSH_EVERY = 1_000
SHAPES = ("table", "months")


def log_beside(url: str, tag: str, stop: Any, out: Any) -> None:
    """One logging process: calls through the client until `stop` is set, a flush every
    FLUSH_EVERY; puts (calls logged, calls per second, longest flush in ms) on `out`."""
    eb = evalboard.connect(url, flush_timeout=600)
    longest, logged = 0.0, 0
    started = time.perf_counter()
    while not stop.is_set():
        for _ in range(FLUSH_EVERY):
            eb.log_call(input=f"{tag} call {logged}", output="ok", model_version="prune-writer")
            logged += 1
        flush_started = time.perf_counter()
        eb.flush()
        longest = max(longest, time.perf_counter() - flush_started)
    eb.close()
    out.put((logged, logged / (time.perf_counter() - started), longest * 1000))


def measure(url: str, shape: str, options: PruneOptions) -> dict[str, Any]:
    copy = copy_of(url, f"prune_{shape}")
    engine = open_store(copy)
    result: dict[str, Any] = {"shape": shape}
    if shape == "months":
        report = partition_calls_by_month(engine, clock.now())
        result.update(convert_seconds=round(report.seconds, 1), months=len(report.months))
    tag = uuid.uuid4().hex[:8]
    spawn = multiprocessing.get_context("spawn")
    out, stop = spawn.Queue(), spawn.Event()
    writer = spawn.Process(target=log_beside, args=(copy, tag, stop, out))
    writer.start()
    time.sleep(2)  # the writer is logging
    started = time.perf_counter()
    pruned = prune_calls(engine, options)
    prune_seconds = time.perf_counter() - started
    stop.set()
    writer_calls, rate, longest_flush = out.get()
    writer.join()
    with engine.connect() as conn:
        stored, distinct = conn.execute(select(
            func.count(), func.count(func.distinct(Call.input_text))).where(
            Call.input_text.like(f"{tag} call %"))).one()
    engine.dispose()
    result.update(
        prune_seconds=round(prune_seconds, 1), removed_calls=pruned.removed.get("calls", 0),
        kept_calls=pruned.kept_calls, dropped_months=pruned.dropped_months,
        batches=pruned.batches, freed_mb=round((pruned.bytes_freed or 0) / 1e6),
        writer_calls=writer_calls, writer_calls_per_second=round(rate),
        writer_longest_flush_ms=round(longest_flush),
        writer_lost=writer_calls - distinct, writer_duplicated=stored - distinct)
    print(json.dumps(result), flush=True)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--older-than", default="30d")
    parser.add_argument("--shapes", default=",".join(SHAPES))
    args = parser.parse_args(argv)
    options = PruneOptions(parse_age(args.older_than))
    results = [measure(args.db, shape, options)
               for shape in args.shapes.split(",")]
    (BENCH_DIR / "results").mkdir(exist_ok=True)
    (BENCH_DIR / "results" / "pg_prune.json").write_text(json.dumps({
        "older_than": args.older_than, "measured_at": clock.now().isoformat(timespec="seconds"),
        "results": results}, indent=1))
    return 0 if all(r["writer_lost"] == r["writer_duplicated"] == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
