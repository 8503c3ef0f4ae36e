"""Review in a real browser (Playwright + Debian's Chromium), against the focus component.

The page is driven with `page.keyboard.press` only (after the start form); the component
answers keys in the browser, so every step is checked on the page at once, and the store is
read directly once the page has no answer waiting for the server.
"""

from __future__ import annotations

import shutil
from typing import Any
from urllib.parse import urlparse

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evalboard.review.sampling import SessionSpec
from evalboard.review.sessions import start_session
from evalboard.store.review_models import Annotation, ReviewItem, ReviewSession
from tests.support import review_probe
from tests.support.app_server import CHROMIUM, CHROMIUM_ARGS, running_app
from tests.support.calls import add_calls, make_rows

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium is not installed"),
]

SIZE = 20
NOTE_AT = 10  # the call whose Note field gets typed into
UNDO_AT = 5  # the call whose answer (fail + hallucination) is undone with Z and given again
TIMEOUT = 15_000  # ms, per step
FAST = 100  # calls reviewed with keys 120 ms apart
KEY_GAP_MS = 120
HOSTILE = (
    "<script>window.__pwned = 1; alert('xss')</script>\n"
    "<img src='http://203.0.113.9/track.png' onerror=\"window.__pwned = 2\">\n"
    "![tracker](http://203.0.113.9/pixel.gif) [click me](javascript:window.__pwned=3)\n"
    "  indented line kept"
)


def pressed(page: Any, name: str, on: bool = True) -> Any:
    """The component's toggle button named `name`, pressed (or not)."""
    return page.locator(f".eb-focus button[aria-pressed='{str(on).lower()}']").filter(
        has_text=name)


def wait_progress(page: Any, text: str) -> None:
    page.get_by_test_id("reviewProgress").filter(has_text=text).wait_for(timeout=TIMEOUT)
    assert review_probe.progress_text(page) == text


def no_crash(page: Any) -> None:
    assert page.locator("[data-testid='stException']").count() == 0
    assert not page.get_by_text("Something went wrong").count()


class Progress:
    """What the progress text must say: the model the page is checked against."""

    def __init__(self, size: int) -> None:
        self.size, self.position = size, 0
        self.statuses: dict[int, str] = {}

    def text(self) -> str:
        done = sum(s == "done" for s in self.statuses.values())
        skipped = sum(s == "skipped" for s in self.statuses.values())
        return f"Call {self.position + 1} of {self.size} · {done} reviewed · {skipped} skipped"

    def answer(self, position: int, status: str) -> None:
        self.statuses[position] = status
        self.position = min(position + 1, self.size - 1)

    def undo(self, position: int) -> None:
        del self.statuses[position]
        self.position = position


def _plan(position: int) -> tuple[str, list[str]]:
    """What to do at each call: (kind, keys)."""
    if position == NOTE_AT:
        return "note", ["p"]
    if position % 4 == 3:
        return "skip", ["s"]
    if position % 2 == 0:
        return "pass", ["p", "Enter"]
    return "fail", ["f", "1", "Enter"]


EXPECTED = {"pass": ("pass", []), "fail": ("fail", ["hallucination"]),
            "note": ("pass", []), "redo": ("unsure", ["wrong format"])}


def test_review_twenty_calls_with_the_keyboard_alone(engine, db_url, browser_page, tmp_path):
    add_calls(engine, make_rows(30, model_version="v1"))
    page = browser_page
    with running_app(db_url, log_path=tmp_path / "server.log") as base:
        try:
            page.goto(f"{base}/review?reviewer=ann")
            page.get_by_text("Start a review session").wait_for(timeout=30_000)
            page.get_by_label("How many calls").fill(str(SIZE))
            page.get_by_text("Newest unreviewed first").click()
            page.get_by_role("button", name="Start reviewing").click()
            progress = Progress(SIZE)
            wait_progress(page, progress.text())
            for position in range(SIZE):
                kind, keys = _plan(position)
                for key in keys:
                    page.keyboard.press(key)
                if kind == "note":
                    _type_a_note_that_looks_like_shortcuts(page, progress)
                    page.keyboard.press("Tab")  # Note -> Corrected output
                    page.keyboard.press("Tab")  # -> out of the fields
                    page.keyboard.press("Enter")
                progress.answer(position, "skipped" if kind == "skip" else "done")
                wait_progress(page, progress.text())
                if position == UNDO_AT:
                    page.keyboard.press("z")
                    progress.undo(position)
                    wait_progress(page, progress.text())
                    # the undone answer comes back as the draft, to be corrected
                    pressed(page, "Fail").wait_for(timeout=TIMEOUT)
                    pressed(page, "hallucination").wait_for(timeout=TIMEOUT)
                    page.keyboard.press("1")  # untick it
                    pressed(page, "hallucination", on=False).wait_for(timeout=TIMEOUT)
                    for key in ("u", "2", "Enter"):
                        page.keyboard.press(key)
                    progress.answer(position, "done")
                    wait_progress(page, progress.text())
            page.get_by_text("Session finished").wait_for(timeout=TIMEOUT)
            review_probe.settled(page)
            no_crash(page)
        except BaseException:
            page.screenshot(path=str(tmp_path / "review_failure.png"), full_page=True)
            raise
    _check_the_store(engine)


