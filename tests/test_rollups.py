"""The daily call rollups: kept current on every write, rebuilt from the calls to the same
figures, and read by the over-time and per-version call metrics (exact counts and means;
latency percentiles from the histogram within 0.5% above the exact limit)."""

from __future__ import annotations

import random
import re
from datetime import date, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import func, select, text

from evalboard.demo.builder import load_demo
from evalboard.exchange.importing import import_file
from evalboard.metrics import CallScope, call_metrics, calls_over_time, latency_over_time
from evalboard.metrics.daily import (
    DaySplit,
    histogram_percentile,
    histogram_rollup_query,
    partial_day_query,
    split_scope,
    totals_rollup_query,
)
from evalboard.metrics.dialect import nearest_rank
from evalboard.runs.results import run_summary
from evalboard.store import migrate, open_store
from evalboard.store.calls_counts import (
    _counted_from_calls,
    _counts,
    _rollups_answer,
    count_by_version,
    count_calls,
)
from evalboard.store.calls_query import CallFilter
from evalboard.store.engine import make_engine
from evalboard.store.models import Call
from evalboard.store.rollup_models import CallDay, CallLatencyDay
from evalboard.store.rollups import (
    RELATIVE_ACCURACY,
    ZERO_BUCKET,
    bucket_value,
    latency_bucket,
    rebuild_rollups,
)
from evalboard.store.run_models import EvalRun, RunTotal
from tests.support.calls import add_calls
from tests.support.marks import sqlite_only
from tests.support.query_plans import query_plan

T0 = datetime(2026, 11, 2, 0, 0)


def _traffic(count: int = 400, seed: int = 7) -> list[dict]:
    """Calls over five days, three versions, two sources; some without latency or tokens,
    some with errors, a few with zero latency."""
    rng = random.Random(seed)
    rows = []
    for k in range(count):
        latency = None if k % 11 == 0 else (0.0 if k % 37 == 0 else round(
            rng.lognormvariate(5, 1), 1))
        rows.append({"input": f"prompt {k}", "model_version": f"v{k % 3 + 1}",
                     "source": "eval" if k % 5 == 0 else "production",
                     "created_at": T0 + timedelta(minutes=rng.randrange(5 * 24 * 60)),
                     "latency_ms": latency,
                     "prompt_tokens": None if k % 7 == 0 else rng.randrange(1, 500),
                     "completion_tokens": None if k % 13 == 0 else rng.randrange(1, 300),
                     "error": "boom" if k % 17 == 0 else None})
    return rows


def _rollups(engine) -> tuple[list[tuple], list[tuple]]:
    with engine.connect() as conn:
        days = conn.execute(select(*CallDay.__table__.columns).order_by(
            CallDay.day, CallDay.model_version_id, CallDay.source)).all()
        latencies = conn.execute(select(*CallLatencyDay.__table__.columns).order_by(
            CallLatencyDay.day, CallLatencyDay.model_version_id, CallLatencyDay.source,
            CallLatencyDay.bucket)).all()
    return ([(*row[:6], round(row[6], 6), *row[7:]) for row in days],
            [tuple(row) for row in latencies])


def _calls_frame(engine) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(select(Call.created_at, Call.model_version_id, Call.source,
                                   Call.error, Call.latency_ms, Call.prompt_tokens,
                                   Call.completion_tokens)).all()
    return pd.DataFrame(rows, columns=["created_at", "version", "source", "error", "latency",
                                       "prompt", "completion"])


# --------------------------------------------------------------------------- kept on write


