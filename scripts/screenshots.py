"""Regenerate the README screenshots from demo data: `python scripts/screenshots.py [OUT_DIR]`."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from evalboard.demo import load_demo
from evalboard.store import open_store
from evalboard.testing_server import CHROMIUM, CHROMIUM_ARGS, running_app

# (file name, URL path and query, text that shows the page has rendered)
SHOTS = [
    ("home.png", "/", "Reviewed per day"),
    ("browse.png", "/browse?sort=newest", "Browse calls"),
    ("call-detail.png", "/browse?call=42", "Call 42"),
    ("search.png", "/browse?q=json", "Browse calls"),
]


def wait_for_app(page: Page, text: str) -> None:
    page.get_by_text(text, exact=False).first.wait_for(timeout=30_000)
    page.wait_for_timeout(1500)  # let data frames and charts finish drawing


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'demo.db'}"
        load_demo(open_store(url), calls=3000, seed=0)
        with running_app(url) as base, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            for name, path, text in SHOTS:
                page.goto(base + path)
                wait_for_app(page, text)
                page.screenshot(path=str(out_dir / name), full_page=True)
                print(f"wrote {out_dir / name}")
            browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "docs")
