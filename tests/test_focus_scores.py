"""Scores and comments in the focus view: what the page sends (a judge action's `scores`, a
`comment` action) parsed, applied once and fed back; then the same through the Review page's
component state under AppTest."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from evalboard import clock
from evalboard.review.answers import acknowledged, apply_actions, parse_action, parse_actions
from evalboard.review.focus_feed import focus_feed
from evalboard.review.sampling import SessionSpec
from evalboard.review.sessions import items, start_session
from evalboard.store.review_models import Annotation, ReviewAnswer
from evalboard.store.team_models import AnnotationScore, CallComment
from evalboard.teams.queues import QueueSpec, create_queue, take_batch
from evalboard.teams.scores import create_score_config
from evalboard.ui.navigation import page_path
from evalboard.ui.review_focus import component_key
from tests.support import apptest
from tests.support.calls import add_calls, make_rows

CALLS = (12, 11, 10, 9)


def batch_of(engine, config: str | None, name: str = "scored") -> int:
    """ann's batch of a queue of CALLS (in that order) whose answers carry `config`."""
    queue = create_queue(engine, QueueSpec(name, SessionSpec(
        size=len(CALLS), strategy="listed", call_ids=CALLS), score_config=config), "lead")
    batch = take_batch(engine, queue, "ann", clock.now())
    assert batch is not None
    return batch


@pytest.fixture
def rated(engine) -> int:
    """ann's batch of a queue scored with a 1–5 helpfulness rating."""
    add_calls(engine, make_rows(12, model_version="v1"))
    create_score_config(engine, "helpfulness", "rating", maximum=5)
    return batch_of(engine, "helpfulness")


def judge(seq: int, position: int, call: int, scores: Any = None, client: str = "t",
          **extra: Any) -> dict[str, Any]:
    return {"client": client, "seq": seq, "kind": "judge", "position": position, "call": call,
            "verdict": extra.pop("verdict", None), "labels": [], "seconds": 2,
            "scores": scores, **extra}


def comment(seq: int, position: int, call: int, body: str, client: str = "t") -> dict[str, Any]:
    return {"client": client, "seq": seq, "kind": "comment", "position": position,
            "call": call, "body": body}


def stored_scores(engine) -> list[tuple[int, float | None, str | None]]:
    with Session(engine) as session:
        return [(s.annotation_id, s.number, s.text) for s in session.scalars(
            select(AnnotationScore).order_by(AnnotationScore.annotation_id))]


def stored_comments(engine) -> list[tuple[int, str, str]]:
    with Session(engine) as session:
        return [(c.call_id, c.author, c.body) for c in session.scalars(
            select(CallComment).order_by(CallComment.id))]


