"""Read calls: filters, keyset pages, counts per model version, one call, streaming for export."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
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
from sqlalchemy.orm import Session, joinedload

from evalboard.store.models import Call, ModelVersion
from evalboard.store.prepared import NamedBinds, PreparedSelect, sql_shape
from evalboard.store.rollup_models import CallDay
from evalboard.store.rollups import day_conditions, split_days
from evalboard.store.search import (
    count_search_matches,
    page_search_condition,
    search_condition,
)

PREVIEW_CHARS = 160
PAGE_SIZE = 50


@dataclass(frozen=True)
class CallFilter:
    """What a Browse view shows; every field maps to a query parameter."""

    model_versions: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    search: str = ""
    advanced_search: bool = False
    meta_key: str = ""
    meta_value: str = ""
    min_latency_ms: float | None = None
    max_latency_ms: float | None = None
    min_tokens: int | None = None
    max_tokens: int | None = None
    errors_only: bool = False

    def without_versions(self) -> CallFilter:
        return replace(self, model_versions=())


@dataclass(frozen=True)
class SortOrder:
    """A sort key with its direction; NULL keys are left out of a sorted view."""

    key: str
    label: str
    column: Any
    descending: bool


SORTS: dict[str, SortOrder] = {
    s.key: s
    for s in (
        SortOrder("newest", "Newest first", Call.created_at, True),
        SortOrder("oldest", "Oldest first", Call.created_at, False),
        SortOrder("slowest", "Slowest first", Call.latency_ms, True),
        SortOrder("fastest", "Fastest first", Call.latency_ms, False),
        SortOrder("most tokens", "Most tokens first", Call.total_tokens, True),
        SortOrder("fewest tokens", "Fewest tokens first", Call.total_tokens, False),
    )
}
DEFAULT_SORT = "newest"


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


_VERSION_IDS: dict[str, dict[str, int]] = {}  # store URL -> {version name: id}


def _version_ids(conn: Connection, names: tuple[str, ...]) -> list[int]:
    """Ids of named versions, from a per-store cache (versions are never renamed or deleted;
    a name the cache lacks reloads it, so new versions are found at once)."""
    key = conn.engine.url.render_as_string(hide_password=True)  # no password in a cache key
    known = _VERSION_IDS.get(key, {})
    if any(name not in known for name in names):
        known = dict(conn.execute(select(ModelVersion.name, ModelVersion.id)).all())
        _VERSION_IDS[key] = known
    return [known[name] for name in names if name in known]


def filter_conditions(
    conn: Connection, f: CallFilter, *, for_page: bool = False, binds: NamedBinds | None = None
) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a filter, with bound parameters only. `for_page` picks the search
    plan that serves one sorted page best (see `search.page_search_condition`). With `binds`,
    every value is a bound parameter named after its field (recorded in `binds`), so that
    filters of one shape compile to the same SQL (see `prepared`)."""
    bind = binds or NamedBinds(named=False)
    conditions: list[ColumnElement[bool]] = []
    if f.model_versions:
        ids = _version_ids(conn, f.model_versions)
        conditions.append(Call.model_version_id.in_(
            [bind(f"version_{k}", vid, Call.model_version_id, of="model_versions")
             for k, vid in enumerate(ids)]))
    if f.sources:
        conditions.append(Call.source.in_(
            [bind(f"source_{k}", source, Call.source, of="sources")
             for k, source in enumerate(f.sources)]))
    if f.since is not None:
        conditions.append(Call.created_at >= bind("since", f.since, Call.created_at, of="since"))
    if f.until is not None:
        conditions.append(Call.created_at < bind("until", f.until, Call.created_at, of="until"))
    if f.search.strip():
        conditions.append(
            page_search_condition(conn, f.search, f.advanced_search)
            if for_page
            else search_condition(conn.dialect.name, f.search, f.advanced_search)
        )
    if f.meta_key.strip():
        value = Call.meta[f.meta_key.strip()].as_string()
        conditions.append(value == f.meta_value if f.meta_value != "" else value.isnot(None))
    for name, column, low, high in (
        ("latency_ms", Call.latency_ms, f.min_latency_ms, f.max_latency_ms),
        ("tokens", Call.total_tokens, f.min_tokens, f.max_tokens),
    ):
        if low is not None:
            conditions.append(column >= bind(f"min_{name}", low, column, of=f"min_{name}"))
        if high is not None:
            conditions.append(column <= bind(f"max_{name}", high, column, of=f"max_{name}"))
    if f.errors_only:
        conditions.append(Call.error.isnot(None))
    return conditions


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
    return select(
        Call.id,
        Call.created_at,
        ModelVersion.name,
        Call.source,
        _input_preview(dialect),
        func.substr(Call.output, 1, PREVIEW_CHARS),
        Call.latency_ms,
        Call.total_tokens,
        Call.error.isnot(None),
        Call.input_messages.isnot(None),
    ).join(ModelVersion, ModelVersion.id == Call.model_version_id)


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
        if len(_PAGE_PLANS) >= PAGE_PLANS_KEPT:
            _PAGE_PLANS.clear()
        plan = _PAGE_PLANS[key] = (prepared, binds.values)
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


def _counted_from_calls(conn: Connection, f: CallFilter) -> dict[int, int]:
    rows = conn.execute(
        select(Call.model_version_id, func.count())
        .where(and_(true(), *filter_conditions(conn, f)))
        .group_by(Call.model_version_id)
    ).all()
    return {version_id: count for version_id, count in rows}


