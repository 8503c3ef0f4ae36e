"""The Review page under AppTest: start, the focus view's data, and every action the page in
the browser sends (judge, skip, undo, move) applied from its outbox; resume; Browse bulk mode.

The browser component itself is driven in tests/test_browser_review.py; here `Page` plays it:
it numbers actions, sends every unacknowledged one as the component's state (what the
JavaScript does with setStateValue), and drops them once the feed acknowledges them. Effects
are read back from the database.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from evalboard.review.labels import list_labels
from evalboard.store.review_models import Annotation, ReviewItem, ReviewSession
from evalboard.ui.navigation import page_path
from evalboard.ui.review_focus import component_key
from tests.support import apptest
from tests.support.calls import add_calls, make_rows

REVIEW = page_path("review")
BROWSE = page_path("browse")
BUILT_IN_KEYS = set("pfukjszncgrm?")


# helpers ----------------------------------------------------------------------------------

def open_page(page: str = REVIEW, reviewer: str | None = "ann", **params: str) -> AppTest:
    """A fresh browser session: the app with these query parameters, switched to `page`."""
    at = apptest.open_page(page, reviewer=reviewer, **params)
    assert not at.exception
    return at


def start(at: AppTest, size: int = 5, strategy: str = "newest") -> AppTest:
    next(n for n in at.number_input if n.label == "How many calls").set_value(size)
    next(r for r in at.radio if r.label == "Pick calls").set_value(strategy)
    next(b for b in at.button if b.label == "Start reviewing").click().run()
    assert not at.exception
    return at


def feed(at: AppTest) -> dict[str, Any]:
    """The data the focus view was given (one JSON text)."""
    [component] = at.get("bidi_component")
    return json.loads(json.loads(component.proto.json))


def progress(at: AppTest) -> str:
    """The progress line as the page shows it: from the feed's statuses and place."""
    data = feed(at)
    statuses = data["statuses"]
    return (f"Call {data['session']['position'] + 1} of {len(statuses)} · "
            f"{statuses.count('d')} reviewed · {statuses.count('s')} skipped")


class Page:
    """The browser side of the focus view: numbered actions, resent until acknowledged."""

    def __init__(self, at: AppTest, session_id: int = 1, client: str | None = None) -> None:
        self.at, self.session_id = at, session_id
        self.client = client or secrets.token_hex(6)
        self.seq = 0
        self.outbox: list[dict[str, Any]] = []

    def item(self, position: int) -> dict[str, Any]:
        return next(i for i in feed(self.at)["items"] if i["position"] == position)

    def queue(self, kind: str, **fields: Any) -> dict[str, Any]:
        self.seq += 1
        action = {"client": self.client, "seq": self.seq, "kind": kind, **fields}
        self.outbox.append(action)
        return action

    def send(self, cursor: int | None = None) -> Page:
        self.at.session_state[component_key(self.session_id)] = {
            "outbox": {"session": self.session_id, "cursor": cursor, "actions": list(self.outbox)},
            "mode": None}
        self.at.run()
        assert not self.at.exception, self.at.exception
        acks = feed(self.at)["acks"]
        self.outbox = [a for a in self.outbox if acks.get(a["client"], 0) < a["seq"]]
        return self

    def judge(self, position: int, verdict: str | None = None, labels: tuple[str, ...] = (),
              note: str = "", fix: str = "", seconds: float = 2.5) -> Page:
        call = self.item(position)["call_id"]
        self.queue("judge", position=position, call=call, verdict=verdict, labels=list(labels),
                   note=note, fix=fix, seconds=seconds)
        return self.send()

    def skip(self, position: int) -> Page:
        self.queue("skip", position=position, call=self.item(position)["call_id"])
        return self.send()

    def undo(self) -> Page:
        self.queue("undo")
        return self.send()

    def move(self, position: int) -> Page:
        self.queue("move", position=position, call=None)
        return self.send(cursor=position)

    def outcome(self, seq: int) -> dict[str, Any]:
        return next(o for o in feed(self.at)["outcomes"]
                    if o["client"] == self.client and o["seq"] == seq)


def annotations(engine) -> list[dict]:
    with Session(engine) as session:
        return [
            {"id": a.id, "call_id": a.call_id, "reviewer": a.reviewer, "action": a.action,
             "verdict": a.verdict, "labels": [label.name for label in a.labels], "note": a.note,
             "fix": a.corrected_output, "seconds": a.seconds_spent,
             "retracts": a.retracts_id, "batch": a.batch_id, "session": a.review_session_id}
            for a in session.scalars(select(Annotation).order_by(Annotation.id))
        ]


