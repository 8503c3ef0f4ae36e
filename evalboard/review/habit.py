"""The reviewing habit: calls reviewed per day and reviewer, daily coverage, the streak."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import Engine, and_, func, select

from evalboard.review.annotations import is_reviewed, live_judgements
from evalboard.store.models import Call, utcnow
from evalboard.store.review_models import Annotation


@dataclass(frozen=True)
class DayCoverage:
    day: date
    logged: int
    reviewed: int

    @property
    def share(self) -> float:
        return self.reviewed / self.logged if self.logged else 0.0


def _day(column):  # type: ignore[no-untyped-def]
    return func.date(column)


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _window(days: int, today: date | None) -> tuple[date, datetime]:
    today = today or utcnow().date()
    first = today - timedelta(days=days - 1)
    return today, datetime.combine(first, time.min)


def reviewed_per_day(engine: Engine, days: int = 30, today: date | None = None
                     ) -> list[tuple[date, str, int]]:
    """(day, reviewer, distinct calls judged that day), for the last `days` days."""
    _, start = _window(days, today)
    with engine.connect() as conn:
        rows = conn.execute(
            select(_day(Annotation.created_at), Annotation.reviewer,
                   func.count(func.distinct(Annotation.call_id)))
            .where(live_judgements(), Annotation.created_at >= start)
            .group_by(_day(Annotation.created_at), Annotation.reviewer)
            .order_by(_day(Annotation.created_at), Annotation.reviewer)).all()
    return [(_as_date(day), reviewer, count) for day, reviewer, count in rows]


def coverage_per_day(engine: Engine, days: int = 14, today: date | None = None,
                     sources: tuple[str, ...] = ("production",)) -> list[DayCoverage]:
    """For each day's calls (by when they were logged), how many someone has judged."""
    _, start = _window(days, today)
    with engine.connect() as conn:
        logged = dict(conn.execute(
            select(_day(Call.created_at), func.count())
            .where(Call.created_at >= start, Call.source.in_(sources))
            .group_by(_day(Call.created_at))).all())
        reviewed = dict(conn.execute(
            select(_day(Call.created_at), func.count())
            .where(and_(Call.created_at >= start, Call.source.in_(sources), is_reviewed()))
            .group_by(_day(Call.created_at))).all())
    return [DayCoverage(_as_date(day), count, reviewed.get(day, 0))
            for day, count in sorted(logged.items())]


def review_streak(engine: Engine, reviewer: str | None = None, today: date | None = None
                  ) -> int:
    """Consecutive days with at least one judgement, ending today (or yesterday, when today
    has none yet: the streak is not broken before the day is over)."""
    today = today or utcnow().date()
    query = select(func.distinct(_day(Annotation.created_at))).where(live_judgements())
    if reviewer:
        query = query.where(Annotation.reviewer == reviewer)
    with engine.connect() as conn:
        days = {_as_date(day) for day in conn.scalars(query)}
    cursor = today if today in days else today - timedelta(days=1)
    streak = 0
    while cursor in days:
        streak += 1
        cursor -= timedelta(days=1)
    return streak
