"""Whole page scripts under AppTest, their peak memory, and the review/promote/run operations.

    python -m bench.bench_pages --db bench/bench.db [--label 1M]
    python -m bench.bench_pages --db postgresql+psycopg://... --label pg-1M

Budgets (issue 8): each page's whole script < 1 s; the next call in a review session
< 300 ms; a 1,000-case deterministic run < 5 s; page memory flat (within 50 MB) from 10k to
1M calls (`python -m bench` runs this script on both stores and compares). Writes
bench/results/pages-<label>.json.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import streamlit as st
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from bench.bench_store import store_url
from evalboard import clock
from evalboard.cases.draft import CaseDraft
from evalboard.cases.promote import promote_call
from evalboard.cases.repository import upsert_case
from evalboard.checks import CheckSpec
from evalboard.review.annotations import Judgement
from evalboard.review.sampling import SessionSpec
from evalboard.review.sessions import item_at, judge_item, start_session
from evalboard.runs.generators import CallableGenerator
from evalboard.runs.runner import run_suite
from evalboard.store import open_store
from evalboard.store.calls_query import get_call
from evalboard.store.models import Call
from evalboard.ui.navigation import PAGES as NAVIGATION_PAGES
from evalboard.ui.navigation import page_path

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGES = [page.name for page in NAVIGATION_PAGES]
PAGE_BUDGET_MS = 1000


def _timing_ms(action: Callable[[], object], repeats: int = 3) -> dict[str, float]:
    """Median, min and max milliseconds of `repeats` runs after a warm-up run."""
    action()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return {"median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times)}


def _cold_run(at: AppTest) -> None:
    """A run with Streamlit's caches empty, as the first visit after a minute (TTL) sees it."""
    st.cache_data.clear()  # the store's engine (a cached resource) stays, as on a server
    at.run()


def page_figures(url: str) -> dict[str, dict[str, float]]:
    """Whole-script time with nothing cached (median, min, max of 3; and the median with
    Streamlit's caches warm) and the peak Python memory of each page (tracemalloc: what the
    page's Python allocates, not SQLite's bounded page cache)."""
    os.environ["EVALBOARD_DB_URL"] = url
    figures = {}
    for page in PAGES:
        at = AppTest.from_file(APP, default_timeout=120)
        at.query_params["reviewer"] = "bench"
        at.run()
        at.switch_page(page_path(page)).run()
        timing = _timing_ms(functools.partial(_cold_run, at))  # the budget's: nothing cached
        warm = _timing_ms(at.run)
        tracemalloc.start()  # its own run: tracing allocations slows a script down severalfold
        at.run()
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        figures[page] = {**timing, "script_ms": timing["median_ms"],
                         "warm_ms": warm["median_ms"], "peak_mb": peak,
                         "errors": len(at.exception) + len(at.error)}
    return figures


def _echo(prompt: object) -> str:
    return str(prompt)[:200]


def operation_figures(url: str) -> dict[str, dict[str, float]]:
    """Opening a call, starting a review session and advancing in it, promoting a call, and
    a 1,000-case run with deterministic checks (once: it writes a run)."""
    engine = open_store(url)
    seeds = iter(range(1, 1000))
    start = _timing_ms(lambda: start_session(engine, "bench", SessionSpec(
        20, "random", seed=next(seeds))))
    session_id = start_session(engine, "bench", SessionSpec(20, "random", seed=0))

    def next_call() -> None:
        view = item_at(engine, session_id, 0)
        judge_item(engine, session_id, view.position if view else 0, "bench",
                   Judgement("pass"))

    with engine.connect() as conn:
        call_id = conn.execute(select(Call.id).order_by(Call.id.desc()).limit(1)).scalar_one()
    open_call = _timing_ms(lambda: get_call(engine, call_id), repeats=20)
    for number in range(1000):
        upsert_case(engine, "bench-1k", CaseDraft(
            name=f"case-{number:04d}", input=f"question {number}",
            checks=(CheckSpec("contains", {"value": "question"}),
                    CheckSpec("word_count", {"min": 1, "max": 50}))))
    started = time.perf_counter()
    run_suite(engine, "bench-1k", f"bench-{clock.now():%Y%m%dT%H%M%S}", CallableGenerator(_echo))
    run_ms = (time.perf_counter() - started) * 1000
    return {"open a call": open_call,
            "start a review session (20 calls, random)": start,
            "next call in a review session (judge, then load)": _timing_ms(next_call, repeats=5),
            "promote a call to a test case": _timing_ms(
                lambda: promote_call(engine, call_id, "bench")),
            "1,000-case run, deterministic checks": {
                "median_ms": run_ms, "min_ms": run_ms, "max_ms": run_ms}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True,
                        help="an existing SQLite store (a path) or a PostgreSQL URL")
    parser.add_argument("--label", default="store", help="names the result file")
    args = parser.parse_args()
    url = store_url(args.db)
    pages = page_figures(url)
    operations = operation_figures(url)
    print(f"{'page':<12}{'cold ms':>10}{'warm ms':>10}{'peak MB':>10}  verdict")
    for page, row in pages.items():
        verdict = "ok" if row["script_ms"] < PAGE_BUDGET_MS and not row["errors"] else "MISS"
        print(f"{page:<12}{row['script_ms']:>10.0f}{row['warm_ms']:>10.0f}"
              f"{row['peak_mb']:>10.1f}  {verdict}")
    for name, timing in operations.items():
        print(f"{timing['median_ms']:10.1f} ms  {name}")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"pages-{args.label}.json").write_text(
        json.dumps({"pages": pages, "operations": operations}, indent=2))


if __name__ == "__main__":
    main()
