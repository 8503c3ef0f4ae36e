"""Whole page scripts under AppTest, their peak memory, and the review/promote/run operations.

    python -m bench.bench_pages --db bench/bench.db [--label 1M]

Budgets (issue 8): each page's whole script < 1 s; the next call in a review session
< 300 ms; a 1,000-case deterministic run < 5 s; page memory flat (within 50 MB) from 10k to
1M calls (compare the peak figures of two runs of this script). Writes
bench/results/pages-<label>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from streamlit.testing.v1 import AppTest

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
from evalboard.store.models import Call

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGES = ["home", "browse", "review", "cases", "runs", "compare", "agreement", "settings",
         "metrics"]
PAGE_BUDGET_MS, NEXT_CALL_BUDGET_MS, RUN_BUDGET_S = 1000, 300, 5


def _median_ms(action: Callable[[], object], repeats: int = 3) -> float:
    action()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def page_figures(url: str) -> dict[str, dict[str, float]]:
    """Median whole-script time (warm) and peak Python memory of each page."""
    os.environ["EVALBOARD_DB_URL"] = url
    figures = {}
    pages = [p for p in PAGES if (Path(APP).parent / "app_pages" / f"{p}.py").exists()]
    for page in pages:
        at = AppTest.from_file(APP, default_timeout=120)
        at.query_params["reviewer"] = "bench"
        at.run()
        at.switch_page(f"app_pages/{page}.py").run()
        tracemalloc.start()
        ms = _median_ms(at.run)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        figures[page] = {"script_ms": ms, "peak_mb": peak,
                         "errors": len(at.exception) + len(at.error)}
    return figures


def _echo(prompt: object) -> str:
    return str(prompt)[:200]


def operation_figures(url: str) -> dict[str, float]:
    engine = open_store(url)
    session_id = start_session(engine, "bench", SessionSpec(20, "random", seed=1))

    def next_call() -> None:
        view = item_at(engine, session_id, 0)
        judge_item(engine, session_id, view.position if view else 0, "bench",
                   Judgement("pass"))

    with engine.connect() as conn:
        call_id = conn.execute(select(Call.id).order_by(Call.id.desc()).limit(1)).scalar_one()
    for number in range(1000):
        upsert_case(engine, "bench-1k", CaseDraft(
            name=f"case-{number:04d}", input=f"question {number}",
            checks=(CheckSpec("contains", {"value": "question"}),
                    CheckSpec("word_count", {"min": 1, "max": 50}))))
    started = time.perf_counter()
    run_suite(engine, "bench-1k", f"bench-{time.time():.0f}", CallableGenerator(_echo))
    run_seconds = time.perf_counter() - started
    return {"review_next_call_ms": _median_ms(next_call, repeats=5),
            "promote_call_ms": _median_ms(lambda: promote_call(engine, call_id, "bench")),
            "run_1k_cases_s": run_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, required=True, help="an existing SQLite store")
    parser.add_argument("--label", default="store", help="names the result file")
    args = parser.parse_args()
    url = f"sqlite:///{args.db.resolve()}"
    pages = page_figures(url)
    operations = operation_figures(url)
    print(f"{'page':<12}{'script ms':>12}{'peak MB':>10}  verdict")
    for page, row in pages.items():
        verdict = "ok" if row["script_ms"] < PAGE_BUDGET_MS and not row["errors"] else "MISSED"
        print(f"{page:<12}{row['script_ms']:>12.0f}{row['peak_mb']:>10.1f}  {verdict}")
    print(f"review: next call {operations['review_next_call_ms']:.1f} ms "
          f"(budget {NEXT_CALL_BUDGET_MS}); promote {operations['promote_call_ms']:.1f} ms; "
          f"1k-case run {operations['run_1k_cases_s']:.2f} s (budget {RUN_BUDGET_S})")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"pages-{args.label}.json").write_text(
        json.dumps({"pages": pages, "operations": operations}, indent=2))


if __name__ == "__main__":
    main()