def test_every_write_keeps_the_rollups_equal_to_the_calls(engine, tmp_path):
    rows = _traffic()
    for start in range(0, len(rows), 57):  # many small batches, days and keys repeating
        add_calls(engine, rows[start:start + 57])
    # an import with an external id written twice: the repeat adds nothing
    lines = [f'{{"input": "imported {k}", "output": "o", "model_version": "v1", '
             f'"created_at": "2026-11-03T10:00:00", "latency_ms": {k + 1}, "id": "x{k}"}}'
             for k in range(30)]
    path = tmp_path / "calls.jsonl"
    path.write_text("\n".join(lines) + "\n")
    import_file(engine, path, source="import")
    import_file(engine, path, source="import")
    kept = _rollups(engine)

    calls = _calls_frame(engine)
    assert len(calls) == 430
    calls["day"] = pd.to_datetime(calls["created_at"]).dt.date
    expected = []
    for (day, version, source), group in calls.groupby(["day", "version", "source"]):
        latency = group["latency"].dropna()
        expected.append((day, version, source, len(group), int(group["error"].notna().sum()),
                         len(latency), round(float(latency.sum()), 6),
                         int(group["prompt"].notna().sum()), int(group["prompt"].sum()),
                         int(group["completion"].notna().sum()),
                         int(group["completion"].sum())))
    assert kept[0] == expected
    assert sum(row[-1] for row in kept[1]) == int(calls["latency"].notna().sum())

    with engine.begin() as conn:
        assert rebuild_rollups(conn) == 430
    assert _rollups(engine) == kept


@sqlite_only
def test_the_migration_fills_the_rollups_of_a_store_with_calls(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate.upgrade(engine, "0007")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO model_versions (id, name, created_at) "
                          "VALUES (1, 'v1', '2026-11-01 00:00:00.000000')"))
        conn.execute(text(
            "INSERT INTO calls (id, created_at, model_version_id, source, input_text, "
            "latency_ms, prompt_tokens, error, input_hash) VALUES "
            "(1, '2026-11-02 10:00:00.000000', 1, 'production', 'a', 120.0, 3, NULL, 'h1'), "
            "(2, '2026-11-02 23:59:59.000000', 1, 'production', 'b', 80.0, NULL, 'x', 'h2'), "
            "(3, '2026-11-03 00:00:00.000000', 1, 'eval', 'c', NULL, 5, NULL, 'h3')"))
    migrate.upgrade(engine)
    days, latencies = _rollups(engine)
    assert days == [(date(2026, 11, 2), 1, "production", 2, 1, 2, 200.0, 1, 3, 0, 0),
                    (date(2026, 11, 3), 1, "eval", 1, 0, 0, 0.0, 1, 5, 0, 0)]
    assert sorted(row[3] for row in latencies) == sorted(
        [latency_bucket(80.0), latency_bucket(120.0)])


# --------------------------------------------------------------------------- the histogram


def test_a_bucket_stands_for_its_values_within_the_relative_accuracy():
    rng = random.Random(3)
    for value in [0.001, 0.5, 1.0, 7.3, 999.9, 1e6, *(rng.lognormvariate(6, 2) for _ in
                                                       range(2000))]:
        represented = bucket_value(latency_bucket(value))
        assert abs(represented - value) <= RELATIVE_ACCURACY * value * (1 + 1e-9), value
    assert latency_bucket(0.0) == ZERO_BUCKET and bucket_value(ZERO_BUCKET) == 0.0
    assert latency_bucket(10.0) < latency_bucket(10.2)  # 2% apart: never the same bucket


def test_histogram_percentiles_are_nearest_rank_within_the_accuracy():
    rng = random.Random(5)
    values = sorted(round(rng.lognormvariate(5, 0.8), 1) for _ in range(1001)) + [0.0]
    values.sort()
    histogram: dict[int, int] = {}
    for value in values:
        histogram[latency_bucket(value)] = histogram.get(latency_bucket(value), 0) + 1
    for q in (0.001, 0.25, 0.5, 0.95, 0.99, 1.0):
        exact = values[nearest_rank(q, len(values)) - 1]
        assert histogram_percentile(histogram, q) == pytest.approx(
            exact, rel=RELATIVE_ACCURACY, abs=1e-12)
    assert histogram_percentile({}, 0.5) is None


