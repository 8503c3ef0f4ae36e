"""Every benchmark in one command: `python -m bench [--calls N] [--reuse]`.

Runs, in order and each in its own process so their memory figures do not mix:
the store benchmark (logging, import, Browse pages, search, counts; ratios to raw sqlite3),
the check throughput, the metrics chart queries, and the page scripts under AppTest with
their peak memory plus the review, promote and 1k-case run operations (on the store the
store benchmark built). Each prints its table and writes JSON under bench/results/.
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


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000, help="calls in the store")
    parser.add_argument("--reuse", action="store_true", help="reuse stores that exist")
    args = parser.parse_args()
    store_db = HERE / f"bench-{args.calls}.db"
    metrics_db = HERE / f"metrics-{args.calls}.db"
    reuse = ["--reuse"] if args.reuse else []
    codes = [
        run("bench.bench_store", "--calls", str(args.calls), "--db", str(store_db), *reuse),
        run("bench.bench_checks"),
        run("bench.bench_metrics", "--calls", str(args.calls), "--db", str(metrics_db), *reuse),
        run("bench.bench_pages", "--db", str(store_db), "--label", str(args.calls)),
    ]
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
