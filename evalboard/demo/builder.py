"""Demo data: four weeks of a fine-tuned support assistant, with planted failures to find.

`load_demo` writes model versions (a base model and four fine-tunes, each with a parent and
notes on what changed) and a history of calls whose failures are planted per version and
named in `metadata["planted"]`, so review and metrics pages have something true to show.
The same seed and `now` give the same rows; external ids make loading twice a no-op.

The date only places the plan in time. What each call is (its version, input, output, planted
failure) is drawn in an order that never depends on `now`: events are planned on a "traffic
clock" (the share of the period's traffic served so far), deploys happen at fixed shares of it,
and only the mapping from shares to moments follows the weekdays and office hours of the
period. So another `now` moves every timestamp but keeps the calls, reviews and run results.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import accumulate
from random import Random
from typing import Any

from sqlalchemy import Engine, select

from evalboard import clock
from evalboard.demo.content import (
    BASE_MODEL,
    EVAL_MIX,
    FAILURE_MODES,
    PRODUCTION_MIX,
    SCENARIOS,
    VERSIONS,
    WRONG_FORMAT,
    Task,
    VersionSpec,
    meta_for,
    support_task,
)
from evalboard.demo.reviews import add_demo_reviews
from evalboard.demo.suite import add_demo_suite
from evalboard.store.engine import write_session
from evalboard.store.ids import IdPool
from evalboard.store.models import ModelVersion
from evalboard.store.records import normalize_call
from evalboard.store.writes import write_calls

DEMO_DAYS = 28
PERIOD = timedelta(days=DEMO_DAYS)
BATCH_SIZE = 1000
EVAL_SHARE = 0.08  # share of calls from eval runs (one run per version, at its creation)
MAX_EVAL_CASES = 150  # size cap of the fixed eval set every version is run on
EVAL_RUN = timedelta(hours=3)
SESSION_SHARE = 0.08  # production events that are multi-turn conversations
DEPLOY_DELAY = timedelta(hours=12)  # a new version is evaluated first, then deployed
CANARY = timedelta(hours=48)  # its production share ramps from 10% to 100% meanwhile
CANARY_SHARE = CANARY / PERIOD  # the same, as a share of the period's traffic
TIMEOUT_ERROR = "TimeoutError: no response from the inference server within 30 s"
USER_TIERS = ("free", "pro", "enterprise")
TIER_WEIGHTS = (6, 3, 1)
WEEKEND_FACTOR = 0.3
# fmt: off
HOURLY = (  # relative traffic per UTC hour of a weekday: business hours dominate
    0.12, 0.08, 0.06, 0.05, 0.05, 0.08, 0.18, 0.40, 0.70, 0.95, 1.00, 1.00,
    0.90, 0.95, 1.00, 1.00, 0.95, 0.80, 0.60, 0.45, 0.35, 0.28, 0.22, 0.16,
)
# fmt: on
_PRODUCTION_SCENARIOS = tuple(PRODUCTION_MIX)
_PRODUCTION_WEIGHTS = tuple(PRODUCTION_MIX.values())


@dataclass(frozen=True)
class DemoSummary:
    """What `load_demo` wrote."""

    inserted: int
    already_present: int
    model_versions: tuple[str, ...]


@dataclass(frozen=True)
class _Event:
    """A production request: one call or a conversation, `share` of the way through the
    period's traffic (which decides its version), at the moment that share is reached."""

    at: datetime
    share: float
    turns: int = 1


