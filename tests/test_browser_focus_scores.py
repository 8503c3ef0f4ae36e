"""Scores and comments in the focus view, in a real browser (Playwright + Debian's Chromium).

A queue scored with a 1–5 helpfulness rating is worked through its batch with keys pressed at
a person's pace: P, 4, Enter answers the first call with a rating; O, typing and Ctrl+Enter
comments on the next. The store is read once the page has nothing waiting for the server, and
a screenshot of the score control shows the chosen rating highlighted.
"""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from evalboard import clock
from evalboard.review.sampling import SessionSpec
from evalboard.store.review_models import Annotation
from evalboard.store.team_models import AnnotationScore, CallComment
from evalboard.teams.queues import QueueSpec, create_queue, take_batch
from evalboard.teams.scores import create_score_config
from tests.support import review_probe
from tests.support.app_server import CHROMIUM, running_app
from tests.support.calls import add_calls, make_rows

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium is not installed"),
]

TIMEOUT = 15_000  # ms, per step
PACE_MS = 250  # between keys: a person's pace
CALLS = (6, 5, 4)
COMMENT = "Check the <b>tone</b> with legal."


def press(page: Any, *keys: str) -> None:
    for key in keys:
        page.keyboard.press(key)
        page.wait_for_timeout(PACE_MS)


def rating_pressed(page: Any) -> list[str]:
    return page.locator(".eb-score button[aria-pressed='true']").all_inner_texts()


def wait_progress(page: Any, text: str) -> None:
    page.get_by_test_id("reviewProgress").filter(has_text=text).wait_for(timeout=TIMEOUT)


def background(locator: Any) -> tuple[int, ...]:
    """An element's background colour as (r, g, b)."""
    css = locator.evaluate("node => getComputedStyle(node).backgroundColor")
    return tuple(int(part) for part in re.findall(r"\d+", css)[:3])


def share_in_colour(png: bytes, colour: tuple[int, ...]) -> float:
    """The share of a screenshot's pixels within a few steps of `colour`."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    counts = image.getcolors(image.width * image.height) or []
    close = sum(n for n, pixel in counts
                if all(abs(c - p) <= 12 for c, p in zip(pixel, colour, strict=True)))
    return close / (image.width * image.height)


def scored_batch(engine: Any, config: str) -> int:
    """ann's batch of a queue of CALLS whose answers carry the score `config`."""
    add_calls(engine, make_rows(6, model_version="v1"))
    queue = create_queue(engine, QueueSpec("scored", SessionSpec(
        size=len(CALLS), strategy="listed", call_ids=CALLS), score_config=config), "lead")
    session_id = take_batch(engine, queue, "ann", clock.now())
    assert session_id is not None
    return session_id


