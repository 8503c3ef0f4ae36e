"""The whole loop in a real browser (Playwright + Debian's Chromium) on one temporary store.

First-run screen -> load the demo -> browse and search -> open a call by deep link -> bulk
label a filter -> promote a failure to a test case (editing the checks grid with the keyboard)
-> run the new suite with a tiny local transformers model -> compare two demo versions ->
download the filtered calls as CSV -> (when the Metrics page exists) see its charts.

One server and one browser serve the module; the tests run in file order and share the store.
Each test names the steps it needs and is skipped (not failed) when one of them failed, so a
broken step is reported once. Every step checks the page and then the database directly.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evalboard.cases.promote import promote_call
from evalboard.cases.repository import CaseQuery, list_cases
from evalboard.exchange.exporting import EXPORT_COLUMNS
from evalboard.runs.compare import compare
from evalboard.runs.results import case_results, list_runs
from evalboard.store import open_store
from evalboard.store.calls_counts import count_by_version, count_calls
from evalboard.store.calls_query import CallFilter, matching_ids
from evalboard.store.models import Call
from evalboard.store.review_models import Annotation, Label
from evalboard.ui.navigation import METRICS
from tests.support.app_server import CHROMIUM, CHROMIUM_ARGS, running_app

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium is not installed"),
]

DEMO_CALLS = 600
WORD = "discount"  # in some demo prompts only: the search, bulk and export filter
REVIEWER = "tester"
BULK_VERDICT, BULK_LABEL = "fail", "edge case mishandled"
SUITE = "browser-loop"
MODEL_VERSION = "tiny-gpt2-local"
DEMO_SUITE, BASELINE, CANDIDATE = "support-bot-regressions", "support-bot-v1", "support-bot-v2"
TIMEOUT = 30_000  # ms, per step
NO_EXCEPTION = "[data-testid='stException']"


@dataclass
class Loop:
    """What the ordered tests share: the server, the page, the store and finished steps."""

    base: str
    page: Any
    engine: Engine
    model_dir: Path
    out: Path
    done: set[str] = field(default_factory=set)
    facts: dict[str, Any] = field(default_factory=dict)

    def needs(self, *steps: str) -> None:
        missing = [step for step in steps if step not in self.done]
        if missing:
            pytest.skip(f"needs the earlier step(s) {', '.join(missing)}, which failed")

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Run a step; on failure keep a screenshot, on success mark the step done."""
        try:
            yield
        except BaseException:
            self.page.screenshot(path=str(self.out / f"loop_{name}_failure.png"), full_page=True)
            raise
        assert self.page.locator(NO_EXCEPTION).count() == 0, "a Python traceback is shown"
        assert self.page.get_by_text("Something went wrong").count() == 0
        self.done.add(name)

    def goto(self, path: str, wait_for_text: str) -> None:
        self.page.goto(self.base + path)
        self.page.get_by_text(wait_for_text).first.wait_for(timeout=TIMEOUT)

    def settle(self) -> None:
        """Let a rerun that an action started finish (the grid is redrawn by a rerun)."""
        self.page.wait_for_timeout(300)
        self.page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(
            timeout=TIMEOUT)

    def button(self, name: str) -> Any:
        # visible only: Streamlit also renders a zero-width copy of a button with a tooltip
        return self.page.locator("button").filter(has_text=name, visible=True).first


@pytest.fixture(scope="module")
def loop(tmp_path_factory) -> Iterator[Loop]:
    sync_api = pytest.importorskip("playwright.sync_api")
    pytest.importorskip("transformers")
    from tests.tiny_models import save_tiny_gpt2

    out = tmp_path_factory.mktemp("browser_loop")
    model_dir = save_tiny_gpt2(out / "tiny-gpt2")
    db_url = f"sqlite:///{out / 'evalboard.db'}"
    with pytest.MonkeyPatch.context() as mp:
        # the server inherits these: the transformers generator must never reach the hub
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        with running_app(db_url, log_path=out / "server.log") as base, \
                sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000},
                                    accept_downloads=True)
            engine = open_store(db_url)
            try:
                yield Loop(base, page, engine, model_dir, out)
            finally:
                engine.dispose()
                browser.close()


# ------------------------------------------------------------------------------ the steps