def review_items(engine, session_id: int = 1) -> list[tuple[int, int, str, int | None]]:
    with Session(engine) as session:
        return [
            (i.position, i.call_id, i.status, i.annotation_id)
            for i in session.scalars(select(ReviewItem).where(ReviewItem.session_id == session_id)
                                     .order_by(ReviewItem.position))
        ]


def review_session(engine, session_id: int = 1) -> ReviewSession:
    with Session(engine) as session:
        review = session.get(ReviewSession, session_id)
        assert review is not None
        session.expunge(review)
        return review


def _errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def _texts(at: AppTest) -> str:
    return " ".join(str(e.value) for e in [*at.caption, *at.markdown, *at.info, *at.warning,
                                           *at.success, *at.error])


@pytest.fixture
def calls(engine):
    add_calls(engine, make_rows(30, model_version="v1"))
    return engine


@pytest.fixture
def session5(calls) -> Page:
    """ann on the Review page with a fresh session of the 5 newest calls (ids 30..26)."""
    return Page(start(open_page(), size=5, strategy="newest"))


# start and empty states -------------------------------------------------------------------

def test_without_a_reviewer_the_page_asks_for_a_name(calls):
    at = open_page(reviewer=None)
    assert at.title[0].value == "Review"
    assert any("Enter your name under **Reviewer**" in i.value for i in at.info)
    assert not any(b.label == "Start reviewing" for b in at.button)
    assert at.sidebar.text_input(key="reviewer").value == ""


def test_an_empty_store_says_where_calls_come_from(engine):
    at = open_page()
    assert any("No calls in this store yet" in i.value for i in at.info)
    assert not any(b.label == "Start reviewing" for b in at.button)


def test_the_start_form_creates_a_session_and_feeds_the_focus_view(calls):
    at = start(open_page(), size=5, strategy="newest")
    review = review_session(calls)
    assert (review.reviewer, review.strategy, review.size, review.position) == (
        "ann", "newest", 5, 0)
    assert [call_id for _, call_id, _, _ in review_items(calls)] == [30, 29, 28, 27, 26]
    assert at.query_params["session"] == "1"
    data = feed(at)
    assert progress(at) == "Call 1 of 5 · 0 reviewed · 0 skipped"
    assert data["statuses"] == "ppppp" and data["session"]["reviewer"] == "ann"
    # the current call and the next ones come at once: a submit needs no round trip
    assert [(i["position"], i["call_id"]) for i in data["items"]] == [
        (0, 30), (1, 29), (2, 28), (3, 27), (4, 26)]
    first = data["items"][0]["call"]
    assert (first["id"], first["version"], first["source"]) == (30, "v1", "production")
    assert first["output"]["text"] and first["input"]["text"]
    assert data["promote"].startswith("cases?reviewer=ann&promote=")
    assert data["store"] and data["mode"] == "Raw"


def test_random_strategy_and_size_larger_than_the_store(calls):
    at = start(open_page(), size=50, strategy="random")
    review = review_session(calls)
    assert review.size == 30 and review.strategy == "random"
    assert sorted(call_id for _, call_id, _, _ in review_items(calls)) == list(range(1, 31))
    assert progress(at).startswith("Call 1 of 30 ")
    assert len(feed(at)["items"]) == 9  # the cursor and 8 ahead, not all 30


def test_a_start_form_with_nothing_to_review_warns(calls):
    at = open_page()
    next(m for m in at.multiselect if m.label == "Sources").set_value(["eval"])
    next(b for b in at.button if b.label == "Start reviewing").click().run()
    assert any("no calls to review" in w.value for w in at.warning)
    with Session(calls) as session:
        assert session.scalar(select(ReviewSession.id)) is None


def test_as_displayed_without_browse_says_so_before_start_and_starts_nothing(calls):
    at = open_page()
    radio = next(r for r in at.radio if r.label == "Pick calls")
    caption = radio.proto.captions[list(radio.options).index(
        "As displayed in Browse (current filter and sort)")]
    assert "Not available yet: open Browse in this tab first" in caption
    start(at, strategy="as_displayed")
    assert any("needs Browse's list" in w.value for w in at.warning)
    with Session(calls) as session:
        assert session.scalar(select(ReviewSession.id)) is None


