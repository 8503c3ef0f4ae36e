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


# Browse's results: the header cells that show, and whether any lies past the table's edge
RESULTS_COLUMNS = """() => {
  const frame = document.querySelector('[data-testid=browseCalls] .eb-frame')
    .getBoundingClientRect();
  const shown = [...document.querySelectorAll('[data-testid=browseCalls] th')]
    .filter((th) => th.getClientRects().length > 0);
  return {names: shown.map((th) => th.textContent),
          past: shown.filter((th) => th.getBoundingClientRect().right > frame.right + 1)
            .map((th) => th.textContent),
          note: [...document.querySelectorAll('[data-testid=browseCalls] .eb-dropped')]
            .filter((p) => p.getClientRects().length > 0).map((p) => p.textContent)};
}"""


@pytest.mark.parametrize(("width", "left_out"), [
    (1600, []), (1300, ["source"]), (1000, ["latency ms", "tokens", "source"])])
def test_browse_leaves_columns_out_rather_than_cut_a_figure(engine, db_url, browser_page,
                                                            tmp_path, width, left_out):
    load_demo(engine, calls=60, seed=1)
    page = browser_page
    page.set_viewport_size({"width": width, "height": 900})
    with running_app(db_url, log_path=tmp_path / "server.log") as base:
        page.goto(base + "/browse")
        page.locator("[data-testid=browseCalls] tbody tr").first.wait_for(timeout=30_000)
        columns = page.evaluate(RESULTS_COLUMNS)
    assert columns["past"] == []  # nothing half-shown at the right edge
    assert [n for n in ("latency ms", "tokens", "source") if n not in columns["names"]] \
        == left_out
    assert {"id", "input", "output", "verdict", "labels"} <= set(columns["names"])
    if left_out:
        [note] = columns["note"]
        assert all(name in note for name in left_out) and "widen the window" in note
    else:
        assert columns["note"] == []
