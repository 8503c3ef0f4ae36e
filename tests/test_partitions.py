"""Calls partitioned by month (PostgreSQL): the conversion keeps every row, writers make the
months they need, a prune drops whole old months keeping what people made, and a partitioned
store prunes to exactly what the same store in one table prunes to."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from evalboard import clock
from evalboard.cli.db_commands import prune_lines
from evalboard.metrics import calls_over_time
from evalboard.store import open_store
from evalboard.store.case_models import EvalCase, Suite
from evalboard.store.engine import is_sqlite, write_session
from evalboard.store.models import Call
from evalboard.store.monitor_models import Monitor, MonitorResult
from evalboard.store.partitions import (
    DEFAULT_PARTITION,
    PartitionError,
    is_partitioned,
    month_partitions,
    partition_calls_by_month,
)
from evalboard.store.prune import PruneOptions, prune_calls, read_archive
from evalboard.store.review_models import Annotation
from evalboard.store.search import search_condition
from evalboard.store.team_models import CallComment
from tests.pg_server import SERVER_ENV
from tests.support.calls import add_calls, make_rows
from tests.support.stores import PARTITIONED_ENV, fresh_store

NOW = datetime(2026, 11, 30, 12, 0)
START = datetime(2026, 7, 10)  # calls from July to November
# the tests convert a store: they need PostgreSQL and stores whose calls are one table
pg_only = pytest.mark.skipif(
    not os.environ.get(SERVER_ENV) or bool(os.environ.get(PARTITIONED_ENV)),
    reason="converts a PostgreSQL store whose calls are one table")


@pytest.fixture(autouse=True)
def _stopped_clock() -> Iterator[None]:
    with clock.fixed(NOW, ticking=False):
        yield


def _rows(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(
            select(Call.__table__).order_by(Call.id))]


def _where(engine: Engine) -> dict[int, str]:
    """Each call's partition."""
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT id, tableoid::regclass::text FROM calls")).all())


def _fill(engine: Engine, seed: int, calls: int = 540) -> None:
    """Calls every ~6 hours from July on; reviews, comments, a case and monitor results on
    random ones."""
    rng = random.Random(seed)
    add_calls(engine, make_rows(calls, start=START, step=timedelta(hours=6)))
    ids = sorted(row["id"] for row in _rows(engine))
    with write_session(engine) as session:
        monitor = Monitor(name="tone", checks=[], model_versions=[], metadata_filter={})
        session.add(monitor)
        session.flush()
        for call_id in rng.sample(ids, 40):
            session.add(Annotation(call_id=call_id, reviewer="ann", verdict="fail",
                                   is_current=True, is_final=True))
        for call_id in rng.sample(ids, 10):
            session.add(CallComment(call_id=call_id, author="bo", body="look"))
        suite = Suite(name="from calls")
        session.add(suite)
        session.flush()
        session.add(EvalCase(suite_id=suite.id, name="from a call", mode="failure",
                             origin_call_id=ids[3]))
        for call_id in rng.sample(ids, 80):
            session.add(MonitorResult(monitor_id=monitor.id, call_id=call_id,
                                      model_version_id=1, call_created_at=START,
                                      check_name="polite", passed=True, score=1.0))


def _state(engine: Engine) -> dict[str, object]:
    with engine.connect() as conn:
        return {
            "calls": sorted(conn.execute(select(Call.id)).scalars()),
            "monitor": sorted(conn.execute(select(MonitorResult.call_id)).scalars()),
            "annotations": sorted(conn.execute(select(Annotation.call_id)).scalars()),
            "comments": sorted(conn.execute(select(CallComment.call_id)).scalars()),
            "origins": sorted(conn.execute(select(EvalCase.origin_call_id)).scalars(),
                              key=lambda value: (value is None, value or 0)),
        }