def _rollups_answer(f: CallFilter) -> bool:
    """The daily rollups can count a filter of versions, sources, a time range and errors."""
    return not (f.search.strip() or f.meta_key.strip() or f.min_latency_ms is not None
                or f.max_latency_ms is not None or f.min_tokens is not None
                or f.max_tokens is not None)


def _counts(conn: Connection, f: CallFilter) -> dict[int, int]:
    """Calls matching a filter per model version id: whole days from the daily rollups and
    the parts of days at the ends of the range from the calls, when the rollups can count
    the filter; otherwise from the calls."""
    if not _rollups_answer(f):
        return _counted_from_calls(conn, f)
    split = split_days(f.since, f.until)
    counts: dict[int, int] = {}
    if split.whole_days:
        counted = CallDay.errors if f.errors_only else CallDay.calls
        query = select(CallDay.model_version_id, func.sum(counted)).where(
            *day_conditions(CallDay.day, split))
        if f.model_versions:
            query = query.where(CallDay.model_version_id.in_(_version_ids(conn, f.model_versions)))
        if f.sources:
            query = query.where(CallDay.source.in_(f.sources))
        for version_id, count in conn.execute(query.group_by(CallDay.model_version_id)):
            counts[version_id] = int(count)
    for start, end in split.partial:
        for version_id, count in _counted_from_calls(conn, replace(f, since=start,
                                                                   until=end)).items():
            counts[version_id] = counts.get(version_id, 0) + count
    return {version_id: count for version_id, count in counts.items() if count}


def count_by_version(engine: Engine, f: CallFilter) -> list[tuple[str, int]]:
    """How many calls of each model version match the filter, largest first."""
    with engine.connect() as conn, conn.begin():
        counts = _counts(conn, f)
        names = dict(conn.execute(select(ModelVersion.id, ModelVersion.name)).all())
    return sorted(((names[vid], n) for vid, n in counts.items()),
                  key=lambda item: (-item[1], item[0]))


SPLIT_BOUND = 20_000  # a search-only filter matching more: no per-version split unless asked


@dataclass(frozen=True)
class MatchCounts:
    """How many calls match a Browse filter, and how many per model version (None when not
    counted: a search alone matching more than the split bound)."""

    total: int
    per_version: list[tuple[str, int]] | None


def browse_counts(engine: Engine, f: CallFilter, split_bound: int | None = SPLIT_BOUND
                  ) -> MatchCounts:
    """The Browse page's counts. A search with no other filter that matches more than
    `split_bound` calls is counted in the full-text index alone (the split per version would
    look up every match); every other filter is counted per version."""
    if split_bound is not None and f.search.strip() and f == CallFilter(
            search=f.search, advanced_search=f.advanced_search):
        with engine.connect() as conn:
            total = count_search_matches(conn, f.search, f.advanced_search)
        if total is not None and total > split_bound:
            return MatchCounts(total, None)
    per_version = count_by_version(engine, f)
    return MatchCounts(sum(n for _, n in per_version), per_version)


def count_calls(engine: Engine, f: CallFilter | None = None) -> int:
    """How many calls match the filter (every call without one)."""
    with engine.connect() as conn, conn.begin():
        return sum(_counts(conn, f or CallFilter()).values())


def has_calls(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(Call.id).limit(1)).first() is not None


def get_call(engine: Engine, call_id: int) -> Call | None:
    """The whole call with its model version, or None."""
    with Session(engine) as session:
        return session.get(Call, call_id, options=[joinedload(Call.model_version)])


def list_model_versions(engine: Engine) -> list[ModelVersion]:
    """Every model version in creation order."""
    with Session(engine) as session:
        return list(
            session.scalars(select(ModelVersion).order_by(ModelVersion.created_at, ModelVersion.id))
        )


def iter_calls(engine: Engine, f: CallFilter, batch_size: int = 1000) -> Iterator[dict[str, Any]]:
    """Every matching call as a plain dict, oldest first, read in keyset batches."""
    last_id = 0
    while True:
        with Session(engine) as session:
            conn = session.connection()
            rows = session.execute(
                select(Call, ModelVersion.name)
                .join(ModelVersion, ModelVersion.id == Call.model_version_id)
                .where(and_(Call.id > last_id, *filter_conditions(conn, f)))
                .order_by(Call.id)
                .limit(batch_size)
            ).all()
        if not rows:
            return
        for call, version in rows:
            yield call_as_dict(call, version)
        last_id = rows[-1][0].id


def call_as_dict(call: Call, version: str) -> dict[str, Any]:
    """A call in the exchange shape that `evalboard import` reads back."""
    return {
        "id": call.id,
        "created_at": call.created_at.isoformat(),
        "model_version": version,
        "source": call.source,
        "input": call.input_messages if call.input_messages is not None else call.input_text,
        "output": call.output,
        "latency_ms": call.latency_ms,
        "prompt_tokens": call.prompt_tokens,
        "completion_tokens": call.completion_tokens,
        "error": call.error,
        "metadata": call.meta,
        "session_id": call.session_id,
        "external_id": call.external_id,
    }


def matching_ids(engine: Engine, f: CallFilter, batch_size: int = 10_000) -> list[int]:
    """Ids of every call matching the filter (ids only, read in keyset batches)."""
    ids: list[int] = []
    while True:
        with engine.connect() as conn:
            batch = list(
                conn.scalars(
                    select(Call.id)
                    .where(and_(Call.id > (ids[-1] if ids else 0), *filter_conditions(conn, f)))
                    .order_by(Call.id)
                    .limit(batch_size)
                )
            )
        ids.extend(batch)
        if len(batch) < batch_size:
            return ids