def test_first_run_screen_loads_the_demo(loop: Loop) -> None:
    page = loop.page
    with loop.step("demo"):
        loop.goto("/", "Welcome to evalboard")
        calls = page.get_by_role("spinbutton", name="Calls to generate")
        calls.fill(str(DEMO_CALLS))
        calls.press("Enter")
        page.wait_for_timeout(500)  # the number commits on Enter; the click must see it
        assert calls.input_value() == str(DEMO_CALLS)
        loop.button("Load the demo").click()
        # the page reruns into Home once the demo is in
        page.get_by_text("What reviewers found").wait_for(timeout=90_000)
        page.get_by_text("Calls in the last 7 days").wait_for(timeout=TIMEOUT)
    assert count_calls(loop.engine) == DEMO_CALLS
    with Session(loop.engine) as session:
        assert session.scalar(select(Annotation.id).limit(1)) is not None  # demo reviews


def _grid_rows(page: Any, index: int) -> int:
    """Rows of the n-th data grid, from the accessible table Glide renders next to the canvas."""
    grid = page.locator("[data-testid='stDataFrame'] table[role='grid']").nth(index)
    return int(grid.get_attribute("aria-rowcount")) - 1  # minus the header row


def test_browse_and_search(loop: Loop) -> None:
    loop.needs("demo")
    page = loop.page
    expected = count_calls(loop.engine, CallFilter(search=WORD))
    per_version = count_by_version(loop.engine, CallFilter(search=WORD))
    assert 0 < expected < 50, "the word must narrow the demo to one page"
    with loop.step("search"):
        loop.goto(f"/browse?reviewer={REVIEWER}", "Browse calls")
        page.get_by_text(f"calls 1–50 of {DEMO_CALLS}").wait_for(timeout=TIMEOUT)
        search = page.get_by_role("textbox", name="Search input and output")
        search.fill(WORD)
        search.press("Enter")
        page.get_by_text(f"Page 1 · calls 1–{expected} of {expected}").wait_for(timeout=TIMEOUT)
        page.wait_for_url(re.compile(rf"[?&]q={WORD}\b"), timeout=TIMEOUT)
        # the counts per version (sidebar) and the results table follow the search
        page.wait_for_function(
            "([n, m]) => { const t = document.querySelector("
            "\"[data-testid='stSidebar'] [data-testid='stDataFrame'] table[role='grid']\");"
            " return t && +t.getAttribute('aria-rowcount') === n + 1 && document"
            ".querySelectorAll('[data-testid=browseCalls] tbody tr').length === m; }",
            arg=[len(per_version), expected], timeout=TIMEOUT)
        assert _grid_rows(page, 0) == len(per_version)
        rows = page.locator("[data-testid=browseCalls] tbody tr")
        assert rows.count() == expected
        listed = {int(rows.nth(k).get_attribute("data-call") or 0) for k in range(expected)}
        assert listed == set(matching_ids(loop.engine, CallFilter(search=WORD)))
        sidebar = page.locator("[data-testid='stSidebar']")
        expect = pytest.importorskip("playwright.sync_api").expect
        for version, calls in per_version:
            row = sidebar.locator("tr").filter(has_text=version)
            # the sidebar's grid redraws after the table: its figures arrive a moment later
            expect(row.locator("td").nth(1)).to_have_text(str(calls), timeout=TIMEOUT)


def test_deep_link_opens_the_call_dialog(loop: Loop) -> None:
    loop.needs("demo")
    page = loop.page
    with Session(loop.engine) as session:
        call = session.scalars(select(Call).where(
            Call.output.is_not(None), Call.input_messages.is_(None), Call.error.is_(None))
            .order_by(Call.id.desc()).limit(1)).one()
        call_id, first_line = call.id, call.output.splitlines()[0][:60]
    with loop.step("deep_link"):
        loop.goto(f"/browse?call={call_id}", "Browse calls")
        dialog = page.get_by_role("dialog")
        dialog.get_by_text(f"Call {call_id}", exact=True).wait_for(timeout=TIMEOUT)
        dialog.get_by_text("Output", exact=True).wait_for(timeout=TIMEOUT)
        dialog.get_by_text(first_line).first.wait_for(timeout=TIMEOUT)
        # closing the dialog takes the call out of the URL (a reload must not reopen it)
        page.keyboard.press("Escape")
        dialog.wait_for(state="detached", timeout=TIMEOUT)
        page.wait_for_url(lambda url: "call=" not in url, timeout=TIMEOUT)


