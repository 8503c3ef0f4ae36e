"""The Review page (and Browse bulk mode) under AppTest: start, label, navigate, undo, resume.

Every button of the focus view is clicked the way its keyboard shortcut would click it, and the
effect is read back from the database, not from the page.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from evalboard.review.labels import list_labels
from evalboard.store.review_models import Annotation, ReviewItem, ReviewSession
from evalboard.ui.navigation import page_path
from tests.support import apptest
from tests.support.calls import add_calls, make_rows

REVIEW = page_path("review")
BROWSE = page_path("browse")


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


def click(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click().run()
    assert not at.exception
    assert not _errors(at), _errors(at)
    return at


def progress(at: AppTest) -> str:
    return next(p.proto.text for p in at.get("progress"))


def _errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def _texts(at: AppTest) -> str:
    return " ".join(str(e.value) for e in [*at.caption, *at.markdown, *at.info, *at.warning,
                                           *at.success, *at.error])


def _toasts(at: AppTest) -> list[str]:
    return [t.value for t in at.toast]


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


@pytest.fixture
def calls(engine):
    add_calls(engine, make_rows(30, model_version="v1"))
    return engine


@pytest.fixture
def session5(calls) -> AppTest:
    """ann on the Review page with a fresh session of the 5 newest calls (ids 30..26)."""
    return start(open_page(), size=5, strategy="newest")


# start ------------------------------------------------------------------------------------

def test_without_a_reviewer_the_page_asks_for_a_name(calls):
    at = open_page(reviewer=None)
    assert at.title[0].value == "Review"
    assert any("Enter your name under **Reviewer**" in i.value for i in at.info)
    assert not any(b.label == "Start reviewing" for b in at.button)
    assert at.sidebar.text_input(key="reviewer").value == ""


def test_the_start_form_creates_a_session_in_the_store(calls):
    at = open_page()
    assert at.sidebar.text_input(key="reviewer").value == "ann"
    start(at, size=5, strategy="newest")
    review = review_session(calls)
    assert (review.reviewer, review.strategy, review.size, review.position) == (
        "ann", "newest", 5, 0)
    assert review.finished_at is None
    assert [call_id for _, call_id, _, _ in review_items(calls)] == [30, 29, 28, 27, 26]
    assert {status for _, _, status, _ in review_items(calls)} == {"pending"}
    assert at.query_params["session"] == "1"
    assert progress(at) == "Call 1 of 5 · 0 reviewed · 0 skipped"
    assert "Call 30 · v1 · production" in _texts(at)


def test_random_strategy_and_size_larger_than_the_store(calls):
    at = start(open_page(), size=50, strategy="random")
    review = review_session(calls)
    assert review.size == 30 and review.strategy == "random"
    assert sorted(call_id for _, call_id, _, _ in review_items(calls)) == list(range(1, 31))
    assert progress(at).startswith("Call 1 of 30 ")


def test_a_start_form_with_nothing_to_review_warns(calls):
    at = open_page()
    next(m for m in at.multiselect if m.label == "Sources").set_value(["eval"])
    next(b for b in at.button if b.label == "Start reviewing").click().run()
    assert any("no calls to review" in w.value for w in at.warning)
    with Session(calls) as session:
        assert session.scalar(select(ReviewSession.id)) is None


def test_an_unknown_session_id_in_the_url_says_so(calls):
    at = open_page(session="99")
    assert any("There is no review session 99" in w.value for w in at.warning)


# shortcuts --------------------------------------------------------------------------------

def test_each_button_carries_the_shortcut_the_ui_promises(session5, calls):
    shortcuts = {b.key: b.proto.shortcut for b in session5.button if b.key}
    assert shortcuts["verdict_pass"] == "p"
    assert shortcuts["verdict_fail"] == "f"
    assert shortcuts["verdict_unsure"] == "u"
    assert shortcuts["submit"] == "enter"
    assert shortcuts["prev"] == "k"
    assert shortcuts["next"] == "j"
    assert shortcuts["skip"] == "s"
    assert shortcuts["undo"] == "z"
    labels = list_labels(calls)
    assert [label.shortcut for label in labels] == [str(i) for i in range(1, 9)]
    for label in labels:
        assert shortcuts[f"label_{label.id}"] == label.shortcut.lower()
        button = session5.button(key=f"label_{label.id}")
        assert button.label == label.name
    # no two controls share a key
    values = [s for s in shortcuts.values() if s]
    assert len(values) == len(set(values))


def test_labels_without_a_key_render_without_a_shortcut(calls):
    from evalboard.review.labels import create_label

    label_id = create_label(calls, "too verbose", "failure")
    at = start(open_page())
    assert at.button(key=f"label_{label_id}").proto.shortcut == ""


# judging ----------------------------------------------------------------------------------

def test_verdict_labels_note_and_correction_are_saved_on_submit(session5, calls):
    at = session5
    click(at, "verdict_pass")
    assert at.button(key="verdict_pass").proto.type == "primary"
    click(at, "verdict_pass")  # pressing P again clears the verdict
    assert at.button(key="verdict_pass").proto.type == "secondary"
    click(at, "verdict_fail")
    click(at, "label_2")  # wrong format
    click(at, "label_1")  # hallucination
    click(at, "label_4")  # garbled, then un-ticked
    click(at, "label_4")
    assert at.button(key="label_1").proto.type == "primary"
    assert at.button(key="label_4").proto.type == "secondary"
    at.text_area(key="note_1_0").input("  invented a refund policy  ")
    at.text_area(key="fix_1_0").input("We cannot refund after 30 days.")
    click(at, "submit")

    [row] = annotations(calls)
    assert row["action"] == "judge" and row["reviewer"] == "ann"
    assert row["call_id"] == 30 and row["session"] == 1
    assert row["verdict"] == "fail"
    assert row["labels"] == ["hallucination", "wrong format"]  # display order, not click order
    assert row["note"] == "invented a refund policy"
    assert row["fix"] == "We cannot refund after 30 days."
    assert isinstance(row["seconds"], float) and 0 <= row["seconds"] < 60
    assert review_items(calls)[0] == (0, 30, "done", row["id"])
    assert review_session(calls).position == 1
    assert progress(at) == "Call 2 of 5 · 1 reviewed · 0 skipped"
    assert any("Saved call 1 (fail)" in t for t in _toasts(at))
    # the next call starts blank
    assert at.button(key="verdict_fail").proto.type == "secondary"
    assert at.button(key="label_1").proto.type == "secondary"
    assert at.text_area(key="note_1_1").value == ""


def test_a_note_alone_or_a_label_alone_is_a_valid_answer(session5, calls):
    at = session5
    at.text_area(key="note_1_0").input("not sure what the user meant")
    click(at, "submit")
    click(at, "label_6")  # correct format, no verdict
    click(at, "submit")
    rows = annotations(calls)
    assert [(r["verdict"], r["labels"], r["note"]) for r in rows] == [
        (None, [], "not sure what the user meant"), (None, ["correct format"], None)]
    assert progress(at) == "Call 3 of 5 · 2 reviewed · 0 skipped"


def test_a_submit_without_verdict_label_or_note_warns_and_saves_nothing(session5, calls):
    at = session5
    at.text_area(key="note_1_0").input("   ")
    at.text_area(key="fix_1_0").input("   ")
    click(at, "submit")
    assert any("Not saved: choose a verdict or a label, or write a note" in w.value
               for w in at.warning)
    assert annotations(calls) == []
    assert review_items(calls)[0][2] == "pending"
    assert review_session(calls).position == 0
    assert progress(at) == "Call 1 of 5 · 0 reviewed · 0 skipped"


def test_prev_and_next_move_the_session_position(session5, calls):
    at = session5
    assert at.button(key="prev").disabled
    click(at, "next")
    assert review_session(calls).position == 1
    assert progress(at).startswith("Call 2 of 5")
    assert "Call 29 · v1" in _texts(at)
    click(at, "next")
    click(at, "prev")
    assert review_session(calls).position == 1
    for _ in range(3):
        click(at, "next")
    assert review_session(calls).position == 4
    assert at.button(key="next").disabled
    assert annotations(calls) == []  # moving saves nothing


def test_a_draft_survives_moving_away_and_back(session5, calls):
    at = session5
    click(at, "verdict_unsure")
    click(at, "label_3")
    click(at, "next")
    click(at, "prev")
    assert at.button(key="verdict_unsure").proto.type == "primary"
    assert at.button(key="label_3").proto.type == "primary"
    click(at, "submit")
    [row] = annotations(calls)
    assert (row["verdict"], row["labels"]) == ("unsure", ["biased or insulting"])


def test_skip_records_a_skip_and_advances(session5, calls):
    at = click(session5, "skip")
    [row] = annotations(calls)
    assert (row["action"], row["call_id"], row["verdict"], row["reviewer"]) == (
        "skip", 30, None, "ann")
    assert review_items(calls)[0] == (0, 30, "skipped", row["id"])
    assert review_session(calls).position == 1
    assert progress(at) == "Call 2 of 5 · 0 reviewed · 1 skipped"


def test_undo_retracts_the_last_answer_and_goes_back_to_it(session5, calls):
    at = session5
    click(at, "verdict_pass")
    click(at, "submit")
    click(at, "skip")
    click(at, "undo")  # undoes the skip of call 2
    rows = annotations(calls)
    assert [r["action"] for r in rows] == ["judge", "skip", "retract"]
    assert rows[2]["retracts"] == rows[1]["id"] and rows[2]["reviewer"] == "ann"
    assert review_items(calls)[1] == (1, 29, "pending", None)
    assert review_session(calls).position == 1
    assert progress(at) == "Call 2 of 5 · 1 reviewed · 0 skipped"
    click(at, "undo")  # and then the judgement of call 1
    rows = annotations(calls)
    assert rows[3]["action"] == "retract" and rows[3]["retracts"] == rows[0]["id"]
    assert review_items(calls)[0] == (0, 30, "pending", None)
    assert progress(at) == "Call 1 of 5 · 0 reviewed · 0 skipped"
    assert at.button(key="verdict_pass").proto.type == "primary"  # the answer is back to edit
    click(at, "undo")
    assert any("Nothing to undo" in t for t in _toasts(at))
    assert len(annotations(calls)) == 4


def test_submitting_a_reviewed_call_again_replaces_the_answer(session5, calls):
    at = session5
    click(at, "verdict_pass")
    click(at, "submit")
    click(at, "prev")
    assert "submitting again replaces your answer" in _texts(at)
    assert at.button(key="verdict_pass").proto.type == "primary"  # prefilled from the store
    click(at, "verdict_fail")
    click(at, "submit")
    rows = annotations(calls)
    assert [(r["call_id"], r["verdict"]) for r in rows] == [(30, "pass"), (30, "fail")]
    assert review_items(calls)[0] == (0, 30, "done", rows[1]["id"])
    assert progress(at) == "Call 2 of 5 · 1 reviewed · 0 skipped"


def test_undo_twice_after_replacing_an_answer_says_what_it_did(session5, calls):
    at = session5
    click(at, "verdict_pass")
    click(at, "submit")
    click(at, "prev")
    click(at, "verdict_fail")
    click(at, "submit")  # replaces pass by fail
    click(at, "undo")  # retracts fail
    click(at, "undo")  # retracts pass ...
    rows = annotations(calls)
    assert [r["action"] for r in rows] == ["judge", "judge", "retract", "retract"]
    assert rows[3]["retracts"] == rows[0]["id"]
    assert not any("Nothing to undo" in t for t in _toasts(at))  # ... but says it did nothing


def test_undoing_a_replaced_answer_brings_back_the_earlier_one(session5, calls):
    at = session5
    click(at, "verdict_pass")
    click(at, "submit")
    click(at, "prev")
    click(at, "verdict_fail")
    click(at, "submit")
    click(at, "undo")
    first = annotations(calls)[0]
    assert review_items(calls)[0] == (0, 30, "done", first["id"])
    assert progress(at) == "Call 1 of 5 · 1 reviewed · 0 skipped"


@pytest.mark.parametrize("ticked", [["label_1"], ["label_1", "label_2"]])
def test_resubmitting_after_a_label_was_archived_does_not_crash(session5, calls, ticked):
    from evalboard.review.labels import archive_label

    at = session5
    click(at, "verdict_fail")
    for key in ticked:
        click(at, key)
    click(at, "submit")
    archive_label(calls, 1)  # someone retires "hallucination" in Settings
    again = open_page()
    click(again, "prev")
    assert not any(b.key == "label_1" for b in again.button)  # it cannot even be un-ticked
    again.button(key="submit").click().run()
    assert not again.exception
    assert len(annotations(calls)) == 2 or again.warning


# resume and finish -------------------------------------------------------------------------

def test_a_reload_resumes_the_session_where_it_was(session5, calls):
    at = session5
    click(at, "verdict_fail")
    click(at, "label_1")
    at.text_area(key="note_1_0").input("made up")
    click(at, "submit")
    click(at, "skip")

    again = open_page()  # a new browser session: no ?session=, no session state
    assert again.query_params["session"] == "1"
    assert progress(again) == "Call 3 of 5 · 1 reviewed · 1 skipped"
    assert "Call 28 · v1" in _texts(again)
    click(again, "prev")
    click(again, "prev")
    assert review_session(calls).position == 0
    assert again.button(key="verdict_fail").proto.type == "primary"
    assert again.button(key="label_1").proto.type == "primary"
    assert again.text_area(key="note_1_0").value == "made up"


def test_another_reviewer_does_not_resume_anns_session(session5, calls):
    bob = open_page(reviewer="bob")
    assert any(b.label == "Start reviewing" for b in bob.button)
    assert "session" not in bob.query_params


def test_finishing_a_session_shows_the_finished_message(calls):
    at = start(open_page(), size=2)
    click(at, "verdict_pass")
    click(at, "submit")
    click(at, "skip")
    assert any("Session finished" in s.value for s in at.success)
    assert progress(at) == "Call 2 of 2 · 1 reviewed · 1 skipped"
    assert review_session(calls).finished_at is not None
    # a reload starts fresh and lists the finished session
    again = open_page()
    assert any(b.label == "Start reviewing" for b in again.button)
    assert "Your recent sessions" in [s.value for s in again.subheader]
    assert any("2 of 2 · finished" in p.proto.text for p in again.get("progress"))
    # undo reopens it
    click(at, "undo")
    assert not any("Session finished" in s.value for s in at.success)
    assert review_session(calls).finished_at is None


def test_new_session_button_and_open_from_the_recent_list(session5, calls):
    at = session5
    next(b for b in at.button if b.label == "New session").click().run()
    assert "session" not in at.query_params and at.query_params["new"] == "1"
    assert any(b.label == "Start reviewing" for b in at.button)
    at.button(key="open_session_1").click().run()
    assert at.query_params["session"] == "1" and "new" not in at.query_params
    assert progress(at).startswith("Call 1 of 5")


# Browse bulk mode --------------------------------------------------------------------------

def test_bulk_label_every_call_of_the_filter_then_undo(calls):
    add_calls(calls, make_rows(7, model_version="v2"))
    at = open_page(BROWSE, bulk="true", version=["v2"])
    assert next(t for t in at.toggle if t.label == "Bulk label").value
    next(r for r in at.radio if r.label == "Apply to").set_value("filter").run()
    apply = next(b for b in at.button if b.label.startswith("Apply to"))
    assert apply.label == "Apply to 7 calls" and apply.disabled  # not confirmed yet
    next(s for s in at.selectbox if s.label == "Verdict").set_value("fail")
    next(m for m in at.multiselect if m.label == "Labels").set_value(
        ["hallucination", "wrong format"])
    next(c for c in at.checkbox if c.label == "Yes, label all 7 calls as ann").check().run()
    apply = next(b for b in at.button if b.label == "Apply to 7 calls")
    assert not apply.disabled
    apply.click().run()
    assert not at.exception and not _errors(at)

    rows = annotations(calls)
    assert sorted(r["call_id"] for r in rows) == list(range(31, 38))
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
    next(s for s in at.selectbox if s.label == "Verdict").set_value("fail")
    add_calls(calls, make_rows(3, model_version="v2", input="logged meanwhile"))
    next(c for c in at.checkbox if c.label == "Yes, label all 7 calls as ann").check().run()
    next(b for b in at.button if b.label == "Apply to 7 calls").click().run()
    assert annotations(calls) == []  # refused: the filter grew after the confirmation
    assert any("now matches 10 calls" in w.value for w in at.warning)
