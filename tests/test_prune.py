"""`evalboard db prune`: old calls go in batches; reviewed calls, cases' origins and run
results stay (unless told otherwise); rows computed from a pruned call go with it; the daily
rollups, so charts over time, are unchanged; full-text search follows; a dry run writes
nothing; the archive holds every removed row; logging goes on during a prune; SQLite's file
shrinks."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, func, inspect, select, text

import evalboard
from evalboard import clock
from evalboard.cli.db_commands import prune_lines
from evalboard.demo.builder import load_demo
from evalboard.metrics import calls_over_time, latency_over_time
from evalboard.store.calls_counts import count_by_version, count_calls
from evalboard.store.calls_query import CallFilter
from evalboard.store.case_models import EvalCase
from evalboard.store.engine import is_sqlite, write_session
from evalboard.store.models import Call
from evalboard.store.monitor_models import Monitor, MonitorResult
from evalboard.store.pairwise_models import PairwiseAnswer
from evalboard.store.partitions import is_partitioned, partition_calls_by_month
from evalboard.store.prune import (
    PruneError,
    PruneOptions,
    parse_age,
    prune_calls,
    pruned_before,
    read_archive,
)
from evalboard.store.review_models import Annotation, CallEmbedding, ReviewItem
from evalboard.store.rollup_models import CallDay, CallLatencyDay
from evalboard.store.run_models import CaseResult
from evalboard.store.search import search_condition
from evalboard.store.team_models import CallComment, QueueItem
from tests.pg_server import SERVER_ENV
from tests.support.calls import add_calls, make_rows
from tests.support.marks import sqlite_only

NOW = datetime(2026, 11, 30, 12, 0)
AGE = timedelta(days=14)
CUTOFF = NOW - AGE


@pytest.fixture(autouse=True)
def _stopped_clock() -> Iterator[None]:
    """NOW, standing still: the prune's cutoff is exactly CUTOFF."""
    with clock.fixed(NOW, ticking=False):
        yield


@pytest.fixture(params=["one table", *(["partitioned by month"] if os.environ.get(SERVER_ENV)
                                        else [])])
def engine(request: pytest.FixtureRequest, engine: Engine) -> Engine:
    """The test's store; on PostgreSQL also with its calls partitioned by month (every test
    here runs on both shapes)."""
    if request.param == "partitioned by month":
        with engine.connect() as conn:
            partitioned = is_partitioned(conn)  # a suite run on partitioned stores
        if not partitioned:
            partition_calls_by_month(engine, NOW)
    return engine


def _referenced(engine: Engine) -> set[int]:
    """Calls someone reviewed, queued, commented on, compared, promoted or ran."""
    columns = [Annotation.call_id, ReviewItem.call_id, QueueItem.call_id, CallComment.call_id,
               PairwiseAnswer.call_a_id, PairwiseAnswer.call_b_id, EvalCase.origin_call_id,
               CaseResult.call_id]
    with engine.connect() as conn:
        return {call_id for column in columns
                for call_id in conn.execute(select(column).where(column.is_not(None))).scalars()}


def _call_ids(engine: Engine, before: datetime | None = None) -> set[int]:
    query = select(Call.id) if before is None else select(Call.id).where(Call.created_at < before)
    with engine.connect() as conn:
        return set(conn.execute(query).scalars())


def _row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {name: conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one()
                for name in inspect(conn).get_table_names()}


def _charts(engine: Engine) -> list[pd.DataFrame]:
    return [calls_over_time(engine), calls_over_time(engine, unit="week"),
            latency_over_time(engine, exact_limit=0)]  # the rollup path


def _rollups(engine: Engine) -> list[list[tuple]]:
    with engine.connect() as conn:
        return [sorted(tuple(row) for row in conn.execute(select(model)))
                for model in (CallDay, CallLatencyDay)]