@pg_only
def test_conversion_keeps_every_row_index_and_search(engine: Engine) -> None:
    _fill(engine, seed=1)
    rows, state = _rows(engine), _state(engine)
    with engine.connect() as conn:
        found = sorted(conn.execute(select(Call.id).where(
            search_condition("postgresql", "number 17"))).scalars())
        indexes = set(conn.execute(text(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'calls'")).scalars())
    assert found

    report = partition_calls_by_month(engine, NOW)

    assert report.calls == len(rows)
    assert report.months == [f"calls_y2026m{month:02d}" for month in range(7, 13)]
    assert len(report.foreign_keys_dropped) == 14
    assert _rows(engine) == rows and _state(engine) == state
    with engine.connect() as conn:
        assert is_partitioned(conn)
        assert [month.name for month in month_partitions(conn)] == report.months
        assert sorted(conn.execute(select(Call.id).where(
            search_condition("postgresql", "number 17"))).scalars()) == found
        assert set(conn.execute(text(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'calls'")).scalars()) == indexes
        key = conn.execute(text(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'pk_calls'"
        )).scalar_one()
    assert key == "PRIMARY KEY (id, created_at)"
    assert {name for name in _where(engine).values()} <= set(report.months)
    with pytest.raises(PartitionError, match="already"):
        partition_calls_by_month(engine, NOW)


@pg_only
def test_writers_make_the_months_they_need(engine: Engine) -> None:
    partition_calls_by_month(engine, NOW)
    later = datetime(2027, 5, 20)
    summary = add_calls(engine, make_rows(3, start=later) + [
        {"input": "repeat", "external_id": "x-1", "created_at": later},
        {"input": "repeat", "external_id": "x-1", "created_at": later}])
    assert summary.inserted == 4 and summary.already_present == 1
    with engine.connect() as conn:
        names = [month.name for month in month_partitions(conn)]
    assert "calls_y2027m05" in names and "calls_y2027m06" in names  # and the next month
    assert set(_where(engine).values()) == {"calls_y2027m05"}
    # a second engine (another process) sees the partitions and writes into them
    other = open_store(engine.url.render_as_string(hide_password=False))
    try:
        add_calls(other, make_rows(2, start=datetime(2027, 6, 2)))
    finally:
        other.dispose()
    assert sorted(_where(engine).values()).count("calls_y2027m06") == 2


@pg_only
def test_a_pruned_month_is_dropped_and_its_kept_calls_stay(engine: Engine,
                                                           tmp_path: Path) -> None:
    _fill(engine, seed=2)
    partition_calls_by_month(engine, NOW)
    cutoff = datetime(2026, 9, 15)
    before = _state(engine)
    charts = [calls_over_time(engine), calls_over_time(engine, unit="week")]
    with engine.connect() as conn:
        old = set(conn.execute(select(Call.id).where(Call.created_at < cutoff)).scalars())
    kept = old & (set(before["annotations"]) | set(before["comments"])
                  | {value for value in before["origins"] if value is not None})
    assert kept and old - kept

    dry = prune_calls(engine, PruneOptions(NOW - cutoff, dry_run=True))
    assert dry.dropped_months == ["calls_y2026m07", "calls_y2026m08"]
    report = prune_calls(engine, PruneOptions(NOW - cutoff, archive=tmp_path / "archive"))

    assert report.dropped_months == ["calls_y2026m07", "calls_y2026m08"]
    assert report.removed["calls"] == len(old - kept) == dry.removed["calls"]
    assert report.kept_calls == len(kept)
    after = _state(engine)
    assert set(after["calls"]) == set(before["calls"]) - (old - kept)
    where = _where(engine)
    with engine.connect() as conn:  # each dropped month is a partition of its kept calls now
        assert [month.name for month in month_partitions(conn)][:3] == [
            "calls_y2026m07", "calls_y2026m08", "calls_y2026m09"]
        kept_in = {name: set(conn.execute(text(f"SELECT id FROM {name}")).scalars())
                   for name in ("calls_y2026m07", "calls_y2026m08")}
        assert kept_in["calls_y2026m07"] | kept_in["calls_y2026m08"] == {
            call_id for call_id in kept if where[call_id] != "calls_y2026m09"}
        assert not conn.execute(text(
            "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relname LIKE '%kept%'")).scalar()
    assert set(after["monitor"]) == {call_id for call_id in before["monitor"]
                                     if call_id not in old - kept}
    assert after["annotations"] == before["annotations"]
    assert after["comments"] == before["comments"]
    for was, now in zip(charts, [calls_over_time(engine), calls_over_time(engine, unit="week")],
                        strict=True):
        pd.testing.assert_frame_equal(was, now)
    assert sorted(row["id"] for row in read_archive(tmp_path / "archive", "calls")) == sorted(
        old - kept)
    assert any(line.startswith("dropped 2 month partition(s): calls_y2026m07, calls_y2026m08")
               for line in prune_lines(report))
    # a call of a dropped month can still be logged, into its month
    add_calls(engine, [{"input": "late import", "created_at": datetime(2026, 7, 20)}])
    with engine.connect() as conn:
        late = conn.execute(text(
            "SELECT tableoid::regclass::text FROM calls WHERE input_text = 'late import'")
        ).scalar_one()
    assert late == "calls_y2026m07"
    # a month of kept calls is not dropped again; the late call goes in batches
    again = prune_calls(engine, PruneOptions(NOW - cutoff))
    assert again.dropped_months == [] and again.removed == {"calls": 1}
    assert set(_state(engine)["calls"]) == set(after["calls"])


@pg_only
def test_calls_of_a_month_without_a_partition_go_to_the_default_one(engine: Engine) -> None:
    partition_calls_by_month(engine, NOW)
    add_calls(engine, make_rows(1, start=datetime(2026, 11, 20)))  # a model version
    with engine.connect() as conn:
        conn.execute(text("DELETE FROM calls"))
        conn.execute(text("ALTER TABLE calls DETACH PARTITION calls_y2026m11"))
        conn.execute(text("DROP TABLE calls_y2026m11"))
        conn.execute(text(  # written around evalboard: it lands in the default partition
            "INSERT INTO calls (id, created_at, model_version_id, source, input_text)"
            " SELECT 900001, '2026-11-02', id, 'production', 'raw' FROM model_versions"
            " LIMIT 1"))
        conn.commit()
    other = open_store(engine.url.render_as_string(hide_password=False))
    try:  # November cannot have its partition now: its calls join the default partition
        add_calls(other, make_rows(2, start=datetime(2026, 11, 3)))
    finally:
        other.dispose()
    with engine.connect() as conn:
        assert "calls_y2026m11" not in {month.name for month in month_partitions(conn)}
        november = conn.execute(text(
            "SELECT DISTINCT tableoid::regclass::text FROM calls"
            " WHERE created_at >= '2026-11-01'")).scalars().all()
    assert november == [DEFAULT_PARTITION] and len(_where(engine)) == 3


@pg_only
@pytest.mark.parametrize("seed", [5, 6, 7])
def test_a_partitioned_store_prunes_to_what_one_table_prunes_to(
        engine: Engine, migrated_template, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    options = PruneOptions(timedelta(days=rng.choice([40, 75, 100, 130])),
                           keep_reviewed=rng.random() < 0.6, keep_cases=rng.random() < 0.6,
                           batch_size=rng.choice([7, 50, 2000]))
    with fresh_store(os.environ[SERVER_ENV], tmp_path, migrated_template) as url:
        plain = open_store(url)
        try:
            for store in (engine, plain):
                _fill(store, seed)
            partition_calls_by_month(engine, NOW)
            partitioned_report = prune_calls(engine, options)
            plain_report = prune_calls(plain, options)
            assert _state(engine) == _state(plain)
            assert partitioned_report.removed == plain_report.removed
            assert partitioned_report.unlinked == plain_report.unlinked
            assert partitioned_report.kept_calls == plain_report.kept_calls
        finally:
            plain.dispose()


EVALBOARD = shutil.which("evalboard")


@pytest.mark.skipif(EVALBOARD is None or bool(os.environ.get(PARTITIONED_ENV)),
                    reason="needs the evalboard script and a store whose calls are one table")
def test_upgrade_partitions_by_month_on_postgresql_only(engine: Engine, db_url: str,
                                                        tmp_path: Path) -> None:
    add_calls(engine, make_rows(5, start=datetime(2026, 10, 3)))
    env = {**os.environ, "EVALBOARD_DB_URL": db_url, clock.NOW_ENV: NOW.isoformat()}
    assert EVALBOARD is not None
    done = subprocess.run([EVALBOARD, "db", "upgrade", "--partition-by-month"], env=env,
                          cwd=tmp_path, text=True, capture_output=True, timeout=120)
    if is_sqlite(engine):
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert done.stderr.strip().splitlines() == [
            "error: --partition-by-month needs PostgreSQL; a SQLite store prunes in batches "
            "and its file shrinks (nothing was changed)"]
        return
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith(
        "partitioned 5 calls by month in ")
    assert "3 month partitions (calls_y2026m10 .. calls_y2026m12)" in done.stdout
    again = subprocess.run([EVALBOARD, "db", "upgrade", "--partition-by-month"], env=env,
                           cwd=tmp_path, text=True, capture_output=True, timeout=120)
    assert again.returncode == 1
    assert again.stderr.strip() == "error: the calls are partitioned by month already"
    with Session(engine) as session:
        assert session.scalar(select(Call.id).limit(1)) is not None


@pg_only
def test_deleting_calls_does_what_their_foreign_keys_did(
        engine: Engine, migrated_template, tmp_path: Path) -> None:
    """The dropped foreign keys deleted (or unlinked) what referred to a deleted call; on a
    partitioned store a trigger does: the same rows are left as in one table."""
    with fresh_store(os.environ[SERVER_ENV], tmp_path, migrated_template) as url:
        plain = open_store(url)
        try:
            for store in (engine, plain):
                _fill(store, seed=11)
            partition_calls_by_month(engine, NOW)
            state = _state(engine)
            doomed = random.Random(11).sample(
                state["annotations"] + state["comments"] + state["monitor"] + [
                    value for value in state["origins"] if value is not None], 30)
            for store in (engine, plain):
                with store.begin() as conn:
                    conn.execute(Call.__table__.delete().where(Call.id.in_(doomed)))
            after = _state(engine)
            assert after == _state(plain)
            assert not set(doomed) & set(after["annotations"] + after["comments"]
                                         + after["monitor"] + after["origins"])
        finally:
            plain.dispose()
