"""Time what a person waits for on Browse in a real browser: from an action (a click, Enter)
to the new content visible, measured in the page with performance.now().

`browse_timings(page, base_url, rounds)` runs page turns, searches, opening a call and
switching filters on an open Browse page and returns the milliseconds of each, by action.
Used by tests/test_browser_browse_speed.py (generous bounds) and bench/bench_browse.py (the
figures, on the demo store and the 1M-call bench store).
"""

from __future__ import annotations

import statistics
from typing import Any

# Resolves with the ms since window.__t0 once the body shows `text` and no longer shows
# `gone` (the content it replaces), checked every animation frame; -1 after 60 s.
_WAIT = """([text, gone]) => new Promise((resolve) => {
  const t0 = window.__t0, limit = t0 + 60000;
  const done = () => {
    const shown = document.body.innerText;
    return shown.includes(text) && !(gone && shown.includes(gone));
  };
  const tick = () => done() ? resolve(performance.now() - t0)
    : performance.now() > limit ? resolve(-1) : requestAnimationFrame(tick);
  tick();
})"""
_CAPTION = """() => [...document.querySelectorAll('[data-testid="stCaptionContainer"]')]
  .map(e => e.innerText).find(t => t.startsWith("Page ")) || ""
"""

ACTIONS = ("page turn", "search", "open a call", "switch a filter")


def timed(page: Any, action: Any, text: str, gone: str | None = None) -> float:
    """Milliseconds from `action()` to `text` visible (and `gone` gone)."""
    page.evaluate("window.__t0 = performance.now()")
    action()
    elapsed = page.evaluate(_WAIT, [text, gone])
    if elapsed < 0:
        raise TimeoutError(f"{text!r} did not show within 60 s")
    return float(elapsed)


def _caption(page: Any) -> str:
    return str(page.evaluate(_CAPTION))


def _settle(page: Any) -> None:
    """Wait until no element is stale (the rerun finished) and the page is idle a moment."""
    page.wait_for_function("!document.querySelector('[data-stale=\"true\"]')", timeout=60_000)
    page.wait_for_timeout(150)


def open_browse(page: Any, base_url: str, query: str = "") -> None:
    page.goto(f"{base_url}/browse{query}")
    page.get_by_role("button", name="Older →").wait_for(timeout=120_000)
    _settle(page)


def _page_turns(page: Any, rounds: int) -> list[float]:
    older, newer = (page.get_by_role("button", name="Older →"),
                    page.get_by_role("button", name="← Newer"))
    times = [timed(page, older.click, f"Page {k + 2} ·") for k in range(rounds)]
    for k in range(rounds, 0, -1):
        _settle(page)
        times.append(timed(page, newer.click, f"Page {k} ·", f"Page {k + 1} ·"))
    _settle(page)
    return times


def _searches(page: Any, words: list[str]) -> list[float]:
    box = page.get_by_role("textbox", name="Search input and output")
    times = []
    for word in words:
        for text in (word, ""):
            before = _caption(page)
            box.fill(text)
            times.append(timed(page, lambda: box.press("Enter"), "Page 1 ·", before))
            _settle(page)
    return times


def click_row(page: Any, row: int) -> None:
    """Click the `row`-th call (0 = first) of Browse's results table, on its input text."""
    page.locator("[data-testid=browseCalls] tbody tr").nth(row).locator("td").nth(3).click()


def _open_calls(page: Any, rounds: int) -> list[float]:
    """Click a row of the table, wait for the dialog; Escape closes it."""
    times = []
    for k in range(rounds):
        times.append(timed(page, lambda k=k: click_row(page, k % 5),
                           "Tokens (prompt + completion)"))
        _settle(page)
        page.keyboard.press("Escape")
        page.get_by_role("dialog").wait_for(state="detached", timeout=60_000)
        # closed once the server has dropped the call from the URL (its dismiss rerun ran)
        page.wait_for_function("!new URLSearchParams(location.search).has('call')",
                               timeout=60_000)
        _settle(page)
    return times


def _filter_switches(page: Any, rounds: int) -> list[float]:
    page.get_by_text("More filters: metadata, latency, tokens, errors").click()
    page.get_by_text("Errors only").wait_for()
    times = []
    for _ in range(rounds):
        for _state in (True, False):
            before = _caption(page)
            times.append(timed(page, page.get_by_text("Errors only").click, "Page 1 ·", before))
            _settle(page)
    return times


def browse_timings(page: Any, base_url: str, rounds: int = 5,
                   words: tuple[str, ...] = ("refund", "password", "order")
                   ) -> dict[str, list[float]]:
    """Each action `rounds` times or so on Browse at `base_url` (a store with calls); each
    search word must match fewer calls than the store holds (its caption must change)."""
    open_browse(page, base_url)
    timings = {"page turn": _page_turns(page, rounds)}
    timings["search"] = _searches(page, list(words))
    timings["open a call"] = _open_calls(page, rounds)
    timings["switch a filter"] = _filter_switches(page, rounds)
    return timings


def p50(values: list[float]) -> float:
    return float(statistics.median(values))