def test_bulk_label_the_filter(loop: Loop) -> None:
    loop.needs("search")
    page = loop.page
    expected_ids = matching_ids(loop.engine, CallFilter(search=WORD))
    total = len(expected_ids)
    with loop.step("bulk"):
        loop.goto(f"/browse?reviewer={REVIEWER}&q={WORD}", f"calls 1–{total} of {total}")
        page.get_by_text("Bulk label", exact=True).click()
        page.get_by_text("Apply to", exact=True).wait_for(timeout=TIMEOUT)
        page.get_by_text(f"all {total} calls matching the filter").click()
        confirm = page.get_by_text(f"Yes, label all {total} calls as {REVIEWER}")
        confirm.wait_for(timeout=TIMEOUT)
        page.get_by_role("combobox", name="Verdict to give").click()
        page.get_by_role("option", name=BULK_VERDICT, exact=True).click()
        page.get_by_role("combobox", name="Labels to give").click()
        page.get_by_role("option", name=BULK_LABEL, exact=True).click()
        page.keyboard.press("Escape")  # close the multiselect's list
        apply = loop.button(f"Apply to {total} calls")
        assert apply.is_disabled(), "applying to a whole filter needs the confirmation"
        confirm.click()
        page.wait_for_function(
            "name => [...document.querySelectorAll('button')].some(b => "
            "b.innerText.includes(name) && !b.disabled && b.offsetWidth > 0)",
            arg=f"Apply to {total} calls", timeout=TIMEOUT)
        loop.button(f"Apply to {total} calls").click()
        page.get_by_text(f"Labelled {total} calls ({BULK_VERDICT}: {BULK_LABEL}).").wait_for(
            timeout=TIMEOUT)
    with Session(loop.engine) as session:
        rows = list(session.scalars(select(Annotation).where(Annotation.reviewer == REVIEWER)))
        assert sorted(row.call_id for row in rows) == sorted(expected_ids)
        assert {row.verdict for row in rows} == {BULK_VERDICT}
        assert {tuple(label.name for label in row.labels) for row in rows} == {(BULK_LABEL,)}
        assert len({row.batch_id for row in rows}) == 1 and rows[0].batch_id
    loop.facts["bulk_ids"] = expected_ids


def _hallucination_to_promote(engine: Engine) -> tuple[int, str]:
    """A call reviewed as a hallucination (its draft asks for must-not-contain values) and a
    word of its output that its input lacks (the invented claim the case must catch)."""
    with Session(engine) as session:
        candidates = list(session.scalars(
            select(Annotation.call_id).join(Annotation.labels)
            .where(Label.name == "hallucination").distinct().order_by(Annotation.call_id)))
        for call_id in candidates:
            draft = promote_call(engine, call_id, REVIEWER).draft
            if [(c.type, c.negate, c.params) for c in draft.checks][:1] != [
                    ("contains_any", True, {"values": []})]:
                continue
            call = session.get(Call, call_id)
            assert call is not None and call.output
            asked = call.input_text.lower()
            words = [w for w in re.findall(r"[A-Za-z]{6,}", call.output)
                     if w.lower() not in asked]
            if words:
                return call_id, max(words, key=len)
    raise AssertionError("the demo has no hallucination to promote")


def _select_grid_cell(page: Any, container: Any, column: str, row: int) -> None:
    """Select a cell of a Glide data grid (a canvas): click into the row, then walk to the
    column with the arrow keys, reading the grid's accessible copy to know where focus is.

    The grid maps clicks through a cached position that catches up with a scroll a moment
    later, so a click right after scrolling can miss; it is retried until a cell is selected."""
    container.scroll_into_view_if_needed()
    header = container.locator("th[role='columnheader']").filter(has_text=column).first
    col = header.get_attribute("aria-colindex")  # as in the cells' ids
    target = container.locator(f"td[aria-colindex='{col}'][id$='-{row}']")
    selected_in_row = container.locator(f"td[id$='-{row}'][aria-selected='true']")
    for _ in range(5):
        page.wait_for_timeout(500)
        canvas = container.locator("canvas").first.bounding_box()
        assert canvas is not None
        page.mouse.click(canvas["x"] + 60, canvas["y"] + 35 * (row + 1) + 17)  # rows: 35 px
        try:  # (a second click on a selected cell would open its editor: wait, then retry)
            selected_in_row.first.wait_for(state="attached", timeout=3_000)
            break
        except Exception:  # noqa: BLE001 - the click missed
            continue
    else:
        raise AssertionError(f"clicking row {row + 1} of the grid selected no cell")
    for _ in range(10):
        if target.get_attribute("aria-selected") == "true":
            return
        current = selected_in_row.first.get_attribute("aria-colindex")
        page.keyboard.press("ArrowRight" if int(current or 0) < int(col or 0) else "ArrowLeft")
        # one step at a time: the next key only once this one has moved the selection
        container.locator(f"td[aria-selected='true']:not([aria-colindex='{current}'])").first \
            .wait_for(state="attached", timeout=3_000)
    raise AssertionError(f"could not move to the {column} cell of row {row + 1}")


