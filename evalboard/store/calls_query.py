"""Read calls: the filter every list and count shares, one call, streaming for export (pages:
`calls_pages`; counts: `calls_counts`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    select,
)
from sqlalchemy.orm import Session, joinedload

from evalboard.store.models import Call, ModelVersion
from evalboard.store.monitor_filter import failing_monitor_condition
from evalboard.store.prepared import NamedBinds
from evalboard.store.review_filter import has_review_state, review_conditions
from evalboard.store.search import (
    page_search_condition,
    search_condition,
)


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
    # What reviewers said (see `review_filter`): one current judgement matches all of these
    verdicts: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()  # any of them
    reviewers: tuple[str, ...] = ()
    corrected: bool = False  # has a corrected output
    reviewed: bool | None = None  # True: someone judged it; False: nobody (of `reviewers`)
    promoted: bool = False  # a test case was made from it
    failing_monitors: tuple[int, ...] = ()  # monitor ids: failed a check of any of them

    def without_versions(self) -> CallFilter:
        return replace(self, model_versions=())

    def asks_review_state(self) -> bool:
        return has_review_state(self)

    def plan_follows_data(self) -> bool:
        """Whether a page's plan is chosen from counts of the data (so never kept)."""
        return self.asks_review_state() or bool(self.failing_monitors)


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


_VERSION_IDS: dict[str, dict[str, int]] = {}  # store URL -> {version name: id}


def version_ids(conn: Connection, names: tuple[str, ...]) -> list[int]:
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
        ids = version_ids(conn, f.model_versions)
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
    if f.search.strip() and for_page:
        conditions.append(page_search_condition(conn, f.search, f.advanced_search)[1])
    elif f.search.strip():
        conditions.append(search_condition(conn.dialect.name, f.search, f.advanced_search))
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
    if f.asks_review_state():
        conditions.extend(review_conditions(f, bind, conn if for_page else None))
    if f.failing_monitors:
        conditions.append(failing_monitor_condition(f.failing_monitors, bind,
                                                    conn if for_page else None))
    return conditions


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
