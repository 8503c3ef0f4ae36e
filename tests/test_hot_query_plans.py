"""The benchmark's store in small (10,000 calls, with judgements, 10k test cases and a run per
model version, built by bench/ itself) and the query plan of every hot query on it: a change
that sends one of them off its index fails here, without relying on timings.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from bench.bench_store import build_store
from evalboard.metrics.axis import CallScope, version_axis
from evalboard.metrics.calls import nth_latency_query
from evalboard.metrics.daily import histogram_rollup_query, partial_day_query, totals_rollup_query
from evalboard.metrics.human import label_calls_query, verdict_query
from evalboard.metrics.runs import latest_runs, pass_rate_query, reference_score_query
from evalboard.runs.totals import record_run_totals
from evalboard.store import open_store
from evalboard.store.calls_pages import Cursor, page_query
from evalboard.store.calls_query import CallFilter
from evalboard.store.models import Call
from tests.support.marks import sqlite_only
from tests.support.query_plans import query_plan, reads_table_rows

pytestmark = sqlite_only


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Engine:
    path = tmp_path_factory.mktemp("bench") / "bench-10k.db"
    build_store(path, 10_000)
    engine = open_store(f"sqlite:///{path}")
    with engine.begin() as conn:  # the runs as the runner would have finished them
        for run_id in range(1, 11):
            record_run_totals(conn, run_id)
    return engine


def _plan(engine: Engine, statement) -> str:
    with engine.connect() as conn:
        return " | ".join(query_plan(conn, statement))


def _newest(engine: Engine) -> datetime:
    with engine.connect() as conn:
        return conn.scalar(select(Call.created_at).order_by(Call.id.desc()).limit(1))


def test_browse_pages_walk_an_index_in_order(store):
    with store.connect() as conn:
        version = version_axis(conn)[3].name
        cursor = Cursor(_newest(store) - timedelta(days=20), 5000)
        plans = {
            "newest": page_query(conn, CallFilter(), "newest"),
            "version": page_query(conn, CallFilter(model_versions=(version,)), "newest"),
            "version, deep": page_query(conn, CallFilter(model_versions=(version,)), "newest",
                                        cursor),
            "slowest": page_query(conn, CallFilter(), "slowest"),
            "most tokens": page_query(conn, CallFilter(), "most tokens"),
        }
    expected = {"newest": "ix_calls_created_at_id", "version": "ix_calls_version_created_at",
                "version, deep": "ix_calls_version_created_at (model_version_id=? AND "
                                 "created_at<?)",
                "slowest": "ix_calls_latency_id", "most tokens": "ix_calls_tokens_id"}
    for name, statement in plans.items():
        plan = _plan(store, statement)
        assert expected[name] in plan and "TEMP B-TREE" not in plan, (name, plan)


def test_search_pages_use_the_full_text_index(store):
    with store.connect() as conn:
        rare = page_query(conn, CallFilter(search="quixotic"), "newest")
        common = page_query(conn, CallFilter(search="refund"), "newest")
    assert "calls_fts VIRTUAL TABLE INDEX" in _plan(store, rare)
    common_plan = _plan(store, common)  # a word in ~30% of calls: walk newest first, ask FTS
    assert "ix_calls_created_at_id" in common_plan and "TEMP B-TREE" not in common_plan


def test_call_charts_read_the_daily_rollups(store):
    end = _newest(store)
    scope = CallScope(since=end - timedelta(days=7))
    with store.connect() as conn:
        ids = [v.id for v in version_axis(conn)]
        totals = " | ".join(query_plan(conn, totals_rollup_query(scope, ids)))
        histograms = " | ".join(query_plan(conn, histogram_rollup_query(scope, ids)))
        start, until = scope.since, datetime.combine(scope.since.date() + timedelta(days=1),
                                                      datetime.min.time())
        partial = " | ".join(query_plan(conn, partial_day_query(scope, ids, start, until)))
        walk = nth_latency_query(conn, CallScope(), ids[-1], 10, 100)
        walk_plan = " | ".join(query_plan(conn, walk))
        assert not reads_table_rows(conn, walk, "calls")
    assert "SEARCH call_days USING INDEX sqlite_autoindex_call_days_1 (day>?)" in totals
    assert "SEARCH call_latency_days USING INDEX sqlite_autoindex_call_latency_days_1 (day>?)" \
        in histograms
    assert "created_at>? AND created_at<?" in partial and "SCAN calls" not in partial
    assert "COVERING INDEX ix_calls_version_latency (model_version_id=? AND source=?" in walk_plan


def test_run_and_review_charts_read_their_kept_tables(store):
    with store.connect() as conn:
        scope = CallScope()
        verdicts = " | ".join(query_plan(conn, verdict_query(conn, scope)))
        labels = " | ".join(query_plan(conn, label_calls_query(conn, scope)))
    assert verdicts.startswith("SEARCH annotations USING COVERING INDEX ix_annotations_final")
    assert "ix_annotations_final" in labels
    for statement in (pass_rate_query(latest_runs(), "check"),
                      reference_score_query(latest_runs(), ("rouge", "bleu"))):
        plan = _plan(store, statement)
        assert "SEARCH run_totals USING INDEX sqlite_autoindex_run_totals_1 (run_id=? AND " \
               "kind=?" in plan, plan
        assert "case_results" not in plan and "check_results" not in plan
