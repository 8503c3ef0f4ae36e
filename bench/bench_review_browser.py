"""The review focus view in Chromium: what a reviewer waits for, and what an answer costs the
server, on the demo store, a 10k-call store and the 1M-call bench store.

For each store: a session of `--calls` calls (newest unreviewed), reviewed with the keyboard
alone, keys `--gap-ms` apart (a verdict, one or two labels, Enter); every Enter is timed from
the keydown to the frame after the next call's output is in the DOM (performance.now(), see
tests/support/review_probe.py). Then every answer is checked in the store (on its call, with
exactly the labels typed), and the Streamlit server's process CPU time over the session is
divided by the answers. A second, in-process figure times the library's part of an answer
(apply the action, build the feed for the page) with time.process_time.

    python -m bench.bench_review_browser                    # demo, 10k and 1M (a copy)
    python -m bench.bench_review_browser --stores demo --calls 50

The 1M store is bench/bench.db (built by `python -m bench`), copied to --work before any
write (a copy takes ~1.6 GB); the 10k store is built there with bench/bench_store.py.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bench.bench_store import build_store
from evalboard.demo.builder import load_demo
from evalboard.review.answers import apply_actions, parse_actions
from evalboard.review.focus_feed import focus_feed
from evalboard.review.sampling import SessionSpec
from evalboard.review.sessions import item_at, start_session
from evalboard.store import open_store
from evalboard.store.review_models import Annotation, ReviewItem
from tests.support import review_probe
from tests.support.app_server import CHROMIUM, CHROMIUM_ARGS, running_app

ROOT = Path(__file__).resolve().parent
LARGE = ROOT / "bench.db"
RESULTS = ROOT / "results" / "review_browser.json"
LABEL_KEYS = "12345678"
VERDICT = {"f": "fail", "u": "unsure", "p": "pass"}


def plan(position: int) -> tuple[str, list[str]]:
    """What is typed for each call: a verdict, one or two label keys."""
    return "fup"[position % 3], [LABEL_KEYS[position % 5]] + (
        [LABEL_KEYS[5 + position % 3]] if position % 2 else [])


def prepare(name: str, work: Path) -> Path:
    """The store file for `name` (demo, 10k, 1m), built or copied under `work`."""
    path = work / f"review-{name}.db"
    if name == "1m":
        if not LARGE.exists():
            raise SystemExit(f"{LARGE} is missing: build it with `python -m bench` first")
        if not path.exists() or path.stat().st_mtime < LARGE.stat().st_mtime:
            started = time.perf_counter()
            shutil.copyfile(LARGE, path)
            print(f"copied {LARGE.name} to {path} in {time.perf_counter() - started:.0f} s")
    elif not path.exists():
        if name == "demo":
            load_demo(open_store(f"sqlite:///{path}"))
        else:
            build_store(path, 10_000)
    return path


def server_process(base: str) -> psutil.Process:
    port = int(base.rsplit(":", 1)[1])
    for conn in psutil.net_connections("tcp"):
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
            return psutil.Process(conn.pid)
    raise RuntimeError(f"no process listens on {port}")


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def check_store(engine: Engine, session_id: int, labels: dict[str, str]) -> None:
    with Session(engine) as session:
        items = list(session.scalars(select(ReviewItem).where(
            ReviewItem.session_id == session_id).order_by(ReviewItem.position)))
        rows = {a.id: a for a in session.scalars(select(Annotation).where(
            Annotation.review_session_id == session_id))}
    assert len(rows) == len(items), f"{len(rows)} answers stored for {len(items)} calls"
    for item in items:
        verdict, keys = plan(item.position)
        row = rows[item.annotation_id]
        assert row.call_id == item.call_id
        assert (row.verdict, sorted(label.name for label in row.labels)) == (
            VERDICT[verdict], sorted(labels[key] for key in keys)), item.position


def review_in_browser(path: Path, calls: int, gap_ms: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    url = f"sqlite:///{path}"
    engine = open_store(url)
    reviewer = f"bench-{int(time.time())}"
    session_id = start_session(engine, reviewer, SessionSpec(size=calls, strategy="newest"))
    size = len(focus_feed(engine, session_id, reviewer)["statuses"])  # type: ignore[index]
    labels = {label["key"]: label["name"]
              for label in focus_feed(engine, session_id, reviewer)["labels"]}  # type: ignore[index]
    with running_app(url, log_path=path.with_suffix(".server.log")) as base, \
            sync_playwright() as pw:
        process = server_process(base)
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.goto(f"{base}/review?reviewer={reviewer}&session={session_id}")
        page.get_by_test_id("reviewProgress").filter(
            has_text=f"Call 1 of {size} · 0 reviewed").wait_for(timeout=120_000)
        page.wait_for_timeout(1000)
        review_probe.install_probe(page)
        cpu_before, started = cpu_seconds(process), time.perf_counter()
        for position in range(size):
            verdict, keys = plan(position)
            for key in (verdict, *keys, "Enter"):
                page.keyboard.press(key)
                page.wait_for_timeout(gap_ms)
        review_probe.settled(page, timeout_ms=120_000)
        page.wait_for_timeout(500)  # the rerun that acknowledged the last answer ends
        cpu = cpu_seconds(process) - cpu_before
        wall = time.perf_counter() - started
        latencies = review_probe.timings(page)
        browser.close()
    check_store(engine, session_id, labels)
    engine.dispose()
    return {"answers": size, "latency_ms": latencies,
            "p50_ms": review_probe.percentile(latencies, 0.5),
            "p95_ms": review_probe.percentile(latencies, 0.95),
            "max_ms": max(latencies), "server_cpu_ms_per_answer": cpu / size * 1000,
            "wall_s": wall}


def library_cpu_per_answer(path: Path, calls: int) -> float:
    """CPU time (ms) of the library's part of one answer: apply it, build the page's feed."""
    engine = open_store(f"sqlite:///{path}")
    reviewer = f"bench-lib-{int(time.time())}"
    session_id = start_session(engine, reviewer, SessionSpec(size=calls, strategy="newest"))
    held: set[int] = set()
    feed = focus_feed(engine, session_id, reviewer, 0)
    assert feed is not None
    held.update(item["position"] for item in feed["items"])
    size = len(feed["statuses"])
    started = time.process_time()
    for position in range(size):
        item = item_at(engine, session_id, position)
        assert item is not None
        verdict, keys = plan(position)
        apply_actions(engine, session_id, reviewer, parse_actions([{
            "client": "bench", "seq": position + 1, "kind": "judge", "position": position,
            "call": item.call_id, "verdict": VERDICT[verdict],
            "labels": [feed["labels"][int(k) - 1]["name"] for k in keys]}]))
        feed = focus_feed(engine, session_id, reviewer, position + 1, known=held)
        assert feed is not None
        held.update(i["position"] for i in feed["items"])
    spent = time.process_time() - started
    engine.dispose()
    return spent / size * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", default="demo,10k,1m")
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--gap-ms", type=int, default=120)
    parser.add_argument("--work", type=Path, default=Path("/tmp/evalboard-review-bench"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    for name in args.stores.split(","):
        path = prepare(name, args.work)
        browser = review_in_browser(path, args.calls, args.gap_ms)
        library = library_cpu_per_answer(path, args.calls)
        results[name] = {**{k: v for k, v in browser.items() if k != "latency_ms"},
                         "library_cpu_ms_per_answer": library}
        print(f"{name:>5}: keypress -> next call visible "
              f"{review_probe.summary(browser['latency_ms'])}; every answer stored as typed; "
              f"server CPU {browser['server_cpu_ms_per_answer']:.1f} ms/answer "
              f"(library part {library:.1f} ms/answer); {browser['wall_s']:.0f} s for "
              f"{browser['answers']} calls", flush=True)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
