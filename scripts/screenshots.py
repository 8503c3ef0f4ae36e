"""Regenerate the README screenshots from demo data.

    python -m scripts.screenshots [OUT_DIR] [--only metrics.png ...] [--missing]

`--only` takes the named shots, `--missing` those OUT_DIR lacks. Every shot is checked once
taken: a page that never renders or a file not written is reported, and the script exits 1
naming each shot that failed (the others are still taken).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, sync_playwright
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evalboard import clock
from evalboard.demo.builder import load_demo
from evalboard.metrics.targets import set_target
from evalboard.pairwise.pairing import PairSpec
from evalboard.pairwise.sessions import start_pairwise_session
from evalboard.review.annotations import Judgement
from evalboard.review.sampling import SessionSpec
from evalboard.review.sessions import items, judge_item, start_session
from evalboard.store import open_store
from evalboard.store.review_models import Annotation
from evalboard.teams.comments import add_comment
from evalboard.teams.queues import QueueSpec, create_queue, take_batch
from tests.support.app_server import CHROMIUM, CHROMIUM_ARGS, running_app

REVIEWER = "ann"
VIEWPORT = {"width": 1440, "height": 1000}


class Prepared(NamedTuple):
    """What the shots show: a call someone failed, the team queue, the call it disputes."""

    failed_call: int
    queue: int
    disputed_call: int


def shots(prepared: Prepared) -> list[tuple[str, str, str]]:
    """(file name, URL path and query, text that shows the page has rendered)."""
    failed_call = prepared.failed_call
    return [
        ("home.png", "/", "What reviewers found"),
        ("browse.png", "/browse", "Browse calls"),
        ("call-detail.png", f"/browse?call={failed_call}", "Reviews"),
        ("review.png", f"/review?reviewer={REVIEWER}", "Submit and next"),
        ("pairwise.png", f"/pairwise?reviewer={REVIEWER}", "B is better"),
        ("promote.png", f"/cases?reviewer={REVIEWER}&promote={failed_call}", "Checks"),
        ("cases.png", "/cases", "Test cases"),
        ("runs.png", "/runs?run=2", "Failing only"),
        ("compare.png", "/compare?cmp_suite=support-bot-regressions&cmp_base=support-bot-v1"
         "&cmp_cand=support-bot-v2", "Regressions ("),
        ("metrics.png", "/metrics?metrics_period=all+time", "Over time"),
        ("agreement.png", "/agreement", "Disagreements to settle"),
        ("queue.png", f"/queues?reviewer={REVIEWER}&queue={prepared.queue}",
         "Progress per reviewer"),
        ("adjudicate.png", f"/adjudicate?reviewer={REVIEWER}&call={prepared.disputed_call}",
         "Reviewers' answers"),
        ("settings.png", "/settings", "Review guidelines"),
    ]


def wait_for_app(page: Page, text: str) -> None:
    page.get_by_text(text, exact=False).first.wait_for(timeout=60_000)
    page.wait_for_timeout(4000)  # let data frames and charts finish drawing


def team_queue(engine: Engine) -> tuple[int, int]:
    """A queue two reviewers worked part of (two answers per call), with one disagreement
    and a comment on it; returns the queue and the disputed call."""
    now = clock.now()
    queue = create_queue(engine, QueueSpec("Support answers · week 48", SessionSpec(
        24, "newest"), reviewers_per_item=2, due_on=now.date()), "lead")
    disputed = 0
    for reviewer, answered in (("ana", 10), ("ben", 6)):
        batch = take_batch(engine, queue, reviewer, now)
        assert batch is not None
        for item in items(engine, batch)[:answered]:
            verdict = "fail" if reviewer == "ben" and item.position == 0 else "pass"
            labels = ("hallucination",) if verdict == "fail" else ()
            judge_item(engine, batch, item.position, reviewer, Judgement(
                verdict, labels, note="Not what the help centre says." if labels else ""))
            disputed = disputed or (item.call_id if labels else 0)
    add_comment(engine, disputed, "ana", "Which part is wrong? It reads right to me.")
    add_comment(engine, disputed, "ben", "The second sentence: see the help centre's billing page.")
    return queue, disputed


def prepare(url: str) -> Prepared:
    """Demo data, a review session for the screenshots, a call someone failed and a team
    queue."""
    engine = open_store(url)
    load_demo(engine, calls=3000, seed=0)
    set_target(engine, "pass_rate", 0.85, "max")
    set_target(engine, "latency_p95", 2500, "min")
    start_session(engine, REVIEWER, SessionSpec(20, "stratified", seed=1))
    start_pairwise_session(engine, REVIEWER, PairSpec("support-bot-v3", "support-bot-v4", 20,
                                                      seed=1))
    queue, disputed = team_queue(engine)
    with Session(engine) as session:
        failed = session.scalars(select(Annotation.call_id).where(
            Annotation.verdict == "fail").order_by(Annotation.id)).first() or 1
    return Prepared(failed, queue, disputed)


def take(page: Page, base: str, path: str, text: str, out: Path) -> str | None:
    """Take one shot; None when `out` holds a fresh, non-empty image, else what went wrong."""
    out.unlink(missing_ok=True)
    try:
        page.goto(base + path)
        wait_for_app(page, text)
        page.screenshot(path=str(out))
    except PlaywrightError as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    if not out.is_file() or out.stat().st_size == 0:
        return "no image was written"
    return None


def main(out_dir: Path, only: set[str] | None = None) -> int:
    """Take the shots (those named in `only`, or all); return the exit status."""
    out_dir.mkdir(parents=True, exist_ok=True)
    failed: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'demo.db'}"
        prepared = prepare(url)
        wanted = [shot for shot in shots(prepared) if only is None or shot[0] in only]
        unknown = (only or set()) - {name for name, _, _ in shots(prepared)}
        failed += [f"{name}: no such shot" for name in sorted(unknown)]
        with running_app(url) as base, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport=VIEWPORT)
            for name, path, text in wanted:
                problem = take(page, base, path, text, out_dir / name)
                if problem:
                    failed.append(f"{name} ({path}): {problem}")
                    print(f"FAILED {out_dir / name}: {problem}", file=sys.stderr)
                else:
                    print(f"wrote {out_dir / name}")
            browser.close()
    if failed:
        print(f"{len(failed)} screenshot(s) not written:\n  " + "\n  ".join(failed),
              file=sys.stderr)
        return 1
    return 0


def _arguments() -> tuple[Path, set[str] | None]:
    parser = argparse.ArgumentParser(description="Regenerate the README screenshots.")
    parser.add_argument("out_dir", nargs="?", type=Path,
                        default=Path(__file__).resolve().parents[1] / "docs")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="e.g. metrics.png")
    parser.add_argument("--missing", action="store_true", help="only the shots OUT_DIR lacks")
    args = parser.parse_args()
    only = set(args.only) if args.only else None
    if args.missing:
        absent = {name for name, _, _ in shots(Prepared(0, 0, 0))
                  if not (args.out_dir / name).is_file()}
        only = absent if only is None else only & absent
    return args.out_dir, only


if __name__ == "__main__":
    out, names = _arguments()
    if names == set():
        print("nothing to take: every shot is there")
        sys.exit(0)
    sys.exit(main(out, names))
