"""Browse pages of calls: keyset pages in any sort, compiled once per SQL shape."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    and_,
    case,
    func,
    select,
    true,
    tuple_,
)

from evalboard.store.calls_query import (
    DEFAULT_SORT,
    SORTS,
    CallFilter,
    SortOrder,
    filter_conditions,
)
from evalboard.store.models import Call, ModelVersion
from evalboard.store.prepared import NamedBinds, PreparedSelect, sql_shape

PREVIEW_CHARS = 160
PAGE_SIZE = 50


@dataclass(slots=True)
class CallRow:
    """One line of the Browse table."""

    id: int
    created_at: datetime
    model_version: str
    source: str
    input_preview: str
    output_preview: str
    latency_ms: float | None
    total_tokens: int | None
    error: bool


@dataclass(frozen=True)
class Cursor:
    """Where a keyset page ends: the sort value and id of its last row."""

    value: Any
    id: int

    def encode(self) -> str:
        value = self.value.isoformat() if isinstance(self.value, datetime) else self.value
        return f"{value}~{self.id}"

    @staticmethod
    def decode(token: str, sort: SortOrder) -> Cursor:
        """Parse a token from a URL; raise ValueError when it does not fit the sort."""
        raw_value, _, raw_id = token.rpartition("~")
        if sort.column is Call.created_at:
            value: Any = datetime.fromisoformat(raw_value)
        elif sort.column is Call.total_tokens:
            value = int(raw_value)
        else:
            value = float(raw_value)
        return Cursor(value, int(raw_id))


@dataclass
class CallPage:
    """A page of rows; `next_cursor` asks for the page after it, `previous_cursor` (as
    `before`) for the page before it."""

    rows: list[CallRow]
    next_cursor: Cursor | None
    previous_cursor: Cursor | None = None
    extra: dict[str, Any] = field(default_factory=dict)




def _input_preview(dialect: str) -> ColumnElement[str]:
    """The start of a prompt, or the end of a chat transcript (where the newest turn is)."""
    tail = (
        func.right(Call.input_text, PREVIEW_CHARS)
        if dialect == "postgresql"
        else func.substr(Call.input_text, -PREVIEW_CHARS)
    )
    return case(
        (Call.input_messages.isnot(None), tail),
        else_=func.substr(Call.input_text, 1, PREVIEW_CHARS),
    )


def _last_turn(preview: str) -> str:
    """Cut a chat transcript's tail to its last user turn."""
    start = preview.rfind("user: ")
    if start == 0:
        return preview
    return preview[start:] if start > 0 else "…" + preview


def _call_row(row: Any) -> CallRow:
    call_id, created, version, source, preview, output, latency, tokens, error, is_chat = row
    return CallRow(call_id, created, version, source, _last_turn(preview) if is_chat else preview,
                   output, latency, tokens, error)


@functools.cache
def _row_select(dialect: str) -> Select[Any]:
    """The columns of a Browse row. The version's name is a scalar subquery, not a join: with
    `calls` alone in FROM, SQLite walks the sort's index and stops after a page (with a join
    and a million calls' statistics it chose to read every version's calls and sort them)."""
    version_name = (select(ModelVersion.name).where(ModelVersion.id == Call.model_version_id)
                    .scalar_subquery())
    return select(
        Call.id,
        Call.created_at,
        version_name,
        Call.source,
        _input_preview(dialect),
        func.substr(Call.output, 1, PREVIEW_CHARS),
        Call.latency_ms,
        Call.total_tokens,
        Call.error.isnot(None),
        Call.input_messages.isnot(None),
    )


@dataclass(frozen=True)
class PageRequest:
    """One keyset page: the rows just after `after` (older, in the sort's order), or with
    `before` the rows just before it (newer); the first page with neither."""

    filter: CallFilter
    sort_key: str = DEFAULT_SORT
    after: Cursor | None = None
    before: Cursor | None = None
    limit: int = PAGE_SIZE


def page_query(
    conn: Connection,
    f: CallFilter,
    sort_key: str = DEFAULT_SORT,
    after: Cursor | None = None,
    limit: int = PAGE_SIZE,
    binds: NamedBinds | None = None,
    before: Cursor | None = None,
) -> Select[Any]:
    """The keyset-paged SELECT of one Browse page (exposed for EXPLAIN and benchmarks). A
    page `before` a cursor comes in reverse order (nearest the cursor first)."""
    bind = binds or NamedBinds(named=False)
    sort = SORTS[sort_key]
    column = sort.column
    conditions = filter_conditions(conn, f, for_page=True, binds=binds)
    query = _row_select(conn.dialect.name).where(and_(true(), *conditions))
    if column is not Call.created_at:
        query = query.where(column.isnot(None))
    descending = sort.descending if before is None else not sort.descending
    position, rows = _keyset_binds(bind, sort, after, before, limit)
    if position is not None:
        key = tuple_(column, Call.id)
        query = query.where(key < position if descending else key > position)
    order = (column.desc(), Call.id.desc()) if descending else (column.asc(), Call.id.asc())
    return query.order_by(*order).limit(rows)