def _type_a_note_that_looks_like_shortcuts(page: Any, progress: Progress) -> None:
    note = page.get_by_label("Note", exact=True)
    note.click()
    page.keyboard.type("pfz1")
    page.wait_for_timeout(300)
    assert note.input_value() == "pfz1"
    assert review_probe.progress_text(page) == progress.text()  # no skip, no undo
    assert pressed(page, "Pass").count() == 1  # the verdict is still pass (P did not toggle it)
    assert pressed(page, "hallucination").count() == 0  # 1 did not tick a label


def _check_the_store(engine: Engine) -> None:
    with Session(engine) as session:
        review = session.scalars(select(ReviewSession)).one()
        assert (review.reviewer, review.size, review.strategy) == ("ann", SIZE, "newest")
        assert review.finished_at is not None
        items = list(session.scalars(select(ReviewItem).order_by(ReviewItem.position)))
        rows = list(session.scalars(select(Annotation).order_by(Annotation.id)))
        by_id = {row.id: row for row in rows}

        assert [item.call_id for item in items] == list(range(30, 30 - SIZE, -1))
        assert {row.reviewer for row in rows} == {"ann"}
        assert {row.review_session_id for row in rows} == {review.id}
        for item in items:
            kind = _plan(item.position)[0]
            current = by_id[item.annotation_id]
            assert current.call_id == item.call_id
            if kind == "skip":
                assert (item.status, current.action) == ("skipped", "skip")
                continue
            assert (item.status, current.action) == ("done", "judge")
            kind = "redo" if item.position == UNDO_AT else kind
            assert (current.verdict, [label.name for label in current.labels]) == EXPECTED[kind]
            assert current.note == ("pfz1" if kind == "note" else None)
            assert current.seconds_spent is not None and current.seconds_spent >= 0

        retracts = [row for row in rows if row.action == "retract"]
        assert len(retracts) == 1
        undone = by_id[retracts[0].retracts_id]
        assert undone.call_id == items[UNDO_AT].call_id
        assert (undone.verdict, [label.name for label in undone.labels]) == EXPECTED[
            _plan(UNDO_AT)[0]]
        # nothing else was written: 15 judgements, 5 skips, the undone answer and its retract
        assert len(rows) == SIZE + 2


def _fast_plan(position: int) -> tuple[str, list[str]]:
    """A verdict, one or two labels: what is typed for each call of the fast session."""
    verdict = "fup"[position % 3]
    labels = [str(position % 5 + 1)] + ([str(6 + position % 3)] if position % 2 else [])
    return verdict, labels


LABELS = {str(i): name for i, name in enumerate(
    ["hallucination", "wrong format", "biased or insulting", "garbled or incoherent",
     "edge case mishandled", "correct format", "appropriate response", "edge case handled"],
    start=1)}
VERDICT = {"f": "fail", "u": "unsure", "p": "pass"}