class _TrafficClock:
    """Maps a share of the period's traffic (0 to 1) to the moment it has been served by,
    following the weekdays and office hours of the period that starts at `start`."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self._cumulative = _cumulative_hour_weights(start)

    def at(self, share: float) -> datetime:
        target = share * self._cumulative[-1]
        hour = min(bisect_left(self._cumulative, target), len(self._cumulative) - 1)
        before = self._cumulative[hour - 1] if hour else 0.0
        within = (target - before) / (self._cumulative[hour] - before)
        return self.start + timedelta(hours=hour + min(1.0, max(0.0, within)))


@dataclass(frozen=True)
class _Plan:
    """The eval set, when each version is created and deployed, and every production event."""

    cases: list[Task]
    created: list[datetime]
    deploy_shares: list[float]  # a version serves production from this share of the traffic
    eval_offsets: list[list[float]]  # seconds after its creation of each eval call, per version
    events: list[_Event]  # in time order


def load_demo(
    engine: Engine,
    calls: int = 3000,
    seed: int = 0,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
    reviews: bool = True,
    suite: bool = True,
) -> DemoSummary:
    """Fill the store with `calls` demo calls over the four weeks ending at `now`.

    `now` defaults to `clock.now()`; a naive `now` is taken as UTC. `progress(done, total)`
    is called after each batch of `BATCH_SIZE` calls is written. With `reviews`, two demo
    reviewers also judge part of the production traffic (see `demo_reviews`); with `suite`, the
    eval set becomes a regression suite replayed for every version (see `demo_suite`).
    """
    if calls < 0:
        raise ValueError("calls must not be negative")
    end = clock.to_naive_utc(now) if now is not None else clock.now()
    plan = _plan(Random(seed), calls, _TrafficClock(end - PERIOD))
    _upsert_versions(engine, plan.created)
    ids = IdPool(engine, block_size=BATCH_SIZE)
    inserted = present = done = 0
    batch: list[dict[str, Any]] = []
    for fields in _call_fields(seed, plan, end):
        batch.append(normalize_call(**fields))
        if len(batch) == BATCH_SIZE or done + len(batch) == calls:
            written = write_calls(engine, batch, ids)
            inserted += written.inserted
            present += written.already_present
            done += len(batch)
            batch = []
            if progress is not None:
                progress(done, calls)
    assert not batch and done == calls, "the plan yields exactly `calls` calls"
    if reviews:
        add_demo_reviews(engine, seed, end)
    if suite and plan.cases:
        add_demo_suite(engine, plan.cases, [spec.name for spec in VERSIONS])
    return DemoSummary(inserted, present, tuple(spec.name for spec in VERSIONS))


def _upsert_versions(engine: Engine, created: Sequence[datetime]) -> None:
    """Create the demo versions, or fill in lineage and notes they lack; one transaction."""
    with write_session(engine) as session:
        parent: ModelVersion | None = None
        for spec, at in zip(VERSIONS, created, strict=True):
            version = session.scalar(select(ModelVersion).where(ModelVersion.name == spec.name))
            if version is None:
                version = ModelVersion(name=spec.name, created_at=at)
                session.add(version)
            version.base_model = version.base_model or BASE_MODEL
            version.notes = version.notes or spec.notes
            if parent is not None and version.parent_id is None:
                version.parent = parent
            session.flush()
            parent = version


def _cumulative_hour_weights(start: datetime) -> list[float]:
    """Cumulative traffic weight of each hour of the period: weekdays and office hours."""
    weights = []
    for hour in range(DEMO_DAYS * 24):
        moment = start + timedelta(hours=hour)
        weekday = 1.0 if moment.weekday() < 5 else WEEKEND_FACTOR
        weights.append(weekday * HOURLY[moment.hour])
    return list(accumulate(weights))


def _plan(rng: Random, calls: int, traffic: _TrafficClock) -> _Plan:
    """Draw the plan; `rng` is consumed the same way whatever the period's dates."""
    per_version = min(MAX_EVAL_CASES, round(calls * EVAL_SHARE / len(VERSIONS)))
    names, weights = zip(*EVAL_MIX.items(), strict=True)
    cases = [SCENARIOS[name](rng) for name in rng.choices(names, weights, k=per_version)]
    eval_offsets = [
        sorted(rng.uniform(0, EVAL_RUN.total_seconds()) for _ in range(per_version))
        for _ in VERSIONS
    ]
    remaining = calls - per_version * len(VERSIONS)
    sizes: list[int] = []
    while remaining > 0:
        turns = min(remaining, rng.randint(2, 4) if rng.random() < SESSION_SHARE else 1)
        sizes.append(turns)
        remaining -= turns
    shares = sorted(rng.random() for _ in sizes)
    deploy_shares = [0.0] + [
        (timedelta(days=spec.day) + DEPLOY_DELAY) / PERIOD for spec in VERSIONS[1:]
    ]
    created = [traffic.start] + [
        max(traffic.start, traffic.at(share) - DEPLOY_DELAY) for share in deploy_shares[1:]
    ]
    events = [
        _Event(traffic.at(share), share, turns) for share, turns in zip(shares, sizes, strict=True)
    ]
    return _Plan(cases, created, deploy_shares, eval_offsets, events)


def _live_version(rng: Random, share: float, deploy_shares: Sequence[float]) -> int:
    """The version serving a production request: the newest deployed one, during its canary
    ramp sometimes still its parent."""
    newest = max(0, bisect_right(deploy_shares, share) - 1)
    ramp = (share - deploy_shares[newest]) / CANARY_SHARE
    if newest > 0 and ramp < 1 and rng.random() >= 0.1 + 0.9 * ramp:
        return newest - 1
    return newest


def _call_fields(seed: int, plan: _Plan, end: datetime) -> Iterator[dict[str, Any]]:
    """Keyword arguments of `normalize_call` for every call, in time order.

    Eval calls draw from one random stream in (version, case) order, production calls from
    another in event order, so what a call is never depends on how the two interleave in time.
    """
    evals = _eval_calls(Random(f"demo-{seed}-eval"), seed, plan, end)
    production = _production_calls(Random(f"demo-{seed}-production"), seed, plan, end)
    return heapq.merge(evals, production, key=lambda fields: fields["created_at"])


