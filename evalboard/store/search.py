"""Full-text search over call input and output, with the dialect hidden behind one function.

SQLite: the FTS5 table. PostgreSQL: the stored document's GIN index (see `pg_search`), with the same
plain and advanced query language. Other dialects: a portable ILIKE fallback. Every search is
checked first (`search_syntax.prepare_search`): one that cannot run raises SearchQueryError with
a readable message, and each dialect gets a query its engine accepts.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    any_,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    true,
)

from evalboard.store import pg_search
from evalboard.store.models import Call
from evalboard.store.schema_extras import FTS_TABLE
from evalboard.store.search_syntax import (
    MAX_QUERY_CHARS,
    PreparedSearch,
    SearchQueryError,
    SearchSyntaxError,
    Term,
    prepare_search,
)

_TOKEN = re.compile(r"\S+")


def check_search(query: str, advanced: bool = False) -> str | None:
    """Check a search as it is entered: None, or a note to show beside it (a long search was
    shortened); raises SearchQueryError with a one-line explanation when it cannot run."""
    return prepare_search(query, advanced).note if query.strip() else None


def _fts_string(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def escape_fts(query: str) -> str:
    """Turn any text into a valid FTS5 query: every word quoted, all words required."""
    return " ".join(_fts_string(word) for word in _TOKEN.findall(query))


def fts_expression(query: str, advanced: bool) -> str:
    """The FTS5 query for a search (SearchQueryError when it cannot run)."""
    search = prepare_search(query, advanced)
    if search.tokens is None:
        return escape_fts(search.text)
    return " ".join(_fts_string(token.text) + ("*" if token.prefix else "")
                    if isinstance(token, Term) else token for token in search.tokens)


def matching_ids(dialect: str, query: str, advanced: bool) -> Select[tuple[int]] | None:
    """A select of matching call ids from the full-text index: SQLite's FTS table, PostgreSQL's
    stored document (None on other dialects)."""
    if dialect == "postgresql":
        return select(Call.id).where(pg_search.fts_match(prepare_search(query, advanced)))
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
    """A WHERE clause matching calls whose input or output contains the query (a search that
    cannot run raises SearchQueryError, SearchSyntaxError for advanced syntax)."""
    if dialect == "postgresql":
        return pg_search.fts_match(prepare_search(query, advanced))
    if dialect == "sqlite":
        return Call.id.in_(matching_ids(dialect, query, advanced))
    return _portable_condition(prepare_search(query, advanced))


def _portable_condition(search: PreparedSearch) -> ColumnElement[bool]:
    """Every word (every term of an advanced search, its operators aside) must appear in the
    input or the output."""
    words = (_TOKEN.findall(search.text) if search.tokens is None
             else [token.text for token in search.tokens if isinstance(token, Term)])
    return and_(
        true(),
        *(
            or_(
                Call.input_text.icontains(word, autoescape=True),
                Call.output.icontains(word, autoescape=True),
            )
            for word in words
        ),
    )


RARE_MATCHES = 2000  # fewer matches than this: fetch them all and sort (the cheapest plan)
NEWEST_WINDOW = 1000  # the newest ids, where a newest-first page of a common word begins
DENSE_MATCHES = 100  # matches among them from which asking the index per row is cheaper
PG_DENSE_MATCHES = 10  # PostgreSQL: matches among them from which its planner's walk is cheap


def page_search_condition(conn: Connection, query: str, advanced: bool = False
                          ) -> tuple[str, ColumnElement[bool]]:
    """The search clause for one sorted page, chosen by how common the words are, with the
    plan's name. (A search's page is built anew each time: see `calls_pages._page_rows`.)

    Few matches: look them up by id (on PostgreSQL an array of the ids, which the planner
    cannot turn into a walk of the sort index testing every row: 54 ms for a word in 0.1%
    of a million calls, 3 ms this way). SQLite, more matches (up to a tenth of the calls, and
    at least ten times the few): walk the sort index and test membership (`id + 0` keeps
    SQLite from driving by rowid). Commoner still, and common among the newest calls too:
    ask the full-text index per row (EXISTS, ~70 us a row), which stops after one page; when
    the newest calls hardly match (a stretch of eval outputs, say), that walk would be long,
    so the membership walk it is. PostgreSQL: a word in 1% of the newest calls, or with more
    than the few matches, is left to its planner, which walks the sort index testing the
    stored document (~1.2 us a row); the newest calls are counted first because the bounded
    count of a common word costs ~9 ms (it reads 2,000 matching rows). Measured at 10k and
    1M calls: under 50 ms. Other dialects leave the choice to their planner.
    """
    dialect = conn.dialect.name
    ids = matching_ids(dialect, query, advanced)
    if ids is None:
        return "planner", search_condition(dialect, query, advanced)
    total = conn.execute(select(func.max(Call.id))).scalar() or 0
    if dialect == "postgresql":
        newest = ids.where(Call.id > total - NEWEST_WINDOW)
        if (_count(conn, newest) < PG_DENSE_MATCHES
                and (count_search_matches(conn, query, advanced, RARE_MATCHES) or 0)
                < RARE_MATCHES):
            return "lookup", Call.id == any_(func.array(ids.scalar_subquery()))
        return "planner", search_condition(dialect, query, advanced)
    bound = max(10 * RARE_MATCHES, total // 10)
    matches = count_search_matches(conn, query, advanced, bound) or 0
    if matches < RARE_MATCHES:
        return "lookup", Call.id.in_(ids)
    if matches < bound or _newest_matches(conn, ids, total) < DENSE_MATCHES:
        return "membership", (Call.id + 0).in_(ids)
    return "probe", exists(
        select(literal(1)).select_from(text(FTS_TABLE)).where(
            text(f"{FTS_TABLE} MATCH :fts_page_query AND {FTS_TABLE}.rowid = calls.id")
            .bindparams(fts_page_query=fts_expression(query, advanced))))


def count_search_matches(conn: Connection, query: str, advanced: bool = False,
                         bound: int | None = None) -> int | None:
    """How many calls the query matches (at most `bound`), counted in the full-text index
    (on PostgreSQL, its GIN index and the matching rows); None where there is no such index."""
    ids = matching_ids(conn.dialect.name, query, advanced)
    if ids is None:
        return None
    return _count(conn, ids if bound is None else ids.limit(bound))


def _count(conn: Connection, ids: Any) -> int:
    return conn.execute(select(func.count()).select_from(ids.subquery())).scalar_one()


def _newest_matches(conn: Connection, ids: Any, total: int) -> int:
    """How many of the NEWEST_WINDOW highest call ids match (ids grow with logging time)."""
    return _count(conn, ids.where(text("rowid > :newest_floor").bindparams(
        newest_floor=total - NEWEST_WINDOW)))


def validate_advanced_query(conn: Connection, query: str) -> None:
    """Raise SearchSyntaxError with a readable explanation when an advanced query is invalid
    (the search clause for this connection's dialect is built, not run)."""
    search_condition(conn.dialect.name, query, advanced=True)


__all__ = ["MAX_QUERY_CHARS", "SearchQueryError", "SearchSyntaxError", "check_search",
           "count_search_matches", "escape_fts", "page_search_condition", "search_condition",
           "validate_advanced_query"]
