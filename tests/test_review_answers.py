"""Answers sent by the focus view: stored once each, in each page's order; the feed around the
reviewer's place."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from evalboard.review.answers import acknowledged, apply_actions, parse_action, parse_actions
from evalboard.review.focus_feed import focus_feed, window
from evalboard.review.labels import archive_label
from evalboard.review.sampling import SessionSpec
from evalboard.review.sessions import get_session, items, start_session
from evalboard.store.review_models import Annotation, ReviewAnswer
from tests.support.calls import add_calls, make_rows


@pytest.fixture
def session_id(engine) -> int:
    add_calls(engine, make_rows(12, model_version="v1"))
    return start_session(engine, "ann", SessionSpec(size=6, strategy="newest"))


def judge(client: str, seq: int, position: int, call: int, verdict: str = "fail",
          labels: tuple[str, ...] = ("hallucination",), **extra) -> dict:
    return {"client": client, "seq": seq, "kind": "judge", "position": position, "call": call,
            "verdict": verdict, "labels": list(labels), "seconds": 1.5, **extra}


def rows(engine) -> list[tuple]:
    with Session(engine) as session:
        return [(a.call_id, a.action, a.verdict, [label.name for label in a.labels], a.note)
                for a in session.scalars(select(Annotation).order_by(Annotation.id))]


def test_actions_are_applied_once_in_order_and_acknowledged(engine, session_id):
    sent = parse_actions([judge("tab1", 1, 0, 12), judge("tab1", 2, 1, 11, "pass", ()),
                          {"client": "tab1", "seq": 3, "kind": "skip", "position": 2,
                           "call": 10}])
    outcomes = apply_actions(engine, session_id, "ann", sent)
    assert [(o.seq, o.kind, o.error) for o in outcomes] == [
        (1, "judge", None), (2, "judge", None), (3, "skip", None)]
    assert rows(engine) == [(12, "judge", "fail", ["hallucination"], None),
                            (11, "judge", "pass", [], None), (10, "skip", None, [], None)]
    # the page resends everything it has no acknowledgement for: nothing is stored twice
    assert apply_actions(engine, session_id, "ann", sent) == []
    assert len(rows(engine)) == 3
    assert acknowledged(engine, session_id, ["tab1", "tab2"]) == {"tab1": 3, "tab2": 0}
    view = get_session(engine, session_id)
    assert (view.done, view.skipped, view.position) == (2, 1, 3)


def test_a_later_action_waits_for_a_missing_earlier_one(engine, session_id):
    assert apply_actions(engine, session_id, "ann", parse_actions(
        [judge("tab1", 2, 1, 11)])) == []
    assert rows(engine) == []
    outcomes = apply_actions(engine, session_id, "ann", parse_actions(
        [judge("tab1", 1, 0, 12, "pass", ()), judge("tab1", 2, 1, 11)]))
    assert [o.seq for o in outcomes] == [1, 2]
    assert [r[0] for r in rows(engine)] == [12, 11]


def test_two_pages_keep_their_own_numbers(engine, session_id):
    apply_actions(engine, session_id, "ann", parse_actions([judge("old", 1, 0, 12)]))
    apply_actions(engine, session_id, "ann", parse_actions(
        [judge("old", 1, 0, 12), judge("new", 1, 1, 11)]))
    assert [r[0] for r in rows(engine)] == [12, 11]
    assert acknowledged(engine, session_id, ["old", "new"]) == {"old": 1, "new": 1}


def test_an_answer_on_the_wrong_call_is_refused_and_acknowledged(engine, session_id):
    [outcome] = apply_actions(engine, session_id, "ann", parse_actions([judge("t", 1, 0, 11)]))
    assert "call 11 is not at place 1" in outcome.error
    assert rows(engine) == []
    assert acknowledged(engine, session_id, ["t"]) == {"t": 1}
    with Session(engine) as session:
        stored = session.scalars(select(ReviewAnswer)).one()
        assert (stored.kind, stored.annotation_id) == ("judge", None)
        assert "not at place" in stored.error


def test_an_archived_label_or_an_empty_answer_is_refused(engine, session_id):
    archive_label(engine, 1)
    outcomes = apply_actions(engine, session_id, "ann", parse_actions(
        [judge("t", 1, 0, 12), judge("t", 2, 0, 12, None, ())]))
    assert "archived" in outcomes[0].error
    assert "choose a verdict or a label" in outcomes[1].error
    assert rows(engine) == []
    assert items(engine, session_id)[0].status == "pending"


def test_undo_in_the_same_batch_retracts_and_says_what_to_restore(engine, session_id):
    outcomes = apply_actions(engine, session_id, "ann", parse_actions([
        judge("t", 1, 0, 12, note="made up", fix="The fix."),
        {"client": "t", "seq": 2, "kind": "undo"},
        judge("t", 3, 0, 12, "unsure", ("wrong format",))]))
    undo = outcomes[1]
    assert (undo.kind, undo.position, undo.error) == ("undo", 0, None)
    assert undo.restored.verdict == "fail" and undo.restored.note == "made up"
    assert undo.restored.corrected_output == "The fix."
    assert [r[1] for r in rows(engine)] == ["judge", "retract", "judge"]
    assert items(engine, session_id)[0].status == "done"
    [nothing] = apply_actions(engine, session_id, "ann", parse_actions(
        [{"client": "u", "seq": 1, "kind": "undo"}, {"client": "u", "seq": 2, "kind": "undo"},
         {"client": "u", "seq": 3, "kind": "undo"}]))[2:]
    assert nothing.error == "nothing to undo in this session"


def test_move_sets_the_session_place(engine, session_id):
    apply_actions(engine, session_id, "ann", parse_actions(
        [{"client": "t", "seq": 1, "kind": "move", "position": 4, "call": 8}]))
    assert get_session(engine, session_id).position == 4


@pytest.mark.parametrize("raw", [None, 3, {}, {"client": "", "seq": 1, "kind": "judge"},
                                 {"client": "t", "seq": 0, "kind": "judge"},
                                 {"client": "t", "seq": True, "kind": "judge"},
                                 {"client": "t", "seq": 1, "kind": "drop table"},
                                 {"client": "x" * 41, "seq": 1, "kind": "skip"}])
def test_what_is_not_an_action_is_ignored(raw):
    assert parse_action(raw) is None


def test_seconds_are_clamped_and_odd_fields_dropped():
    action = parse_action({"client": "t", "seq": 1, "kind": "judge", "seconds": -3,
                           "labels": ["a", 3], "note": 5, "verdict": ["pass"]})
    assert (action.seconds_spent, action.labels, action.note, action.verdict) == (
        0.0, ("a",), "", None)
    assert parse_action({"client": "t", "seq": 1, "kind": "judge",
                         "seconds": 10**9}).seconds_spent == 86_400.0


def test_the_window_holds_the_cursor_some_behind_and_the_next_pending():
    assert window("pppppppppp", 0, ahead=3, behind=2).positions == (0, 1, 2, 3)
    assert window("ddpdddpddp", 5, ahead=2, behind=1).positions == (4, 5, 6, 7, 9)
    assert window("ddpdddpddp", 8, ahead=2, behind=0).positions == (2, 8, 9)
    assert window("", 0).positions == ()


def test_the_feed_carries_progress_items_and_saved_answers(engine, session_id):
    apply_actions(engine, session_id, "ann", parse_actions(
        [judge("t", 1, 0, 12, note="n1"), {"client": "t", "seq": 2, "kind": "skip",
                                           "position": 1, "call": 11}]))
    feed = focus_feed(engine, session_id, "ann", cursor=0)
    assert feed["statuses"] == "dspppp"
    assert feed["session"]["done"] == 1 and feed["session"]["skipped"] == 1
    by_position = {item["position"]: item for item in feed["items"]}
    assert set(by_position) == {0, 1, 2, 3, 4, 5}
    first = by_position[0]
    assert first["call_id"] == 12 and first["call"]["output"]["text"]
    assert first["saved"] == {"verdict": "fail", "labels": ["hallucination"], "note": "n1",
                              "fix": ""}
    assert by_position[2]["saved"] is None
    assert [label["key"] for label in feed["labels"]] == [str(i) for i in range(1, 9)]
    assert focus_feed(engine, 999, "ann") is None


def test_the_feed_carries_chat_turns_a_correction_and_a_case_reference(engine):
    from evalboard.cases.draft import CaseDraft
    from evalboard.cases.promote import promote_call
    from evalboard.cases.repository import create_case
    from evalboard.checks import CheckSpec
    from evalboard.review.annotations import Judgement, annotate

    add_calls(engine, [
        {"input": [{"role": "system", "content": "Be brief."},
                   {"role": "user", "content": "Who was Caesar?"}],
         "output": "A film star.", "model_version": "v1"},
        {"input": "plain", "output": "x" * 10, "model_version": "v1"}])
    annotate(engine, 1, "bob", Judgement("fail", note="wrong", corrected_output="A Roman."))
    promotion = promote_call(engine, 1, "bob")
    draft = CaseDraft(**{**promotion.draft.__dict__, "checks": (
        CheckSpec("contains_any", {"values": ["Roman"]}),)})
    create_case(engine, "history", draft, provenance=promotion.provenance)
    # "as displayed" takes reviewed calls too (the newest strategies skip them)
    session_id = start_session(engine, "ann", SessionSpec(size=2, strategy="as_displayed"))
    feed = focus_feed(engine, session_id, "ann")
    by_call = {item["call_id"]: item for item in feed["items"]}
    chat = by_call[1]
    assert chat["call"]["messages"] == [
        {"role": "system", "content": {"text": "Be brief.", "length": 9}},
        {"role": "user", "content": {"text": "Who was Caesar?", "length": 15}}]
    assert chat["corrected"] == {"text": "A Roman.", "length": 8}  # bob's, shown to ann
    assert chat["reference"] == {"text": "A Roman.", "length": 8}
    assert chat["saved"] is None  # ann has not answered it
    assert by_call[2]["reference"] is None and by_call[2]["corrected"] is None
    # a feed leaves out the calls the page holds already
    assert [i["position"] for i in focus_feed(engine, session_id, "ann",
                                              known={0})["items"]] == [1]
