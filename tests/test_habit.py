"""The reviewing habit: per day and reviewer, daily coverage, streaks."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import update

from evalboard.review.annotations import Judgement, annotate, undo_last
from evalboard.review.habit import coverage_per_day, review_streak, reviewed_per_day
from evalboard.store.engine import write_connection
from evalboard.store.review_models import Annotation
from tests.support.calls import add_calls, make_rows

TODAY = date(2026, 11, 20)


def _at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour)


def _judge_on(engine, call_id: int, reviewer: str, day: date) -> int:
    annotation_id = annotate(engine, call_id, reviewer, Judgement("pass"))
    with write_connection(engine) as conn:
        conn.execute(update(Annotation).where(Annotation.id == annotation_id)
                     .values(created_at=_at(day)))
    return annotation_id


def test_reviewed_per_day_counts_distinct_live_calls(engine):
    add_calls(engine, make_rows(6, start=_at(TODAY - timedelta(days=2))))
    _judge_on(engine, 1, "ann", TODAY - timedelta(days=1))
    _judge_on(engine, 1, "ann", TODAY - timedelta(days=1))  # the same call again
    _judge_on(engine, 2, "ann", TODAY - timedelta(days=1))
    _judge_on(engine, 3, "bob", TODAY)
    _judge_on(engine, 4, "bob", TODAY - timedelta(days=40))  # outside the window
    assert reviewed_per_day(engine, days=30, today=TODAY) == [
        (TODAY - timedelta(days=1), "ann", 2), (TODAY, "bob", 1)]


def test_coverage_is_per_logging_day_and_ignores_retracted_reviews(engine):
    yesterday = add_calls(engine, make_rows(4, start=_at(TODAY - timedelta(days=1)),
                                            step=timedelta(hours=1))).ids
    today = add_calls(engine, make_rows(2, start=_at(TODAY), step=timedelta(hours=1))).ids
    add_calls(engine, [{"input": "eval", "source": "eval", "created_at": _at(TODAY)}])
    for call_id in (yesterday[0], yesterday[1], today[0]):
        annotate(engine, call_id, "ann", Judgement("fail"))
    annotate(engine, today[1], "ann", Judgement("pass"))
    undo_last(engine, "ann")  # today's second call is no longer reviewed
    days = coverage_per_day(engine, days=7, today=TODAY)
    assert [(d.day, d.logged, d.reviewed) for d in days] == [
        (TODAY - timedelta(days=1), 4, 2), (TODAY, 2, 1)]
    assert days[0].share == 0.5


def test_streak_counts_consecutive_days_up_to_today_or_yesterday(engine):
    add_calls(engine, make_rows(10, start=_at(TODAY - timedelta(days=10))))
    for offset, call_id in ((1, 1), (2, 2), (3, 3), (5, 4)):
        _judge_on(engine, call_id, "ann", TODAY - timedelta(days=offset))
    assert review_streak(engine, "ann", today=TODAY) == 3  # today not over yet
    _judge_on(engine, 5, "ann", TODAY)
    assert review_streak(engine, "ann", today=TODAY) == 4
    assert review_streak(engine, "bob", today=TODAY) == 0
    assert review_streak(engine, today=TODAY + timedelta(days=2)) == 0