@pytest.fixture
def demo(engine: Engine) -> Engine:
    """The demo (reviews, cases, runs) over four weeks, plus a monitor's results and
    embeddings on old calls nobody touched, and a pairwise answer on two old calls."""
    load_demo(engine, calls=900, seed=3, now=NOW)
    old = sorted(_call_ids(engine, CUTOFF) - _referenced(engine))
    with write_session(engine) as session:
        monitor = Monitor(name="tone", checks=[], model_versions=[], metadata_filter={})
        session.add(monitor)
        session.flush()
        for call_id in old[:20]:
            session.add(MonitorResult(monitor_id=monitor.id, call_id=call_id,
                                      model_version_id=1, call_created_at=CUTOFF,
                                      check_name="polite", passed=True, score=1.0))
            session.add(CallEmbedding(call_id=call_id, model="tiny", input_vector=b"\0" * 8,
                                      output_vector=b"\1" * 8))
        session.add(PairwiseAnswer(reviewer="ann", call_a_id=old[30], call_b_id=old[31],
                                   outcome="a", is_current=True))
    return engine


def test_ages_parse_and_bad_ones_are_refused() -> None:
    assert parse_age("90d") == timedelta(days=90)
    assert parse_age("12w") == timedelta(weeks=12)
    assert parse_age(" 36h ") == timedelta(hours=36)
    for bad in ("90", "0d", "-3d", "3 months", ""):
        with pytest.raises(PruneError):
            parse_age(bad)


def test_prune_keeps_referenced_calls_rollups_and_search(demo: Engine) -> None:
    engine = demo
    referenced = _referenced(engine)
    old = _call_ids(engine, CUTOFF)
    recent = _call_ids(engine) - old
    charts, rollups, counts = _charts(engine), _rollups(engine), _row_counts(engine)
    assert old - referenced and old & referenced  # the demo has both kinds of old calls

    report = prune_calls(engine, PruneOptions(AGE, batch_size=97))

    left = _call_ids(engine)
    assert referenced <= left  # nothing referenced is deleted
    assert recent <= left
    assert _call_ids(engine, CUTOFF) == old & referenced  # every other old call is gone
    assert report.removed["calls"] == len(old - referenced) == counts["calls"] - len(left)
    assert report.kept_calls == len(old & referenced)
    assert report.batches > 1
    after = _row_counts(engine)
    assert after["monitor_results"] == 0 and report.removed["monitor_results"] == 20
    assert after["call_embeddings"] == 0 and report.removed["call_embeddings"] == 20
    assert after["pairwise_answers"] == 1 and after["annotations"] == counts["annotations"]
    assert after["test_cases"] == counts["test_cases"]
    assert after["case_results"] == counts["case_results"]
    # charts over time read the rollups: whole after pruning
    assert _rollups(engine) == rollups
    for before_frame, after_frame in zip(charts, _charts(engine), strict=True):
        pd.testing.assert_frame_equal(before_frame, after_frame)
    # the full-text index follows the calls
    with engine.connect() as conn:
        for word in ("the", "refund", "number"):
            indexed = conn.execute(select(func.count()).select_from(Call).where(
                search_condition(conn.dialect.name, word))).scalar_one()
            stored = conn.execute(select(func.count()).where(
                Call.input_text.ilike(f"%{word}%") | Call.output.ilike(f"%{word}%"))
            ).scalar_one()
            assert indexed <= stored
        if is_sqlite(engine):
            assert conn.execute(text("SELECT count(*) FROM calls_fts")).scalar_one() == len(left)
            assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
        assert pruned_before(conn) == CUTOFF
    assert report.bytes_freed is not None and report.bytes_freed >= 0
    lines = prune_lines(report)
    assert lines[0].startswith(f"removed calls created before {CUTOFF:%Y-%m-%d %H:%M} UTC: ")
    assert f"calls {report.removed['calls']:,}" in lines[0]


def test_search_does_not_find_pruned_calls(engine: Engine) -> None:
    add_calls(engine, [{"input": "zebracorn question", "output": "old",
                        "created_at": CUTOFF - timedelta(days=1)},
                       {"input": "zebracorn question", "output": "new",
                        "created_at": NOW - timedelta(hours=1)}])
    prune_calls(engine, PruneOptions(AGE))
    with engine.connect() as conn:
        found = conn.execute(select(Call.output).where(
            search_condition(conn.dialect.name, "zebracorn"))).scalars().all()
    assert found == ["new"]


