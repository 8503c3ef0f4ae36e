"""Browse pages served from the compiled-page caches match a plain SQLAlchemy query, for
random filters, sorts and page directions asked in random order in one process."""

from __future__ import annotations

import dataclasses
import random
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import and_, insert, select, true

from evalboard.cases.draft import CaseDraft
from evalboard.cases.repository import Provenance, create_case
from evalboard.checks import CheckSpec
from evalboard.review.annotations import Judgement, annotate, undo_last
from evalboard.store import calls_pages, calls_query, review_filter, search
from evalboard.store.calls_counts import count_by_version
from evalboard.store.calls_pages import Cursor, list_calls
from evalboard.store.calls_query import SORTS, CallFilter
from evalboard.store.case_models import EvalCase
from evalboard.store.engine import write_connection
from evalboard.store.models import Call, ModelVersion
from evalboard.store.monitor_models import Monitor, MonitorResult
from evalboard.store.review_models import Annotation, Label, annotation_labels
from evalboard.store.search import search_condition
from tests.support.calls import T0, add_calls

VERSIONS = ("v1", "v2", "v3", "missing-version")
SOURCES = ("production", "eval", "import")
WORDS = ("alpha", "beta", "gamma", "delta")
LIMITS = (1, 3, 7)
REVIEWERS = ("ann", "bo", "cy", "nobody")
VERDICTS = ("pass", "fail", "unsure")
LABELS = ("hallucination", "wrong format", "edge case mishandled", "not a label")
RARE_BOUNDS = (1, 5, 20, 2000)  # review_filter.RARE_MATCHES: both page plans get used
SEARCH_BOUNDS = {"RARE_MATCHES": (1, 4, 2000), "DENSE_MATCHES": (1, 100),
                 "PG_DENSE_MATCHES": (1, 10), "NEWEST_WINDOW": (20, 1000)}  # every search plan
MONITORS = (1, 2, 3, 99)  # 99: no such monitor


@pytest.fixture
def fresh_caches(monkeypatch):
    """Empty page caches, as in a fresh process."""
    monkeypatch.setattr(calls_pages, "_PREPARED", {})
    monkeypatch.setattr(calls_pages, "_PAGE_PLANS", {})


