"""Pairwise review in a real browser (Playwright + Debian's Chromium): 20 pairs with the
keyboard alone (letters and number keys), then the stored answers are checked against the keys
pressed and the sides the screen showed (`left_is_a`)."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from evalboard.pairwise.answers import outcome_for
from evalboard.store.pairwise_models import PairwiseAnswer, PairwiseItem, PairwiseSession
from tests.support.app_server import CHROMIUM, running_app
from tests.support.calls import T0, add_calls

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium is not installed"),
]

SIZE = 20
UNDO_AT = 6  # the pair whose answer is undone with Z and given again
DIFF_AT = 9  # the pair looked at with the word diff (D) before answering
TIMEOUT = 15_000  # ms, per step
KEYS = {"a": "left", "b": "right", "t": "tie", "x": "both_bad", "1": "left", "2": "right",
        "3": "tie", "4": "both_bad"}
NUMBER_KEYS = {3: "3", 11: "1", 14: "4", 17: "2"}  # the number keys answer like A/B/T/X
SETTLED_JS = ("document.querySelector('[data-testid=stApp]')"
              "?.getAttribute('data-test-script-state') === 'notRunning'"
              " && !document.querySelector('[data-stale=true]')")


def _key(position: int) -> str:
    if position in NUMBER_KEYS:
        return NUMBER_KEYS[position]
    return "abtx"[position % 4] if position % 5 else "b"


def test_review_twenty_pairs_with_the_keyboard_alone(engine, db_url, browser_page, tmp_path):
    rows = []
    for i in range(SIZE + 5):
        rows.append({"input": f"Question {i}?", "output": f"The answer is {i}.",
                     "model_version": "v1", "created_at": T0 + timedelta(minutes=i)})
        rows.append({"input": f"question {i}?", "output": f"I think it is {i + 1}!",
                     "model_version": "v2", "created_at": T0 + timedelta(minutes=i)})
    add_calls(engine, rows)
    page = browser_page
    expect = pytest.importorskip("playwright.sync_api").expect

    def wait_progress(position: int, done: int) -> None:
        page.get_by_text(f"Pair {position + 1} of {SIZE} · {done} answered",
                         exact=True).wait_for(timeout=TIMEOUT)
        # while the fragment reruns, the old pair's fields stay next to the new pair's ones
        expect(page.get_by_label("Note on B")).to_have_count(1, timeout=TIMEOUT)
        # the number keys' hidden buttons come last: once there, every key is listened to
        expect(page.locator(".st-key-pairwise_number_keys button")).to_have_count(
            4, timeout=TIMEOUT)
        # and the run is over: a key pressed while the fragment still runs can be dropped
        page.wait_for_function(SETTLED_JS, timeout=TIMEOUT)

    with running_app(db_url, log_path=tmp_path / "server.log") as base:
        try:
            page.goto(f"{base}/pairwise?reviewer=ann")
            page.get_by_text("Start a pairwise session").wait_for(timeout=30_000)
            page.get_by_label("How many pairs").fill(str(SIZE))
            page.get_by_text("Newest unanswered pairs first").click()
            page.get_by_role("button", name="Start comparing").click()
            wait_progress(0, 0)
            for position in range(SIZE):
                if position == DIFF_AT:
                    page.keyboard.press("d")
                    # one diff per side (drawn one after the other)
                    expect(page.locator(".word-diff")).to_have_count(2, timeout=TIMEOUT)
                page.keyboard.press(_key(position))
                wait_progress(min(position + 1, SIZE - 1), position + 1)
                page.get_by_text(f"Pair {position + 1}: you said").first.wait_for(timeout=TIMEOUT)
                if position == UNDO_AT:
                    page.keyboard.press("z")
                    wait_progress(position, position)
                    page.keyboard.press("t")
                    wait_progress(position + 1, position + 1)
            page.get_by_text("Session finished").wait_for(timeout=TIMEOUT)
            assert page.locator("[data-testid='stException']").count() == 0
        except BaseException:
            page.screenshot(path=str(tmp_path / "pairwise_failure.png"), full_page=True)
            raise

    with Session(engine) as session:
        pairwise = session.scalars(select(PairwiseSession)).one()
        assert (pairwise.reviewer, pairwise.size, pairwise.finished_at is not None) == (
            "ann", SIZE, True)
        items = list(session.scalars(select(PairwiseItem).order_by(PairwiseItem.position)))
        answers = {a.id: a for a in session.scalars(select(PairwiseAnswer))}
        assert {item.left_is_a for item in items} == {True, False}  # both sides were used
        for item in items:
            answer = answers[item.answer_id]
            choice = "tie" if item.position == UNDO_AT else KEYS[_key(item.position)]
            assert (answer.call_a_id, answer.call_b_id) == (item.call_a_id, item.call_b_id)
            assert answer.left_was_a == item.left_is_a
            assert answer.outcome == outcome_for(choice, item.left_is_a), item.position
            assert answer.is_current and answer.session_id == pairwise.id
        retractions = [a for a in answers.values() if a.retracts_id is not None]
        assert len(retractions) == 1 and len(answers) == SIZE + 2
        undone = answers[retractions[0].retracts_id]
        assert undone.outcome == outcome_for(KEYS[_key(UNDO_AT)], items[UNDO_AT].left_is_a)
        assert not undone.is_current
