"""Browse in a real browser (Playwright + Debian's Chromium): renders, and model output is inert."""

from __future__ import annotations

import shutil
from datetime import timedelta
from urllib.parse import urlparse

import pytest

from tests.support.app_server import CHROMIUM, running_app
from tests.support.calls import T0, add_calls, make_rows

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium is not installed"),
]

HOSTILE_OUTPUT = (
    "<script>window.__pwned = 1; alert('xss')</script>\n"
    "<img src='http://203.0.113.9/track.png' onerror=\"window.__pwned = 2\">\n"
    "![tracker](http://203.0.113.9/pixel.gif) [click me](javascript:window.__pwned=3)\n"
    "  indented line kept"
)



def _watch(page) -> tuple[list[str], list[str]]:
    dialogs: list[str] = []
    outside: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: outside.append(r.url)
            if urlparse(r.url).hostname not in ("127.0.0.1", "localhost", None)
            and not r.url.startswith("data:") else None)
    return dialogs, outside


def test_browse_renders_and_hostile_output_stays_text(engine, db_url, browser_page, tmp_path):
    add_calls(engine, make_rows(120, model_version="v1"))
    hostile = add_calls(engine, [{"input": "render this", "output": HOSTILE_OUTPUT,
                                  "model_version": "v2"}]).ids[0]
    page = browser_page
    dialogs, outside = _watch(page)
    with running_app(db_url, log_path=tmp_path / "server.log") as base:
        page.goto(base + "/browse")
        page.get_by_text("Browse calls").wait_for(timeout=30_000)
        page.get_by_text("calls 1–50 of 121").wait_for(timeout=30_000)
        # the table shows the hostile output as text
        first = page.locator("[data-testid=browseCalls] tbody tr").first
        first.wait_for(timeout=30_000)
        assert first.get_attribute("data-call") == str(hostile)
        assert "<script>window.__pwned" in first.inner_text()
        assert page.locator("[data-testid=browseCalls] script, [data-testid=browseCalls] img"
                            ).count() == 0

        for mode in ("Raw", "Markdown"):
            page.goto(f"{base}/browse?call={hostile}&view={mode}")
            dialog = page.get_by_role("dialog")
            dialog.get_by_text("render this").first.wait_for(timeout=30_000)
            page.wait_for_timeout(1000)
            text = dialog.inner_text()
            assert "<script>" in text or mode == "Markdown"
            assert "click me" in text
            for link in dialog.locator("a").all():
                assert not (link.get_attribute("href") or "").lower().startswith("javascript:")
            assert dialog.locator("img[src*='203.0.113.9']").count() == 0
            assert page.evaluate("window.__pwned === undefined")
    assert dialogs == []
    assert outside == []


def test_a_call_opens_from_the_keyboard(engine, db_url, browser_page, tmp_path):
    ids = add_calls(engine, make_rows(60)).ids
    page = browser_page
    with running_app(db_url, log_path=tmp_path / "server.log") as base:
        page.goto(base + "/browse")
        buttons = page.locator("[data-testid=browseCalls] .eb-open")
        buttons.first.wait_for(timeout=30_000)
        buttons.first.focus()
        page.keyboard.press("ArrowDown")  # the second row, the second newest call
        assert page.evaluate("document.activeElement.dataset.call") == str(ids[-2])
        page.keyboard.press("Enter")
        dialog = page.get_by_role("dialog")
        dialog.get_by_text(f"Call {ids[-2]}", exact=True).wait_for(timeout=30_000)
        page.wait_for_url(f"**call={ids[-2]}**", timeout=30_000)
        row = page.locator(f"[data-testid=browseCalls] tr[data-call='{ids[-2]}']")
        row.and_(page.locator("[aria-current=true]")).wait_for(state="attached",
                                                                timeout=30_000)
        page.keyboard.press("Escape")
        dialog.wait_for(state="detached", timeout=30_000)
        page.wait_for_function("!new URLSearchParams(location.search).has('call')",
                               timeout=30_000)
        # the same row opens again with a click (each click is a new request to open)
        row.locator("td").nth(3).click()
        dialog.get_by_text(f"Call {ids[-2]}", exact=True).wait_for(timeout=30_000)


def test_a_one_megabyte_line_and_invisible_characters_stay_readable(engine, db_url,
                                                                    browser_page, tmp_path):
    sneaky = "pay \u202egnp.exe\u202c now\u200b! \u05e9\u05dc\u05d5\u05dd"
    long_id, sneaky_id = add_calls(engine, [{"input": "long", "output": "y" * 1_000_000 + " END"},
                                            {"input": "sneaky", "output": sneaky}]).ids
    page = browser_page
    dialogs, outside = _watch(page)
    with running_app(db_url, log_path=tmp_path / "server.log") as base:
        page.goto(f"{base}/browse?call={sneaky_id}")
        dialog = page.get_by_role("dialog")
        dialog.get_by_text("sneaky").first.wait_for(timeout=30_000)
        page.wait_for_timeout(800)
        shown = dialog.inner_text()
        # direction overrides and zero-width characters are made visible in raw mode
        assert "<U+202E>" in shown and "<U+200B>" in shown and "\u05e9\u05dc\u05d5\u05dd" in shown
        page.goto(f"{base}/browse?call={long_id}")
        dialog = page.get_by_role("dialog")
        dialog.get_by_text("Showing the first").wait_for(timeout=60_000)
        assert page.locator("[data-testid='stException']").count() == 0
    assert dialogs == [] and outside == []


def test_enter_in_a_date_field_applies_the_date(engine, db_url, browser_page, tmp_path):
    add_calls(engine, make_rows(40, step=timedelta(hours=12)))  # 20 days, two calls a day
    page = browser_page
    with running_app(db_url, log_path=tmp_path / "server.log") as base:
        page.goto(base + "/browse")
        page.get_by_text("calls 1–40 of 40").wait_for(timeout=30_000)
        page.wait_for_function("window.__evalboardDateEnter === true", timeout=30_000)
        since = T0 + timedelta(days=15)
        page.get_by_role("spinbutton", name="year, From").click()
        page.keyboard.type(since.strftime("%Y%m%d"))
        page.keyboard.press("Enter")  # focus stays in the field: only Enter can apply it
        page.get_by_text("calls 1–10 of 10").wait_for(timeout=30_000)
        assert f"since={since.date()}" in page.url