def test_rate_and_comment_with_the_keyboard(engine, db_url, browser_page, tmp_path: Path):
    create_score_config(engine, "helpfulness", "rating", maximum=5)
    session_id = scored_batch(engine, "helpfulness")
    page = browser_page
    with running_app(db_url, log_path=tmp_path / "server.log") as base:
        try:
            page.goto(f"{base}/review?reviewer=ann&session={session_id}")
            wait_progress(page, "Call 1 of 3 · 0 reviewed · 0 skipped")
            score = page.get_by_test_id("reviewScore")
            score.get_by_text("rating 1–5").wait_for(timeout=TIMEOUT)
            assert score.locator("button").all_inner_texts() == ["1", "2", "3", "4", "5"]
            press(page, "p", "4")
            assert rating_pressed(page) == ["4"]
            # 4 rated: the label whose key is 4 was not ticked, and its key is not shown
            assert page.locator(".eb-labels button[aria-pressed='true']").count() == 0
            assert page.locator(".eb-labels button", has_text="garbled").locator(
                "kbd").count() == 0
            shot = score.screenshot(path=str(tmp_path / "score_control.png"))
            page.screenshot(path=str(tmp_path / "focus_view.png"))
            # the chosen rating is drawn highlighted: in a colour the other ratings do not have
            chosen = background(score.locator("button[aria-pressed='true']"))
            assert chosen != background(score.locator("button").first)
            assert share_in_colour(shot, chosen) > 0.02
            press(page, "?")
            page.get_by_role("dialog", name="Keyboard shortcuts").get_by_text(
                "rate helpfulness (rating 1–5)", exact=False).wait_for(timeout=TIMEOUT)
            press(page, "Escape", "Enter")
            wait_progress(page, "Call 2 of 3 · 1 reviewed · 0 skipped")
            assert rating_pressed(page) == []  # the next call starts without a score

            press(page, "o")
            box = page.get_by_label("Comment", exact=True)
            assert box.evaluate("node => node === document.activeElement")
            box.press_sequentially(COMMENT, delay=40)
            press(page, "Escape")  # closes the box; the text waits for the next O
            assert not box.is_visible()
            press(page, "o")
            assert box.input_value() == COMMENT
            press(page, "Control+Enter")
            thread = page.locator(".eb-thread")
            posted = page.get_by_test_id("reviewComment").filter(has_text=COMMENT)
            posted.filter(has_text="UTC").wait_for(timeout=TIMEOUT)  # stored: it has a time
            assert posted.locator("strong").inner_text() == "ann"
            assert thread.locator("b").count() == 0  # the comment is text, not markup
            assert not page.locator(".eb-comment-form").is_visible()
            review_probe.settled(page)
            page.screenshot(path=str(tmp_path / "focus_comment.png"))

            # back on the answered call after a reload: the stored rating shows again
            page.reload()
            wait_progress(page, "Call 2 of 3 · 1 reviewed · 0 skipped")
            posted.wait_for(timeout=TIMEOUT)  # the thread comes with the call
            press(page, "k")
            wait_progress(page, "Call 1 of 3 · 1 reviewed · 0 skipped")
            page.locator(".eb-score button[aria-pressed='true']").filter(
                has_text="4").wait_for(timeout=TIMEOUT)
            review_probe.settled(page)
            assert page.locator("[data-testid='stException']").count() == 0
        except BaseException:
            page.screenshot(path=str(tmp_path / "focus_scores_failure.png"), full_page=True)
            raise
    with Session(engine) as session:
        answer = session.scalars(select(Annotation)).one()
        assert (answer.call_id, answer.reviewer, answer.verdict) == (6, "ann", "pass")
        assert [(s.annotation_id, s.number) for s in session.scalars(
            select(AnnotationScore))] == [(answer.id, 4.0)]
        assert [(c.call_id, c.author, c.body) for c in session.scalars(
            select(CallComment))] == [(5, "ann", COMMENT)]


def test_a_number_score_refused_comes_back_to_correct(engine, db_url, browser_page,
                                                     tmp_path: Path):
    create_score_config(engine, "quality", "numeric", minimum=0, maximum=10)
    session_id = scored_batch(engine, "quality")
    page = browser_page
    with running_app(db_url, log_path=tmp_path / "server.log") as base:
        try:
            page.goto(f"{base}/review?reviewer=ann&session={session_id}")
            wait_progress(page, "Call 1 of 3 · 0 reviewed · 0 skipped")
            field = page.get_by_label("quality", exact=True)
            press(page, "v")
            assert field.evaluate("node => node === document.activeElement")
            field.press_sequentially("12", delay=60)
            press(page, "Enter")  # Enter in the number field submits
            page.get_by_text("Not saved (call 1): quality: number 0 to 10, not 12").wait_for(
                timeout=TIMEOUT)
            review_probe.settled(page)
            press(page, "k")
            wait_progress(page, "Call 1 of 3 · 0 reviewed · 0 skipped")
            assert field.input_value() == "12"  # the refused answer is still the draft
            press(page, "v", "Control+a")
            field.press_sequentially("7.5", delay=60)
            press(page, "Escape", "f", "Enter")
            wait_progress(page, "Call 2 of 3 · 1 reviewed · 0 skipped")
            assert field.input_value() == ""
            review_probe.settled(page)
            page.screenshot(path=str(tmp_path / "focus_number.png"))
        except BaseException:
            page.screenshot(path=str(tmp_path / "focus_number_failure.png"), full_page=True)
            raise
    with Session(engine) as session:
        answer = session.scalars(select(Annotation)).one()
        assert (answer.call_id, answer.verdict) == (6, "fail")
        assert [s.number for s in session.scalars(select(AnnotationScore))] == [7.5]
