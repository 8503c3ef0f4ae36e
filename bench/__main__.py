"""Every benchmark in one command: `python -m bench [--calls N] [--small N] [--reuse]`.

Builds (or with --reuse, reuses) two stores of the same shape (bench/bench_store.py builds
them: calls over 60 days and 10 model versions, annotations, a 10k-case suite with a run per
version, the daily rollups): a large one (1,000,000 calls by default) and a small one (10,000)
for the page-memory comparison. Then, each in its own process so their memory figures do not
mix: the store benchmark on the large store (logging, import, Browse pages, search, counts;
ratios to raw sqlite3), the check throughput, every Home and Metrics chart query, and the page
scripts under AppTest with their peak memory plus opening a call, the review session, promoting
and a 1k-case run, on both stores; then what a person waits for in Chromium (page loads,
sidebar navigation, Browse actions, the server's memory) on the demo and both stores. Last,
one table of every figure (bench/summary.py), also written to bench/results/summary.json.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(module: str, *args: str) -> int:
    print(f"\n=== python -m {module} {' '.join(args)}", flush=True)
    return subprocess.call([sys.executable, "-m", module, *args], cwd=HERE.parent)


def store_path(calls: int) -> Path:
    return HERE / f"bench-{calls}.db"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000, help="calls in the large store")
    parser.add_argument("--small", type=int, default=10_000, help="calls in the small store")
    parser.add_argument("--reuse", action="store_true", help="reuse stores that exist")
    parser.add_argument("--db", help="a PostgreSQL database URL (postgresql+psycopg://...): "
                        "build the large store there and run the PostgreSQL benchmarks")
    args = parser.parse_args()
    if args.db:
        return max(run("bench.bench_pg_store", "--db", args.db, "--calls", str(args.calls),
                       *(["--reuse"] if args.reuse else [])),
                   run("bench.bench_pg_writers", "--db", args.db, "--own-database"),
                   run("bench.bench_pg_prune", "--db", args.db))
    large, small = store_path(args.calls), store_path(args.small)
    codes = []
    for calls, path in ((args.calls, large), (args.small, small)):
        if not (args.reuse and path.exists()):
            codes.append(run("bench.bench_store", "--calls", str(calls), "--db", str(path),
                             "--build-only"))
    codes += [
        run("bench.bench_store", "--calls", str(args.calls), "--db", str(large), "--reuse"),
        run("bench.bench_checks"),
        run("bench.bench_client"),
        run("bench.bench_otlp", "--db", str(large)),
        run("bench.bench_proxy"),
        run("bench.bench_metrics", "--db", str(large)),
        run("bench.bench_pages", "--db", str(small), "--label", str(args.small)),
        run("bench.bench_pages", "--db", str(large), "--label", str(args.calls)),
        run("bench.bench_browser", "--large", str(large), "--small", str(small),
            "--stores", f"demo,{args.small},{args.calls}"),
        run("bench.summary", "--large", str(args.calls), "--small", str(args.small)),
    ]
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