def test_promote_a_failure_to_a_test_case(loop: Loop) -> None:
    loop.needs("demo")
    page = loop.page
    call_id, word = _hallucination_to_promote(loop.engine)
    params = json.dumps({"values": [word]})
    key = f"promote_{call_id}"
    with loop.step("promote"):
        loop.goto(f"/cases?reviewer={REVIEWER}&promote={call_id}",
                  f"Promote call {call_id} to a test case")
        page.get_by_text("To finish the case").wait_for(timeout=TIMEOUT)  # values are empty
        page.locator(f".st-key-{key}_suite").get_by_role("combobox").click()
        page.get_by_role("option", name="New suite…").click()
        new_suite = page.get_by_role("textbox", name="New suite name")
        new_suite.fill(SUITE)
        new_suite.press("Enter")
        expect = pytest.importorskip("playwright.sync_api").expect
        expect(new_suite).to_have_value(SUITE, timeout=TIMEOUT)
        loop.settle()

        # the checks table is a canvas grid: select the params cell of row 1 with the mouse,
        # then edit it with the keyboard (Enter opens the cell editor, Enter commits)
        _select_grid_cell(page, page.locator(f".st-key-{key}_checks"), "params", row=0)
        page.keyboard.press("Enter")
        editor = page.locator("textarea.gdg-input")
        expect(editor).to_have_value('{"values": []}', timeout=TIMEOUT)
        page.keyboard.press("Control+a")
        page.keyboard.type(params)
        expect(editor).to_have_value(params)
        page.wait_for_timeout(200)
        page.keyboard.press("Enter")
        # the preview runs the edited case on the call's own output: it must catch it
        page.get_by_text(f"The case fails on call {call_id}'s output").wait_for(timeout=TIMEOUT)
        loop.button("Save case").click()
        page.get_by_text(re.compile(rf"Saved as case \d+ in {SUITE}\.")).wait_for(
            timeout=TIMEOUT)
        # the URL now names the new case instead of the promoted call
        page.wait_for_url(re.compile(r"[?&]case=\d+"), timeout=TIMEOUT)
        assert "promote=" not in page.url
    cases = list_cases(loop.engine, CaseQuery(suite=SUITE))
    assert len(cases) == 1
    case = cases[0]
    assert case.provenance.call_id == call_id
    assert case.draft.mode == "failure" and case.draft.label == "hallucination"
    check = case.draft.checks[0]
    assert (check.type, check.negate, check.params) == ("contains_any", True, {"values": [word]})
    loop.facts["case_id"] = case.id


def _choose(page: Any, combobox: Any, option: str) -> None:
    combobox.click()
    page.get_by_role("option", name=option, exact=True).click()


def test_run_the_suite_with_a_tiny_local_model(loop: Loop) -> None:
    loop.needs("promote")
    page = loop.page
    with loop.step("run"):
        loop.goto(f"/runs?reviewer={REVIEWER}", "Eval runs")
        form = page.locator("[data-testid='stForm']")
        form.get_by_text("Outputs from").wait_for(timeout=TIMEOUT)
        _choose(page, form.get_by_role("combobox", name="Suite"), SUITE)
        version = form.get_by_role("combobox", name="Model version")
        version.click()
        version.fill(MODEL_VERSION)
        page.get_by_role("option").filter(has_text=MODEL_VERSION).first.click()
        form.get_by_text("Local transformers model directory").click()
        form.get_by_role("textbox", name="Model directory").fill(str(loop.model_dir))
        form.get_by_role("spinbutton", name="Max new tokens").fill("8")
        form.get_by_role("spinbutton", name="Batch size").fill("2")
        loop.button("Run the suite").click()
        page.get_by_role("heading", name=re.compile(
            rf"Run \d+: {SUITE} on {MODEL_VERSION}")).wait_for(timeout=120_000)
        page.get_by_text("Pass rate", exact=True).first.wait_for(timeout=TIMEOUT)
    runs = list_runs(loop.engine, suite=SUITE)
    assert len(runs) == 1
    run = runs[0]
    assert (run.model_version, run.status, run.total_cases) == (MODEL_VERSION, "finished", 1)
    assert "transformers" in run.generator
    (result,) = case_results(loop.engine, run.run_id)
    assert result.case_id == loop.facts["case_id"]
    assert result.status in ("pass", "fail") and result.output is not None
    assert page.get_by_text(f"Outputs from {run.generator}").count() == 1


