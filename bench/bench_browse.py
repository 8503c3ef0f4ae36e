"""Browse in Chromium: from an action to the new content visible (p50 of each action).

    python -m bench.bench_browse                         # the 3k-call demo store, built here
    python -m bench.bench_browse --store sqlite:///copy-of-bench.db --words quixotic,refund

A page turn (Older and Newer), a search (a word, then clearing it), opening a call (a row's
click to the dialog), switching a filter (Errors only on and off), each timed in the
page with performance.now() (tests/support/browse_timing.py). The app migrates a store it
opens: give it a copy of bench/bench.db, not the file itself. Budget (issue 21): p50 < 300 ms.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from tests.support.app_server import CHROMIUM, CHROMIUM_ARGS, running_app
from tests.support.browse_timing import ACTIONS, browse_timings, p50

BUDGET_MS = 300


def _demo_store(folder: Path) -> str:
    from evalboard.demo.builder import load_demo
    from evalboard.store import open_store

    url = f"sqlite:///{folder / 'demo.db'}"
    load_demo(open_store(url), calls=3000, seed=7)
    return url


def measure(url: str, rounds: int, words: tuple[str, ...]) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    with running_app(url, timeout=180) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            return browse_timings(page, base, rounds=rounds, words=words)
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", action="append", help="a store URL (default: the demo)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--words", default="refund,password",
                        help="search words, comma-separated (each must not match every call)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        stores = args.store or [_demo_store(Path(folder))]
        for url in stores:
            timings = measure(url, args.rounds, tuple(args.words.split(",")))
            print(f"\n{url}")
            for action in ACTIONS:
                values = timings[action]
                median = p50(values)
                print(f"  {action:16s} p50 {median:7.0f} ms  (min {min(values):.0f}, max "
                      f"{max(values):.0f}, n {len(values)})  "
                      f"{'ok' if median < BUDGET_MS else 'over'} (< {BUDGET_MS} ms)")


if __name__ == "__main__":
    main()
