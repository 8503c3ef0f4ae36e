"""Metrics in a real browser (Playwright + Debian's Chromium): every version's label is drawn on
the x axis, readable and distinct, and a version without data says so."""

from __future__ import annotations

import shutil

import pytest

from evalboard.ui.metric_charts import NO_DATA, short_version_names
from tests.support.app_server import CHROMIUM, running_app
from tests.support.calls import T0, add_calls
from tests.support.metric_stores import order_versions

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium is not installed"),
]

VERSIONS = [*(f"support-bot-v{k}" for k in range(1, 6)),
            "Mistral-7B-Instruct-v0.2-sft-support-a", "Mistral-7B-Instruct-v0.2-sft-support-b",
            "Mistral-7B-Instruct-v0.3-sft-support-a", "Mistral-7B-Instruct-v0.3-dpo-support-a",
            "Mistral-7B-Instruct-v0.3-dpo-support-a-old"]
SILENT = VERSIONS[3]  # only eval calls: no production data


def test_every_version_label_is_drawn_on_the_x_axis(engine, db_url, browser_page, tmp_path):
    add_calls(engine, [{"input": f"{version} {k}", "model_version": version, "created_at": T0,
                        "latency_ms": 100.0 + k, "error": "boom" if k == 0 else None,
                        "source": "eval" if version == SILENT else "production"}
                       for version in VERSIONS for k in range(4)])
    order_versions(engine, *VERSIONS)
    labels = short_version_names(VERSIONS)
    expected = [labels[name] for name in VERSIONS]
    assert len(set(expected)) == len(VERSIONS)
    page = browser_page
    with running_app(db_url, log_path=tmp_path / "server.log") as base:
        page.goto(f"{base}/metrics?metrics_period=all+time")
        page.get_by_role("tab", name="Errors").click()
        panel = page.locator("[role='tabpanel']:visible")
        chart = panel.locator(".vega-embed svg").first
        chart.wait_for(timeout=60_000)
        axis = chart.locator("g.role-axis[aria-label^='X-axis']")
        axis.locator("g.role-axis-label text").nth(len(VERSIONS) - 1).wait_for(timeout=30_000)
        page.wait_for_timeout(500)
        frame = chart.bounding_box()
        drawn = []
        for text in axis.locator("g.role-axis-label text").all():
            box = text.bounding_box()
            hidden = text.evaluate("e => getComputedStyle(e).opacity === '0' || "
                                   "e.getAttribute('opacity') === '0'")
            if box and not hidden and box["width"] > 0:
                assert frame["x"] - 1 <= box["x"] and box["x"] + box["width"] <= (
                    frame["x"] + frame["width"] + 1)  # inside the chart, not clipped
                assert box["y"] + box["height"] <= frame["y"] + frame["height"] + 1
                drawn.append((box["x"] + box["width"], text.text_content()))
        # every version, in axis order (right-aligned rotated labels end at their tick)
        assert [label for _, label in sorted(drawn)] == expected
        notes = chart.locator("g.role-mark text", has_text=NO_DATA)
        assert notes.count() == 1  # the silent version, not a zero bar
        title = chart.locator("g.role-axis[aria-label^='Y-axis'] g.role-axis-title text")
        assert title.text_content() == "Error rate"
