"""Pairs of calls of two model versions with the same input, matched by the normalised input
hash (`records.input_hash`, written with every call: prompts and chat messages alike), so
pairing reads the index on (model_version_id, input_hash)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    Engine,
    String,
    and_,
    case,
    cast,
    func,
    or_,
    select,
)
from sqlalchemy.sql import Select

from evalboard.errors import EvalboardError
from evalboard.store.models import SOURCES, Call, ModelVersion
from evalboard.store.pairwise_models import PairwiseAnswer
from evalboard.store.run_models import CaseResult

STRATEGIES: dict[str, str] = {
    "random": "Random unanswered pairs",
    "newest": "Newest unanswered pairs first (most recently logged inputs)",
    "disagreeing_checks": "Disagreeing checks first (one version passed a case, the other not)",
}
CHUNK = 500


class PairingError(EvalboardError, ValueError):
    """Pairs that cannot be picked; the message says why."""


@dataclass(frozen=True)
class VersionPair:
    """How many distinct inputs two model versions both answered."""

    version_a: str
    version_b: str
    shared_inputs: int


@dataclass(frozen=True)
class CallPair:
    """Version A's and version B's call for one input."""

    input_hash: str
    call_a_id: int
    call_b_id: int


@dataclass(frozen=True)
class PairSpec:
    """Which pairs a pairwise session gets: two versions, calls from some sources, a strategy."""

    version_a: str
    version_b: str
    size: int
    strategy: str = "random"
    sources: tuple[str, ...] = ()
    seed: int | None = None


def _source_condition(sources: Sequence[str]) -> list[ColumnElement[bool]]:
    unknown = [s for s in sources if s not in SOURCES]
    if unknown:
        raise PairingError(f"unknown source(s) {', '.join(unknown)}; use {', '.join(SOURCES)}")
    return [Call.source.in_(list(sources))] if sources else []


def version_input_keys(sources: Sequence[str] = ()) -> Select[Any]:
    """SELECT DISTINCT (model version id, input hash) of the calls (of these sources)."""
    return (select(Call.model_version_id.label("version_id"), Call.input_hash.label("hash"))
            .where(Call.input_hash.is_not(None), *_source_condition(sources)).distinct())


def pairing_report_query(sources: Sequence[str] = ()) -> Select[Any]:
    """One grouped query: for each input answered by two or more versions, their ids
    ("3,7,9"). Inputs of a single version (most of them) leave the query as a count only."""
    keys = version_input_keys(sources).subquery("version_inputs")
    return (select(func.aggregate_strings(cast(keys.c.version_id, String), ","))
            .group_by(keys.c.hash).having(func.count() > 1))


def pairing_report(engine: Engine, sources: Sequence[str] = ()) -> list[VersionPair]:
    """Every pair of versions sharing at least one input, most shared inputs first."""
    with engine.connect() as conn:
        names = dict(conn.execute(select(ModelVersion.id, ModelVersion.name)).all())
        shared: Counter[tuple[int, int]] = Counter()
        for (ids,) in conn.execute(pairing_report_query(sources)):
            shared.update(combinations(sorted(int(i) for i in ids.split(",")), 2))
    pairs = [VersionPair(names[a], names[b], n) for (a, b), n in shared.items()]
    return sorted(pairs, key=lambda p: (-p.shared_inputs, p.version_a, p.version_b))


def shared_inputs(engine: Engine, version_a: str, version_b: str,
                  sources: Sequence[str] = ()) -> int:
    """How many distinct inputs both versions answered."""
    with engine.connect() as conn:
        a_id, b_id = _version_ids(conn, version_a, version_b)
        return int(conn.scalar(select(func.count()).select_from(
            _shared_hashes(a_id, b_id, sources).subquery())) or 0)


def _version_ids(conn: Connection, version_a: str, version_b: str) -> tuple[int, int]:
    if version_a == version_b:
        raise PairingError("choose two different model versions to compare")
    ids = dict(conn.execute(select(ModelVersion.name, ModelVersion.id)
                            .where(ModelVersion.name.in_((version_a, version_b)))).all())
    missing = [name for name in (version_a, version_b) if name not in ids]
    if missing:
        raise PairingError(f"there is no model version {', '.join(map(repr, missing))}")
    return ids[version_a], ids[version_b]


def _hashes_of(version_id: int, sources: Sequence[str]) -> Select[Any]:
    return (select(Call.input_hash).where(Call.model_version_id == version_id,
                                          Call.input_hash.is_not(None),
                                          *_source_condition(sources)).distinct())


def _shared_hashes(a_id: int, b_id: int, sources: Sequence[str]) -> CompoundSelect[Any]:
    return _hashes_of(a_id, sources).intersect(_hashes_of(b_id, sources))


def _answered_hashes(reviewer: str, a_id: int, b_id: int) -> Select[Any]:
    """Inputs of pairs of these two versions the reviewer has a live answer on (either way)."""
    call_a, call_b = Call.__table__.alias("call_a"), Call.__table__.alias("call_b")
    return (select(call_a.c.input_hash)
            .select_from(PairwiseAnswer)
            .join(call_a, call_a.c.id == PairwiseAnswer.call_a_id)
            .join(call_b, call_b.c.id == PairwiseAnswer.call_b_id)
            .where(PairwiseAnswer.is_current.is_(True), PairwiseAnswer.reviewer == reviewer,
                   or_(and_(call_a.c.model_version_id == a_id, call_b.c.model_version_id == b_id),
                       and_(call_a.c.model_version_id == b_id,
                            call_b.c.model_version_id == a_id))))


def _unanswered(conn: Connection, spec: PairSpec, reviewer: str | None, a_id: int,
                b_id: int) -> list[str]:
    """Shared inputs the reviewer has not answered yet, sorted (a stable order to sample)."""
    shared = set(conn.scalars(_shared_hashes(a_id, b_id, spec.sources)))
    if reviewer:
        shared -= set(conn.scalars(_answered_hashes(reviewer, a_id, b_id)))
    return sorted(shared)


def _random(conn: Connection, spec: PairSpec, reviewer: str | None, a_id: int,
            b_id: int) -> list[str]:
    pool = _unanswered(conn, spec, reviewer, a_id, b_id)
    return random.Random(spec.seed).sample(pool, min(spec.size, len(pool)))


def _newest(conn: Connection, spec: PairSpec, reviewer: str | None, a_id: int,
            b_id: int) -> list[str]:
    """Inputs most recently logged first (the highest call id of either version: ids grow
    with time), read from the index alone."""
    answered = set(conn.scalars(_answered_hashes(reviewer, a_id, b_id))) if reviewer else set()
    rows = conn.scalars(
        select(Call.input_hash)
        .where(Call.model_version_id.in_((a_id, b_id)), Call.input_hash.is_not(None),
               *_source_condition(spec.sources))
        .group_by(Call.input_hash)
        .having(func.count(Call.model_version_id.distinct()) == 2)
        .order_by(func.max(Call.id).desc(), Call.input_hash))
    picked = []
    for input_key in rows:
        if input_key not in answered:
            picked.append(input_key)
            if len(picked) == spec.size:
                break
    return picked


def _disagreeing_checks(conn: Connection, spec: PairSpec, reviewer: str | None, a_id: int,
                        b_id: int) -> list[str]:
    """Inputs on which a case passed with one version's call and not with the other's."""
    pool = set(_unanswered(conn, spec, reviewer, a_id, b_id))

    def flag(version_id: int, passed: bool | None = None) -> ColumnElement[Any]:
        when = Call.model_version_id == version_id
        if passed is not None:
            when = and_(when, CaseResult.passed.is_(passed))
        return func.max(case((when, 1), else_=0))

    rows = conn.execute(
        select(Call.input_hash)
        .join(CaseResult, CaseResult.call_id == Call.id)
        .where(Call.model_version_id.in_((a_id, b_id)), Call.input_hash.is_not(None),
               *_source_condition(spec.sources))
        .group_by(Call.input_hash)
        .having(flag(a_id) == 1, flag(b_id) == 1,
                or_(flag(a_id, True) != flag(b_id, True), flag(a_id, False) != flag(b_id, False)))
        .order_by(func.max(CaseResult.id).desc())).scalars()
    return [h for h in rows if h in pool][:spec.size]


PICKERS: dict[str, Callable[[Connection, PairSpec, str | None, int, int], list[str]]] = {
    "random": _random,
    "newest": _newest,
    "disagreeing_checks": _disagreeing_checks,
}


def _newest_call_per_version(conn: Connection, hashes: list[str], a_id: int, b_id: int,
                             sources: Sequence[str]) -> dict[tuple[int, str], int]:
    """{(version id, input hash): the newest call (created_at, then id)} of those inputs."""
    chosen: dict[tuple[int, str], int] = {}
    for start in range(0, len(hashes), CHUNK):
        rows = conn.execute(
            select(Call.model_version_id, Call.input_hash, Call.id)
            .where(Call.model_version_id.in_((a_id, b_id)),
                   Call.input_hash.in_(hashes[start:start + CHUNK]),
                   *_source_condition(sources))
            .order_by(Call.created_at.desc(), Call.id.desc()))
        for version_id, input_key, call_id in rows:
            chosen.setdefault((version_id, input_key), call_id)
    return chosen


def pick_pairs(engine: Engine, spec: PairSpec, reviewer: str | None = None) -> list[CallPair]:
    """The pairs of a new session, in review order: one call per version per input (its
    newest), inputs picked by the strategy among those `reviewer` has not answered yet."""
    if spec.strategy not in PICKERS:
        raise PairingError(f"unknown strategy {spec.strategy!r}; use one of "
                           f"{', '.join(PICKERS)}")
    if spec.size < 1:
        raise PairingError("a pairwise session needs at least one pair")
    with engine.connect() as conn:
        a_id, b_id = _version_ids(conn, spec.version_a, spec.version_b)
        hashes = PICKERS[spec.strategy](conn, spec, reviewer, a_id, b_id)
        calls = _newest_call_per_version(conn, hashes, a_id, b_id, spec.sources)
    return [CallPair(h, calls[(a_id, h)], calls[(b_id, h)]) for h in hashes
            if (a_id, h) in calls and (b_id, h) in calls]
