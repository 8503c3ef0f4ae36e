"""What a person waits for, held to generous bounds in a real browser (Playwright + Debian's
Chromium) on the demo store, so a change that makes pages several times slower fails here.
The budgets themselves (navigation p50 < 800 ms, a cold load < 2 s, < 400 MB) are measured by
bench/bench_browser.py; these bounds are what a slow shared CI machine can hold."""

from __future__ import annotations

import shutil
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from bench.bench_browser import (
    PAGE_STATE_JS,
    PAGES,
    full_load,
    navigate,
    new_page,
    server_pid,
    tree_rss_mb,
)
from evalboard.demo.builder import load_demo
from evalboard.store import open_store
from tests.support.app_server import CHROMIUM, CHROMIUM_ARGS, running_app

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium is not installed"),
]

NAVIGATION_P50_MS = 2500.0
COLD_LOAD_MEDIAN_MS = 6000.0
COLD_LOAD_ANY_MS = 12000.0
MEMORY_MB = 600.0
ROUNDS = 3
ERRORS = "[data-testid=stException], [data-testid=stAlertContentError]"


@dataclass
class Served:
    base: str
    pid: int
    browser: Any


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    sync_api = pytest.importorskip("playwright.sync_api")
    folder = tmp_path_factory.mktemp("browser_budgets")
    url = f"sqlite:///{folder / 'evalboard.db'}"
    engine = open_store(url)
    load_demo(engine, calls=3000, seed=0)
    engine.dispose()
    with running_app(url, timeout=120, log_path=folder / "server.log") as base, \
            sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        first = new_page(browser)
        full_load(first, base, PAGES[0])  # the server's first run opens the store
        first.context.close()
        yield Served(base, server_pid(base), browser)
        browser.close()


def test_a_cold_full_load_of_every_page(served):
    loads = {}
    for spec in PAGES:
        page = new_page(served.browser)
        loads[spec.link] = full_load(page, served.base, spec)
        assert page.locator(ERRORS).count() == 0, f"{spec.link} shows an error"
        page.context.close()
    assert statistics.median(loads.values()) < COLD_LOAD_MEDIAN_MS, loads
    assert max(loads.values()) < COLD_LOAD_ANY_MS, loads


def test_sidebar_navigation_to_every_page_and_the_memory_it_leaves(served):
    page = new_page(served.browser)
    full_load(page, served.base, PAGES[0])
    times: dict[str, list[float]] = {spec.link: [] for spec in PAGES}
    missed: list[str] = []
    for _ in range(ROUNDS):
        for spec in (*PAGES[1:], PAGES[0]):
            try:
                times[spec.link].append(navigate(page, spec))
            except PlaywrightTimeout:  # reported below, with what the page showed
                missed.append(f"{spec.link}: {page.evaluate(PAGE_STATE_JS)}")
                full_load(page, served.base, spec)
            assert page.locator(ERRORS).count() == 0, f"{spec.link} shows an error"
    page.context.close()
    # Under CI load one navigation in a few hundred has not settled within a minute; more
    # than one in a run is a page that hangs.
    assert len(missed) <= 1, missed
    every = [ms for values in times.values() for ms in values]
    assert statistics.median(every) < NAVIGATION_P50_MS, times
    assert tree_rss_mb(served.pid) < MEMORY_MB