def test_without_keeps_every_old_call_goes_and_links_are_cleared(demo: Engine) -> None:
    engine = demo
    old = _call_ids(engine, CUTOFF)
    counts = _row_counts(engine)
    report = prune_calls(engine, PruneOptions(AGE, keep_reviewed=False, keep_cases=False,
                                              keep_runs=False))
    assert _call_ids(engine, CUTOFF) == set()
    assert report.removed["calls"] == len(old) and report.kept_calls == 0
    after = _row_counts(engine)
    assert after["pairwise_answers"] == 0
    assert after["annotations"] == counts["annotations"] - report.removed.get("annotations", 0)
    assert after["test_cases"] == counts["test_cases"]  # cases stay, their origin is cleared
    with engine.connect() as conn:
        origins = set(conn.execute(select(EvalCase.origin_call_id)).scalars()) - {None}
        result_calls = set(conn.execute(select(CaseResult.call_id)).scalars()) - {None}
        annotated = set(conn.execute(select(Annotation.call_id)).scalars())
        if is_sqlite(engine):
            assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
    left = _call_ids(engine)
    assert origins <= left and result_calls <= left and annotated <= left


def test_dry_run_writes_nothing_and_counts_what_a_prune_removes(demo: Engine) -> None:
    engine = demo
    counts = _row_counts(engine)
    dry = prune_calls(engine, PruneOptions(AGE, dry_run=True))
    assert _row_counts(engine) == counts
    with engine.connect() as conn:
        assert pruned_before(conn) is None
    assert prune_lines(dry)[0].startswith("would remove calls created before")
    real = prune_calls(engine, PruneOptions(AGE))
    assert dry.removed == real.removed and dry.kept_calls == real.kept_calls


def test_archive_holds_every_removed_row(demo: Engine, tmp_path: Path) -> None:
    engine = demo
    gone = _call_ids(engine, CUTOFF) - _referenced(engine)
    with engine.connect() as conn:
        before = {row.id: row._mapping for row in conn.execute(
            select(Call.__table__).where(Call.id.in_(gone)))}
    report = prune_calls(engine, PruneOptions(AGE, archive=tmp_path / "archive", batch_size=200))
    archived = read_archive(tmp_path / "archive", "calls")
    assert sorted(row["id"] for row in archived) == sorted(gone)
    assert len(report.archive_files) >= len(gone) // 200
    for row in archived:
        stored = before[row["id"]]
        decoded = {name: json.loads(value) if name in ("metadata", "input_messages")
                   and value is not None else value for name, value in row.items()}
        assert decoded == dict(stored)  # JSON columns come back as JSON text
    assert len(read_archive(tmp_path / "archive", "monitor_results")) == 20
    assert {row["call_id"] for row in read_archive(tmp_path / "archive", "call_embeddings")} <= gone


def test_logging_goes_on_during_a_prune(engine: Engine, db_url: str) -> None:
    add_calls(engine, make_rows(3000, start=CUTOFF - timedelta(days=30),
                                step=timedelta(minutes=5)))
    logged: list[int] = []
    started = threading.Event()

    def log() -> None:
        eb = evalboard.connect(db_url, flush_interval=0.01)
        try:
            for i in range(1500):
                logged.append(eb.log_call(input=f"live {i}", output="ok",
                                          model_version="live-v1"))
                if i == 10:
                    started.set()
            eb.flush()
        finally:
            eb.close()

    writer = threading.Thread(target=log)
    writer.start()
    started.wait(10)
    report = prune_calls(engine, PruneOptions(AGE, batch_size=50))
    writer.join(60)
    assert not writer.is_alive()
    assert report.removed["calls"] == 3000
    with engine.connect() as conn:
        if is_partitioned(conn):  # October went as a whole partition while the writer wrote
            assert report.dropped_months == ["calls_y2026m10"]
        live = conn.execute(select(Call.id, Call.input_text).where(
            Call.input_text.like("live %"))).all()
    assert sorted(call_id for call_id, _ in live) == sorted(logged)
    assert len({input_text for _, input_text in live}) == 1500


