"""Query plans of Browse's review-state filters (SQLite), with a small store's statistics and
with those of a 1M-call store: rare matches are looked up from the annotations' indexes,
common ones probed per row of the sort index's walk, and counts read the indexes too."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import and_, func, select, text, true

from evalboard.cases.draft import CaseDraft
from evalboard.cases.repository import Provenance, create_case
from evalboard.checks import CheckSpec
from evalboard.review.annotations import Judgement, annotate
from evalboard.store import review_filter
from evalboard.store.calls_pages import page_query
from evalboard.store.calls_query import CallFilter, filter_conditions
from evalboard.store.models import Call
from tests.support.calls import T0, add_calls, make_rows
from tests.support.marks import sqlite_only
from tests.support.query_plans import query_plan
from tests.test_metrics import STATS_1M, _pretend_a_million_calls

pytestmark = sqlite_only

# sqlite_stat1 of the review tables in the 1M-call bench store (50k judgements, a fifth with
# a label), as the bounded ANALYZE after its migration left them
REVIEW_STATS_1M = [
    ("annotations", "ix_annotations_current_reviewer", "48360 401 401 2"),
    ("annotations", "ix_annotations_current_verdict", "56154 401 401 1"),
    ("annotations", "ix_annotations_current", "11640 401 2 1"),
    ("annotations", "ix_annotations_call_reviewer", "28063 1 1 1"),
    ("annotation_labels", "ix_annotation_labels_label_id", "10327 401"),
    ("annotation_labels", "sqlite_autoindex_annotation_labels_1", "10395 1 1"),
]


def _pretend_a_million_reviews(engine) -> None:
    with engine.begin() as conn:
        for table, index, stat in REVIEW_STATS_1M:
            conn.execute(text("DELETE FROM sqlite_stat1 WHERE tbl = :t AND idx = :i"),
                         {"t": table, "i": index})
            conn.execute(text("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (:t, :i, :s)"),
                         {"t": table, "i": index, "s": stat})
    engine.dispose()


@pytest.fixture
def store(engine, request):
    """300 calls over three versions, 40 judged (some labelled or corrected), one promoted;
    with the planner statistics named by the test's `stats` parameter."""
    ids = []
    for k, version in enumerate(("v1", "v2", "v3")):
        ids += add_calls(engine, make_rows(100, start=T0 + timedelta(days=k),
                                           model_version=version, latency_ms=10.0 + k)).ids
    for n, call_id in enumerate(ids[::7][:40]):
        annotate(engine, call_id, ("ann", "bo")[n % 2], Judgement(
            ("pass", "fail", "unsure")[n % 3], ("hallucination",) if n % 4 == 0 else (),
            corrected_output="fixed" if n % 5 == 0 else None))
    create_case(engine, "s", CaseDraft(name="c", input="x", checks=(
        CheckSpec("contains_any", {"values": ["x"]}),)), provenance=Provenance(call_id=ids[7]))
    stats = getattr(request, "param", None)
    if stats:
        _pretend_a_million_calls(engine, STATS_1M[stats])
        _pretend_a_million_reviews(engine)
    return engine


def _page_plan(engine, f: CallFilter, sort: str = "newest") -> str:
    with engine.connect() as conn:
        return " | ".join(query_plan(conn, page_query(conn, f, sort)))


STATS = pytest.mark.parametrize("store", [None, "bounded", "full"], indirect=True)


@STATS
def test_an_unfiltered_page_walks_the_time_index(store):
    plan = _page_plan(store, CallFilter())
    assert plan.startswith("SCAN calls USING INDEX ix_calls_created_at_id"), plan
    assert "TEMP B-TREE" not in plan and "SCAN model_versions" not in plan


@STATS
@pytest.mark.parametrize(("f", "index"), [
    (CallFilter(verdicts=("fail",)), "ix_annotations_current_verdict (is_current=? AND verdict=?)"),
    (CallFilter(reviewers=("ann",)),
     "ix_annotations_current_reviewer (is_current=? AND reviewer=?)"),
    (CallFilter(corrected=True), "ix_annotations_corrected (is_current=?)"),
    (CallFilter(reviewed=True), "ix_annotations_current_verdict (is_current=?)"),
    (CallFilter(promoted=True), "ix_test_cases_origin_call_id (origin_call_id>?)"),
    (CallFilter(labels=("hallucination",)), "ix_annotation_labels_label_id (label_id=?)"),
], ids=["verdict", "reviewer", "corrected", "reviewed", "promoted", "label"])
def test_rare_matches_are_looked_up_by_id(store, f, index):
    plan = _page_plan(store, f)
    assert "SEARCH calls USING INTEGER PRIMARY KEY (rowid=?)" in plan, plan
    assert f"INDEX {index}" in plan, plan
    assert "SCAN calls" not in plan and "SCAN annotations" not in plan, plan


@STATS
@pytest.mark.parametrize(("f", "sort", "walk", "probe"), [
    (CallFilter(verdicts=("fail",)), "newest", "SCAN calls USING INDEX ix_calls_created_at_id",
     "ix_annotations_current"),  # either index of current judgements finds (call, verdict)
    (CallFilter(verdicts=("fail",)), "slowest", "ix_calls_latency_id (latency_ms>?)",
     "ix_annotations_current"),
    (CallFilter(reviewers=("ann",), model_versions=("v2",)), "newest",
     "SEARCH calls USING INDEX ix_calls_version_created_at (model_version_id=?)",
     "ix_annotations_current_reviewer (is_current=? AND reviewer=? AND call_id=?)"),
    (CallFilter(reviewed=False), "newest", "SCAN calls USING INDEX ix_calls_created_at_id",
     "ix_annotations_current (is_current=? AND call_id=?)"),
    (CallFilter(corrected=True), "newest", "SCAN calls USING INDEX ix_calls_created_at_id",
     "ix_annotations_corrected (is_current=? AND call_id=?)"),  # partial: few rows
], ids=["verdict", "verdict-slowest", "reviewer-version", "not-reviewed", "corrected"])
def test_common_matches_are_probed_along_the_sort_index(store, monkeypatch, f, sort, walk,
                                                        probe):
    monkeypatch.setattr(review_filter, "RARE_MATCHES", 1)  # every match counts as common
    plan = _page_plan(store, f, sort)
    assert walk in plan and "SEARCH annotations USING " in plan, plan
    probing = plan[plan.index("SEARCH annotations USING "):]
    assert f"INDEX {probe}" in probing and "call_id=?" in probing.split(" | ")[0], plan
    assert "TEMP B-TREE" not in plan, plan  # the page stops after its rows


@STATS
@pytest.mark.parametrize("f", [CallFilter(verdicts=("fail",)), CallFilter(reviewed=True),
                               CallFilter(reviewers=("bo",), labels=("hallucination",))],
                         ids=["verdict", "reviewed", "reviewer-label"])
def test_counts_start_from_the_annotations(store, f):
    with store.connect() as conn:
        query = (select(Call.model_version_id, func.count())
                 .where(and_(true(), *filter_conditions(conn, f)))
                 .group_by(Call.model_version_id))
        plan = " | ".join(query_plan(conn, query))
    assert "SEARCH calls USING INTEGER PRIMARY KEY (rowid=?)" in plan, plan
    assert "SCAN calls" not in plan and "SCAN annotations" not in plan, plan
