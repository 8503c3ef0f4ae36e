"""No label or button is cut off with an ellipsis, on a laptop-sized window (Chromium)."""

from __future__ import annotations

import shutil

import pytest

from evalboard.demo.builder import load_demo
from evalboard.review.sampling import SessionSpec
from evalboard.review.sessions import start_session
from tests.support.app_server import CHROMIUM, running_app

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium is not installed"),
]

# elements whose text overflows a box that cuts it with an ellipsis
CUT_OFF = """() => [...document.querySelectorAll('[data-testid=stMain] *')]
  .filter((el) => el.offsetWidth && el.scrollWidth > el.clientWidth + 1
          && getComputedStyle(el).textOverflow === 'ellipsis')
  .map((el) => el.textContent.trim()).filter(Boolean)"""

PAGES = [("/settings", "Review guidelines"), ("/review?reviewer=ann", "Submit and next"),
         ("/browse?errors=true", "Download JSONL")]


def test_labels_and_buttons_are_never_cut_off(engine, db_url, browser_page, tmp_path):
    load_demo(engine, calls=300, seed=1)
    start_session(engine, "ann", SessionSpec(5, "stratified", seed=1))
    page = browser_page
    page.set_viewport_size({"width": 1100, "height": 900})
    with running_app(db_url, log_path=tmp_path / "server.log") as base:
        for path, ready in PAGES:
            page.goto(base + path)
            page.get_by_text(ready).first.wait_for(timeout=30_000)
            page.wait_for_timeout(1500)
            assert page.evaluate(CUT_OFF) == [], path