def _store_rows(rng: random.Random, count: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(count):
        rows.append({
            "input": f"prompt {i} {rng.choice(WORDS)}",
            "output": f"answer {rng.choice(WORDS)}",
            "model_version": rng.choice(VERSIONS[:3]),
            "source": rng.choice(SOURCES),
            "created_at": T0 + timedelta(hours=rng.randrange(0, 24 * 6)),
            "latency_ms": rng.choice([None, *range(10, 400, 37)]),
            "prompt_tokens": rng.choice([None, 5, 9, 20]),
            "completion_tokens": rng.choice([None, 3, 8]),
            "error": "timeout" if rng.random() < 0.3 else None,
            "metadata": {"team": rng.choice(["a", "b"])} if rng.random() < 0.5 else None,
        })
    return rows


def _add_reviews(engine: Any, rng: random.Random, call_ids: tuple[int, ...]) -> None:
    """Judgements by three reviewers (second opinions, changed minds, undone answers) and
    test cases made from some calls."""
    for _ in call_ids:
        call_id = rng.choice(call_ids)
        reviewer = rng.choice(REVIEWERS[:3])
        annotate(engine, call_id, reviewer, Judgement(
            rng.choice([*VERDICTS, None]), tuple(rng.sample(LABELS[:3], rng.choice([0, 1, 2]))),
            note="n", corrected_output=rng.choice([None, None, "fixed"])))
        if rng.random() < 0.1:
            undo_last(engine, reviewer)
    for k, call_id in enumerate(rng.sample(call_ids, 12)):
        create_case(engine, "s", CaseDraft(name=f"case {k}", input="x", checks=(
            CheckSpec("contains_any", {"values": ["x"]}),)),
                    provenance=Provenance(call_id=call_id))


def _add_monitor_results(engine: Any, rng: random.Random, call_ids: tuple[int, ...]) -> None:
    """Monitors 1-3 with results on some calls: two checks each, failing at different rates
    (monitor 3 checks few calls and rarely fails)."""
    with write_connection(engine) as conn:
        conn.execute(insert(Monitor), [
            {"id": k, "name": f"m{k}", "checks": [], "model_versions": [], "source": None,
             "metadata_filter": {}} for k in MONITORS[:3]])
        calls = conn.execute(select(Call.id, Call.model_version_id, Call.created_at)
                             .where(Call.id.in_(call_ids))).all()
        rows = []
        for monitor_id, checked, failing in ((1, 0.9, 0.5), (2, 0.7, 0.1), (3, 0.2, 0.1)):
            for call_id, version_id, created_at in calls:
                if rng.random() < checked:
                    rows.extend({"monitor_id": monitor_id, "call_id": call_id,
                                 "model_version_id": version_id, "call_created_at": created_at,
                                 "check_name": check, "passed": rng.random() >= failing,
                                 "score": 1.0} for check in ("a", "b"))
        conn.execute(insert(MonitorResult), rows)


def _plant(engine: Any, rng: random.Random, count: int) -> None:
    """Calls, reviews and monitor results."""
    ids = add_calls(engine, _store_rows(rng, count)).ids
    _add_reviews(engine, rng, ids)
    _add_monitor_results(engine, rng, ids)


def _maybe(rng: random.Random, value: Any) -> Any:
    return value if rng.random() < 0.4 else None


def _random_filter(rng: random.Random) -> CallFilter:
    """A filter with every field set at random (and often left at its default)."""
    since = _maybe(rng, T0 + timedelta(hours=rng.randrange(0, 24 * 6)))
    values: dict[str, Any] = {
        "model_versions": tuple(rng.sample(VERSIONS, rng.choice([0, 0, 1, 2]))),
        "sources": tuple(rng.sample(SOURCES, rng.choice([0, 0, 1, 2]))),
        "since": since,
        "until": _maybe(rng, (since or T0) + timedelta(hours=rng.randrange(1, 24 * 6))),
        "search": rng.choice(["", "", "", *WORDS]),
        "advanced_search": rng.random() < 0.3,
        "meta_key": rng.choice(["", "", "", "team"]),
        "meta_value": rng.choice(["", "a", "b"]),
        "min_latency_ms": _maybe(rng, float(rng.randrange(0, 200))),
        "max_latency_ms": _maybe(rng, float(rng.randrange(150, 400))),
        "min_tokens": _maybe(rng, rng.choice([0, 8, 15])),
        "max_tokens": _maybe(rng, rng.choice([10, 20, 30])),
        "errors_only": rng.random() < 0.4,
        "verdicts": tuple(rng.sample(VERDICTS, rng.choice([0, 0, 1, 2]))),
        "labels": tuple(rng.sample(LABELS, rng.choice([0, 0, 0, 1, 2]))),
        "reviewers": tuple(rng.sample(REVIEWERS, rng.choice([0, 0, 0, 1, 2]))),
        "corrected": rng.random() < 0.15,
        "reviewed": rng.choice([None, None, None, True, False]),
        "promoted": rng.random() < 0.15,
        "failing_monitors": tuple(rng.sample(MONITORS, rng.choice([0, 0, 1, 1, 2]))),
    }
    assert set(values) == {field.name for field in dataclasses.fields(CallFilter)}, (
        "a CallFilter field this test does not vary")
    return CallFilter(**values)


def _review_matches(conn: Any, f: CallFilter) -> set[int] | None:
    """The calls the review-state fields let through, worked out here in Python from the
    annotations (None: every call)."""
    if not (f.verdicts or f.labels or f.reviewers or f.corrected or f.reviewed is not None
            or f.promoted):
        return None
    current: dict[int, list[Annotation]] = {}
    for row in conn.execute(select(Annotation).where(Annotation.is_current.is_(True))):
        current.setdefault(row.call_id, []).append(row)
    label_names = _labels_of(conn)
    every = set(conn.scalars(select(Call.id)))
    promoted = set(conn.scalars(select(EvalCase.origin_call_id)))

    def by_chosen(a: Any) -> bool:
        return not f.reviewers or a.reviewer in f.reviewers

    def matches(a: Any) -> bool:
        return (by_chosen(a) and (not f.verdicts or a.verdict in f.verdicts)
                and (not f.corrected or a.corrected_output is not None)
                and (not f.labels or bool(label_names.get(a.id, set()) & set(f.labels))))

    kept = set()
    for call_id in every:
        judged = current.get(call_id, [])
        asks = bool(f.verdicts or f.labels or f.corrected or f.reviewed is True
                    or (f.reviewers and f.reviewed is None))
        if asks and not any(matches(a) for a in judged):
            continue
        if f.reviewed is False and any(by_chosen(a) for a in judged):
            continue
        if f.promoted and call_id not in promoted:
            continue
        kept.add(call_id)
    return kept


def _labels_of(conn: Any) -> dict[int, set[str]]:
    """Each annotation's label names."""
    grouped: dict[int, set[str]] = {}
    for annotation_id, name in conn.execute(
            select(annotation_labels.c.annotation_id, Label.name)
            .join(Label, Label.id == annotation_labels.c.label_id)):
        grouped.setdefault(annotation_id, set()).add(name)
    return grouped


def _plain_ids(conn: Any, f: CallFilter, sort_key: str) -> list[int]:
    """Every matching id in page order, from a SELECT written here field by field."""
    sort = SORTS[sort_key]
    conditions = []
    if f.model_versions:
        conditions.append(ModelVersion.name.in_(f.model_versions))
    if f.sources:
        conditions.append(Call.source.in_(f.sources))
    if f.since is not None:
        conditions.append(Call.created_at >= f.since)
    if f.until is not None:
        conditions.append(Call.created_at < f.until)
    if f.search:
        conditions.append(search_condition(conn.dialect.name, f.search, f.advanced_search))
    if f.meta_key:
        value = Call.meta[f.meta_key].as_string()
        conditions.append(value == f.meta_value if f.meta_value else value.isnot(None))
    for column, low, high in ((Call.latency_ms, f.min_latency_ms, f.max_latency_ms),
                              (Call.total_tokens, f.min_tokens, f.max_tokens)):
        if low is not None:
            conditions.append(column >= low)
        if high is not None:
            conditions.append(column <= high)
    if f.errors_only:
        conditions.append(Call.error.isnot(None))
    if sort.column is not Call.created_at:
        conditions.append(sort.column.isnot(None))
    order = ((sort.column.desc(), Call.id.desc()) if sort.descending
             else (sort.column.asc(), Call.id.asc()))
    query = (select(Call.id, sort.column)
             .join(ModelVersion, ModelVersion.id == Call.model_version_id)
             .where(and_(true(), *conditions)).order_by(*order))
    reviewed = _review_matches(conn, f)
    failing = _monitor_matches(conn, f)
    return [tuple(row) for row in conn.execute(query)
            if (reviewed is None or row[0] in reviewed) and (failing is None or row[0] in failing)]


def _monitor_matches(conn: Any, f: CallFilter) -> set[int] | None:
    """The calls with a failed check of a chosen monitor, from every result read here (None:
    every call)."""
    if not f.failing_monitors:
        return None
    return {result.call_id for result in conn.execute(select(MonitorResult))
            if result.monitor_id in f.failing_monitors and not result.passed}


def test_cached_pages_match_a_plain_query_for_random_filters(engine, fresh_caches,
                                                            monkeypatch):
    rng = random.Random(20261202)
    _plant(engine, rng, 160)
    checked_directions = {"first": 0, "after": 0, "before": 0}
    search_plans = set()

    def noted_search_plan(*args: Any) -> Any:
        plan, condition = search.page_search_condition(*args)
        search_plans.add(plan)
        return plan, condition

    monkeypatch.setattr(calls_query, "page_search_condition", noted_search_plan)
    with engine.connect() as conn:
        for iteration in range(700):
            monkeypatch.setattr(review_filter, "RARE_MATCHES", rng.choice(RARE_BOUNDS))
            for name, bounds in SEARCH_BOUNDS.items():
                monkeypatch.setattr(search, name, rng.choice(bounds))
            f = _random_filter(rng)
            sort_key = rng.choice(list(SORTS))
            limit = rng.choice(LIMITS)
            rows = _plain_ids(conn, f, sort_key)
            ids = [row[0] for row in rows]
            direction = rng.choice(["first", "after", "before"]) if rows else "first"
            after = before = None
            if direction == "first":
                expected = ids[:limit]
            else:
                position = rng.randrange(len(rows))
                cursor = Cursor(rows[position][1], rows[position][0])
                if direction == "after":
                    after, expected = cursor, ids[position + 1:position + 1 + limit]
                else:
                    before = cursor
                    expected = (ids[position - limit:position] if position > limit
                                else ids[:limit])
            page = list_calls(engine, f, sort_key, after, limit, before=before)
            got = [row.id for row in page.rows]
            assert got == expected, (iteration, f, sort_key, direction, limit)
            checked_directions[direction] += 1
    assert min(checked_directions.values()) > 50
    bound_names = {name for shape in calls_pages._PREPARED for name in shape[1]}
    plans = (("judged_lookup_current", "judged_probe_current", "promoted_lookup_first_id",
              "promoted_probe_first_id", "failing_lookup_monitor_0", "failing_probe_monitor_0")
             if engine.dialect.name == "sqlite"
             else ("judged_current", "promoted_first_id", "failing_monitor_0"))
    assert {*plans, "unjudged_current"} <= bound_names  # every review plan was compiled
    assert search_plans == ({"lookup", "membership", "probe"} if engine.dialect.name == "sqlite"
                            else {"lookup", "planner"})  # every search plan was checked


def test_errors_only_and_unfiltered_pages_do_not_share_sql(engine, fresh_caches):
    add_calls(engine, [{"input": f"p{i}", "output": "o", "created_at": T0 + timedelta(minutes=i),
                        "error": "boom" if i % 2 else None} for i in range(6)])
    errored = [row.id for row in list_calls(engine, CallFilter(errors_only=True)).rows]
    every = [row.id for row in list_calls(engine, CallFilter()).rows]
    assert errored == [6, 4, 2]
    assert every == [6, 5, 4, 3, 2, 1]


def test_a_page_before_a_cursor_leads_back_to_the_first_page(engine, fresh_caches):
    add_calls(engine, [{"input": f"p{i}", "output": "o", "created_at": T0 + timedelta(minutes=i)}
                       for i in range(10)])
    first = list_calls(engine, CallFilter(), limit=4)
    second = list_calls(engine, CallFilter(), after=first.next_cursor, limit=4)
    third = list_calls(engine, CallFilter(), after=second.next_cursor, limit=4)
    assert first.previous_cursor is None and [r.id for r in third.rows] == [2, 1]
    back = list_calls(engine, CallFilter(), before=third.previous_cursor, limit=4)
    assert [r.id for r in back.rows] == [r.id for r in second.rows]
    assert back.previous_cursor is not None
    home = list_calls(engine, CallFilter(), before=back.previous_cursor, limit=4)
    assert [r.id for r in home.rows] == [10, 9, 8, 7] and home.previous_cursor is None


def test_counts_per_version_match_a_plain_query_for_random_filters(engine, monkeypatch):
    rng = random.Random(20261203)
    _plant(engine, rng, 120)
    with engine.connect() as conn:
        versions = dict(conn.execute(
            select(Call.id, ModelVersion.name)
            .join(ModelVersion, ModelVersion.id == Call.model_version_id)).all())
        for iteration in range(150):
            monkeypatch.setattr(review_filter, "RARE_MATCHES", rng.choice(RARE_BOUNDS))
            f = _random_filter(rng)
            expected: dict[str, int] = {}
            for call_id, _ in _plain_ids(conn, f, "newest"):
                expected[versions[call_id]] = expected.get(versions[call_id], 0) + 1
            assert dict(count_by_version(engine, f)) == expected, (iteration, f)