def test_compare_two_demo_versions(loop: Loop) -> None:
    loop.needs("demo")
    page = loop.page
    expected = compare(loop.engine, suite=DEMO_SUITE, baseline_version=BASELINE,
                       candidate_version=CANDIDATE)
    assert expected.regressions or expected.fixes, "the demo versions should differ"
    with loop.step("compare"):
        loop.goto(f"/compare?cmp_suite={DEMO_SUITE}&cmp_base={BASELINE}&cmp_cand={CANDIDATE}",
                  "Compare")
        page.get_by_role("heading", name=f"Regressions ({len(expected.regressions)})").wait_for(
            timeout=TIMEOUT)
        page.get_by_role("heading", name=f"Fixes ({len(expected.fixes)})").wait_for(
            timeout=TIMEOUT)
        page.get_by_text(f"Baseline: run {expected.baseline.run_id} ({BASELINE})").wait_for(
            timeout=TIMEOUT)
        for flip in expected.regressions:  # regressions open by default, fixes closed
            page.get_by_text(flip.name).first.wait_for(timeout=TIMEOUT)


def _download(loop: Loop, button: str) -> Any:
    """Click a download button and return the download. Streamlit's deferred download (the
    file is built on click) now and then leaves the button spinning with no file, seen only
    on a loaded machine; a person clicks again, and so does this test, once."""
    sync_api = pytest.importorskip("playwright.sync_api")
    for attempt in range(2):
        loop.settle()  # a click while the page still reruns lands on a button being replaced
        try:
            with loop.page.expect_download(timeout=TIMEOUT // 2) as download:
                loop.button(button).click()
            return download.value
        except sync_api.TimeoutError:
            if attempt:
                raise
            loop.page.reload()
            loop.page.get_by_role("button", name=button).first.wait_for(timeout=TIMEOUT)
    raise AssertionError("unreachable")


def test_download_the_filtered_calls_as_csv(loop: Loop) -> None:
    loop.needs("search")
    expected_ids = matching_ids(loop.engine, CallFilter(search=WORD))
    with loop.step("export"):
        total = len(expected_ids)
        loop.goto(f"/browse?q={WORD}", f"calls 1–{total} of {total}")
        file = _download(loop, "Download CSV")
        path = loop.out / "export.csv"
        file.save_as(path)
        assert file.suggested_filename == "evalboard-calls.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == EXPORT_COLUMNS
        rows = list(reader)
    assert sorted(int(row["id"]) for row in rows) == sorted(expected_ids)
    assert all(WORD in (row["input"] + row["output"]).lower() for row in rows)


def test_metrics_page_draws_its_charts(loop: Loop) -> None:
    path = f"/{METRICS.name}"
    loop.needs("demo")
    page = loop.page
    with loop.step("metrics"):
        page.goto(loop.base + path)
        page.get_by_role("heading", name="Metrics").first.wait_for(timeout=TIMEOUT)
        chart = page.locator("[data-testid='stVegaLiteChart']").first
        failed = page.get_by_text("Something went wrong").or_(page.locator(NO_EXCEPTION))
        chart.or_(failed).first.wait_for(timeout=60_000)
        assert failed.count() == 0, f"the Metrics page failed: {failed.first.inner_text()}"
        drawn = chart.locator("canvas, svg.marks")
        drawn.first.wait_for(timeout=TIMEOUT)
        page.wait_for_function(
            "el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; }",
            arg=drawn.first.element_handle(), timeout=TIMEOUT)
        box = drawn.first.bounding_box()
        assert box is not None and box["width"] > 0 and box["height"] > 0