def test_an_unknown_session_id_in_the_url_says_so(calls):
    at = open_page(session="99")
    assert any("There is no review session 99" in w.value for w in at.warning)


# keys -------------------------------------------------------------------------------------

def test_labels_carry_their_keys_and_no_key_is_taken_twice(session5, calls):
    labels = feed(session5.at)["labels"]
    assert [(label["name"], label["key"]) for label in labels] == [
        (label.name, label.shortcut) for label in list_labels(calls)]
    keys = [label["key"] for label in labels if label["key"]]
    assert keys == [str(i) for i in range(1, 9)]
    assert len(keys) == len(set(keys)) and not set(keys) & BUILT_IN_KEYS


def test_labels_without_a_key_are_sent_without_one(calls):
    from evalboard.review.labels import create_label

    create_label(calls, "too verbose", "failure")
    at = start(open_page())
    assert next(label for label in feed(at)["labels"] if label["name"] == "too verbose")[
        "key"] == ""


# judging ----------------------------------------------------------------------------------

def test_verdict_labels_note_and_correction_are_saved(session5, calls):
    page = session5
    page.judge(0, "fail", ("wrong format", "hallucination"), note="  invented a refund policy  ",
               fix="We cannot refund after 30 days.", seconds=4.2)
    [row] = annotations(calls)
    assert row["action"] == "judge" and row["reviewer"] == "ann"
    assert row["call_id"] == 30 and row["session"] == 1
    assert row["verdict"] == "fail"
    assert row["labels"] == ["hallucination", "wrong format"]  # display order, not click order
    assert row["note"] == "invented a refund policy"
    assert row["fix"] == "We cannot refund after 30 days."
    assert row["seconds"] == 4.2
    assert review_items(calls)[0] == (0, 30, "done", row["id"])
    assert review_session(calls).position == 1
    assert progress(page.at) == "Call 2 of 5 · 1 reviewed · 0 skipped"
    assert page.outbox == []  # acknowledged
    assert page.item(0)["saved"] == {"verdict": "fail", "labels": ["hallucination",
                                     "wrong format"], "note": "invented a refund policy",
                                     "fix": "We cannot refund after 30 days."}
    assert page.item(1)["saved"] is None  # the next call starts blank


def test_a_note_alone_or_a_label_alone_is_a_valid_answer(session5, calls):
    session5.judge(0, note="not sure what the user meant").judge(1, labels=("correct format",))
    assert [(r["verdict"], r["labels"], r["note"]) for r in annotations(calls)] == [
        (None, [], "not sure what the user meant"), (None, ["correct format"], None)]
    assert progress(session5.at) == "Call 3 of 5 · 2 reviewed · 0 skipped"


def test_an_empty_answer_is_refused_acknowledged_and_saves_nothing(session5, calls):
    page = session5.judge(0, note="   ", fix="   ")
    assert "choose a verdict or a label, or write a note" in page.outcome(1)["error"]
    assert page.outbox == []
    assert annotations(calls) == []
    assert review_items(calls)[0][2] == "pending"
    assert progress(page.at) == "Call 1 of 5 · 0 reviewed · 0 skipped"


def test_an_answer_for_a_call_that_is_not_there_is_refused(session5, calls):
    session5.queue("judge", position=0, call=29, verdict="pass")
    session5.send()
    assert "call 29 is not at place 1" in session5.outcome(1)["error"]
    assert annotations(calls) == []


def test_moving_sets_the_place_and_the_feed_follows(session5, calls):
    page = session5.move(3)
    assert review_session(calls).position == 3
    assert progress(page.at).startswith("Call 4 of 5")
    assert {i["position"] for i in feed(page.at)["items"]} >= {1, 2, 3, 4}
    assert annotations(calls) == []  # moving saves nothing


def test_skip_records_a_skip_and_advances(session5, calls):
    page = session5.skip(0)
    [row] = annotations(calls)
    assert (row["action"], row["call_id"], row["verdict"], row["reviewer"]) == (
        "skip", 30, None, "ann")
    assert review_items(calls)[0] == (0, 30, "skipped", row["id"])
    assert progress(page.at) == "Call 2 of 5 · 0 reviewed · 1 skipped"


