"""What a person waits for in Chromium: page loads, sidebar navigation, Browse actions, and the
server's memory (issue 21).

    python -m bench.bench_browser [--large bench/bench.db] [--small bench/bench-10000.db]
                                  [--stores demo,10000,1000000] [--quick]

Each store is served by `streamlit run app.py` (tests/support/app_server.py) and driven by
headless Debian Chromium through Playwright. Every figure is taken in the page with
`performance.now()`: from the user's action (the `pointerdown` of a click, the `keydown` of
Enter; for a full load, the navigation's start) to the first animation frame where the new
content is there and settled (its marker present, the script run finished, no stale element,
every chart drawn). Stores: the 3k-call demo (built fresh), bench's 10k-call store (built when
missing) and its 1M-call store (copied first: the app migrates a store it opens).

Budgets: a Browse page turn, a search, opening a call, switching a filter p50 < 300 ms; sidebar
navigation to every page p50 < 800 ms; a cold full load of every page < 2 s (median of fresh
sessions); the server's RSS (with its children) after visiting every page 10 times < 400 MB,
and flat (within 50 MB) from the 10k to the 1M store. Writes bench/results/browser.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from evalboard.ui.navigation import HOME
from evalboard.ui.navigation import PAGES as REGISTRY
from tests.support.app_server import CHROMIUM, CHROMIUM_ARGS, running_app
from tests.support.browse_timing import click_row

HERE = Path(__file__).resolve().parent
RESULTS_FILE = HERE / "results" / "browser.json"
REVIEWER = "bench"
VIEWPORT = {"width": 1400, "height": 1000}
TIMEOUT_MS = 60_000

ACTION_BUDGET_MS = 300.0
NAVIGATION_BUDGET_MS = 800.0
COLD_LOAD_BUDGET_MS = 2000.0
MEMORY_BUDGET_MB = 400.0
MEMORY_GROWTH_MB = 50.0


@dataclass(frozen=True)
class PageSpec:
    """A page as the bench visits it: its URL path and its sidebar link's text."""

    path: str
    link: str


# Every page of the registry (Home, the default page, is served at "/").
PAGES = tuple(PageSpec("" if page is HOME else page.name, page.title) for page in REGISTRY)

# Installed before any page script: marks the user's action and watches Streamlit's run state.
PROBE_JS = """
(() => {
  const eb = window.__eb = {t0: null, armed: false, sawRunning: false, ranUntil: null,
                            armedTitles: null};
  const mark = (event) => { if (eb.armed) { eb.t0 = event.timeStamp; eb.armed = false; } };
  document.addEventListener('pointerdown', mark, true);
  document.addEventListener('keydown', (e) => { if (e.key === 'Enter') mark(e); }, true);
  // A quick run can flip the state to running and back before the observer is called: the
  // records' old values say it ran even when the current value is notRunning again.
  new MutationObserver((records) => {
    const app = document.querySelector('[data-testid=stApp]');
    const state = app && app.getAttribute('data-test-script-state');
    if (state === 'running' || records.some((r) => r.oldValue === 'running')) {
      eb.sawRunning = true;
    }
    if (state === 'notRunning' && eb.sawRunning) eb.ranUntil = performance.now();
  }).observe(document, {subtree: true, attributes: true, attributeOldValue: true,
                        attributeFilter: ['data-test-script-state']});
  eb.arm = (marker) => {
    eb.armed = true; eb.t0 = null; eb.sawRunning = false; eb.ranUntil = null;
    eb.armedTitles = JSON.stringify(eb.title());
    eb.heldAtArm = marker ? !!eval(marker) : true;
  };
  // An action has run once the run state was seen running, or once its marker (false when it
  // was armed) holds: a quick run's messages can all be drawn in one commit, the run state
  // never changing in the DOM, and the marker comes only from the server's answer.
  eb.acted = () => eb.sawRunning || !eb.heldAtArm;
  // A quick page's run can arrive in one frame and be drawn in one commit, the run state never
  // changing in the DOM: a navigation has also run once the page's titles are new ones.
  eb.navigated = () => eb.sawRunning || JSON.stringify(eb.title()) !== eb.armedTitles;
  eb.settled = () => {
    const app = document.querySelector('[data-testid=stApp]');
    if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
    if (document.querySelector('[data-stale=true]')) return false;
    for (const chart of document.querySelectorAll('[data-testid=stVegaLiteChart]')) {
      const shown = chart.getClientRects().length > 0;  // a chart in a hidden tab is not drawn
      if (shown && !chart.querySelector('svg, canvas')) return false;
    }
    return true;
  };
  eb.title = () => [...document.querySelectorAll('h1')].map((h) => h.textContent.trim());
})();
"""

