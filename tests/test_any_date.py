"""The demo and the views built on it, on the dates that break date arithmetic: a month start,
a year start, a Sunday, Feb 29, daylight-saving changes (the store is UTC, Europe's and the
US's clocks move), and times just before or after midnight.

Each date gets one small demo store, loaded with the clock anchored there; every test then runs
on that date, and checks the SQL-side figures (Home's glance, runs and attention, the Metrics
periods, the review habit) against a count over the raw rows.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine, select

from evalboard import clock
from evalboard.demo.builder import DEMO_DAYS, load_demo
from evalboard.demo.content import VERSIONS
from evalboard.metrics.axis import CallScope
from evalboard.metrics.calls import call_metrics
from evalboard.metrics.timeseries import calls_over_time
from evalboard.review.habit import coverage_per_day, review_streak, reviewed_per_day
from evalboard.runs.overview import failing_unreviewed_calls, latest_runs_by_version
from evalboard.store import open_store
from evalboard.store.models import Call, ModelVersion
from evalboard.store.review_models import Annotation
from evalboard.ui.metrics_view import PERIODS, scope_for
from tests.demo_facts import demo_content
from tests.pg_server import SERVER_ENV
from tests.support.apptest import open_page
from tests.support.stores import fresh_store

DATES = {
    "month-start": datetime(2026, 12, 1, 18, 0),  # Home's test failed then (v4: 0 regressions)
    "year-start": datetime(2027, 1, 1, 0, 0),
    "sunday": datetime(2026, 11, 29, 12, 0),
    "feb-29": datetime(2028, 2, 29, 23, 55),
    "eu-dst-start": datetime(2026, 3, 29, 1, 30),  # at 01:00 UTC Europe moves to summer time
    "eu-dst-end": datetime(2026, 10, 25, 0, 59),  # and at 01:00 UTC back
    "us-dst-end": datetime(2026, 11, 1, 6, 30),  # 2 am EDT (06:00 UTC) becomes 1 am EST
}
REFERENCE = datetime(2026, 11, 28, 12, 0)  # the day Home's test passed
SEED, CALLS = 2, 800


@dataclass(frozen=True)
class Demo:
    at: datetime
    url: str
    engine: Engine

    @property
    def today(self) -> datetime:
        return datetime.combine(self.at.date(), time.min)

    def calls(self) -> list[tuple[int, datetime, str, str]]:
        """(id, created_at, source, model version) of every call."""
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(
                select(Call.id, Call.created_at, Call.source, ModelVersion.name)
                .join(ModelVersion, Call.model_version_id == ModelVersion.id))]

    def judgements(self) -> list[tuple[int, str, datetime]]:
        """(call id, reviewer, created_at) of every judgement (the demo's are all current)."""
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(
                select(Annotation.call_id, Annotation.reviewer, Annotation.created_at))]


@contextmanager
def _demo_at(at: datetime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with fresh_store(os.environ.get(SERVER_ENV), tmp_path_factory.mktemp("any_date")) as url:
        engine = open_store(url)
        try:
            with clock.fixed(at):
                load_demo(engine, calls=CALLS, seed=SEED)  # `now` from the anchored clock
            yield Demo(at, url, engine)
        finally:
            engine.dispose()


@pytest.fixture(scope="module", params=list(DATES.values()), ids=list(DATES))
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Demo]:
    with _demo_at(request.param, tmp_path_factory) as built:
        yield built


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with _demo_at(REFERENCE, tmp_path_factory) as built:
        yield built