def test_undo_retracts_the_last_answer_and_sends_it_back_to_edit(session5, calls):
    page = session5.judge(0, "pass", note="fine").skip(1).undo()
    rows = annotations(calls)
    assert [r["action"] for r in rows] == ["judge", "skip", "retract"]
    assert rows[2]["retracts"] == rows[1]["id"] and rows[2]["reviewer"] == "ann"
    assert review_items(calls)[1] == (1, 29, "pending", None)
    assert progress(page.at) == "Call 2 of 5 · 1 reviewed · 0 skipped"
    page.undo()  # and then the judgement of call 1: it comes back to be edited
    undone = page.outcome(4)
    assert (undone["position"], undone["error"]) == (0, None)
    assert undone["restored"] == {"verdict": "pass", "labels": [], "note": "fine", "fix": ""}
    assert review_items(calls)[0] == (0, 30, "pending", None)
    assert progress(page.at) == "Call 1 of 5 · 0 reviewed · 0 skipped"
    page.undo()
    assert page.outcome(5)["error"] == "nothing to undo in this session"
    assert len(annotations(calls)) == 4


def test_submitting_a_reviewed_call_again_replaces_the_answer(session5, calls):
    page = session5.judge(0, "pass").move(0)
    assert page.item(0)["status"] == "done"
    assert page.item(0)["saved"]["verdict"] == "pass"  # prefilled from the store
    page.judge(0, "fail")
    rows = annotations(calls)
    assert [(r["call_id"], r["verdict"]) for r in rows] == [(30, "pass"), (30, "fail")]
    assert review_items(calls)[0] == (0, 30, "done", rows[1]["id"])
    assert progress(page.at) == "Call 2 of 5 · 1 reviewed · 0 skipped"


def test_undoing_a_replaced_answer_brings_back_the_earlier_one(session5, calls):
    page = session5.judge(0, "pass").judge(0, "fail").undo()
    first = annotations(calls)[0]
    assert review_items(calls)[0] == (0, 30, "done", first["id"])
    assert progress(page.at) == "Call 1 of 5 · 1 reviewed · 0 skipped"
    page.undo()
    rows = annotations(calls)
    assert [r["action"] for r in rows] == ["judge", "judge", "retract", "retract"]
    assert rows[3]["retracts"] == rows[0]["id"]


@pytest.mark.parametrize("ticked", [("hallucination",), ("hallucination", "wrong format")])
def test_resubmitting_after_a_label_was_archived_is_refused_not_a_crash(session5, calls,
                                                                         ticked):
    from evalboard.review.labels import archive_label

    session5.judge(0, "fail", ticked)
    archive_label(calls, 1)  # someone retires "hallucination" in Settings
    again = Page(open_page())
    assert "hallucination" not in [label["name"] for label in feed(again.at)["labels"]]
    assert "hallucination" not in again.item(0)["saved"]["labels"]  # it cannot be given again
    again.judge(0, "fail", ticked)
    assert "archived" in again.outcome(1)["error"]
    assert len(annotations(calls)) == 1


# nothing lost: resends, reloads, resume ------------------------------------------------------

def test_a_resent_outbox_is_stored_once(session5, calls):
    page = session5
    page.queue("judge", position=0, call=30, verdict="pass")
    page.queue("judge", position=1, call=29, verdict="fail", labels=["hallucination"])
    unacknowledged = list(page.outbox)
    page.send()
    # the acknowledgement was lost (a closed tab, a server restart): a new page resends it
    again = Page(open_page())
    again.outbox = unacknowledged
    again.send()
    again.send()
    assert [(r["call_id"], r["verdict"]) for r in annotations(calls)] == [
        (30, "pass"), (29, "fail")]
    assert again.outbox == []


def test_a_reload_resumes_the_session_at_the_first_unanswered_call(session5, calls):
    session5.judge(0, "fail", ("hallucination",), note="made up").skip(1)
    again = open_page()  # a new browser session: no ?session=, no session state
    assert again.query_params["session"] == "1"
    data = feed(again)
    assert data["statuses"] == "dsppp"
    assert progress(again) == "Call 3 of 5 · 1 reviewed · 1 skipped"
    first = next(i for i in data["items"] if i["position"] == 0)
    assert first["saved"] == {"verdict": "fail", "labels": ["hallucination"], "note": "made up",
                              "fix": ""}


def test_another_reviewer_does_not_resume_anns_session(session5, calls):
    bob = open_page(reviewer="bob")
    assert any(b.label == "Start reviewing" for b in bob.button)
    assert "session" not in bob.query_params