# Evaluated with the marker's JS expression as `marker`; the frame time when it all holds.
LOADED_JS = "(marker) => window.__eb && __eb.settled() && eval(marker) ? performance.now() : false"
ACTED_JS = ("(marker) => window.__eb && __eb.t0 !== null && __eb.acted() && __eb.settled()"
            " && eval(marker) ? performance.now() - __eb.t0 : false")
NAVIGATED_JS = ("(marker) => window.__eb && __eb.t0 !== null && __eb.navigated()"
                " && __eb.settled() && eval(marker) ? performance.now() - __eb.t0 : false")


# What a navigation that did not settle left: the probe's state, the run state, stale
# elements, charts (shown, drawn) and the page the browser is on.
PAGE_STATE_JS = """() => ({probe: {t0: __eb.t0, sawRunning: __eb.sawRunning,
                                    armedTitles: __eb.armedTitles},
  run: document.querySelector('[data-testid=stApp]')?.getAttribute('data-test-script-state'),
  stale: document.querySelectorAll('[data-stale=true]').length,
  charts: [...document.querySelectorAll('[data-testid=stVegaLiteChart]')]
    .map((c) => [c.getClientRects().length > 0, !!c.querySelector('svg, canvas')]),
  path: location.pathname, titles: __eb.title()})"""


def page_marker(spec: PageSpec) -> str:
    """The page's own content: its URL path and a title drawn."""
    return (f"location.pathname.replace(/^\\/+|\\/+$/g, '') === {json.dumps(spec.path)}"
            " && __eb.title().length > 0")


DIALOG_MARKER = ("!!document.querySelector('[role=dialog]') && "
                 "/Call \\d+/.test(document.querySelector('[role=dialog]').innerText)")


# What Browse's results show: the caption ("Page 1 · calls 1–50 of 3,000") and the listed calls
RESULTS_JS = ("[...document.querySelectorAll('[data-testid=stCaptionContainer]')]"
              ".map((e) => e.innerText).filter((t) => t.startsWith('Page ')).join() + '|' + "
              "[...document.querySelectorAll('[data-testid=browseCalls] tbody tr')]"
              ".map((r) => r.dataset.call).join()")


def results_changed_marker(page: Page) -> str:
    """Browse's results are no longer what they are now (or the run was seen, for a search
    that lists the same calls): the URL alone is not enough, as a widget bound to it moves the
    URL before the run."""
    before = page.evaluate(f"() => {RESULTS_JS}")
    return f"(__eb.sawRunning || {RESULTS_JS} !== {json.dumps(before)})"


def text_marker(text: str) -> str:
    return f"document.body.innerText.includes({json.dumps(text)})"


def url_marker(param: str, value: str | None) -> str:
    """The URL has `param` = `value` (or, with None, has no `param`)."""
    got = f"new URLSearchParams(location.search).get({json.dumps(param)})"
    return f"{got} === null" if value is None else f"{got} === {json.dumps(value)}"


def timing(samples: list[float]) -> dict[str, Any]:
    return {"median_ms": statistics.median(samples), "min_ms": min(samples),
            "max_ms": max(samples), "n": len(samples), "samples_ms": samples}


# --- the browser side -------------------------------------------------------------------------


def new_page(browser: Browser) -> Page:
    context = browser.new_context(viewport=VIEWPORT)  # a fresh Streamlit session each time
    context.add_init_script(PROBE_JS)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page


def full_load(page: Page, base: str, spec: PageSpec, query: str = "") -> float:
    """Load a page in full; ms from the navigation's start to its content settled."""
    page.goto(f"{base}/{spec.path}?reviewer={REVIEWER}{query}", wait_until="commit")
    return float(page.wait_for_function(LOADED_JS, arg=page_marker(spec),
                                        polling="raf").json_value())


def acted(page: Page, action: Callable[[], object], marker: str) -> float:
    """Do `action` (a click, a key); ms from it to the new content (`marker`, false before)
    settled after the script run it started."""
    page.evaluate("(marker) => __eb.arm(marker)", marker)
    action()
    return float(page.wait_for_function(ACTED_JS, arg=marker, polling="raf").json_value())


def navigate(page: Page, spec: PageSpec) -> float:
    """Click the page's sidebar link; ms until its content has settled."""
    page.evaluate("__eb.arm()")
    page.locator("[data-testid=stSidebarNavLink]").filter(
        has=page.get_by_text(spec.link, exact=True)).click()
    return float(page.wait_for_function(NAVIGATED_JS, arg=page_marker(spec),
                                        polling="raf").json_value())


