"""Browse pages served from the compiled-page caches match a plain SQLAlchemy query, for
random filters, sorts and page directions asked in random order in one process."""

from __future__ import annotations

import dataclasses
import random
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import and_, select, true

from evalboard.store import calls_pages
from evalboard.store.calls_pages import Cursor, list_calls
from evalboard.store.calls_query import SORTS, CallFilter
from evalboard.store.models import Call, ModelVersion
from evalboard.store.search import search_condition
from tests.support.calls import T0, add_calls

VERSIONS = ("v1", "v2", "v3", "missing-version")
SOURCES = ("production", "eval", "import")
WORDS = ("alpha", "beta", "gamma", "delta")
LIMITS = (1, 3, 7)


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
    }
    assert set(values) == {field.name for field in dataclasses.fields(CallFilter)}, (
        "a CallFilter field this test does not vary")
    return CallFilter(**values)


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
    return [tuple(row) for row in conn.execute(query)]


def test_cached_pages_match_a_plain_query_for_random_filters(engine, fresh_caches):
    rng = random.Random(20261202)
    add_calls(engine, _store_rows(rng, 160))
    checked_directions = {"first": 0, "after": 0, "before": 0}
    with engine.connect() as conn:
        for iteration in range(400):
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
