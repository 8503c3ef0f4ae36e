"""Basic accessibility of every page, in a real browser (Playwright + Debian's Chromium).

On a demo store (plus a few labels in hard colours, one archived, and an open review session):
no page shows a traceback; every visible form control has an accessible name; label badges
keep a WCAG AA contrast; keyboard focus is visible. Focus is "visible" when, compared with the
same element unfocused, the element or one of its three nearest ancestors gains an outline or
a box-shadow, or changes its border or background colour by a contrast of at least 3:1
(WCAG 1.4.11's figure for user-interface components).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evalboard.demo.builder import load_demo
from evalboard.review.labels import archive_label, create_label
from evalboard.review.sampling import SessionSpec
from evalboard.review.sessions import start_session
from evalboard.store import open_store
from evalboard.store.review_models import Annotation, Label
from tests.support.app_server import CHROMIUM, CHROMIUM_ARGS, running_app

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium is not installed"),
]

TIMEOUT = 30_000  # ms
REVIEWER = "ann"
# labels whose colours sit near the black/white switch-over, plus the extremes
EXTRA_LABELS = {"mid grey": "#777777", "grey 80": "#808080", "pure red": "#ff0000",
                "pure blue": "#0000ff", "yellow": "#ffd43b", "black": "#000000",
                "white": "#ffffff", "teal 50": "#0c8599"}
ARCHIVED_LABEL = ("retired", "#845ef7")
# Streamlit's own chrome whose focus style is a faint tint (tested, and reported, below)
SIDEBAR_NAV, PAGE_LINK, TOOLBAR = ("stSidebarNavLink", "stPageLink-NavLink",
                                   "stBaseButton-elementToolbar")


@dataclass(frozen=True)
class Ids:
    failed_call: int
    run: int


@dataclass
class App:
    base: str
    page: Any
    engine: Engine
    ids: Ids


def _prepare(engine: Engine) -> Ids:
    load_demo(engine, calls=600, seed=0)
    for name, colour in EXTRA_LABELS.items():
        create_label(engine, name, "failure", description=f"a {name} badge", color=colour)
    archive_label(engine, create_label(engine, ARCHIVED_LABEL[0], "success",
                                       color=ARCHIVED_LABEL[1]))
    start_session(engine, REVIEWER, SessionSpec(10, "stratified", seed=1))
    with Session(engine) as session:
        failed = session.scalar(select(Annotation.call_id).where(Annotation.verdict == "fail")
                                .order_by(Annotation.id).limit(1))
    assert failed is not None
    return Ids(failed_call=failed, run=2)


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Iterator[App]:
    sync_api = pytest.importorskip("playwright.sync_api")
    out = tmp_path_factory.mktemp("browser_a11y")
    db_url = f"sqlite:///{out / 'evalboard.db'}"
    engine = open_store(db_url)
    ids = _prepare(engine)
    with running_app(db_url, log_path=out / "server.log") as base, \
            sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            yield App(base, page, engine, ids)
        finally:
            browser.close()
            engine.dispose()


# (id, path with {call} and {run} placeholders, text that shows the page has rendered)
PAGES = [
    ("home", "/", "What reviewers found"),
    ("browse", "/browse", "Browse calls"),
    ("call-dialog", "/browse?call={call}", "Reviews"),
    ("review", f"/review?reviewer={REVIEWER}", "Submit and next"),
    ("review-start", f"/review?reviewer={REVIEWER}&new=1", "Start a review session"),
    ("cases", "/cases", "Test cases"),
    ("promote", f"/cases?reviewer={REVIEWER}&promote={{call}}", "Checks"),
    ("case", "/cases?case=1", "Version history"),
    ("runs", "/runs", "Eval runs"),
    ("run", "/runs?run={run}", "Failing only"),
    ("compare", "/compare?cmp_suite=support-bot-regressions&cmp_base=support-bot-v1"
     "&cmp_cand=support-bot-v2", "Regressions ("),
    ("agreement", "/agreement", "Disagreements to settle"),
    ("queues", f"/queues?reviewer={REVIEWER}", "New queue"),
    ("adjudicate", f"/adjudicate?reviewer={REVIEWER}", "where reviewers disagree"),
    ("adjudicate-call", f"/adjudicate?reviewer={REVIEWER}&call={{call}}", "Final answer"),
    ("settings", "/settings", "Review guidelines"),
    ("metrics", "/metrics", "Metrics"),
]


def _open(app: App, path: str, text: str) -> None:
    """Load a page, wait for its text and for the script to finish, and fail on a crash."""
    page = app.page
    page.goto(app.base + path.format(call=app.ids.failed_call, run=app.ids.run))
    page.get_by_text(text).first.wait_for(timeout=TIMEOUT)
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(
        timeout=TIMEOUT)
    page.wait_for_timeout(500)  # widgets that draw after the script (grids, charts)
    assert page.locator("[data-testid='stException']").count() == 0, "a traceback is shown"
    crashed = page.get_by_text("Something went wrong")
    assert crashed.count() == 0, crashed.first.inner_text()


def _open_page(app: App, name: str) -> None:
    path, text = next((p, t) for n, p, t in PAGES if n == name)
    _open(app, path, text)


# ------------------------------------------------------------------ accessible names

UNNAMED_CONTROLS = """() => {
  const selector = 'input, textarea, select, [role=combobox], [role=checkbox], [role=switch],'
    + ' [role=radio], [role=spinbutton], [role=slider], [role=textbox], [role=searchbox]';
  const nameFromContent = new Set(['radio', 'checkbox', 'switch', 'option', 'button']);
  const text = (node) => (node ? (node.innerText || node.textContent || '') : '').trim();
  const unnamed = [];
  for (const el of document.querySelectorAll(selector)) {
    if (el.type === 'hidden') continue;
    // out of the accessibility tree, or not shown: hidden native inputs behind custom widgets
    if (el.closest('[aria-hidden="true"], [inert]')) continue;
    if (!el.checkVisibility({visibilityProperty: true, opacityProperty: false})) continue;
    const box = el.getBoundingClientRect();
    if (box.width * box.height === 0) continue;
    const aria = (el.getAttribute('aria-label') || '').trim();
    const labelledBy = (el.getAttribute('aria-labelledby') || '').split(/\\s+/)
      .filter(Boolean).map((id) => text(document.getElementById(id))).join(' ').trim();
    const labels = Array.from(el.labels || []).map(text).join(' ').trim();
    const role = el.getAttribute('role');
    const content = role && el.tagName !== 'INPUT' && nameFromContent.has(role) ? text(el) : '';
    if (!(aria || labelledBy || labels || content)) unnamed.push(el.outerHTML.slice(0, 200));
  }
  return unnamed;
}"""


@pytest.mark.parametrize("name", [name for name, _, _ in PAGES])
def test_page_renders_and_every_control_has_a_name(app: App, name: str) -> None:
    _open_page(app, name)
    assert app.page.evaluate(UNNAMED_CONTROLS) == []


def test_settings_forms_when_open_have_named_controls(app: App) -> None:
    _open_page(app, "settings")
    page = app.page
    page.get_by_text("Add a label").click()
    page.get_by_role("textbox", name="Description").first.wait_for(timeout=TIMEOUT)
    assert page.evaluate(UNNAMED_CONTROLS) == []
    page.locator("[data-testid='stPopoverButton']").filter(visible=True).first.click()
    page.get_by_role("dialog").last.wait_for(timeout=TIMEOUT)
    page.wait_for_timeout(300)
    assert page.evaluate(UNNAMED_CONTROLS) == []
    page.keyboard.press("Escape")


# ------------------------------------------------------------------ colour contrast

BADGE_CONTRAST = """() => {
  const rgba = (value) => { const n = value.match(/[\\d.]+/g).map(Number);
    return {r: n[0], g: n[1], b: n[2], a: n.length > 3 ? n[3] : 1}; };
  const over = (top, bottom) => ({r: top.r * top.a + bottom.r * (1 - top.a),
    g: top.g * top.a + bottom.g * (1 - top.a), b: top.b * top.a + bottom.b * (1 - top.a), a: 1});
  const luminance = (c) => { const lin = (v) => { v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * lin(c.r) + 0.7152 * lin(c.g) + 0.0722 * lin(c.b); };
  const white = {r: 255, g: 255, b: 255, a: 1};
  return Array.from(document.querySelectorAll('[data-testid=stMain] span[style*="background"]'))
    .map((span) => { const style = getComputedStyle(span);
      const bg = over(rgba(style.backgroundColor), white);
      const fg = over(rgba(style.color), bg);
      const [hi, lo] = [luminance(fg), luminance(bg)].sort((x, y) => y - x);
      return {text: span.innerText.trim(), ratio: (hi + 0.05) / (lo + 0.05),
              color: style.color, background: style.backgroundColor}; });
}"""


def test_label_badges_keep_readable_contrast(app: App) -> None:
    _open_page(app, "settings")
    badges = app.page.evaluate(BADGE_CONTRAST)
    with Session(app.engine) as session:
        names = set(session.scalars(select(Label.name)))
    assert {badge["text"] for badge in badges} == names  # every label, archived one too
    low = [b for b in badges if b["ratio"] < 4.5]
    assert low == [], f"badges below WCAG AA 4.5:1: {low}"


# ------------------------------------------------------------------ visible focus

FOCUS_INDICATOR = """async () => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const chain = [];
  for (let n = el; n && chain.length < 4 && n !== document.body; n = n.parentElement) chain.push(n);
  const snap = () => chain.map((n) => { const s = getComputedStyle(n);
    return {outline: s.outlineStyle, outlineWidth: parseFloat(s.outlineWidth) || 0,
            outlineColor: s.outlineColor, shadow: s.boxShadow, border: s.borderColor,
            borderWidth: parseFloat(s.borderTopWidth) || 0, background: s.backgroundColor}; });
  const rgba = (value) => { const n = (value.match(/[\\d.]+/g) || [0, 0, 0, 0]).map(Number);
    return {r: n[0], g: n[1], b: n[2], a: n.length > 3 ? n[3] : 1}; };
  const onWhite = (c) => ({r: c.r * c.a + 255 * (1 - c.a), g: c.g * c.a + 255 * (1 - c.a),
                           b: c.b * c.a + 255 * (1 - c.a)});
  const lum = (c) => { const lin = (v) => { v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * lin(c.r) + 0.7152 * lin(c.g) + 0.0722 * lin(c.b); };
  const contrast = (x, y) => { const [a, b] = [lum(onWhite(rgba(x))), lum(onWhite(rgba(y)))]
    .sort((p, q) => q - p); return (a + 0.05) / (b + 0.05); };
  await sleep(250);  // Streamlit's widgets fade their focus styles in and out
  const focused = snap();
  // unfocused: a modal dialog keeps focus inside itself, so park it on the dialog there
  const dialog = el.closest('[role=dialog]');
  if (dialog) dialog.focus(); else el.blur();
  await sleep(250);
  const blurred = snap();
  el.focus({focusVisible: true});  // the next Tab goes on from here
  const cues = [];
  focused.forEach((f, i) => { const u = blurred[i];
    if (f.outline !== 'none' && f.outlineWidth > 0
        && (u.outline === 'none' || u.outlineWidth === 0 || u.outlineColor !== f.outlineColor))
      cues.push(`outline@${i}`);
    if (f.shadow !== 'none' && f.shadow !== u.shadow) cues.push(`box-shadow@${i}`);
    if (f.borderWidth > 0 && contrast(f.border, u.border) >= 3) cues.push(`border@${i}`);
    if (contrast(f.background, u.background) >= 3) cues.push(`background@${i}`);
  });
  return {testid: el.getAttribute('data-testid') || '', tag: el.tagName,
          name: (el.getAttribute('aria-label') || el.innerText || '').trim().slice(0, 40),
          cues};
}"""

# the grid draws its focus inside the canvas; stMain is a keyboard-focusable scroll container
NOT_MEASURABLE = ("CANVAS", "MAIN")


def _start_after_title(page: Any) -> None:
    """Click the title (of the open dialog, if any): sequential focus navigation starts there."""
    dialog = page.get_by_role("dialog")
    title = dialog.locator("h2").first if dialog.count() else page.locator("h1").first
    title.click()


def _tab_through(app: App, tabs: int) -> list[dict[str, Any]]:
    """Start after the page title and press Tab `tabs` times, measuring each focused element."""
    page = app.page
    _start_after_title(page)
    seen = []
    for _ in range(tabs):
        page.keyboard.press("Tab")
        found = page.evaluate(FOCUS_INDICATOR)
        if found is not None:
            seen.append(found)
    return seen


def _label(found: dict[str, Any]) -> str:
    return f"{found['tag']} {found['testid']} {found['name']!r}"


@pytest.mark.parametrize("name", [name for name, _, _ in PAGES])
def test_keyboard_focus_is_visible(app: App, name: str) -> None:
    """The first ten tab stops of the page's content show where focus is (Streamlit's
    sidebar links, page links and element toolbars are left to the tests below)."""
    _open_page(app, name)
    seen = _tab_through(app, 10)
    measured = [f for f in seen if f["tag"] not in NOT_MEASURABLE
                and f["testid"] not in (SIDEBAR_NAV, PAGE_LINK, TOOLBAR)]
    assert len(measured) >= 3, f"too few tab stops to judge: {[_label(f) for f in seen]}"
    invisible = [_label(f) for f in measured if not f["cues"]]
    assert invisible == [], f"focus shows no indicator on {invisible}"


def _focus_first(app: App, testid: str, from_title: bool = True, tabs: int = 30
                 ) -> dict[str, Any]:
    page = app.page
    if from_title:
        _start_after_title(page)
    for _ in range(tabs):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.getAttribute('data-testid')") == testid:
            found = page.evaluate(FOCUS_INDICATOR)
            assert found is not None
            return found
    raise AssertionError(f"no {testid} within {tabs} tab stops")


def test_sidebar_navigation_links_show_focus(app: App) -> None:
    _open_page(app, "home")
    found = _focus_first(app, SIDEBAR_NAV, from_title=False, tabs=5)
    assert found["cues"], f"no focus indicator on {_label(found)}"


def test_page_links_show_focus(app: App) -> None:
    _open_page(app, "promote")
    found = _focus_first(app, PAGE_LINK)
    assert found["cues"], f"no focus indicator on {_label(found)}"


def test_table_toolbar_buttons_show_focus(app: App) -> None:
    _open_page(app, "run")
    found = _focus_first(app, TOOLBAR)
    assert found["cues"], f"no focus indicator on {_label(found)}"


# ------------------------------------------------------------------ names in context


def test_settings_label_controls_name_their_label(app: App) -> None:
    _open_page(app, "settings")
    # Streamlit's own parts of a labelled widget (a number input's Increment/Decrement, a
    # select box's Open: fixed names, out of the tab order) are named by their widget's label;
    # the buttons evalboard names itself must each say what they act on
    names = app.page.locator("[data-testid='stMain'] button").evaluate_all(
        "(buttons) => buttons.filter((b) => b.offsetWidth > 0 && !b.closest("
        "'[data-testid=stNumberInput], [data-testid=stSelectbox]'))"
        ".map((b) => (b.getAttribute('aria-label') || b.innerText).trim())")
    repeated = sorted({n for n in names if names.count(n) > 1})
    assert repeated == [], f"buttons with the same name on one page: {repeated}"