# --- the server side --------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _rss_mb(pid: int) -> float:
    try:
        for line in (Path("/proc") / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def server_pid(base: str) -> int:
    """The pid of the Streamlit server listening on `base`'s port."""
    port = str(urlparse(base).port)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                args = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"streamlit" in b" ".join(args) and port.encode() in args:
                return int(entry.name)
    raise RuntimeError(f"no streamlit process serves port {port}")


def tree_cpu_ms(pid: int) -> float:
    """CPU time (user + system) a process and its descendants have used, ms: what a page
    costs the server whatever the machine's load."""
    ticks, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = (Path("/proc") / str(current) / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime and stime (fields 14 and 15)
        todo += _children(current)
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")


def tree_rss_mb(pid: int) -> float:
    """RSS of a process and all its descendants, MB."""
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += _rss_mb(current)
        todo += _children(current)
    return total


# --- one store --------------------------------------------------------------------------------


@dataclass
class StoreFigures:
    label: str
    calls: int
    first_load_ms: float = 0.0
    cold_load: dict[str, dict[str, Any]] = field(default_factory=dict)
    navigation: dict[str, dict[str, Any]] = field(default_factory=dict)
    navigation_all: dict[str, Any] = field(default_factory=dict)
    navigation_cpu: dict[str, dict[str, Any]] = field(default_factory=dict)
    actions: dict[str, dict[str, Any]] = field(default_factory=dict)
    memory_mb: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def _exceptions_on_page(page: Page) -> int:
    return page.locator("[data-testid=stException], [data-testid=stAlertContentError]").count()


def measure_cold_loads(browser: Browser, base: str, figures: StoreFigures, repeats: int) -> None:
    for spec in PAGES:
        samples = []
        for _ in range(repeats):
            page = new_page(browser)
            samples.append(full_load(page, base, spec))
            if _exceptions_on_page(page):
                figures.errors.append(f"error shown on {spec.link or 'home'} (cold load)")
            page.context.close()
        figures.cold_load[spec.link] = timing(samples)


def measure_navigation(page: Page, base: str, figures: StoreFigures, rounds: int,
                       pid: int) -> None:
    """Visit every page `rounds` times through the sidebar, then read the server's memory. A
    navigation that fails is reported (with a screenshot) and the page reloaded."""
    full_load(page, base, PAGES[0])
    samples: dict[str, list[float]] = {spec.link: [] for spec in PAGES}
    cpu: dict[str, list[float]] = {spec.link: [] for spec in PAGES}
    for _ in range(rounds):
        for spec in (*PAGES[1:], PAGES[0]):
            with attempt(figures, f"navigation to {spec.link}", page):
                used = tree_cpu_ms(pid)
                samples[spec.link].append(navigate(page, spec))
                cpu[spec.link].append(tree_cpu_ms(pid) - used)
                if _exceptions_on_page(page):
                    figures.errors.append(f"error shown on {spec.link} (navigation)")
                continue
            with attempt(figures, f"reload of {spec.link} after a failed navigation", page):
                full_load(page, base, spec)
    figures.navigation = {link: timing(values) for link, values in samples.items() if values}
    figures.navigation_all = timing([v for values in samples.values() for v in values])
    figures.navigation_cpu = {link: timing(values) for link, values in cpu.items() if values}
    figures.memory_mb[f"after visiting every page {rounds} times"] = tree_rss_mb(pid)


def search_words(url: str, count: int) -> list[str]:
    """Words of the newest calls' outputs (so every search finds something), drawn at random."""
    from sqlalchemy import select

    from evalboard.store.engine import make_engine
    from evalboard.store.models import Call

    engine = make_engine(url)
    with engine.connect() as conn:
        outputs = conn.scalars(select(Call.output).order_by(Call.id.desc()).limit(200)).all()
    engine.dispose()
    words = sorted({word.strip(".,;:!?\"'()*").lower()
                    for text in outputs for word in (text or "").split()})
    words = [w for w in words if w.isalpha() and len(w) >= 5]
    return random.Random(0).sample(words, min(count, len(words)))


def measure_browse_actions(page: Page, base: str, url: str, figures: StoreFigures,
                           repeats: int) -> None:
    browse = next(spec for spec in PAGES if spec.path == "browse")
    full_load(page, base, browse)
    turns = []
    for number in range(2, repeats + 2):
        turns.append(acted(page, page.get_by_role("button", name="Older →").click,
                           text_marker(f"Page {number} ·")))
    figures.actions["Browse page turn (Older →)"] = timing(turns)

    full_load(page, base, browse)
    opened = []
    for row in range(repeats):
        opened.append(acted(page, lambda row=row: click_row(page, row), DIALOG_MARKER))
        page.keyboard.press("Escape")
        page.locator("[role=dialog]").wait_for(state="detached")
        page.wait_for_function(LOADED_JS, arg=url_marker("call", None), polling="raf")
    figures.actions["open a call (row click to dialog)"] = timing(opened)

    full_load(page, base, browse)
    box = page.get_by_role("textbox", name="Search input and output")
    searched = []
    for word in search_words(url, repeats):
        box.fill(word)
        marker = f"{url_marker('q', word)} && {results_changed_marker(page)}"
        searched.append(acted(page, lambda: box.press("Enter"), marker))
    figures.actions["search (Enter to results)"] = timing(searched)

    full_load(page, base, browse)
    page.get_by_text("More filters", exact=False).first.click()
    toggle = page.locator("[data-testid=stCheckbox] label", has_text="Errors only")
    toggle.wait_for()
    switched = []
    for k in range(repeats):
        marker = (f"{url_marker('errors', None if k % 2 else 'true')} && "
                  f"{results_changed_marker(page)}")
        switched.append(acted(page, toggle.click, marker))
    figures.actions["switch a filter (Errors only)"] = timing(switched)


@contextmanager
def attempt(figures: StoreFigures, what: str, page: Page | None = None) -> Iterator[None]:
    """Record a part that failed (with a screenshot) and go on with the next part."""
    try:
        yield
    except PlaywrightError as exc:
        name = "-".join(what.split())
        shot = RESULTS_FILE.with_name(f"browser-{figures.label}-{name}.png")
        state = ""
        if page is not None:
            page.screenshot(path=shot)
            state = f", the page: {page.evaluate(PAGE_STATE_JS)}"
        figures.errors.append(f"{what} failed: {str(exc).splitlines()[0]} (see {shot.name})"
                              f"{state}")
        print(f"  {figures.errors[-1]}", flush=True)


def measure_store(browser: Browser, url: str, label: str, calls: int, quick: bool,
                  log_path: Path) -> StoreFigures:
    figures = StoreFigures(label, calls)
    repeats, rounds = (2, 3) if quick else (3, 10)
    started = time.perf_counter()
    with running_app(url, timeout=120, log_path=log_path) as base:
        pid = server_pid(base)
        figures.memory_mb["after start"] = tree_rss_mb(pid)
        page = new_page(browser)
        figures.first_load_ms = full_load(page, base, PAGES[0])
        page.context.close()
        with attempt(figures, "cold loads"):
            measure_cold_loads(browser, base, figures, repeats)
        page = new_page(browser)
        measure_navigation(page, base, figures, rounds, pid)
        with attempt(figures, "Browse actions", page):
            measure_browse_actions(page, base, url, figures, max(repeats, 5))
        page.context.close()
        figures.memory_mb["at the end"] = tree_rss_mb(pid)
    print(f"  {label}: measured in {time.perf_counter() - started:.0f} s", flush=True)
    return figures


# --- stores -----------------------------------------------------------------------------------


def demo_store(folder: Path) -> tuple[str, int]:
    from evalboard.demo.builder import load_demo
    from evalboard.store import open_store

    url = f"sqlite:///{folder / 'demo.db'}"
    engine = open_store(url)
    load_demo(engine, calls=3000, seed=0)
    engine.dispose()
    return url, 3000


def bench_store(path: Path, calls: int, folder: Path) -> tuple[str, int]:
    """A working copy of bench's store (built when missing): the app may migrate what it opens."""
    if not path.exists():
        from bench.bench_store import build_store

        build_store(path, calls)
    copy = folder / path.name
    shutil.copyfile(path, copy)
    return f"sqlite:///{copy}", calls


@contextmanager
def stores(names: list[str], large: Path, small: Path) -> Iterator[Iterator[tuple[str, str, int]]]:
    with tempfile.TemporaryDirectory(prefix="bench-browser-", dir=HERE) as tmp:
        folder = Path(tmp)

        def each() -> Iterator[tuple[str, str, int]]:
            for name in names:
                if name == "demo":
                    yield name, *demo_store(folder)
                else:
                    path = small if int(name) <= 100_000 else large
                    url, calls = bench_store(path, int(name), folder)
                    yield name, url, calls
                    (folder / path.name).unlink(missing_ok=True)

        yield each()


# --- report -----------------------------------------------------------------------------------


def verdict(met: bool) -> str:
    return "ok" if met else "MISS"


def rows(report: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(figure, measured, budget, verdict) for every figure of a report."""
    out = []
    by_label = {s["label"]: s for s in report["stores"]}
    for store in report["stores"]:
        name = f"{store['calls']:,} calls" + (" (demo)" if store["label"] == "demo" else "")
        for action, t in store["actions"].items():
            out.append((f"browser ({name}): {action}", _ms(t), f"p50 < {ACTION_BUDGET_MS:g} ms",
                        verdict(t["median_ms"] < ACTION_BUDGET_MS)))
        for link, t in store["navigation"].items():
            server = store.get("navigation_cpu", {}).get(link)
            out.append((f"browser ({name}): sidebar to {link}", _ms(t) + (
                f", server CPU {server['median_ms']:,.0f} ms" if server else ""),
                        f"p50 < {NAVIGATION_BUDGET_MS:g} ms",
                        verdict(t["median_ms"] < NAVIGATION_BUDGET_MS)))
        if store["navigation_all"]:
            t = store["navigation_all"]
            out.append((f"browser ({name}): sidebar navigation, all pages", _ms(t),
                        f"p50 < {NAVIGATION_BUDGET_MS:g} ms",
                        verdict(t["median_ms"] < NAVIGATION_BUDGET_MS)))
        for link, t in store["cold_load"].items():
            out.append((f"browser ({name}): cold full load of {link}", _ms(t),
                        f"< {COLD_LOAD_BUDGET_MS:g} ms",
                        verdict(t["median_ms"] < COLD_LOAD_BUDGET_MS)))
        out.append((f"browser ({name}): first load after the server starts",
                    f"{store['first_load_ms']:,.0f} ms", "-", "info"))
        visits = [k for k in store["memory_mb"] if k.startswith("after visiting")]
        for key in visits:
            mb = store["memory_mb"][key]
            out.append((f"browser ({name}): server RSS {key}", f"{mb:,.0f} MB",
                        f"< {MEMORY_BUDGET_MB:g} MB", verdict(mb < MEMORY_BUDGET_MB)))
        if store["errors"]:
            out.append((f"browser ({name}): pages showing an error", str(len(store["errors"])),
                        "0", "MISS"))
    numbered = sorted((int(k), v) for k, v in by_label.items() if k.isdigit())
    if len(numbered) >= 2:
        (small, low), (large, high) = numbered[0], numbered[-1]
        key = next((k for k in low["memory_mb"] if k.startswith("after visiting")), None)
        if key and key in high["memory_mb"]:
            growth = high["memory_mb"][key] - low["memory_mb"][key]
            out.append((f"browser: server RSS from {small:,} to {large:,} calls",
                        f"{low['memory_mb'][key]:,.0f} -> {high['memory_mb'][key]:,.0f} MB "
                        f"({growth:+,.0f})", f"growth <= {MEMORY_GROWTH_MB:g} MB",
                        verdict(growth <= MEMORY_GROWTH_MB)))
    return out


def _ms(t: dict[str, Any]) -> str:
    return f"{t['median_ms']:,.0f} ms ({t['min_ms']:,.0f}-{t['max_ms']:,.0f}, n={t['n']})"


def print_table(report: dict[str, Any]) -> None:
    table = [("figure", "median (min-max)", "budget", "verdict"), *rows(report)]
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    for line in table:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)))


def environment(quick: bool) -> dict[str, Any]:
    import platform

    import streamlit

    from evalboard import clock

    return {"when": clock.now().isoformat(timespec="seconds"), "quick": quick,
            "python": platform.python_version(), "streamlit": streamlit.__version__,
            "cpus": os.cpu_count(), "load_average": os.getloadavg()}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--large", type=Path, default=HERE / "bench.db",
                        help="bench's 1M-call store (copied, never written)")
    parser.add_argument("--small", type=Path, default=HERE / "bench-10000.db",
                        help="bench's 10k-call store (built when missing)")
    parser.add_argument("--stores", default="demo,10000,1000000",
                        help="which stores: demo and call counts (small or large store)")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (~1/3)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: apt-get install chromium", file=sys.stderr)
        return 1
    names = [n.strip() for n in args.stores.split(",") if n.strip()]
    report: dict[str, Any] = {"environment": environment(args.quick), "stores": []}
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw, stores(names, args.large, args.small) as todo:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for label, url, calls in todo:
            print(f"measuring {label} ({calls:,} calls) ...", flush=True)
            log = RESULTS_FILE.with_name(f"browser-server-{label}.log")
            report["stores"].append(
                measure_store(browser, url, label, calls, args.quick, log).__dict__)
            RESULTS_FILE.write_text(json.dumps(report, indent=2) + "\n")  # after each store
        browser.close()
    print_table(report)
    print(f"\nwrote {RESULTS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