def test_another_reviewers_session_by_link_is_not_answered(session5, calls):
    bob = open_page(reviewer="bob", session="1")
    assert any("This is ann's session" in w.value for w in bob.warning)
    assert not bob.get("bidi_component")


def test_finishing_a_session(calls):
    page = Page(start(open_page(), size=2))
    page.judge(0, "pass").skip(1)
    data = feed(page.at)
    assert data["session"]["finished"] and data["statuses"] == "ds"
    assert review_session(calls).finished_at is not None
    # a reload starts fresh and lists the finished session
    again = open_page()
    assert any(b.label == "Start reviewing" for b in again.button)
    assert "Your recent sessions" in [s.value for s in again.subheader]
    assert any("2 of 2 · finished" in p.proto.text for p in again.get("progress"))
    page.undo()  # undo reopens it
    assert not feed(page.at)["session"]["finished"]
    assert review_session(calls).finished_at is None


def test_new_session_button_and_open_from_the_recent_list(session5, calls):
    at = session5.at
    next(b for b in at.button if b.label == "New session").click().run()
    assert "session" not in at.query_params and at.query_params["new"] == "1"
    assert any(b.label == "Start reviewing" for b in at.button)
    at.button(key="open_session_1").click().run()
    assert at.query_params["session"] == "1" and "new" not in at.query_params
    assert progress(at).startswith("Call 1 of 5")


def test_a_session_whose_calls_were_deleted_says_so(session5, calls):
    from sqlalchemy import delete

    from evalboard.store.models import Call

    with calls.begin() as conn:
        conn.execute(delete(ReviewItem))
        conn.execute(delete(Call).where(Call.id > 25))
    at = open_page(session="1")
    assert any("This session has no calls" in w.value for w in at.warning)


# Browse bulk mode --------------------------------------------------------------------------

def test_bulk_label_every_call_of_the_filter_then_undo(calls):
    v2_ids = add_calls(calls, make_rows(7, model_version="v2")).ids
    at = open_page(BROWSE, bulk="true", version=["v2"])
    assert next(t for t in at.toggle if t.label == "Bulk label").value
    next(r for r in at.radio if r.label == "Apply to").set_value("filter").run()
    apply = next(b for b in at.button if b.label.startswith("Apply to"))
    assert apply.label == "Apply to 7 calls" and apply.disabled  # not confirmed yet
    next(s for s in at.selectbox if s.label == "Verdict to give").set_value("fail")
    next(m for m in at.multiselect if m.label == "Labels to give").set_value(
        ["hallucination", "wrong format"])
    next(c for c in at.checkbox if c.label == "Yes, label all 7 calls as ann").check().run()
    apply = next(b for b in at.button if b.label == "Apply to 7 calls")
    assert not apply.disabled
    apply.click().run()
    assert not at.exception and not _errors(at)

    rows = annotations(calls)
    assert sorted(r["call_id"] for r in rows) == sorted(v2_ids)
    assert {r["batch"] for r in rows} != {None} and len({r["batch"] for r in rows}) == 1
    assert {(r["action"], r["reviewer"], r["verdict"], tuple(r["labels"])) for r in rows} == {
        ("judge", "ann", "fail", ("hallucination", "wrong format"))}
    assert any("Labelled 7 calls (fail: hallucination, wrong format)" in s.value
               for s in at.success)

    next(b for b in at.button if b.label == "Undo").click().run()
    assert not at.exception
    rows = annotations(calls)
    retracts = [r for r in rows if r["action"] == "retract"]
    assert len(retracts) == 7
    assert {r["retracts"] for r in retracts} == {r["id"] for r in rows if r["action"] == "judge"}
    assert not any(b.label == "Undo" for b in at.button)


def test_bulk_labels_only_the_calls_that_were_confirmed(calls):
    add_calls(calls, make_rows(7, model_version="v2"))
    at = open_page(BROWSE, bulk="true", version=["v2"])
    next(r for r in at.radio if r.label == "Apply to").set_value("filter").run()
    next(s for s in at.selectbox if s.label == "Verdict to give").set_value("fail")
    add_calls(calls, make_rows(3, model_version="v2", input="logged meanwhile"))
    next(c for c in at.checkbox if c.label == "Yes, label all 7 calls as ann").check().run()
    next(b for b in at.button if b.label == "Apply to 7 calls").click().run()
    assert annotations(calls) == []  # refused: the filter grew after the confirmation
    assert any("now matches 10 calls" in w.value for w in at.warning)
