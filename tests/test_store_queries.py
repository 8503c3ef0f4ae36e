"""Writes, id blocks, filters, keyset paging, search and counts in the query layer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from evalboard.store.calls_counts import MatchCounts, browse_counts, count_by_version, count_calls
from evalboard.store.calls_pages import _page_rows, list_calls, page_query
from evalboard.store.calls_query import SORTS, CallFilter, get_call, list_model_versions
from evalboard.store.ids import IdPool, reserve_ids
from evalboard.store.models import Call
from evalboard.store.records import CallValidationError, normalize_call
from evalboard.store.search import (
    SearchQueryError,
    SearchSyntaxError,
    escape_fts,
    validate_advanced_query,
)
from tests.support.calls import T0, add_calls, make_rows
from tests.support.marks import sqlite_only


def _all_pages(engine, f, sort_key, limit=7):
    ids, cursor, pages = [], None, 0
    while True:
        page = list_calls(engine, f, sort_key, cursor, limit=limit)
        ids.extend(row.id for row in page.rows)
        pages += 1
        if page.next_cursor is None:
            return ids, pages
        cursor = page.next_cursor


def test_reserved_id_blocks_never_overlap(engine):
    first = reserve_ids(engine, 10)
    second = reserve_ids(engine, 5)
    assert list(first) == list(range(1, 11))
    assert list(second) == list(range(11, 16))
    pool = IdPool(engine, block_size=3)
    taken = [pool.take() for _ in range(7)] + pool.take_many(4)
    assert len(set(taken)) == 11 and min(taken) > 15


def test_id_counter_never_falls_behind_existing_rows(engine):
    add_calls(engine, make_rows(3))
    with engine.begin() as conn:  # as after restoring a copy: the counter is behind the table
        conn.execute(text("UPDATE id_blocks SET next_id = 1"))
    block = reserve_ids(engine, 2)
    assert block.start > 3


def test_write_creates_versions_and_skips_repeated_external_ids(engine):
    rows = make_rows(3, model_version="v1")
    rows[0]["external_id"] = "x-1"
    first = add_calls(engine, rows)
    again = add_calls(engine, [dict(rows[0], output="changed")])
    assert (first.inserted, first.already_present) == (3, 0)
    assert (again.inserted, again.already_present) == (0, 1)
    assert [v.name for v in list_model_versions(engine)] == ["v1"]
    # the same external id under another source is another call
    assert add_calls(engine, [dict(rows[0], source="eval")]).inserted == 1


def test_chat_input_is_kept_as_messages_and_searchable(engine):
    messages = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Where is Timbuktu?"}]
    add_calls(engine, [{"input": messages, "output": "In Mali.", "prompt_tokens": 9,
                        "completion_tokens": 3}])
    call = get_call(engine, 1)
    assert call is not None
    assert call.input_messages == messages
    assert "user: Where is Timbuktu?" in call.input_text
    assert call.total_tokens == 12
    page = list_calls(engine, CallFilter(search="timbuktu"))
    assert [r.id for r in page.rows] == [1]
    assert page.rows[0].input_preview.startswith("user: Where is Timbuktu?")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"input": None}, "input"),
        ({"input": 42}, "input"),
        ({"input": [{"content": "no role"}]}, "input"),
        ({"input": "x", "source": "web"}, "source"),
        ({"input": "x", "latency_ms": -1}, "latency_ms"),
        ({"input": "x", "prompt_tokens": 1.5}, "prompt_tokens"),
        ({"input": "x", "completion_tokens": True}, "completion_tokens"),
        ({"input": "x", "metadata": [1]}, "metadata"),
        ({"input": "x", "created_at": "yesterday"}, "created_at"),
    ],
)
def test_invalid_fields_are_named(fields, field):
    with pytest.raises(CallValidationError) as info:
        normalize_call(**fields)
    assert info.value.field == field


def test_timestamps_are_stored_in_utc():
    row = normalize_call(input="x", created_at="2026-11-01T10:00:00+02:00")
    assert row["created_at"].isoformat() == "2026-11-01T08:00:00"
    assert normalize_call(input="x", created_at=0)["created_at"].year == 1970


@pytest.mark.parametrize("sort_key", list(SORTS))
def test_keyset_pages_visit_every_row_once_in_order(engine, sort_key):
    rows = make_rows(40)
    for i, row in enumerate(rows):  # ties in latency and tokens exercise the id tie-breaker
        row.update(latency_ms=float(i % 5), prompt_tokens=i % 3, completion_tokens=1)
    add_calls(engine, rows)
    ids, pages = _all_pages(engine, CallFilter(), sort_key)
    assert sorted(ids) == list(range(1, 41)) and pages == 6
    sort = SORTS[sort_key]
    key = {"created_at": lambda i: (i, i), "latency_ms": lambda i: ((i - 1) % 5, i),
           "total_tokens": lambda i: ((i - 1) % 3 + 1, i)}[sort.column.key]
    assert ids == sorted(ids, key=key, reverse=sort.descending)


def test_filters_combine(engine):
    add_calls(engine, make_rows(10, model_version="a", latency_ms=100.0,
                                metadata={"tier": "pro"}))
    add_calls(engine, make_rows(10, start=T0 + timedelta(days=1), model_version="b",
                                latency_ms=900.0, metadata={"tier": "free"}, source="eval"))
    add_calls(engine, [{"input": "boom", "error": "Timeout", "model_version": "b"}])
    assert count_calls(engine) == 21
    assert count_calls(engine, CallFilter(model_versions=("a",))) == 10
    assert count_calls(engine, CallFilter(sources=("eval",))) == 10
    assert count_calls(engine, CallFilter(since=T0 + timedelta(days=1),
                                          until=T0 + timedelta(days=1, minutes=5))) == 5
    assert count_calls(engine, CallFilter(meta_key="tier", meta_value="pro")) == 10
    assert count_calls(engine, CallFilter(meta_key="tier")) == 20
    assert count_calls(engine, CallFilter(min_latency_ms=500)) == 10
    assert count_calls(engine, CallFilter(max_latency_ms=500, model_versions=("b",))) == 0
    assert count_calls(engine, CallFilter(errors_only=True)) == 1
    assert count_by_version(engine, CallFilter()) == [("b", 11), ("a", 10)]
    assert count_by_version(engine, CallFilter(search="answer")) == [("a", 10), ("b", 10)]


@pytest.mark.parametrize(
    "query",
    ['"a', "AND", "OR NOT", "a*b", "NEAR(", "col:umn", "'; DROP TABLE calls; --", "(((a",
     "x " * 2500, "c++ ^ -1", "ünïcödé 日本語"],
)
def test_any_text_with_a_word_is_a_valid_plain_search(engine, query):
    add_calls(engine, [{"input": "hello world", "output": "c++ ^ -1 '; DROP TABLE calls; --"}])
    page = list_calls(engine, CallFilter(search=query))
    assert isinstance(page.rows, list)
    assert count_calls(engine) == 1  # nothing was dropped


@pytest.mark.parametrize("query", ['"', "(((", "--", "x" * 5000, "a\x00"])
def test_a_plain_search_that_cannot_run_is_explained(engine, query):
    add_calls(engine, [{"input": "hello world", "output": "x"}])
    with pytest.raises(SearchQueryError):
        list_calls(engine, CallFilter(search=query))
    assert count_calls(engine) == 1


def test_search_matches_words_in_input_or_output(engine):
    add_calls(engine, [{"input": "refund please", "output": "ok"},
                       {"input": "hi", "output": "Your refund is on its way"},
                       {"input": "unrelated", "output": "nothing"}])
    assert {r.id for r in list_calls(engine, CallFilter(search="REFUND")).rows} == {1, 2}
    assert {r.id for r in list_calls(engine, CallFilter(search="refund way")).rows} == {2}
    assert escape_fts('say "hi"') == '"say" """hi"""'


def test_advanced_search_syntax_errors_are_explained(engine):
    add_calls(engine, [{"input": "alpha beta", "output": "gamma"}])
    f = CallFilter(search="alpha OR gamma", advanced_search=True)
    assert [r.id for r in list_calls(engine, f).rows] == [1]
    with engine.connect() as conn, pytest.raises(SearchSyntaxError) as info:
        validate_advanced_query(conn, 'alpha AND "unclosed')
    assert str(info.value).startswith("Advanced search: unbalanced quote near")


def test_fts_index_follows_updates_and_deletes(engine):
    add_calls(engine, [{"input": "first", "output": "apple"}])
    with engine.begin() as conn:
        conn.execute(text("UPDATE calls SET output = 'banana' WHERE id = 1"))
    assert count_calls(engine, CallFilter(search="apple")) == 0
    assert count_calls(engine, CallFilter(search="banana")) == 1
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM calls WHERE id = 1"))
    assert count_calls(engine, CallFilter(search="banana")) == 0


def _plan(engine, query) -> str:
    with engine.connect() as conn:
        compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
        rows = conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
    return " | ".join(row[-1] for row in rows)


@sqlite_only
def test_browse_queries_use_their_indexes(engine):
    add_calls(engine, make_rows(50, model_version="v1", latency_ms=5.0))
    page = list_calls(engine, CallFilter(), limit=10)
    with engine.connect() as conn:
        newest = page_query(conn, CallFilter(), "newest", page.next_cursor)
        by_version = page_query(conn, CallFilter(model_versions=("v1",)), "newest")
        slowest = page_query(conn, CallFilter(), "slowest")
    newest_plan = _plan(engine, newest)
    assert "ix_calls_created_at_id" in newest_plan and "TEMP B-TREE" not in newest_plan
    assert "ix_calls_version_created_at" in _plan(engine, by_version)
    assert "ix_calls_latency_id" in _plan(engine, slowest)


@sqlite_only
@pytest.mark.parametrize(("word", "plan"), [("rare", "IN"), ("mid", "+ 0"), ("common", "EXISTS"),
                                           ("old", "+ 0")])
def test_each_search_plan_pages_the_same_results(engine, monkeypatch, word, plan):
    """rare: 1 call; mid: 5; common: 50 of 60, the newest among them; old: 40 of 60, none of
    the newest ten (where a per-row walk would start)."""
    from evalboard.store import search

    monkeypatch.setattr(search, "RARE_MATCHES", 3)
    monkeypatch.setattr(search, "NEWEST_WINDOW", 10)
    monkeypatch.setattr(search, "DENSE_MATCHES", 3)
    rows = make_rows(60)
    for i, row in enumerate(rows):
        words = (["common"] * (i < 40 or i >= 50) + ["old"] * (i < 40) + ["mid"] * (i % 12 == 0)
                 + ["rare"] * (i == 7))
        row["output"] = " ".join(["answer", *words])
    add_calls(engine, rows)
    expected = sorted((i + 1 for i, r in enumerate(rows) if word in r["output"].split()),
                      reverse=True)
    f = CallFilter(search=word)
    assert _all_pages(engine, f, "newest", limit=4)[0] == expected
    with engine.connect() as conn:
        compiled = str(page_query(conn, f).compile(compile_kwargs={"literal_binds": True}))
    assert plan in compiled


@sqlite_only
def test_the_external_id_check_uses_the_unique_index(engine):
    from evalboard.store.writes import _existing_external_ids

    add_calls(engine, [dict(r, external_id=f"x{i}") for i, r in enumerate(make_rows(5))])
    with engine.connect() as conn:
        rows = [{"source": "production", "external_id": "x1"},
                {"source": "production", "external_id": "new"}]
        assert _existing_external_ids(conn, rows) == {("production", "x1")}
        query = select(Call.external_id).where(Call.source == "import",
                                               Call.external_id.in_(["a", "b"]))
        assert "(source=? AND external_id=?)" in _plan(engine, query)


def test_prepared_pages_return_what_the_sqlalchemy_statement_returns(engine):
    rows = make_rows(300, model_version="v1")
    for k, row in enumerate(rows):
        row.update(model_version=f"v{k % 3 + 1}", source=("production", "eval")[k % 2],
                   latency_ms=None if k % 7 == 0 else float(k % 50), prompt_tokens=k % 90,
                   completion_tokens=k % 4,
                   error="boom" if k % 11 == 0 else None)
    add_calls(engine, rows)
    filters = [CallFilter(), CallFilter(model_versions=("v1", "v3")),
               CallFilter(sources=("eval",), errors_only=True),
               CallFilter(since=T0 + timedelta(minutes=40), until=T0 + timedelta(hours=3)),
               CallFilter(min_latency_ms=10, max_latency_ms=30, min_tokens=5, max_tokens=60)]
    with engine.connect() as conn:
        for f in filters:
            for sort_key in SORTS:
                after = None
                for _ in range(3):  # three pages deep, by the cursor of each
                    expected = conn.execute(page_query(conn, f, sort_key, after, 21)).all()
                    assert _page_rows(conn, f, sort_key, after, 21) == [
                        tuple(row) for row in expected]
                    if len(expected) < 21:
                        break
                    last = list_calls(engine, f, sort_key, after, 20).next_cursor
                    assert last is not None
                    after = last


def test_a_page_of_a_version_logged_later_is_not_remembered_empty(engine):
    add_calls(engine, make_rows(3, model_version="v1"))
    f = CallFilter(model_versions=("later",))
    assert list_calls(engine, f).rows == []
    add_calls(engine, make_rows(2, model_version="later"))
    assert [r.model_version for r in list_calls(engine, f).rows] == ["later", "later"]


def test_browse_counts_split_a_broad_search_only_when_asked(engine):
    add_calls(engine, make_rows(30, model_version="v1"))
    add_calls(engine, make_rows(12, start=T0 + timedelta(days=1), model_version="v2"))
    broad = CallFilter(search="answer")
    exact = browse_counts(engine, broad, split_bound=None)
    assert exact == MatchCounts(42, [("v1", 30), ("v2", 12)])
    unsplit = browse_counts(engine, broad, split_bound=10)
    if engine.dialect.name == "sqlite":  # counted in the full-text index alone
        assert unsplit == MatchCounts(42, None) and unsplit.describe() == "42"
    else:  # PostgreSQL reads every match to count: it stops past the bound
        assert unsplit == MatchCounts(10, None, exact=False)
        assert unsplit.describe() == "more than 10"
    narrowed = CallFilter(search="answer", model_versions=("v2",))  # not a search alone
    assert browse_counts(engine, narrowed, split_bound=10) == MatchCounts(12, [("v2", 12)])
    assert browse_counts(engine, CallFilter(search="number 7"), split_bound=10).per_version
