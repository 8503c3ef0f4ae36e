"""Pick the calls of a review session: each strategy returns call ids, never one twice."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from sqlalchemy import Engine, and_, func, or_, select, true

from evalboard.errors import EvalboardError
from evalboard.monitors.results import fails_any_monitor
from evalboard.review.agreement_query import disagreements
from evalboard.review.annotations import is_reviewed
from evalboard.store.calls_pages import list_calls
from evalboard.store.calls_query import (
    DEFAULT_SORT,
    CallFilter,
    filter_conditions,
    list_model_versions,
)
from evalboard.store.models import Call
from evalboard.store.run_models import CaseResult

STRATEGIES: dict[str, str] = {
    "random": "Random unreviewed",
    "stratified": "Stratified across model versions (unreviewed)",
    "newest": "Newest unreviewed first",
    "failing_checks": "Failing checks first (unreviewed calls whose test cases fail)",
    "disagreements": "Disagreements first (reviewers differ)",
    "as_displayed": "As displayed in Browse (current filter and sort)",
}



class ReviewSessionError(EvalboardError, ValueError):
    """A session that cannot be started or used; the message says why."""


@dataclass(frozen=True)
class SessionSpec:
    """How many calls, from which slice of the data, picked how."""

    size: int
    strategy: str = "random"
    call_filter: CallFilter = field(default_factory=CallFilter)
    sort_key: str = DEFAULT_SORT
    seed: int | None = None
    call_ids: tuple[int, ...] = ()  # the "listed" strategy's calls, in review order


def _unreviewed_candidates(engine: Engine, f: CallFilter) -> list[tuple[int, int]]:
    """(call id, model version id) of every matching call nobody has judged yet."""
    with engine.connect() as conn:
        conditions = filter_conditions(conn, f)
        return [
            tuple(row)
            for row in conn.execute(
                select(Call.id, Call.model_version_id)
                .where(and_(true(), *conditions), ~is_reviewed())
                .order_by(Call.id)
            )
        ]


PROBES_PER_QUERY = 1000
PROBE_QUERIES = 8


def _probed(engine: Engine, f: CallFilter, size: int, rng: random.Random) -> list[int] | None:
    """Up to `size` matching unreviewed calls, uniformly at random, without reading them all:
    draw ids uniformly from the id range and keep those that are candidates (each candidate is
    equally likely on every draw). None when too few draws hit (sparse candidates: then
    reading them all is cheap)."""
    with engine.connect() as conn:
        conditions = filter_conditions(conn, f)
        low, high = conn.execute(select(func.min(Call.id), func.max(Call.id))).one()
        if low is None:
            return []
        span = high - low + 1
        if span <= PROBES_PER_QUERY * PROBE_QUERIES:
            return None  # a small store: read the candidates
        drawn: set[int] = set()
        picked: list[int] = []
        for _ in range(PROBE_QUERIES):
            probes = []
            while len(probes) < PROBES_PER_QUERY:
                probe = low + rng.randrange(span)
                if probe not in drawn:
                    drawn.add(probe)
                    probes.append(probe)
            hits = set(conn.scalars(select(Call.id).where(
                Call.id.in_(probes), and_(true(), *conditions), ~is_reviewed())))
            picked.extend(probe for probe in probes if probe in hits)  # in draw order
            if len(picked) >= size:
                return picked[:size]
    return None


def _random(engine: Engine, spec: SessionSpec) -> list[int]:
    rng = random.Random(spec.seed)
    probed = _probed(engine, spec.call_filter, spec.size, rng)
    if probed is not None:
        return probed
    ids = [call_id for call_id, _ in _unreviewed_candidates(engine, spec.call_filter)]
    return rng.sample(ids, min(spec.size, len(ids)))


def _stratified(engine: Engine, spec: SessionSpec) -> list[int]:
    """Equal shares per model version; a version with too few calls leaves its share to others."""
    rng = random.Random(spec.seed)
    pools = _probed_per_version(engine, spec, rng)
    if pools is None:
        by_version: dict[int, list[int]] = defaultdict(list)
        for call_id, version_id in _unreviewed_candidates(engine, spec.call_filter):
            by_version[version_id].append(call_id)
        pools = [rng.sample(ids, len(ids)) for _, ids in sorted(by_version.items())]
    picked: list[int] = []
    while len(picked) < spec.size and any(pools):
        for pool in pools:
            if pool and len(picked) < spec.size:
                picked.append(pool.pop())
    rng.shuffle(picked)
    return picked


def _probed_per_version(engine: Engine, spec: SessionSpec, rng: random.Random
                        ) -> list[list[int]] | None:
    """Random pools per model version of the filter (each up to the session's size) by
    probing; None when a version's candidates are too sparse to probe."""
    f = spec.call_filter
    names = f.model_versions or tuple(v.name for v in list_model_versions(engine))
    pools = []
    for name in sorted(set(names)):
        pool = _probed(engine, replace(f, model_versions=(name,)), spec.size, rng)
        if pool is None:
            return None
        pools.append(pool[::-1])  # taken from the end
    return pools


def _newest(engine: Engine, spec: SessionSpec) -> list[int]:
    with engine.connect() as conn:
        conditions = filter_conditions(conn, spec.call_filter)
        return list(
            conn.scalars(
                select(Call.id)
                .where(and_(true(), *conditions), ~is_reviewed())
                .order_by(Call.created_at.desc(), Call.id.desc())
                .limit(spec.size)
            )
        )


def _failing_checks(engine: Engine, spec: SessionSpec) -> list[int]:
    """Unreviewed calls that a case (replayed or generated) or a monitor failed on, newest
    first."""
    with engine.connect() as conn:
        conditions = filter_conditions(conn, spec.call_filter)
        return list(conn.scalars(
            select(Call.id).where(
                and_(true(), *conditions), ~is_reviewed(),
                or_(Call.id.in_(select(CaseResult.call_id).where(
                    CaseResult.status.in_(("fail", "error")))), fails_any_monitor()))
            .order_by(Call.id.desc()).limit(spec.size)))


def _disagreements(engine: Engine, spec: SessionSpec) -> list[int]:
    """Calls whose reviewers' current judgements differ (verdict or labels), newest first."""
    f = spec.call_filter
    found = disagreements(engine, limit=spec.size, model_versions=f.model_versions,
                          since=f.since, until=f.until)
    return [d.call_id for d in found]


def _as_displayed(engine: Engine, spec: SessionSpec) -> list[int]:
    picked: list[int] = []
    cursor = None
    while len(picked) < spec.size:
        page = list_calls(
            engine, spec.call_filter, spec.sort_key, cursor, limit=min(500, spec.size - len(picked))
        )
        picked.extend(row.id for row in page.rows)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    return picked


def _listed(engine: Engine, spec: SessionSpec) -> list[int]:
    """The calls the spec lists (a failure cluster, say), in its order, reviewed or not. Not
    in STRATEGIES (nothing to pick in the form): callers name the session."""
    return list(spec.call_ids[:spec.size])


SAMPLERS: dict[str, Callable[[Engine, SessionSpec], list[int]]] = {
    "random": _random,
    "stratified": _stratified,
    "newest": _newest,
    "failing_checks": _failing_checks,
    "disagreements": _disagreements,
    "as_displayed": _as_displayed,
    "listed": _listed,
}


def pick_calls(engine: Engine, spec: SessionSpec) -> list[int]:
    """The call ids of a new session, in review order, without repeats."""
    if spec.strategy not in SAMPLERS:
        raise ReviewSessionError(
            f"unknown strategy {spec.strategy!r}; use one of {', '.join(SAMPLERS)}")
    if spec.size < 1:
        raise ReviewSessionError("a session needs at least one call")
    return list(dict.fromkeys(SAMPLERS[spec.strategy](engine, spec)))