# --------------------------------------------------------------------------- scopes


@pytest.mark.parametrize(("since", "until", "expected"), [
    (None, None, DaySplit(None, None, True, ())),
    (T0, None, DaySplit(T0.date(), None, True, ())),
    (T0 + timedelta(hours=9), None,
     DaySplit(date(2026, 11, 3), None, True, ((T0 + timedelta(hours=9), T0 + timedelta(1)),))),
    (None, T0 + timedelta(days=2, hours=3),
     DaySplit(None, date(2026, 11, 4), True,
              ((T0 + timedelta(2), T0 + timedelta(days=2, hours=3)),))),
    (T0 + timedelta(hours=9), T0 + timedelta(days=1, hours=2),  # less than two days
     DaySplit(None, None, False, ((T0 + timedelta(hours=9), T0 + timedelta(days=1, hours=2)),))),
    (T0, T0 + timedelta(days=3), DaySplit(T0.date(), date(2026, 11, 5), True, ())),
    (T0 + timedelta(1), T0, DaySplit(None, None, False, ())),  # empty
])
def test_a_scope_splits_into_whole_days_and_parts_of_days(since, until, expected):
    assert split_scope(CallScope(since=since, until=until)) == expected


@pytest.mark.parametrize("unit", ["day", "week"])
@pytest.mark.parametrize("source", ["production", None])
def test_over_time_and_per_version_figures_match_the_calls_for_any_scope(engine, unit, source):
    add_calls(engine, _traffic(600))
    calls = _calls_frame(engine)
    rng = random.Random(11)
    for _ in range(4):
        since = T0 + timedelta(minutes=rng.randrange(3 * 24 * 60))
        until = since + timedelta(minutes=rng.randrange(30, 3 * 24 * 60))
        scope = CallScope(source=source, since=since, until=until)
        inside = calls[(calls["created_at"] >= since) & (calls["created_at"] < until)]
        if source:
            inside = inside[inside["source"] == source]
        frame = calls_over_time(engine, unit=unit, scope=scope)
        assert frame["calls"].sum() == len(inside)
        assert frame["errors"].sum() == inside["error"].notna().sum()
        per_version = call_metrics(engine, scope=scope)
        assert not per_version.attrs["approximate"]
        for version_id, group in inside.groupby("version"):
            row = per_version.loc[per_version["model_version"] == f"v{version_id}"].iloc[0]
            assert row["calls"] == len(group)
            assert row["mean_prompt_tokens"] == pytest.approx(group["prompt"].mean())
            latency = group["latency"].dropna().sort_values().tolist()
            assert row["latency_calls"] == len(latency)
            if latency:
                assert row["latency_p95"] == latency[nearest_rank(0.95, len(latency)) - 1]


def test_above_the_exact_limit_percentiles_come_from_the_histogram(engine):
    add_calls(engine, _traffic(600))
    scope = CallScope(since=T0 + timedelta(hours=5))
    exact = call_metrics(engine, scope=scope)
    approximate = call_metrics(engine, scope=scope, exact_limit=0)
    assert not exact.attrs["approximate"] and approximate.attrs["approximate"]
    for column in ("calls", "errors", "latency_calls", "mean_prompt_tokens"):
        assert approximate[column].tolist() == exact[column].tolist()
    for column in ("latency_p50", "latency_p95"):
        assert approximate[column].tolist() == pytest.approx(
            exact[column].tolist(), rel=RELATIVE_ACCURACY)
    exact_days = latency_over_time(engine, scope=scope)
    approximate_days = latency_over_time(engine, scope=scope, exact_limit=0)
    assert approximate_days.attrs["approximate"] and not exact_days.attrs["approximate"]
    assert approximate_days["latency_calls"].tolist() == exact_days["latency_calls"].tolist()
    assert approximate_days["latency_p95"].tolist() == pytest.approx(
        exact_days["latency_p95"].tolist(), rel=RELATIVE_ACCURACY)