@sqlite_only
def test_sqlite_file_shrinks(engine: Engine) -> None:
    add_calls(engine, make_rows(4000, start=CUTOFF - timedelta(days=20),
                                step=timedelta(minutes=5), output="x" * 2000))
    path = Path(engine.url.database or "")

    def size() -> int:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return path.stat().st_size

    grown = size()
    kept = prune_calls(engine, PruneOptions(timedelta(days=25)))
    assert "--vacuum" in kept.space_note and size() == grown  # pages kept for reuse
    report = prune_calls(engine, PruneOptions(timedelta(days=25), vacuum=True))
    assert size() < grown / 2 and "incremental" in report.space_note
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA auto_vacuum").scalar_one() == 2
    add_calls(engine, make_rows(2000, start=CUTOFF - timedelta(days=20),
                                step=timedelta(minutes=5), output="y" * 2000))
    grown = size()
    report = prune_calls(engine, PruneOptions(AGE))  # incremental now: shrinks by itself
    assert report.removed["calls"] == 2000 + 4000 - kept.removed["calls"]
    assert size() < grown / 2 and report.bytes_freed and report.bytes_freed > 0


def test_archive_needs_a_folder(engine: Engine, tmp_path: Path) -> None:
    afile = tmp_path / "taken"
    afile.write_text("")
    add_calls(engine, make_rows(3, start=CUTOFF - timedelta(days=2)))
    with pytest.raises(PruneError, match="a file"):
        prune_calls(engine, PruneOptions(AGE, archive=afile))
    assert len(_call_ids(engine)) == 3


EVALBOARD = shutil.which("evalboard")


@pytest.mark.skipif(EVALBOARD is None, reason="the evalboard script is not installed")
def test_cli_prunes_and_reports_in_lines(engine: Engine, db_url: str, tmp_path: Path) -> None:
    add_calls(engine, make_rows(30, start=CUTOFF - timedelta(days=1)))
    add_calls(engine, make_rows(5, start=NOW - timedelta(hours=5)))
    env = {**os.environ, "EVALBOARD_DB_URL": db_url, clock.NOW_ENV: NOW.isoformat()}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        assert EVALBOARD is not None
        return subprocess.run([EVALBOARD, "db", "prune", *args], env=env, cwd=tmp_path,
                              text=True, capture_output=True, timeout=120)

    bad = run("--older-than", "3 months")
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines() == [
        "error: not an age: '3 months' (expected e.g. 90d, 12w or 36h, above 0)"]
    dry = run("--older-than", "14d", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines()[0].startswith("would remove calls created before "
                                                 f"{CUTOFF:%Y-%m-%d %H:%M} UTC: calls 30")
    assert len(_call_ids(engine)) == 35
    done = run("--older-than", "14d", "--archive", str(tmp_path / "archive"))
    assert done.returncode == 0, done.stderr
    assert "calls 30" in done.stdout and "archived to 1 Parquet file(s)" in done.stdout
    assert len(_call_ids(engine)) == 5


def test_counts_after_a_prune_are_the_calls_left(demo: Engine) -> None:
    """Browse's counts read whole days from the rollups, which keep counting pruned calls (so
    charts stay whole): after a prune they must still equal the calls that are left."""

    prune_calls(demo, PruneOptions(AGE, batch_size=500))
    with demo.connect() as conn:
        versions = [name for (name,) in conn.execute(text("SELECT name FROM model_versions"))]
        by_version = dict(conn.execute(text(
            "SELECT v.name, count(*) FROM calls c JOIN model_versions v"
            " ON v.id = c.model_version_id GROUP BY v.name")).all())
    assert count_calls(demo) == sum(by_version.values())
    assert dict(count_by_version(demo, CallFilter())) == by_version
    rng = random.Random(7)
    for _ in range(25):  # random time ranges on both sides of the cutoff, with versions
        since = CUTOFF + timedelta(hours=rng.randint(-24 * 20, 24 * 10)) if rng.random() < .7 \
            else None
        until = (since or CUTOFF) + timedelta(hours=rng.randint(1, 24 * 25)) \
            if rng.random() < .7 else None
        chosen = tuple(rng.sample(versions, rng.randint(0, 2)))
        f = CallFilter(model_versions=chosen, since=since, until=until,
                       errors_only=rng.random() < .2)
        with demo.connect() as conn:
            rows = conn.execute(select(Call.model_version_id, Call.created_at, Call.error)).all()
            names = dict(conn.execute(text("SELECT id, name FROM model_versions")).all())
        expected = sum(1 for vid, created, error in rows
                       if (not chosen or names[vid] in chosen)
                       and (since is None or created >= since)
                       and (until is None or created < until)
                       and (not f.errors_only or error is not None))
        assert count_calls(demo, f) == expected, f
