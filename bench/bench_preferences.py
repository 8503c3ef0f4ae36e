"""Benchmark preference exports and pairwise statistics.

Run from the repository root:

    python -m bench.bench_preferences [--db PATH] [--repeat R]

On the large store (bench/bench.db, opened read-only: 1M calls, 50,000 judgements) it times
the KTO export from single verdicts and the TRL export from corrections and runs, written to a
temporary file, with the peak Python memory of each (tracemalloc, a run of its own) to show
that the export streams. Then, on synthetic answers (10 versions, 20,000 live answers), it times
the win-rate table (with the length-controlled rate of every pair) and the Bradley–Terry
leaderboard with its 200-round bootstrap, as the Metrics page computes them.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import create_engine

from evalboard.exchange.preferences import PreferenceExport, export_preferences
from evalboard.metrics.axis import VersionRef
from evalboard.pairwise.ratings import leaderboard
from evalboard.pairwise.winrates import Comparisons, win_rate_table

DEFAULT_DB = Path(__file__).resolve().parent / "bench.db"


def timed(label: str, repeat: int, work: Callable[[], Any]) -> Any:
    """Run `work` `repeat` times; print the median (min-max) wall time; return its result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        times.append((time.perf_counter() - start) * 1000)
    print(f"{label:<58} {statistics.median(times):9.1f} ms  ({min(times):.1f}-{max(times):.1f})")
    return result


def peak_memory(label: str, work: Callable[[], Any]) -> None:
    tracemalloc.start()
    work()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{label:<58} {peak / 2**20:9.1f} MiB peak Python memory")


def large_store(path: Path, repeat: int) -> None:
    engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    with tempfile.TemporaryDirectory(prefix="bench-preferences-") as folder:
        out = Path(folder) / "out.jsonl"
        for label, spec in (("KTO from verdicts (50k judgements, 1M calls)",
                             PreferenceExport(fmt="kto")),
                            ("TRL from corrections and runs", PreferenceExport(
                                sources=("corrections", "runs")))):
            summary = timed(label, repeat, lambda spec=spec: export_preferences(engine, out, spec))
            print(f"  {summary.line()}")
            peak_memory(f"  {label}", lambda spec=spec: export_preferences(engine, out, spec))


def synthetic(versions: int = 10, answers: int = 20_000, seed: int = 0) -> Comparisons:
    """Answers between random pairs of versions whose true strengths are spread apart, with
    output lengths the stronger side tends to exceed."""
    rng = np.random.default_rng(seed)
    strength = np.linspace(-1.5, 1.5, versions)
    first = rng.integers(0, versions, answers)
    second = (first + rng.integers(1, versions, answers)) % versions
    p = 1 / (1 + np.exp(-(strength[first] - strength[second])))
    draw = rng.random(answers)
    scores = np.where(draw < p * 0.9, 1.0, np.where(draw < p * 0.9 + 0.1, 0.5, 0.0))
    scores[rng.random(answers) < 0.05] = np.nan  # both bad
    chars_a = rng.normal(600 + 50 * strength[first], 150).clip(10)
    chars_b = rng.normal(600 + 50 * strength[second], 150).clip(10)
    axis = [VersionRef(k, f"v{k}", k) for k in range(versions)]
    tokens = np.full(answers, np.nan)
    return Comparisons(axis, first, second, scores, chars_a, chars_b, tokens, tokens)


def statistics_bench(repeat: int) -> None:
    comparisons = synthetic()
    table = timed("win rates of 45 pairs of 10 versions (20k answers)", repeat,
                  lambda: win_rate_table(comparisons))
    timed("  with the 100-round interval of each length-controlled rate", repeat,
          lambda: win_rate_table(comparisons, np.random.default_rng(0)))
    last = table[(table["model_version"] == "v9") & (table["opponent"] == "v0")].iloc[0]
    print(f"  {len(table)} pairs; v9 against v0: {last.win_rate:.3f} "
          f"(length-controlled {last.lc_win_rate:.3f})")
    board = timed("Bradley-Terry leaderboard + 200-round bootstrap", repeat,
                  lambda: leaderboard(comparisons, np.random.default_rng(0), 200))
    top = board.iloc[0]
    print(f"  best {top.model_version}: {top.rating:.0f} ({top.low:.0f}-{top.high:.0f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=DEFAULT_DB)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.db.exists():
        large_store(args.db, args.repeat)
    else:
        print(f"no store at {args.db}: build it with `python -m bench --calls 1000000`")
    statistics_bench(args.repeat)


if __name__ == "__main__":
    main()
