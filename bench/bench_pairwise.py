"""Benchmark pairing and pairwise answers.

Run from the repository root:

    python -m bench.bench_pairwise [--db PATH] [--repeat R]

On the large store (bench/bench.db, opened read-only: 1M calls, 10 model versions) it times
the pairing report (every pair of versions, and eval calls only), the shared-input count of
the pair sharing most, and picking 20 pairs by each strategy, and prints their SQLite plans.
On a small store of its own (in a temporary folder) it times starting a pairwise session of
20 pairs and answering and undoing one pair, as the page does on a keypress.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine

from evalboard.pairwise.answers import PairVerdict
from evalboard.pairwise.pairing import (
    STRATEGIES,
    PairSpec,
    pairing_report,
    pairing_report_query,
    pick_pairs,
    shared_inputs,
)
from evalboard.pairwise.sessions import (
    answer_pair,
    start_pairwise_session,
    undo_in_pairwise_session,
)
from evalboard.store import open_store
from tests.support.calls import add_calls
from tests.support.query_plans import query_plan

DEFAULT_DB = Path(__file__).resolve().parent / "bench.db"


def timed(label: str, repeat: int, work: Callable[[], Any]) -> Any:
    """Run `work` `repeat` times; print the median (min-max) wall time; return its result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        times.append((time.perf_counter() - start) * 1000)
    print(f"{label:<52} {statistics.median(times):9.1f} ms  ({min(times):.1f}-{max(times):.1f})")
    return result


def large_store(path: Path, repeat: int) -> None:
    engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    report = timed("pairing report, all sources", repeat, lambda: pairing_report(engine))
    timed("pairing report, eval calls", repeat, lambda: pairing_report(engine, ("eval",)))
    top = report[0]
    print(f"  {len(report)} pairs of versions; most shared: {top.version_a} & {top.version_b} "
          f"({top.shared_inputs:,} inputs)")
    timed(f"shared inputs of {top.version_a} & {top.version_b}", repeat,
          lambda: shared_inputs(engine, top.version_a, top.version_b))
    for strategy in STRATEGIES:
        spec = PairSpec(top.version_a, top.version_b, 20, strategy, seed=1)
        timed(f"pick 20 pairs, {strategy}", repeat, lambda spec=spec: pick_pairs(engine, spec))
    with engine.connect() as conn:
        print("  plan of the report:", " | ".join(query_plan(conn, pairing_report_query())))


def small_store(repeat: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        engine: Engine = open_store(f"sqlite:///{Path(folder) / 'pairs.db'}")
        add_calls(engine, [{"input": f"question {i}", "output": f"{v} answer {i}",
                            "model_version": v} for i in range(2000) for v in ("v1", "v2")])
        sid = timed("start a session of 20 pairs (2,000 shared inputs)", repeat,
                    lambda: start_pairwise_session(engine, "ann", PairSpec("v1", "v2", 20)))

        def answer_and_undo() -> None:
            answer_pair(engine, sid, 0, "ann", PairVerdict("a", labels_b=("hallucination",)))
            undo_in_pairwise_session(engine, sid, "ann")

        timed("answer a pair and undo it", repeat * 5, answer_and_undo)
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--db", type=Path, default=DEFAULT_DB)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.db.is_file():
        large_store(args.db, args.repeat)
    else:
        print(f"{args.db} is missing: build it with python -m bench.bench_store --build-only")
    small_store(args.repeat)


if __name__ == "__main__":
    main()
