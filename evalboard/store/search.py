"""Full-text search over call input and output, with the dialect hidden behind one function.

SQLite: the FTS5 table. PostgreSQL: the GIN expression index (see `pg_search`), with the same
plain and advanced query language. Other dialects: a portable ILIKE fallback.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.exc import OperationalError

from evalboard.store import pg_search
from evalboard.store.models import Call
from evalboard.store.schema_extras import FTS_TABLE

_TOKEN = re.compile(r"\S+")
MAX_QUERY_CHARS = 1000


_SYNTAX_HINT = ('Quote words with special characters, e.g. "C++", or turn off advanced search '
                "to search for the words as typed.")


class SearchSyntaxError(ValueError):
    """An advanced search query that the full-text engine cannot parse."""


def _postgres_condition(query: str, advanced: bool) -> ColumnElement[bool]:
    try:
        return pg_search.fts_match(Call.input_text, Call.output, query[:MAX_QUERY_CHARS], advanced)
    except ValueError as exc:
        raise SearchSyntaxError(f"{exc}. {_SYNTAX_HINT}") from None


def escape_fts(query: str) -> str:
    """Turn any text into a valid FTS5 query: every word quoted, all words required."""
    words = _TOKEN.findall(query[:MAX_QUERY_CHARS])
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


def fts_expression(query: str, advanced: bool) -> str:
    return query[:MAX_QUERY_CHARS].strip() if advanced else escape_fts(query)


def matching_ids(dialect: str, query: str, advanced: bool) -> Select[tuple[int]] | None:
    """A select of matching call ids for the SQLite FTS index (None on other dialects)."""
    if dialect != "sqlite":
        return None
    return (
        select(text("rowid"))
        .select_from(text(FTS_TABLE))
        .where(
            text(f"{FTS_TABLE} MATCH :fts_query").bindparams(
                fts_query=fts_expression(query, advanced)
            )
        )
    )


def search_condition(dialect: str, query: str, advanced: bool = False) -> ColumnElement[bool]:
    """A WHERE clause matching calls whose input or output contains the query (an invalid
    advanced query raises SearchSyntaxError on PostgreSQL, OperationalError on SQLite)."""
    if dialect == "postgresql":
        return _postgres_condition(query, advanced)
    ids = matching_ids(dialect, query, advanced)
    if ids is not None:
        return Call.id.in_(ids)
    # Portable fallback: every word must appear in the input or the output.
    return and_(
        true(),
        *(
            or_(
                Call.input_text.icontains(word, autoescape=True),
                Call.output.icontains(word, autoescape=True),
            )
            for word in _TOKEN.findall(query[:MAX_QUERY_CHARS])
        ),
    )


RARE_MATCHES = 2000  # fewer matches than this: fetch them all and sort (the cheapest plan)
NEWEST_WINDOW = 1000  # the newest ids, where a newest-first page of a common word begins
DENSE_MATCHES = 100  # matches among them from which asking the index per row is cheaper


def page_search_condition(conn: Connection, query: str, advanced: bool = False
                          ) -> ColumnElement[bool]:
    """The search clause for one sorted page, chosen by how common the words are.

    Few matches: look them up by id. More (up to a tenth of the calls, and at least ten
    times the few): walk the sort index and test membership (`id + 0` keeps SQLite from
    driving by rowid). Commoner still, and common among the newest calls too: ask the
    full-text index per row (EXISTS, ~70 us a row), which stops after one page; when the
    newest calls hardly match (a stretch of eval outputs, say), that walk would be long, so
    the membership walk it is. Measured at 10k and 1M calls: under 50 ms. Other dialects
    leave the choice to their planner.
    """
    ids = matching_ids(conn.dialect.name, query, advanced)
    if ids is None:
        return search_condition(conn.dialect.name, query, advanced)
    total = conn.execute(select(func.max(Call.id))).scalar() or 0
    bound = max(10 * RARE_MATCHES, total // 10)
    matches = count_search_matches(conn, query, advanced, bound) or 0
    if matches < RARE_MATCHES:
        return Call.id.in_(ids)
    if matches < bound or _newest_matches(conn, ids, total) < DENSE_MATCHES:
        return (Call.id + 0).in_(ids)
    return exists(
        select(literal(1)).select_from(text(FTS_TABLE)).where(
            text(f"{FTS_TABLE} MATCH :fts_page_query AND {FTS_TABLE}.rowid = calls.id")
            .bindparams(fts_page_query=fts_expression(query, advanced))))


def count_search_matches(conn: Connection, query: str, advanced: bool = False,
                         bound: int | None = None) -> int | None:
    """How many calls the query matches (at most `bound`), counted in the full-text index
    alone; None where there is no such index (PostgreSQL counts with its planner)."""
    ids = matching_ids(conn.dialect.name, query, advanced)
    if ids is None:
        return None
    if bound is not None:
        ids = ids.limit(bound)
    return conn.execute(select(func.count()).select_from(ids.subquery())).scalar_one()


def _newest_matches(conn: Connection, ids: Any, total: int) -> int:
    """How many of the NEWEST_WINDOW highest call ids match (ids grow with logging time)."""
    recent = ids.where(text("rowid > :newest_floor").bindparams(
        newest_floor=total - NEWEST_WINDOW))
    return conn.execute(select(func.count()).select_from(recent.subquery())).scalar_one()


def validate_advanced_query(conn: Connection, query: str) -> None:
    """Raise SearchSyntaxError with the engine's explanation when an advanced query is invalid."""
    if conn.dialect.name == "postgresql":
        _postgres_condition(query, advanced=True)
        return
    ids = matching_ids(conn.dialect.name, query, advanced=True)
    if ids is None:
        return
    try:
        conn.execute(ids.limit(1)).all()
    except OperationalError as exc:
        message = str(exc.orig) if exc.orig is not None else str(exc)
        raise SearchSyntaxError(f"{message}. {_SYNTAX_HINT}") from None
