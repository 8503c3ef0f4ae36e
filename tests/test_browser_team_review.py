"""Reviewing as a team in a real browser: a lead makes a queue with two reviewers per call,
two reviewers (two browser contexts, two logins) work it with the keyboard at the same time,
and an adjudicator settles the call they disagree on. The store is checked at each step: the
answers, the queue's progress, the agreement figures and the final answers."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from evalboard import clock
from evalboard.access.permissions import add_user
from evalboard.metrics.human import verdict_rates
from evalboard.review.agreement_query import agreement_report
from evalboard.review.annotations import current_judgements
from evalboard.teams.adjudication import adjudication_of, pending_adjudication
from evalboard.teams.queues import claims_of, list_queues
from evalboard.ui.server_guard import COOKIE_NAME
from tests.support import review_probe
from tests.support.app_server import CHROMIUM, CHROMIUM_ARGS, running_app
from tests.support.calls import add_calls, make_rows

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium is not installed"),
]

CALLS = 4
TIMEOUT = 20_000  # ms, per step
PEOPLE = {"lead": "admin", "ana": "reviewer", "ben": "reviewer", "judy": "reviewer"}
KEY_GAP_MS = 150  # a person's pace


def _sign_in(browser: Any, base: str, username: str) -> Any:
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(base)
    page.get_by_label("Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(f"{username}-password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text(f"Signed in as {username}").wait_for(timeout=TIMEOUT)
    # the sign-in cookie is set by the page after it draws: wait for it before leaving
    for _ in range(100):
        if any(c["name"] == COOKIE_NAME for c in page.context.cookies()):
            break
        page.wait_for_timeout(100)
    else:
        raise AssertionError(f"{username}'s sign-in cookie was never set")
    return page


def _no_crash(page: Any) -> None:
    assert page.locator("[data-testid='stException']").count() == 0


def _make_queue(page: Any, base: str) -> None:
    page.goto(f"{base}/queues")
    page.get_by_text("New queue").click()
    page.get_by_label("Name").fill("Week 48")
    page.get_by_text("Newest unreviewed first").click()
    page.get_by_role("spinbutton", name="How many calls").fill(str(CALLS))
    page.get_by_role("spinbutton", name="Reviewers per call").fill("2")
    page.get_by_role("button", name="Create queue").click()
    page.get_by_text("Queue “Week 48” created.").wait_for(timeout=TIMEOUT)
    _no_crash(page)


def _open_batch(page: Any, base: str) -> None:
    page.goto(f"{base}/queues")
    page.get_by_role("button", name=f"Review {CALLS} now").click()
    page.get_by_test_id("reviewProgress").filter(
        has_text=f"Call 1 of {CALLS} · 0 reviewed").wait_for(timeout=TIMEOUT)
    assert page.get_by_text("Queue: Week 48").count() == 1


def _answer(page: Any, keys: list[str], position: int) -> None:
    for key in keys:
        page.keyboard.press(key)
        page.wait_for_timeout(KEY_GAP_MS)
    page.get_by_test_id("reviewProgress").filter(
        has_text=f"{position + 1} reviewed").wait_for(timeout=TIMEOUT)


def test_two_reviewers_work_one_queue_with_overlap_and_a_third_adjudicates(
        engine, db_url, tmp_path, monkeypatch):
    from playwright.sync_api import sync_playwright

    add_calls(engine, make_rows(CALLS + 2, model_version="v1"))
    for name, role in PEOPLE.items():
        add_user(engine, name, f"{name}-password", role, can_adjudicate=name == "judy")
    monkeypatch.setenv("EVALBOARD_AUTH", "local")
    with running_app(db_url, log_path=tmp_path / "server.log") as base, \
            sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            lead = _sign_in(browser, base, "lead")
            _make_queue(lead, base)
            [queue] = list_queues(engine, clock.now())
            assert (queue.items, queue.reviewers_per_item) == (CALLS, 2)
            ana, ben = _sign_in(browser, base, "ana"), _sign_in(browser, base, "ben")
            _open_batch(ana, base)
            _open_batch(ben, base)  # overlap 2: ben is handed the same calls as ana
            for position in range(CALLS):
                _answer(ana, ["p", "Enter"], position)
                # ben fails the first call with a label (key 1 is the first label's)
                _answer(ben, ["f", "1", "Enter"] if position == 0 else ["p", "Enter"], position)
            for page in (ana, ben):
                review_probe.settled(page)
                _no_crash(page)
            claims = claims_of(engine, queue.id)
            assert len(claims) == 2 * CALLS and {s for _, _, s in claims} == {"done"}
            assert {r for _, r, _ in claims} == {"ana", "ben"}
            [progress] = list_queues(engine, clock.now())
            assert (progress.complete, progress.answers, progress.remaining) == (
                CALLS, 2 * CALLS, 0)
            ben.goto(f"{base}/queues")  # the queue's page says it is done
            ben.get_by_text(f"{CALLS} of {CALLS} calls complete").wait_for(timeout=TIMEOUT)
            ben.get_by_role("button", name="Nothing left for you").wait_for(timeout=TIMEOUT)
            # the answers, stamped with each login
            call_ids = [c for c, _, _ in claims][::2]
            judged = current_judgements(engine, call_ids)
            assert {(v.reviewer, v.verdict) for c in call_ids for v in judged[c]} == {
                ("ana", "pass"), ("ben", "pass"), ("ben", "fail")}
            [split] = pending_adjudication(engine)
            disputed = split.call_id
            assert {(j.reviewer, j.verdict, j.labels) for j in split.judgements} == {
                ("ana", "pass", ()), ("ben", "fail", ("hallucination",))}
            before = agreement_report(engine)
            assert before.verdict.percent_agreement == pytest.approx((CALLS - 1) / CALLS)

            judy = _sign_in(browser, base, "judy")
            judy.goto(f"{base}/adjudicate")
            judy.get_by_text("1 call where reviewers disagree").wait_for(timeout=TIMEOUT)
            judy.get_by_role("link", name=f"Start with call {disputed}").click()
            judy.get_by_text("Reviewers' answers").wait_for(timeout=TIMEOUT)
            form = judy.get_by_test_id("stForm").filter(has_text="Record final answer")
            form.get_by_role("radio", name="Fail", exact=True).click()
            form.get_by_role("button", name="hallucination", exact=True).click()
            form.get_by_label("Note").fill("The date is invented: ben is right.")
            judy.get_by_role("button", name="Record final answer as judy").click()
            judy.get_by_text("Final answer recorded by judy").wait_for(timeout=TIMEOUT)
            _no_crash(judy)
            judy.screenshot(path=str(tmp_path / "adjudicated.png"))
        finally:
            browser.close()
    final = adjudication_of(engine, disputed)
    assert (final.reviewer, final.verdict, final.labels, final.note) == (
        "judy", "fail", ("hallucination",), "The date is invented: ben is right.")
    finals = current_judgements(engine, call_ids, final=True)
    assert [(v.reviewer, v.verdict) for v in finals[disputed]] == [("judy", "fail")]
    assert sum(len(finals[c]) for c in call_ids) == 2 * (CALLS - 1) + 1
    assert pending_adjudication(engine) == []
    assert agreement_report(engine) == before  # agreement reads the answers before adjudication
    rates = verdict_rates(engine, versions=["v1"]).set_index("verdict")
    assert (rates.loc["pass", "count"], rates.loc["fail", "count"]) == (2 * (CALLS - 1), 1)
