"""Drive and time the review focus component in Chromium (tests/test_browser_review.py and
bench/bench_review_browser.py).

`install_probe` times every Enter from the keydown (on window, before the component sees it)
to the frame after the next call's output is in the DOM (performance.now() around the DOM
change); `timings` reads them back. `settled` waits until the page has no answer waiting for
the server.
"""

from __future__ import annotations

import statistics
from typing import Any

ROOT = "document.querySelector('.eb-focus')"

PROBE = """() => {
  window.__ebTimings = [];
  window.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter' || event.ctrlKey || event.metaKey) return;
    const root = document.querySelector('.eb-focus');
    const panel = root.querySelector('.eb-call');
    const before = panel.dataset.callId;
    const t0 = performance.now();
    const shown = () => panel.dataset.callId !== before &&
      panel.querySelector('[data-testid=reviewOutput] > *');
    const done = () => requestAnimationFrame(() => window.__ebTimings.push(performance.now() - t0));
    const observer = new MutationObserver(() => {
      if (shown()) { observer.disconnect(); done(); }
    });
    observer.observe(root, {subtree: true, childList: true, attributes: true});
    setTimeout(() => observer.disconnect(), 30000);
  }, true);
}"""


def install_probe(page: Any) -> None:
    page.evaluate(PROBE)


def timings(page: Any) -> list[float]:
    return list(page.evaluate("window.__ebTimings || []"))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def summary(values: list[float]) -> str:
    return (f"n={len(values)} p50={percentile(values, 0.5):.1f} ms "
            f"p95={percentile(values, 0.95):.1f} ms max={max(values):.1f} ms "
            f"mean={statistics.fmean(values):.1f} ms")


def pending(page: Any) -> int:
    """Answers the page has not had acknowledged yet."""
    return int(page.evaluate("window.evalboardReview ? window.evalboardReview.outbox.length : -1"))


def settled(page: Any, timeout_ms: int = 30_000) -> None:
    page.wait_for_function("window.evalboardReview && window.evalboardReview.outbox.length === 0",
                           timeout=timeout_ms)


def progress_text(page: Any) -> str:
    return str(page.evaluate(f"{ROOT}.querySelector('[data-testid=reviewProgress]').textContent"))
