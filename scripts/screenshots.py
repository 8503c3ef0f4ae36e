"""Regenerate the README screenshots from demo data: `python scripts/screenshots.py [OUT_DIR]`."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright
from sqlalchemy import select
from sqlalchemy.orm import Session

from evalboard.demo import load_demo
from evalboard.metrics.targets import set_target
from evalboard.review.sampling import SessionSpec
from evalboard.review.sessions import start_session
from evalboard.store import open_store
from evalboard.store.review_models import Annotation
from evalboard.testing_server import CHROMIUM, CHROMIUM_ARGS, running_app

REVIEWER = "ann"
VIEWPORT = {"width": 1440, "height": 1000}


def shots(failed_call: int) -> list[tuple[str, str, str]]:
    """(file name, URL path and query, text that shows the page has rendered)."""
    return [
        ("home.png", "/", "What reviewers found"),
        ("browse.png", "/browse", "Browse calls"),
        ("call-detail.png", f"/browse?call={failed_call}", "Reviews"),
        ("review.png", f"/review?reviewer={REVIEWER}", "Submit and next"),
        ("promote.png", f"/cases?reviewer={REVIEWER}&promote={failed_call}", "Checks"),
        ("cases.png", "/cases", "Test cases"),
        ("runs.png", "/runs?run=2", "Failing only"),
        ("compare.png", "/compare?cmp_suite=support-bot-regressions&cmp_base=support-bot-v1"
         "&cmp_cand=support-bot-v2", "Regressions ("),
        ("metrics.png", "/metrics?metrics_period=all+time", "Over time"),
        ("agreement.png", "/agreement", "Disagreements to settle"),
        ("settings.png", "/settings", "Review guidelines"),
    ]


def wait_for_app(page: Page, text: str) -> None:
    page.get_by_text(text, exact=False).first.wait_for(timeout=60_000)
    page.wait_for_timeout(4000)  # let data frames and charts finish drawing


def prepare(url: str) -> int:
    """Demo data, a review session for the screenshots, and a call someone failed."""
    engine = open_store(url)
    load_demo(engine, calls=3000, seed=0)
    set_target(engine, "pass_rate", 0.85, "max")
    set_target(engine, "latency_p95", 2500, "min")
    start_session(engine, REVIEWER, SessionSpec(20, "stratified", seed=1))
    with Session(engine) as session:
        return session.scalars(select(Annotation.call_id).where(
            Annotation.verdict == "fail").order_by(Annotation.id)).first() or 1


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'demo.db'}"
        failed_call = prepare(url)
        with running_app(url) as base, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport=VIEWPORT)
            for name, path, text in shots(failed_call):
                page.goto(base + path)
                wait_for_app(page, text)
                page.screenshot(path=str(out_dir / name))
                print(f"wrote {out_dir / name}")
            browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "docs")