# --------------------------------------------------------------------------- plans


@sqlite_only
def test_rollup_reads_use_their_keys_and_parts_of_days_the_time_index(engine):
    add_calls(engine, _traffic(200))
    scope = CallScope(since=T0 + timedelta(hours=5), until=T0 + timedelta(days=3, hours=1))
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        for query, table in ((totals_rollup_query(scope, [1, 2, 3]), "call_days"),
                             (histogram_rollup_query(scope, [1, 2, 3]), "call_latency_days")):
            plan = " | ".join(query_plan(conn, query))
            assert f"SEARCH {table} USING INDEX sqlite_autoindex_{table}_1 (day>? AND day<?)" \
                in plan, plan
        start, end = split_scope(scope).partial[0]
        plan = " | ".join(query_plan(conn, partial_day_query(scope, [1, 2, 3], start, end)))
        # a seek to the part of the day, by version or by source: never a walk of every call
        assert re.search(r"USING INDEX ix_calls_(version|source)_created_at \((model_version_id|"
                         r"source)=\? AND created_at>\? AND created_at<\?\)", plan), plan
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(CallDay)) > 0


def test_browse_counts_from_the_rollups_equal_counts_of_the_calls(engine):
    add_calls(engine, _traffic(500))
    rng = random.Random(19)
    with engine.connect() as conn:  # parts of days of every length: some read as day less rest
        for k in range(80):
            since = T0 + timedelta(minutes=rng.randrange(4 * 24 * 60))
            f = CallFilter(
                since=since if k % 3 else None,
                until=since + timedelta(minutes=rng.randrange(10, 3 * 24 * 60)) if k % 4 else None,
                model_versions=("v1", "v3") if k % 2 else (),
                sources=("eval",) if k % 5 == 0 else (),
                errors_only=k % 6 == 0)
            assert _rollups_answer(f)
            assert _counts(conn, f) == _counted_from_calls(conn, f), f
    searched = CallFilter(search="prompt", model_versions=("v2",))
    assert not _rollups_answer(searched)
    assert count_by_version(engine, searched) == [("v2", 167)]
    assert count_calls(engine) == 500
    assert count_calls(engine, CallFilter(since=T0 + timedelta(days=4, hours=12))) == sum(
        1 for row in _traffic(500) if row["created_at"] >= T0 + timedelta(days=4, hours=12))


# --------------------------------------------------------------------------- run totals


def test_run_totals_written_at_finish_match_each_runs_summary(engine):
    load_demo(engine, calls=300, seed=8)
    with engine.connect() as conn:
        runs = conn.execute(select(EvalRun.id).where(EvalRun.status == "finished")).scalars()
        run_ids = list(runs)
        totals = conn.execute(select(RunTotal.run_id, RunTotal.kind, RunTotal.key,
                                     RunTotal.passed, RunTotal.total)).all()
    assert run_ids
    for run_id in run_ids:
        summary = run_summary(engine, run_id)
        mine = {(kind, key): (passed, total) for r, kind, key, passed, total in totals
                if r == run_id}
        assert mine.pop(("run", "")) == (summary.passed, summary.scored)
        assert {key: v for (kind, key), v in mine.items() if kind == "label"} == summary.by_label
        assert {key: v for (kind, key), v in mine.items() if kind == "check"} == summary.by_check


@sqlite_only
def test_the_migration_writes_the_totals_of_finished_runs(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path / 'runs.db'}")
    load_demo(engine, calls=200, seed=9)
    with engine.begin() as conn:
        expected = conn.execute(select(RunTotal.__table__).order_by(
            RunTotal.run_id, RunTotal.kind, RunTotal.key)).all()
    migrate.downgrade(engine, "0008")
    migrate.upgrade(engine)
    with engine.begin() as conn:
        assert conn.execute(select(RunTotal.__table__).order_by(
            RunTotal.run_id, RunTotal.kind, RunTotal.key)).all() == expected
    assert expected
