"""Counts of the calls a filter matches, per model version: from the daily rollups where
they answer, from the calls (or the full-text index) where they do not."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, fields, replace
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    func,
    select,
    true,
)

from evalboard.store.calls_query import CallFilter, filter_conditions, version_ids
from evalboard.store.models import Call, ModelVersion
from evalboard.store.prune import pruned_before
from evalboard.store.review_filter import judges
from evalboard.store.rollup_models import CallDay
from evalboard.store.rollups import day_conditions, split_days
from evalboard.store.search import (
    count_search_matches,
)


def _counted_from_calls(conn: Connection, f: CallFilter) -> dict[int, int]:
    rows = conn.execute(
        select(Call.model_version_id, func.count())
        .where(and_(true(), *filter_conditions(conn, f)))
        .group_by(Call.model_version_id)
    ).all()
    return {version_id: count for version_id, count in rows}


ROLLUP_FIELDS = frozenset({"model_versions", "sources", "since", "until", "errors_only"})


def _rollups_answer(f: CallFilter) -> bool:
    """The daily rollups can count a filter of versions, sources, a time range and errors
    (any other field set, a filter added later too, counts from the calls)."""
    return all(getattr(f, field.name) == field.default for field in fields(f)
               if field.name not in ROLLUP_FIELDS)


def _counts(conn: Connection, f: CallFilter) -> dict[int, int]:
    """Calls matching a filter per model version id: whole days from the daily rollups and
    the parts of days at the ends of the range from the calls, when the rollups can count
    the filter; otherwise from the calls. Calls nobody reviewed are every call less the
    reviewed ones (the reviewed are the few)."""
    if f.reviewed is False and not (judges(f) or f.promoted):
        every = _counts(conn, replace(f, reviewers=(), reviewed=None))
        judged = _counts(conn, replace(f, reviewed=True))
        left = {vid: n - judged.get(vid, 0) for vid, n in every.items()}
        return {vid: n for vid, n in left.items() if n}
    if not _rollups_answer(f):
        return _counted_from_calls(conn, f)
    kept_from = _whole_days_kept_from(conn)
    if kept_from is not None and (f.since is None or f.since < kept_from):
        # a prune deleted calls before its cutoff, and the rollups keep counting them (charts
        # over time stay whole): the days up to the cutoff's are counted from the calls left
        older = _counted_from_calls(conn, replace(
            f, until=kept_from if f.until is None else min(f.until, kept_from)))
        if f.until is not None and f.until <= kept_from:
            return older
        newer = _counts(conn, replace(f, since=kept_from))
        return {vid: older.get(vid, 0) + newer.get(vid, 0)
                for vid in older.keys() | newer.keys()}
    split = split_days(f.since, f.until)
    counts: Counter[int] = Counter()
    if split.whole_days:
        counts.update(_rolled_up(conn, f, day_conditions(CallDay.day, split)))
    for start, end in split.partial:
        counts.update(_part_of_day(conn, f, start, end))
    return {version_id: count for version_id, count in counts.items() if count}


def _rolled_up(conn: Connection, f: CallFilter, days: list[Any]) -> Counter[int]:
    """The daily rollups' count of a filter per version id over the days `days` keep."""
    counted = CallDay.errors if f.errors_only else CallDay.calls
    query = select(CallDay.model_version_id, func.sum(counted)).where(*days)
    if f.model_versions:
        query = query.where(CallDay.model_version_id.in_(version_ids(conn, f.model_versions)))
    if f.sources:
        query = query.where(CallDay.source.in_(f.sources))
    return Counter({version_id: int(count) for version_id, count in conn.execute(
        query.group_by(CallDay.model_version_id))})


def _part_of_day(conn: Connection, f: CallFilter, start: datetime, end: datetime
                 ) -> Counter[int]:
    """The count of [start, end) within one day: from the calls when it is at most half the
    day, else the day's rollup less the calls of the rest of the day (for "the last 7 days"
    ending now, today less the calls after now: next to none), so at most half a day of
    calls is read (at 10M calls a day holds ~170,000)."""
    day = start.date()
    midnight = datetime.combine(day, time())
    if end - start <= timedelta(hours=12) or end > midnight + timedelta(days=1):
        return Counter(_counted_from_calls(conn, replace(f, since=start, until=end)))
    counts = _rolled_up(conn, f, [CallDay.day == day])
    for rest_start, rest_end in ((midnight, start), (end, midnight + timedelta(days=1))):
        if rest_start < rest_end:
            counts.subtract(_counted_from_calls(conn, replace(f, since=rest_start,
                                                              until=rest_end)))
    return counts


def _whole_days_kept_from(conn: Connection) -> datetime | None:
    """The first midnight after the newest prune's cutoff (None if the store was never
    pruned): from there on the daily rollups count only calls that are still stored."""
    cutoff = pruned_before(conn)
    if cutoff is None:
        return None
    return datetime.combine(cutoff.date() + timedelta(days=1), time())


def count_by_version(engine: Engine, f: CallFilter) -> list[tuple[str, int]]:
    """How many calls of each model version match the filter, largest first."""
    with engine.connect() as conn, conn.begin():
        counts = _counts(conn, f)
        names = dict(conn.execute(select(ModelVersion.id, ModelVersion.name)).all())
    return sorted(((names[vid], n) for vid, n in counts.items()),
                  key=lambda item: (-item[1], item[0]))


SPLIT_BOUND = 20_000  # a search-only filter matching more: no per-version split unless asked
PG_SEARCH_COUNT_BOUND = 1_000  # PostgreSQL counts a search alone up to this many (see below)


@dataclass(frozen=True)
class MatchCounts:
    """How many calls match a Browse filter, and how many per model version (None when not
    counted: a search alone matching more than the split bound). When not `exact`, more than
    `total` match (PostgreSQL stops counting a search alone there)."""

    total: int
    per_version: list[tuple[str, int]] | None
    exact: bool = True

    def describe(self) -> str:
        """The total as a person reads it: "1,234", or "more than 20,000"."""
        return f"{self.total:,}" if self.exact else f"more than {self.total:,}"


def browse_counts(engine: Engine, f: CallFilter, split_bound: int | None = SPLIT_BOUND
                  ) -> MatchCounts:
    """The Browse page's counts. A search with no other filter that matches more than
    `split_bound` calls is not split per version (that would look up every match): SQLite
    counts it exactly in the full-text index alone; PostgreSQL, whose count of a search reads
    every matching row (~1 s for 300,000 of a million calls; ~120 ms for the first 20,000 of
    ten million), stops at PG_SEARCH_COUNT_BOUND and says "more than". Every other filter is
    counted per version."""
    search_alone = f.search.strip() and f == CallFilter(search=f.search,
                                                        advanced_search=f.advanced_search)
    if split_bound is not None and search_alone:
        exact = engine.dialect.name != "postgresql"
        bound = split_bound if exact else min(split_bound, PG_SEARCH_COUNT_BOUND)
        with engine.connect() as conn:
            total = count_search_matches(conn, f.search, f.advanced_search,
                                         None if exact else bound + 1)
        if total is not None and total > bound:
            return MatchCounts(total if exact else bound, None, exact)
    per_version = count_by_version(engine, f)
    return MatchCounts(sum(n for _, n in per_version), per_version)


def count_calls(engine: Engine, f: CallFilter | None = None) -> int:
    """How many calls match the filter (every call without one)."""
    with engine.connect() as conn, conn.begin():
        return sum(_counts(conn, f or CallFilter()).values())


def has_calls(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(Call.id).limit(1)).first() is not None