def _eval_calls(rng: Random, seed: int, plan: _Plan, end: datetime) -> list[dict[str, Any]]:
    """Every version's run over the eval set, shortly after its creation; external ids
    `demo-{seed}-eval-{version}-{case}`."""
    calls = []
    for version, (created, offsets) in enumerate(zip(plan.created, plan.eval_offsets, strict=True)):
        for case, offset in enumerate(offsets):
            at = min(created + timedelta(seconds=offset), end)
            meta = {"eval_case": f"case-{case:03d}"}
            fields = _call(rng, plan.cases[case], version, at, "eval", meta)
            external_id = f"demo-{seed}-eval-{fields['model_version']}-{case:03d}"
            calls.append(fields | {"external_id": external_id})
    return sorted(calls, key=lambda fields: fields["created_at"])


def _production_calls(
    rng: Random, seed: int, plan: _Plan, end: datetime
) -> Iterator[dict[str, Any]]:
    """Production calls in time order, with external ids `demo-{seed}-{n}` numbered in event
    order (the same keys and contents for any `now`, so reloading adds nothing). Conversation
    turns overlap later events, so calls wait in a heap until their time comes."""
    pending: list[tuple[datetime, int, dict[str, Any]]] = []
    number = 0
    for index, event in enumerate(plan.events):
        while pending and pending[0][0] <= event.at:
            yield heapq.heappop(pending)[2]
        for fields in _event_calls(rng, seed, index, event, plan.deploy_shares, end):
            fields["external_id"] = f"demo-{seed}-{number}"
            heapq.heappush(pending, (fields["created_at"], number, fields))
            number += 1
    while pending:
        yield heapq.heappop(pending)[2]


def _event_calls(
    rng: Random,
    seed: int,
    number: int,
    event: _Event,
    deploy_shares: Sequence[float],
    end: datetime,
) -> Iterator[dict[str, Any]]:
    """The calls of one production event: a single call or a conversation."""
    version = _live_version(rng, event.share, deploy_shares)
    tier = rng.choices(USER_TIERS, TIER_WEIGHTS)[0]
    if event.turns == 1:
        scenario = rng.choices(_PRODUCTION_SCENARIOS, _PRODUCTION_WEIGHTS)[0]
        yield _call(
            rng, SCENARIOS[scenario](rng), version, event.at, "production", {"user_tier": tier}
        )
        return
    history: list[dict[str, str]] = []
    at = event.at
    for turn in range(1, event.turns + 1):
        task = support_task(rng, history)
        meta = {"user_tier": tier, "turn": turn}
        fields = _call(rng, task, version, at, "production", meta, f"demo-{seed}-session-{number}")
        yield fields
        if fields["output"] is not None and not isinstance(task.input, str):
            history = [*task.input[1:], {"role": "assistant", "content": fields["output"]}]
        at = min(at + timedelta(seconds=rng.uniform(20, 240)), end)


def _call(
    rng: Random,
    task: Task,
    version: int,
    at: datetime,
    source: str,
    extra_meta: dict[str, Any],
    session_id: str | None = None,
) -> dict[str, Any]:
    """One call of `task` answered by a version: a planted failure, a timeout or a good reply."""
    spec = VERSIONS[version]
    prompt_tokens = _prompt_tokens(task.input)
    meta = meta_for(task) | extra_meta
    fields: dict[str, Any] = {
        "input": task.input,
        "model_version": spec.name,
        "source": source,
        "prompt_tokens": prompt_tokens,
        "session_id": session_id,
        "created_at": at,
    }
    if rng.random() < spec.timeout_rate:
        latency = 30_000 + rng.uniform(0, 80)
        meta["planted"] = None
        return fields | {
            "output": None,
            "error": TIMEOUT_ERROR,
            "metadata": meta,
            "latency_ms": round(latency, 1),
        }
    planted = _planted_failure(rng, spec, task)
    output = task.bad[planted] if planted else task.good
    if planted == WRONG_FORMAT and spec.chatty and task.chatty is not None:
        output = task.chatty
    completion = _tokens(output)
    latency = spec.ttft_ms + 0.05 * prompt_tokens + spec.ms_per_token * completion
    latency *= rng.lognormvariate(0, 0.25)
    if rng.random() < 0.03:  # queueing spikes: the long tail of p95/p99
        latency *= rng.uniform(2, 4)
    meta["planted"] = planted
    return fields | {
        "output": output,
        "completion_tokens": completion,
        "metadata": meta,
        "latency_ms": round(latency, 1),
    }


def _planted_failure(rng: Random, spec: VersionSpec, task: Task) -> str | None:
    """Pick at most one failure mode the task can show, with the version's rates."""
    draw, total = rng.random(), 0.0
    for mode in FAILURE_MODES:
        if mode in task.bad:
            total += spec.failure_rates.get(mode, 0.0)
            if draw < total:
                return mode
    return None


def _tokens(text: str) -> int:
    """Roughly the tokens of `text`: four tokens for every three words."""
    return math.ceil(len(text.split()) * 4 / 3)


def _prompt_tokens(prompt: str | list[dict[str, str]]) -> int:
    if isinstance(prompt, str):
        return _tokens(prompt) + 3
    return sum(_tokens(message["content"]) + 4 for message in prompt)
