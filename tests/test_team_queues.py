"""Review queues: overlap, reservations that lapse, skips, undo, assignees and progress;
adjudication and final answers; comments; the audit of a call."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from evalboard import clock
from evalboard.metrics.human import verdict_rates
from evalboard.review.agreement_query import agreement_report
from evalboard.review.annotations import (
    Judgement,
    annotate,
    current_judgements,
    rebuild_answer_flags,
)
from evalboard.review.sampling import SessionSpec
from evalboard.review.sessions import (
    get_session,
    item_at,
    items,
    judge_item,
    skip_item,
    undo_in_session,
)
from evalboard.store.calls_query import CallFilter
from evalboard.store.review_models import Annotation
from evalboard.teams.adjudication import (
    adjudicate,
    adjudication_of,
    pending_adjudication,
    withdraw_adjudication,
)
from evalboard.teams.audit import call_audit
from evalboard.teams.comments import CommentError, add_comment, comments
from evalboard.teams.queues import (
    QueueError,
    QueueSpec,
    add_calls,
    claims_of,
    create_queue,
    get_queue,
    list_queues,
    take_batch,
)
from tests.support.calls import T0, make_rows
from tests.support.calls import add_calls as add_call_rows

NOW = datetime(2026, 11, 20, 9, 0)


@pytest.fixture
def six(engine):
    add_call_rows(engine, make_rows(6, model_version="a"))
    return engine


@pytest.fixture
def at_now():
    with clock.fixed(NOW, ticking=False):
        yield


def _listed(ids, strategy="listed") -> SessionSpec:
    return SessionSpec(size=len(ids), strategy=strategy, call_ids=tuple(ids))


def _work(engine, session_id: int, reviewer: str, verdicts: dict[int, str]) -> None:
    """Answer every pending item of the batch, with the verdict given for its call."""
    for item in items(engine, session_id):
        if item.status == "pending":
            judge_item(engine, session_id, item.position, reviewer,
                       Judgement(verdicts.get(item.call_id, "pass")))


def test_overlap_two_hands_each_item_to_two_reviewers_and_never_twice_to_one(six, at_now):
    queue = create_queue(six, QueueSpec("overlap", _listed([1, 2, 3, 4]), reviewers_per_item=2),
                         "lead")
    ana = take_batch(six, queue, "ana", NOW, size=3)
    ben = take_batch(six, queue, "ben", NOW, size=3)
    cy = take_batch(six, queue, "cy", NOW, size=3)
    calls = {name: [i.call_id for i in items(six, sid)]
             for name, sid in (("ana", ana), ("ben", ben), ("cy", cy))}
    assert calls == {"ana": [1, 2, 3], "ben": [1, 2, 3], "cy": [4]}
    assert take_batch(six, queue, "ana", NOW) == ana  # an open batch is resumed, not doubled
    _work(six, ana, "ana", {1: "fail"})
    view = get_queue(six, queue, NOW, reviewer="ana")
    assert (view.items, view.answers, view.complete, view.mine_done) == (4, 3, 0, 3)
    assert view.mine_left == 1  # item 4 has one holder: ana may take it
    _work(six, ben, "ben", {})
    _work(six, cy, "cy", {})
    view = get_queue(six, queue, NOW, reviewer="ben")
    assert (view.answers, view.complete, view.remaining, view.mine_left) == (7, 3, 1, 1)
    assert view.per_reviewer == (("ana", 3, 0), ("ben", 3, 0), ("cy", 1, 0))
    last = take_batch(six, queue, "dee", NOW)
    assert [i.call_id for i in items(six, last)] == [4]
    assert take_batch(six, queue, "ben", NOW) is None  # item 4 has two holders now
    assert get_queue(six, queue, NOW, reviewer="ben").mine_left == 0
    _work(six, last, "dee", {})
    assert get_queue(six, queue, NOW).complete == 4
    assert take_batch(six, queue, "ana", NOW) is None


def test_a_lapsed_reservation_goes_to_the_next_reviewer_and_its_batch_passes_it_on(six):
    with clock.fixed(NOW, ticking=False):
        queue = create_queue(six, QueueSpec("lapse", _listed([1, 2]), reservation_minutes=30),
                             "lead")
        ana = take_batch(six, queue, "ana", NOW)
        judge_item(six, ana, 0, "ana", Judgement("pass"))  # renews the hold on call 2
    assert take_batch(six, queue, "ben", NOW + timedelta(minutes=29)) is None
    later = NOW + timedelta(minutes=31)
    ben = take_batch(six, queue, "ben", later)
    assert [i.call_id for i in items(six, ben)] == [2]
    with clock.fixed(later, ticking=False):
        # ana comes back: call 2 went to ben, so her batch passes it on and finishes
        assert take_batch(six, queue, "ana", later) is None
    assert get_session(six, ana).finished
    assert item_at(six, ana, 1).status == "skipped"
    assert sorted(claims_of(six, queue)) == [(1, "ana", "done"), (2, "ana", "reserved"),
                                             (2, "ben", "reserved")]
    # nothing of ana's was lost: her answer on call 1 stands
    assert [v.verdict for v in current_judgements(six, [1])[1]] == ["pass"]


def test_skip_passes_the_item_on_and_undo_takes_it_back(six, at_now):
    queue = create_queue(six, QueueSpec("skips", _listed([1, 2])), "lead")
    ana = take_batch(six, queue, "ana", NOW)
    skip_item(six, ana, 0, "ana")
    ben = take_batch(six, queue, "ben", NOW)
    assert [i.call_id for i in items(six, ben)] == [1]  # 2 is ana's, 1 was passed on
    judge_item(six, ana, 1, "ana", Judgement("fail"))
    undo_in_session(six, ana, "ana")  # the fail on call 2 is undone: she holds it again
    assert ("2", "ana", "reserved") in {(str(c), r, s) for c, r, s in claims_of(six, queue)}
    assert get_queue(six, queue, NOW).answers == 0
    assert take_batch(six, queue, "cy", NOW) is None


def test_assignees_and_checks(six, at_now):
    with pytest.raises(QueueError, match="at least as many assignees"):
        create_queue(six, QueueSpec("q", _listed([1]), reviewers_per_item=2,
                                    assignees=("ana",)), "lead")
    queue = create_queue(six, QueueSpec("named", _listed([1, 2]), assignees=("ana", "ben"),
                                        due_on=date(2026, 11, 20)), "lead")
    with pytest.raises(QueueError, match="assigned to ana, ben"):
        take_batch(six, queue, "cy", NOW)
    with pytest.raises(QueueError, match="exists already"):
        create_queue(six, QueueSpec("named", _listed([3])), "lead")
    assert [v.name for v in list_queues(six, NOW, "cy", mine_only=True)] == []
    view = list_queues(six, NOW, "ana", mine_only=True)[0]
    assert view.due_state(date(2026, 11, 21)) == "overdue" and view.mine_left == 2
    assert add_calls(six, queue, [2, 3, 4]) == 2
    assert get_queue(six, queue, NOW).items == 4


def test_a_queue_filled_by_a_strategy(six, at_now):
    queue = create_queue(six, QueueSpec("newest", SessionSpec(
        size=4, strategy="newest", call_filter=CallFilter(model_versions=("a",)))), "lead")
    assert get_queue(six, queue, NOW).items == 4
    with pytest.raises(QueueError, match="no calls match"):
        create_queue(six, QueueSpec("none", SessionSpec(
            size=4, strategy="newest", call_filter=CallFilter(model_versions=("zz",)))), "lead")


def test_random_work_never_exceeds_the_overlap(six):
    """Reviewers take, answer, skip, undo and walk away in random order; at any moment no
    item has more holders than the queue asks, and no reviewer holds an item twice."""
    rng = random.Random(5)
    now = NOW
    with clock.fixed(now, ticking=False):
        queue = create_queue(six, QueueSpec("random", _listed([1, 2, 3, 4, 5, 6]),
                                            reviewers_per_item=2, reservation_minutes=10),
                             "lead")
    for _ in range(120):
        now += timedelta(minutes=rng.choice([0, 1, 4, 12]))
        with clock.fixed(now, ticking=False):
            reviewer = rng.choice(["ana", "ben", "cy", "dee"])
            batch = take_batch(six, queue, reviewer, now, size=2)
            if batch is None:
                continue
            pending = [i for i in items(six, batch) if i.status == "pending"]
            move = rng.random()
            if pending and move < 0.6:
                judge_item(six, batch, pending[0].position, reviewer,
                           Judgement(rng.choice(["pass", "fail"])))
            elif pending and move < 0.75:
                skip_item(six, batch, pending[0].position, reviewer)
            elif move < 0.85:
                undo_in_session(six, batch, reviewer)
        with Session(six) as session:
            live = session.execute(text(
                "SELECT call_id, count(*) FROM queue_claims WHERE queue_id = :q AND "
                "(status = 'done' OR (status = 'reserved' AND expires_at > :now)) "
                "GROUP BY call_id"), {"q": queue, "now": now}).all()
        assert all(n <= 2 for _, n in live), live
    done = {(c, r) for c, r, s in claims_of(six, queue) if s == "done"}
    judged = {(a.call_id, a.reviewer) for views in current_judgements(six, range(1, 7)).values()
              for a in views}
    assert done <= judged  # every answer the queue counts is a reviewer's current judgement


def test_adjudication_is_final_while_agreement_reads_the_reviewers(six):
    annotate(six, 1, "ana", Judgement("pass"))
    annotate(six, 1, "ben", Judgement("fail", ("hallucination",), note="made up a date"))
    annotate(six, 2, "ana", Judgement("pass"))
    annotate(six, 2, "ben", Judgement("pass"))
    assert [d.call_id for d in pending_adjudication(six)] == [1]
    before = agreement_report(six)
    rates = verdict_rates(six, versions=["a"]).set_index("verdict")
    assert (rates.loc["pass", "count"], rates.loc["fail", "count"]) == (3, 1)
    adjudicate(six, 1, "lead", Judgement("fail", ("hallucination",), note="ben is right"))
    assert pending_adjudication(six) == []
    final = current_judgements(six, [1], final=True)[1]
    assert [(v.reviewer, v.action, v.verdict) for v in final] == [("lead", "adjudicate", "fail")]
    rates = verdict_rates(six, versions=["a"]).set_index("verdict")
    assert (rates.loc["pass", "count"], rates.loc["fail", "count"]) == (2, 1)
    assert agreement_report(six) == before  # computed on the answers before adjudication
    # a reviewer changing their mind later does not undo the final answer
    annotate(six, 1, "ana", Judgement("unsure"))
    assert [v.reviewer for v in current_judgements(six, [1], final=True)[1]] == ["lead"]
    assert withdraw_adjudication(six, 1, "lead")
    assert adjudication_of(six, 1) is None
    assert sorted(v.verdict for v in current_judgements(six, [1], final=True)[1]) == [
        "fail", "unsure"]
    with Session(six) as session:  # the flags equal what a rebuild from the rows computes
        kept = session.execute(select(Annotation.id, Annotation.is_current, Annotation.is_final)
                               .order_by(Annotation.id)).all()
        rebuild_answer_flags(session.connection())
        assert session.execute(select(Annotation.id, Annotation.is_current, Annotation.is_final)
                               .order_by(Annotation.id)).all() == kept


def test_comments_and_the_audit_of_a_call(six, at_now):
    with pytest.raises(CommentError, match="write something"):
        add_comment(six, 1, "ana", "   ")
    with pytest.raises(CommentError, match="no call 99"):
        add_comment(six, 99, "ana", "hi")
    add_comment(six, 1, "ana", "Is the date right?", now=T0 + timedelta(hours=1))
    add_comment(six, 1, "ben", "No: 1998.", now=T0 + timedelta(hours=2))
    assert [(c.author, c.body) for c in comments(six, 1)] == [
        ("ana", "Is the date right?"), ("ben", "No: 1998.")]
    with clock.fixed(T0 + timedelta(hours=3), ticking=False):
        annotate(six, 1, "ana", Judgement("fail"))
    with clock.fixed(T0 + timedelta(hours=4), ticking=False):
        adjudicate(six, 1, "lead", Judgement("fail", ("hallucination",)))
    events = [(e.who, e.what) for e in call_audit(six, 1)]
    assert events == [("ana", "commented"), ("ben", "commented"), ("ana", "judged"),
                      ("lead", "adjudicated")]