def test_keys_typed_120_ms_apart_are_all_applied_in_order(engine, db_url, browser_page,
                                                           tmp_path):
    add_calls(engine, make_rows(FAST + 20, model_version="v1"))
    session_id = start_session(engine, "ann", SessionSpec(size=FAST, strategy="newest"))
    page = browser_page
    with running_app(db_url, log_path=tmp_path / "server.log") as base:
        page.goto(f"{base}/review?reviewer=ann&session={session_id}")
        wait_progress(page, f"Call 1 of {FAST} · 0 reviewed · 0 skipped")
        review_probe.install_probe(page)
        for position in range(FAST):
            verdict, labels = _fast_plan(position)
            for key in (verdict, *labels, "Enter"):
                page.keyboard.press(key)
                page.wait_for_timeout(KEY_GAP_MS)
        page.get_by_text("Session finished").wait_for(timeout=TIMEOUT)
        review_probe.settled(page, timeout_ms=60_000)
        latencies = review_probe.timings(page)
        no_crash(page)
    with Session(engine) as session:
        items = list(session.scalars(select(ReviewItem).where(
            ReviewItem.session_id == session_id).order_by(ReviewItem.position)))
        saved = {row.id: row for row in session.scalars(select(Annotation))}
        assert len(saved) == FAST  # one answer per call, none twice
        for item in items:
            verdict, labels = _fast_plan(item.position)
            row = saved[item.annotation_id]
            assert row.call_id == item.call_id
            assert (row.verdict, sorted(label.name for label in row.labels)) == (
                VERDICT[verdict], sorted(LABELS[key] for key in labels)), item.position
    # the next call's text is on screen from the prefetch, not after a server round trip
    # (bench/bench_review_browser.py measures the same on a quiet machine; these bounds are
    # for a loaded CI runner)
    print("keypress -> next call visible:", review_probe.summary(latencies))
    assert len(latencies) == FAST - 1
    assert review_probe.percentile(latencies, 0.5) < 150
    assert review_probe.percentile(latencies, 0.95) < 400


def test_a_reload_keeps_every_answer_and_resends_what_a_closed_tab_left(engine, db_url,
                                                                         browser_page, tmp_path):
    add_calls(engine, make_rows(20, model_version="v1"))
    start_session(engine, "ann", SessionSpec(size=8, strategy="newest"))
    page = browser_page
    with running_app(db_url, log_path=tmp_path / "server.log") as base:
        page.goto(f"{base}/review?reviewer=ann")
        wait_progress(page, "Call 1 of 8 · 0 reviewed · 0 skipped")
        for key in ("p", "Enter", "f", "2", "Enter", "s"):
            page.keyboard.press(key)
        page.reload()  # at once: some answers may not be acknowledged yet
        wait_progress(page, "Call 4 of 8 · 2 reviewed · 1 skipped")
        review_probe.settled(page)
        # a tab closed before its answer reached the server left it in localStorage
        prefix = page.evaluate("window.evalboardReview.storePrefix")
        page.evaluate("""([key]) => localStorage.setItem(key, JSON.stringify([{client: 'gone',
            seq: 1, kind: 'judge', position: 3, call: 17, verdict: 'unsure', labels: [],
            note: 'left behind', fix: '', seconds: 3}]))""", [prefix + "gone"])
        page.reload()
        wait_progress(page, "Call 5 of 8 · 3 reviewed · 1 skipped")
        review_probe.settled(page)
        assert page.evaluate(f"Object.keys(localStorage).filter(k => k.startsWith('{prefix}'))"
                             ) == []
        # Z takes back the newest stored answer, even one given before the reload
        page.keyboard.press("z")
        page.get_by_text("Undone: call 4 is back to edit.").wait_for(timeout=TIMEOUT)
        wait_progress(page, "Call 4 of 8 · 2 reviewed · 1 skipped")
        expect_note = page.get_by_label("Note", exact=True)
        assert expect_note.input_value() == "left behind"
        pressed(page, "Unsure").wait_for(timeout=TIMEOUT)
        no_crash(page)
    with Session(engine) as session:
        rows = [(a.call_id, a.action, a.verdict, a.note) for a in
                session.scalars(select(Annotation).order_by(Annotation.id))]
    assert rows[:4] == [(20, "judge", "pass", None), (19, "judge", "fail", None),
                        (18, "skip", None, None), (17, "judge", "unsure", "left behind")]
    assert rows[4][1] == "retract" and len(rows) == 5