def _keyset_binds(bind: NamedBinds, sort: SortOrder, after: Cursor | None,
                  before: Cursor | None, limit: int) -> tuple[Any, Any]:
    """The bound (sort value, id) a page starts from, and its row count."""
    position = None
    for name, cursor in (("after", after), ("before", before)):
        if cursor is not None:
            position = tuple_(bind(f"{name}_value", cursor.value, sort.column, of=name),
                              bind(f"{name}_id", cursor.id, Call.id, of=name))
    return position, bind("page_rows", limit, Call.id, of="limit")


def _page_rows(conn: Connection, f: CallFilter, sort_key: str, after: Cursor | None,
               limit: int, before: Cursor | None = None) -> list[Any]:
    """The rows of one page. A filter without search or metadata runs as SQL compiled once
    per SQL shape, straight on the driver (a Browse page is a hot path: SQLAlchemy's
    statement building and execution would cost more than SQLite's query)."""
    request = PageRequest(f, sort_key, after, before, limit)
    plan = None if f.search.strip() or f.meta_key.strip() else _page_plan(conn, request)
    if plan is None:
        return list(conn.execute(_request_query(conn, request)).all())
    prepared, values = plan
    return prepared.fetch(conn, values)


def _request_query(conn: Connection, request: PageRequest,
                   binds: NamedBinds | None = None) -> Select[Any]:
    return page_query(conn, request.filter, request.sort_key, request.after, request.limit,
                      binds, request.before)


_PREPARED: dict[tuple[Any, ...], PreparedSelect] = {}  # SQL shape -> compiled page SQL
_PAGE_PLANS: dict[tuple[Any, ...], tuple[PreparedSelect, dict[str, Any]]] = {}
PAGE_PLANS_KEPT = 1000


def _page_plan(conn: Connection, request: PageRequest
               ) -> tuple[PreparedSelect, dict[str, Any]] | None:
    """The compiled SQL of a page and its parameter values, remembered per store and page
    (the values of a filter never change: version names map to ids for good); None while a
    model version of the filter is unknown. The compiled SQL is shared by every request of
    the same `sql_shape`."""
    key = (conn.engine.url, request)
    plan = _PAGE_PLANS.get(key)
    if plan is None:
        binds = NamedBinds()
        filter_conditions(conn, request.filter, for_page=True, binds=binds)
        if sum(name.startswith("version_") for name in binds.values) < len(
                request.filter.model_versions):
            return None
        _keyset_binds(binds, SORTS[request.sort_key], request.after, request.before,
                      request.limit)
        shape = (conn.dialect.name, *sql_shape(request, binds))
        prepared = _PREPARED.get(shape)
        if prepared is None:
            statement = _request_query(conn, request, NamedBinds())
            prepared = _PREPARED[shape] = PreparedSelect.compile(conn, statement)
        plan = (prepared, binds.values)
        if not request.filter.plan_follows_data():  # else choose anew on every page
            if len(_PAGE_PLANS) >= PAGE_PLANS_KEPT:
                _PAGE_PLANS.clear()
            _PAGE_PLANS[key] = plan
    return plan


def _row_cursor(row: CallRow, sort: SortOrder) -> Cursor:
    value = {
        Call.created_at: row.created_at,
        Call.latency_ms: row.latency_ms,
        Call.total_tokens: row.total_tokens,
    }[sort.column]
    return Cursor(value, row.id)


def list_calls(
    engine: Engine,
    f: CallFilter,
    sort_key: str = DEFAULT_SORT,
    after: Cursor | None = None,
    limit: int = PAGE_SIZE,
    before: Cursor | None = None,
) -> CallPage:
    """One page of calls, newest first by default: the first page, the page `after` a cursor,
    or the page `before` one (the first page when fewer than a page's rows come before it).
    `next_cursor` is None on the last page, `previous_cursor` None on the first."""
    sort = SORTS[sort_key]
    with engine.connect() as conn:
        fetched = _page_rows(conn, f, sort_key, after, limit + 1, before)
    if before is not None:
        if len(fetched) <= limit:
            return list_calls(engine, f, sort_key, None, limit)
        rows = [_call_row(row) for row in reversed(fetched[:limit])]
        return CallPage(rows, _row_cursor(rows[-1], sort), _row_cursor(rows[0], sort))
    rows = [_call_row(row) for row in fetched[:limit]]
    next_cursor = _row_cursor(rows[-1], sort) if len(fetched) > limit else None
    previous_cursor = _row_cursor(rows[0], sort) if after is not None and rows else None
    return CallPage(rows, next_cursor, previous_cursor)