def by_position(feed: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {item["position"]: item for item in feed["items"]}


# parsing ----------------------------------------------------------------------------------

def test_scores_and_a_comment_body_are_parsed_odd_values_left_out():
    action = parse_action(judge(1, 0, 12, {"helpfulness": 4, "tone": "warm", "cleared": None,
                                           "flag": True, "list": [1], "nan": float("nan"),
                                           3: "not a name"}))
    assert action.scores == (("helpfulness", 4), ("tone", "warm"))
    assert action.judgement().scores == (("helpfulness", 4), ("tone", "warm"))
    assert parse_action(judge(1, 0, 12, "4")).scores == ()
    posted = parse_action(comment(2, 0, 12, "Is this right?"))
    assert (posted.kind, posted.call_id, posted.body) == ("comment", 12, "Is this right?")
    assert parse_action({**comment(2, 0, 12, ""), "body": 5}).body == ""


# scores -----------------------------------------------------------------------------------

def test_a_queue_batch_feeds_its_score_and_a_plain_session_none(engine, rated):
    feed = focus_feed(engine, rated, "ann")
    assert feed["score"] == {"name": "helpfulness", "kind": "rating", "minimum": 1.0,
                             "maximum": 5.0, "choices": [], "description": "",
                             "describe": "rating 1–5"}
    assert batch_of(engine, None, "unscored") != rated
    plain = start_session(engine, "ann", SessionSpec(size=2, strategy="newest"))
    assert focus_feed(engine, plain, "ann")["score"] is None


def test_a_score_is_stored_fed_back_and_alone_is_an_answer(engine, rated):
    outcomes = apply_actions(engine, rated, "ann", parse_actions(
        [judge(1, 0, 12, {"helpfulness": 4}, verdict="pass"),
         judge(2, 1, 11, {"helpfulness": 2})]))  # a score only
    assert [o.error for o in outcomes] == [None, None]
    assert stored_scores(engine) == [(outcomes[0].annotation_id, 4.0, None),
                                     (outcomes[1].annotation_id, 2.0, None)]
    shown = by_position(focus_feed(engine, rated, "ann", cursor=0))
    assert shown[0]["saved"] == {"verdict": "pass", "labels": [], "note": "", "fix": "",
                                 "scores": {"helpfulness": 4.0}}
    assert shown[1]["saved"]["verdict"] is None
    assert shown[1]["saved"]["scores"] == {"helpfulness": 2.0}
    assert "scores" not in (shown[2]["saved"] or {})


def test_a_refused_score_is_the_actions_error_and_saves_nothing(engine, rated):
    [too_high, half] = apply_actions(engine, rated, "ann", parse_actions(
        [judge(1, 0, 12, {"helpfulness": 7}, verdict="pass"),
         judge(2, 0, 12, {"helpfulness": 2.5})]))
    assert too_high.error == "helpfulness: rating 1–5, not 7"
    assert half.error == "helpfulness: a whole number 1–5, not 2.5"
    with Session(engine) as session:
        assert session.scalars(select(Annotation)).all() == []
    assert items(engine, rated)[0].status == "pending"
    assert acknowledged(engine, rated, ["t"]) == {"t": 2}  # answered: not resent forever


def test_undo_gives_back_the_score_with_the_answer(engine, rated):
    outcomes = apply_actions(engine, rated, "ann", parse_actions(
        [judge(1, 0, 12, {"helpfulness": 5}, verdict="pass", note="clear"),
         {"client": "t", "seq": 2, "kind": "undo"}]))
    undo = outcomes[1]
    assert (undo.position, undo.restored.note, undo.restored_scores) == (
        0, "clear", (("helpfulness", 5.0),))
    assert "scores" not in (by_position(focus_feed(engine, rated, "ann"))[0]["saved"] or {})


@pytest.mark.parametrize(("kind", "options", "good", "stored", "bad", "reason"), [
    ("numeric", {"minimum": 0, "maximum": 10}, 7.25, (7.25, None), 11,
     "quality: number 0 to 10, not 11"),
    ("choice", {"choices": ["short", "right", "long"]}, "long", (None, "long"), "huge",
     "quality: choose one of short, right, long, not 'huge'"),
    ("text", {}, "  reads well ", (None, "reads well"), "   ",
     "quality: write something, or leave the score out"),
])
def test_each_kind_of_score_is_checked_by_its_configuration(engine, kind, options, good, stored,
                                                             bad, reason):
    add_calls(engine, make_rows(12, model_version="v1"))
    create_score_config(engine, "quality", kind, **options)
    batch = batch_of(engine, "quality")
    assert focus_feed(engine, batch, "ann")["score"]["kind"] == kind
    [ok, refused] = apply_actions(engine, batch, "ann", parse_actions(
        [judge(1, 0, 12, {"quality": good}), judge(2, 1, 11, {"quality": bad})]))
    assert (ok.error, refused.error) == (None, reason)
    assert stored_scores(engine) == [(ok.annotation_id, *stored)]
    saved = by_position(focus_feed(engine, batch, "ann"))[0]["saved"]
    assert saved["scores"] == {"quality": stored[0] if stored[0] is not None else stored[1]}


# comments ---------------------------------------------------------------------------------

def test_a_comment_is_posted_once_by_the_reviewer_and_fed_with_its_call(engine, rated):
    sent = parse_actions([comment(1, 1, 11, "Is the refund policy right?"),
                          judge(2, 0, 12, {"helpfulness": 3})])
    [posted, judged] = apply_actions(engine, rated, "ann", sent)
    assert (posted.kind, posted.error, judged.error) == ("comment", None, None)
    assert (posted.comment.call_id, posted.comment.author, posted.comment.body) == (
        11, "ann", "Is the refund policy right?")
    assert apply_actions(engine, rated, "ann", sent) == []  # resent: not posted twice
    assert stored_comments(engine) == [(11, "ann", "Is the refund policy right?")]
    thread = by_position(focus_feed(engine, rated, "ann"))[1]["comments"]
    assert [(c["author"], c["body"]) for c in thread] == [("ann", "Is the refund policy right?")]
    assert thread[0]["id"] == posted.comment.id and thread[0]["created"]
    # a comment is no answer: the call is still to review
    assert items(engine, rated)[1].status == "pending"


def test_a_refused_comment_keeps_its_reason_and_is_acknowledged(engine, rated):
    [empty, elsewhere, later] = apply_actions(engine, rated, "ann", parse_actions(
        [comment(1, 0, 12, "   "), comment(2, 0, 11, "wrong call"),
         comment(3, 2, 10, "fine")]))
    assert empty.error == "write something to post" and empty.comment is None
    assert "call 11 is not at place 1" in elsewhere.error
    assert later.error is None
    assert stored_comments(engine) == [(10, "ann", "fine")]
    with Session(engine) as session:
        assert [(a.seq, a.kind, a.error) for a in session.scalars(
            select(ReviewAnswer).order_by(ReviewAnswer.seq))] == [
            (1, "comment", "write something to post"), (2, "comment", elsewhere.error),
            (3, "comment", None)]
    assert acknowledged(engine, rated, ["t"]) == {"t": 3}


# the Review page, playing the component's state -------------------------------------------

def component_feed(at) -> dict[str, Any]:
    [component] = at.get("bidi_component")
    return json.loads(json.loads(component.proto.json))


def send(at, session_id: int, actions: list[dict[str, Any]]) -> dict[str, Any]:
    """Set the component's outbox as the page's JavaScript does, rerun, return the feed."""
    at.session_state[component_key(session_id)] = {
        "outbox": {"session": session_id, "cursor": None, "actions": actions}, "mode": None}
    at.run()
    assert not at.exception, at.exception
    return component_feed(at)


def test_the_review_page_takes_scores_and_comments_from_its_outbox(engine, rated):
    at = apptest.open_page(page_path("review"), reviewer="ann", session=str(rated))
    assert not at.exception
    first = component_feed(at)
    assert first["score"]["describe"] == "rating 1–5"
    assert by_position(first)[0]["comments"] == []
    actions = [judge(1, 0, 12, {"helpfulness": 4}, client="tab", verdict="pass"),
               comment(2, 1, 11, "<b>ask legal</b>", client="tab"),
               {"client": "tab", "seq": 3, "kind": "undo"},
               judge(4, 0, 12, {"helpfulness": 9}, client="tab")]
    data = send(at, rated, actions)
    assert data["acks"] == {"tab": 4}
    outcomes = {o["seq"]: o for o in data["outcomes"] if o["client"] == "tab"}
    assert outcomes[2]["comment"]["body"] == "<b>ask legal</b>"
    assert outcomes[2]["comment"]["author"] == "ann"
    assert outcomes[3]["restored"] == {"verdict": "pass", "labels": [], "note": "", "fix": "",
                                       "scores": {"helpfulness": 4.0}}
    assert outcomes[4]["error"] == "helpfulness: rating 1–5, not 9"
    assert stored_comments(engine) == [(11, "ann", "<b>ask legal</b>")]
    assert send(at, rated, actions)["acks"] == {"tab": 4}  # resent: nothing again
    assert len(stored_comments(engine)) == 1 and len(stored_scores(engine)) == 1