def test_fields_keys_overlay_and_the_reference_beside_the_output(engine, db_url, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    system = "You are a support bot. " * 80
    add_calls(engine, [{"model_version": "v1",
                        "input": [{"role": "system", "content": system},
                                  {"role": "user", "content": "Can I get a refund?"}],
                        "output": "Refunds are possible within 30 days.\n" * 3 + "END"}])
    session_id = start_session(engine, "ann", SessionSpec(size=1, strategy="newest"))
    with running_app(db_url, log_path=tmp_path / "server.log") as base, \
            sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        try:
            page.goto(f"{base}/review?reviewer=ann&session={session_id}")
            wait_progress(page, "Call 1 of 1 · 0 reviewed · 0 skipped")
            # chat input as a conversation, the long system prompt collapsed, the output in
            # view next to the controls
            assert page.locator(".eb-call details").first.get_attribute("open") is None
            page.get_by_text("Can I get a refund?").wait_for(timeout=TIMEOUT)
            output = page.get_by_test_id("reviewOutput").bounding_box()
            assert output["y"] + 40 < 1080
            submit = page.get_by_role("button", name="Submit and next").bounding_box()
            assert submit["y"] < 1080
            # N and C go to the fields; Esc leaves them; Ctrl+Enter submits from one
            page.keyboard.press("n")
            page.keyboard.type("fine")
            page.keyboard.press("Escape")
            page.keyboard.press("c")
            page.keyboard.type("Refunds only within 30 days.")
            page.keyboard.press("Escape")
            page.keyboard.press("p")
            pressed(page, "Pass").wait_for(timeout=TIMEOUT)
            page.keyboard.press("?")
            overlay = page.get_by_role("dialog", name="Keyboard shortcuts")
            overlay.get_by_text("submit from the note or the corrected output").wait_for(
                timeout=TIMEOUT)
            page.keyboard.press("Escape")
            assert not overlay.is_visible()
            page.keyboard.press("g")
            page.locator(".eb-guidelines").wait_for(timeout=TIMEOUT)
            assert page.get_by_role("button", name="Guidelines (G)").get_attribute(
                "aria-expanded") == "true"
            page.keyboard.press("c")
            page.keyboard.press("Control+Enter")
            page.get_by_text("Session finished").wait_for(timeout=TIMEOUT)
            review_probe.settled(page)
            # the corrected output is one key away, beside the output with a word diff
            page.keyboard.press("k")  # nothing before: stays
            page.keyboard.press("r")
            compare = page.get_by_test_id("reviewCompare")
            compare.wait_for(timeout=TIMEOUT)
            assert compare.locator(".eb-ins").count() > 0 and compare.locator(".eb-del").count()
            no_crash(page)
        finally:
            browser.close()
    with Session(engine) as session:
        row = session.scalars(select(Annotation)).one()
        assert (row.verdict, row.note, row.corrected_output) == (
            "pass", "fine", "Refunds only within 30 days.")


def test_hostile_output_stays_text_in_the_component(engine, db_url, browser_page, tmp_path):
    add_calls(engine, [{"input": "render <b>this</b>", "output": HOSTILE, "model_version": "v1"}])
    session_id = start_session(engine, "ann", SessionSpec(size=1, strategy="newest"))
    page = browser_page
    dialogs: list[str] = []
    outside: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: outside.append(r.url)
            if urlparse(r.url).hostname not in ("127.0.0.1", "localhost", None)
            and not r.url.startswith(("data:", "blob:")) else None)
    with running_app(db_url, log_path=tmp_path / "server.log") as base:
        page.goto(f"{base}/review?reviewer=ann&session={session_id}")
        wait_progress(page, "Call 1 of 1 · 0 reviewed · 0 skipped")
        for mode in ("Raw", "Markdown"):
            if mode == "Markdown":
                page.keyboard.press("m")
                pressed(page, "Markdown").wait_for(timeout=TIMEOUT)
            output = page.get_by_test_id("reviewOutput")
            output.get_by_text("click me").wait_for(timeout=TIMEOUT)
            page.wait_for_timeout(500)
            text = output.inner_text()
            assert "<script>" in text and "onerror" in text
            assert "<b>this</b>" in page.get_by_test_id("reviewInput").inner_text()
            for link in page.locator(".eb-focus a").all():
                assert not (link.get_attribute("href") or "").lower().startswith("javascript:")
            assert page.locator(".eb-focus img, .eb-focus script").count() == 0
            assert page.evaluate("window.__pwned === undefined")
        no_crash(page)
    assert dialogs == []
    assert outside == []


def test_home_and_browse_start_a_review_with_a_reviewer_name_set(engine, db_url, browser_page,
                                                                  tmp_path):
    add_calls(engine, make_rows(30, model_version="v1"))
    page = browser_page
    with running_app(db_url, log_path=tmp_path / "server.log") as base:
        page.goto(f"{base}/?reviewer=ann")
        page.get_by_role("button", name="Start today's review").click()
        page.get_by_text("Start a review session").wait_for(timeout=30_000)
        no_crash(page)
        assert "/review" in page.url
        page.goto(f"{base}/browse?reviewer=ann")
        page.get_by_role("button", name="Review these (30)").click()
        wait_progress(page, "Call 1 of 30 · 0 reviewed · 0 skipped")
        no_crash(page)
        assert "session=1" in page.url and "reviewer=ann" in page.url
    with Session(engine) as session:
        assert [(s.strategy, s.size) for s in session.scalars(select(ReviewSession))] == [
            ("as_displayed", 30)]