@pytest.fixture(autouse=True)
def on_its_date(demo: Demo, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test runs on its demo's date, against its store."""
    monkeypatch.setenv("EVALBOARD_DB_URL", demo.url)
    monkeypatch.setenv(clock.NOW_ENV, demo.at.isoformat())
    with clock.fixed(demo.at):
        yield


def _streak(days: set[date], today: date) -> int:
    cursor = today if today in days else today - timedelta(days=1)
    streak = 0
    while cursor in days:
        streak, cursor = streak + 1, cursor - timedelta(days=1)
    return streak


def test_the_demo_fills_the_four_weeks_up_to_its_date(demo: Demo) -> None:
    calls = demo.calls()
    assert len(calls) == CALLS
    start = demo.at - timedelta(days=DEMO_DAYS)
    assert all(start <= at <= clock.now() for _, at, _, _ in calls)
    with demo.engine.connect() as conn:
        created = dict(conn.execute(select(ModelVersion.name, ModelVersion.created_at)).all())
    order = [spec.name for spec in VERSIONS]
    assert sorted(created, key=created.__getitem__) == order
    assert start <= created[order[0]] and created[order[-1]] < demo.at
    per_version = Counter(version for _, _, source, version in calls if source == "production")
    assert all(per_version[name] > 0 for name in order)
    assert any(at >= demo.at - timedelta(days=7) for _, at, _, _ in calls)


def test_the_date_changes_no_call_review_or_run_result(demo: Demo, reference: Demo) -> None:
    assert demo_content(demo.engine) == demo_content(reference.engine)


def test_home_glance_runs_and_attention(demo: Demo) -> None:
    calls = demo.calls()
    today, week = demo.today, demo.today - timedelta(days=6)
    judged = demo.judgements()
    judged_ids = {call_id for call_id, _, _ in judged}
    recent = [(i, at) for i, at, source, _ in calls if source == "production" and at >= week]
    streak = _streak({at.date() for _, _, at in judged}, demo.at.date())
    assert streak > 0  # the demo reviewers judged up to its last day

    at = open_page(timeout=60)
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Calls logged today (UTC)"] == f"{sum(t >= today for _, t, _, _ in calls):,}"
    assert metrics["Calls in the last 7 days"] == f"{sum(t >= week for _, t, _, _ in calls):,}"
    share = sum(i in judged_ids for i, _ in recent) / len(recent)
    assert metrics["Of those, reviewed"] == f"{share:.1%}"
    assert metrics["Team review streak"] == f"{streak} day{'s' if streak != 1 else ''}"

    runs = latest_runs_by_version(demo.engine)
    assert [r.model_version for r in runs] == [spec.name for spec in VERSIONS]
    table = next(df.value for df in at.dataframe if "regressions" in df.value.columns)
    assert list(table["regressions"].fillna(-1)) == [
        -1 if r.regressions is None else r.regressions for r in runs]
    newest, failing = runs[-1], failing_unreviewed_calls(demo.engine)
    assert failing > 0 and newest.regressions
    links = " ".join(str(link.proto.label) for link in at.get("page_link"))
    assert f"{failing:,} calls failed a test case" in links
    assert f"{newest.regressions} regressions in {newest.model_version}" in links


@pytest.mark.parametrize("period", list(PERIODS))
def test_metrics_periods_count_the_calls_of_their_window(demo: Demo, period: str) -> None:
    scope = scope_for(period)
    days = PERIODS[period]
    if days is None:
        assert scope.since is None
    else:
        assert timedelta(0) <= scope.since - (demo.at - timedelta(days)) < timedelta(minutes=1)
    since = scope.since or datetime.min
    expected = Counter(version for _, at, source, version in demo.calls()
                       if source == "production" and at >= since)
    metrics = call_metrics(demo.engine, scope=scope)
    assert dict(zip(metrics["model_version"], metrics["calls"], strict=True)) == {
        spec.name: expected[spec.name] for spec in VERSIONS}
    for unit in ("day", "week"):
        series = calls_over_time(demo.engine, unit=unit, scope=scope)
        assert series["calls"].sum() == sum(expected.values())
        buckets = {pd.Timestamp(bucket).date() for bucket in series["bucket"]}
        assert max(buckets) <= demo.at.date()
        if unit == "week":
            assert {bucket.weekday() for bucket in buckets} == {0}


def test_review_habit_counts_days_up_to_today(demo: Demo) -> None:
    today = demo.at.date()
    calls = {i: at for i, at, source, _ in demo.calls() if source == "production"}
    judged = demo.judgements()
    first = today - timedelta(days=13)
    logged = Counter(at.date() for at in calls.values() if at.date() >= first)
    reviewed = Counter(calls[i].date() for i in {i for i, _, _ in judged if i in calls}
                       if calls[i].date() >= first)
    assert [(d.day, d.logged, d.reviewed) for d in coverage_per_day(demo.engine, days=14)] == [
        (day, logged[day], reviewed[day]) for day in sorted(logged)]

    per_day: dict[tuple[date, str], set[int]] = defaultdict(set)
    for call_id, reviewer, at in judged:
        if at.date() >= today - timedelta(days=29):
            per_day[(at.date(), reviewer)].add(call_id)
    assert reviewed_per_day(demo.engine, days=30) == [
        (day, reviewer, len(ids)) for (day, reviewer), ids in sorted(per_day.items())]
    for reviewer in (None, *sorted({r for _, r, _ in judged})):
        days = {at.date() for _, r, at in judged if reviewer in (None, r)}
        assert review_streak(demo.engine, reviewer) == _streak(days, today)
    assert review_streak(demo.engine, today=today + timedelta(days=2)) == 0


def test_a_window_of_the_period_scope_splits_at_midnight(demo: Demo) -> None:
    """A scope [yesterday 23:00, today 01:00) around the date's midnight counts exactly."""
    since, until = demo.today - timedelta(hours=1), demo.today + timedelta(hours=1)
    scope = CallScope(since=since, until=until)
    expected = Counter(version for _, at, source, version in demo.calls()
                       if source == "production" and since <= at < until)
    metrics = call_metrics(demo.engine, scope=scope)
    assert {v: c for v, c in zip(metrics["model_version"], metrics["calls"], strict=True)
            if c} == dict(expected)
