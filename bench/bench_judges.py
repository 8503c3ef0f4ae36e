"""Benchmark judges: what evalboard adds around a judge's backend, and alignment at scale.

Run from the repository root:

    python -m bench.bench_judges [--db PATH] [--calls N] [--repeat R]

On the large store (bench/bench.db, opened read-only: 50,000 judgements) it times the human
answers a judge is measured against (a failure label, and the verdict): the floor of every
alignment, of "which labelled calls has this judge not answered" and of a trust measurement.
On a small store of its own (N human-labelled calls, in a temporary folder) with the fake
OpenAI-compatible server answering at once, it times a judge run over every labelled call
(prompt, cache miss, HTTP, parse, stored result: evalboard's own cost per judged call), the
rerun answered from the cache, alignment, and the review hint of one call (trust cached).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from evalboard.judges.alignment import alignment, human_answers
from evalboard.judges.judging import JudgeRunner
from evalboard.judges.review_hints import judge_hints
from evalboard.judges.running import items_for, run_on_labelled
from evalboard.store import open_store
from tests.support.fake_openai import FAIL, PASS, fake_openai
from tests.support.judge_stores import labelled_calls, openai_judge

DEFAULT_DB = Path(__file__).resolve().parent / "bench.db"


def timed(label: str, repeat: int, work: Callable[[], Any], per: int | None = None) -> Any:
    """Run `work` `repeat` times; print the median (min-max) wall time (and per item)."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        times.append((time.perf_counter() - start) * 1000)
    median = statistics.median(times)
    rate = f"  {per / median * 1000:8.0f} /s" if per else ""
    print(f"{label:<56} {median:9.1f} ms  ({min(times):.1f}-{max(times):.1f}){rate}")
    return result


def large_store(path: Path, repeat: int) -> None:
    engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    found = timed("human answers, hallucination (50k judgements)", repeat,
                  lambda: human_answers(engine, "hallucination", "failure"))
    print(f"  {len(found):,} calls with an answer for hallucination")
    found = timed("human answers, the verdict", repeat, lambda: human_answers(engine, None, None))
    print(f"  {len(found):,} calls with a verdict")


def small_store(calls: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        engine = open_store(f"sqlite:///{Path(folder) / 'judges.db'}")
        ids = labelled_calls(engine, [("fail", ["hallucination"]) if i % 3 == 0
                                      else ("pass", []) for i in range(calls)])
        with fake_openai(answer=lambda body: FAIL if "7" in body["messages"][-1]["content"]
                         else PASS) as server:
            version = openai_judge(engine, server.url)
            report = timed(f"judge run over {calls} labelled calls (uncached)", 1,
                           lambda: run_on_labelled(engine, version, limit=calls), per=calls)
            assert report.judged == calls and report.errors == 0
            items = items_for(engine, ids)

            def rerun() -> None:
                runner = JudgeRunner(engine, version)
                for item in items:
                    runner.judge(item)
                assert runner.backend_calls == 0

            timed(f"the same {calls} calls again (cache hits)", repeat, rerun, per=calls)
        measured = timed("alignment of the judge against people", repeat,
                         lambda: alignment(engine, version))
        print(f"  κ {measured.kappa:.2f} on {measured.calls} calls")
        judge_hints(engine, ids[0])
        timed("review hint of one call (trust cached)", repeat, lambda: judge_hints(engine, ids[0]))
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=DEFAULT_DB)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if args.db.exists():
        large_store(args.db, args.repeat)
    else:
        print(f"{args.db} not found: build it with python -m bench (large-store figures skipped)")
    small_store(args.calls, args.repeat)


if __name__ == "__main__":
    main()
