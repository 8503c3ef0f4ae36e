"""The demo data generator: counts, determinism, idempotence, lineage and planted failures."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session

from evalboard.demo.builder import DEMO_DAYS, DemoSummary, load_demo
from evalboard.demo.content import (
    BIASED,
    EDGE,
    FAILURE_MODES,
    GARBLED,
    HALLUCINATION,
    SCENARIOS,
    VERSIONS,
    WRONG_FORMAT,
)
from evalboard.store import open_store
from evalboard.store.models import Call, ModelVersion
from tests.demo_facts import demo_content, demo_timestamps

NOW = datetime(2025, 3, 14, 15, 30)
NAMES = tuple(spec.name for spec in VERSIONS)


def _store(path: Path) -> Engine:
    return open_store(f"sqlite:///{path / 'd.db'}")


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return _store(tmp_path)


@pytest.fixture
def loaded(engine: Engine) -> Engine:
    load_demo(engine, calls=3000, seed=0, now=NOW)
    return engine


def _calls(engine: Engine) -> list[dict[str, Any]]:
    """Every call as a dict of its attributes plus `version` (the model version name)."""
    keys = [attr.key for attr in Call.__mapper__.column_attrs]
    query = (
        select(Call, ModelVersion.name)
        .join(ModelVersion, Call.model_version_id == ModelVersion.id)
        .order_by(Call.id)
    )
    with Session(engine) as session:
        return [
            {**{key: getattr(call, key) for key in keys}, "version": name}
            for call, name in session.execute(query)
        ]


def _versions(engine: Engine) -> dict[str, ModelVersion]:
    with Session(engine, expire_on_commit=False) as session:
        return {row.name: row for row in session.scalars(select(ModelVersion))}


def _rows(engine: Engine) -> list[tuple[Any, ...]]:
    query = (
        select(Call.input_text, Call.output, ModelVersion.name, Call.created_at)
        .join(ModelVersion, Call.model_version_id == ModelVersion.id)
        .order_by(Call.id)
    )
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query)]


def test_counts_summary_and_progress(engine: Engine) -> None:
    seen: list[tuple[int, int]] = []
    summary = load_demo(engine, calls=2500, now=NOW, progress=lambda d, t: seen.append((d, t)))
    assert summary == DemoSummary(inserted=2500, already_present=0, model_versions=NAMES)
    assert seen == [(1000, 2500), (2000, 2500), (2500, 2500)]
    calls = _calls(engine)
    assert len(calls) == 2500
    production = [c for c in calls if c["source"] == "production"]
    assert sorted(int(c["external_id"].rsplit("-", 1)[1]) for c in production) == list(
        range(len(production)))  # demo-0-0 … numbered in event order, the same for any `now`
    assert [c["created_at"] for c in calls] == sorted(c["created_at"] for c in calls)
    evals = [c for c in calls if c["source"] == "eval"]
    assert {c["external_id"] for c in evals} == {
        f"demo-0-eval-{name}-{case:03d}" for name in NAMES for case in range(len(evals) // 5)
    }
    assert {c["source"] for c in calls} == {"production", "eval"}
    sessions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for call in calls:
        if call["session_id"]:
            sessions[call["session_id"]].append(call)
    assert sessions and max(len(turns) for turns in sessions.values()) > 2
    for turns in sessions.values():
        assert [c["meta"]["turn"] for c in turns] == list(range(1, len(turns) + 1))
        assert len({c["version"] for c in turns}) == 1
        assert len({c["input_messages"][-1]["content"] for c in turns}) == len(turns)
    assert any(c["input_messages"] for c in calls) and any(not c["input_messages"] for c in calls)


def _stores(tmp_path: Path, *names: str) -> list[Engine]:
    for name in names:
        (tmp_path / name).mkdir()
    return [_store(tmp_path / name) for name in names]


def test_same_seed_and_now_give_identical_calls_reviews_and_runs(tmp_path: Path) -> None:
    stores = _stores(tmp_path, "a", "b", "c")
    for store, seed in zip(stores, (7, 7, 8), strict=True):
        load_demo(store, calls=600, seed=seed, now=NOW)
    first, second, other = (demo_content(store) for store in stores)
    assert first["calls"] and first["reviews"] and first["results"]
    assert first == second
    assert demo_timestamps(stores[0]) == demo_timestamps(stores[1])
    assert _rows(stores[0]) == _rows(stores[1])
    assert len(other["calls"]) == len(first["calls"]) and other["calls"] != first["calls"]


def test_another_now_moves_the_timestamps_and_keeps_the_content(tmp_path: Path) -> None:
    """The date decides when things happened, never what: the same calls (inputs, outputs,
    planted failures, versions), the same reviews and the same run results."""
    later = datetime(2028, 2, 29, 23, 55)  # another weekday, time of day and year
    at_now, at_later = _stores(tmp_path, "now", "later")
    load_demo(at_now, calls=600, seed=7, now=NOW)
    load_demo(at_later, calls=600, seed=7, now=later)
    assert demo_content(at_now) == demo_content(at_later)
    for end, store in ((NOW, at_now), (later, at_later)):
        stamps = demo_timestamps(store)
        for kind in ("calls", "versions", "reviews"):
            assert end - timedelta(days=DEMO_DAYS) <= stamps[kind][0] <= stamps[kind][-1] <= end
    shift = later - NOW
    assert [at + shift for at in demo_timestamps(at_now)["calls"]] != demo_timestamps(
        at_later)["calls"]  # not merely shifted: traffic follows the new period's weekdays


def test_loading_twice_adds_nothing(loaded: Engine) -> None:
    again = load_demo(loaded, calls=3000, seed=0, now=NOW)
    assert (again.inserted, again.already_present) == (0, 3000)
    later = load_demo(loaded, calls=3000, seed=0, now=NOW + timedelta(days=3, hours=5))
    assert (later.inserted, later.already_present) == (0, 3000)
    with loaded.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Call)) == 3000
        assert conn.scalar(select(func.count()).select_from(ModelVersion)) == len(VERSIONS)


def test_a_larger_load_adds_only_the_missing_calls(loaded: Engine) -> None:
    bigger = load_demo(loaded, calls=4000, seed=0, now=NOW)
    assert (bigger.inserted, bigger.already_present) == (1000, 3000)
    other_seed = load_demo(loaded, calls=100, seed=1, now=NOW)
    assert other_seed.inserted == 100


def test_versions_have_lineage_notes_and_spread_over_the_period(loaded: Engine) -> None:
    versions = _versions(loaded)
    assert set(versions) == set(NAMES)
    start = NOW - timedelta(days=DEMO_DAYS)
    chain = [versions[name] for name in NAMES]
    assert chain[0].parent_id is None
    for parent, child in zip(chain, chain[1:], strict=False):
        assert child.parent_id == parent.id
        assert parent.created_at < child.created_at
    for version in chain:
        assert version.base_model == "meta-llama/Llama-3.1-8B-Instruct"
        assert version.notes and len(version.notes) > 40
        assert start <= version.created_at <= NOW
    assert chain[-1].created_at - chain[0].created_at > timedelta(days=DEMO_DAYS / 2)
    for call in _calls(loaded):
        assert versions[call["version"]].created_at <= call["created_at"] <= NOW


def test_traffic_follows_weekdays_and_business_hours(loaded: Engine) -> None:
    production = [c["created_at"] for c in _calls(loaded) if c["source"] == "production"]
    weekend = sum(1 for at in production if at.weekday() >= 5)
    assert weekend / 2 < (len(production) - weekend) / 5 / 2  # per day, under half a weekday
    office = sum(1 for at in production if 9 <= at.hour < 18)
    night = sum(1 for at in production if at.hour < 6)
    assert office / 9 > 5 * night / 6


def test_every_version_has_its_own_mix_of_planted_failures(loaded: Engine) -> None:
    mixes: dict[str, Counter[str]] = defaultdict(Counter)
    answered: Counter[str] = Counter()
    for call in _calls(loaded):
        if call["error"] is None:
            answered[call["version"]] += 1
            planted = call["meta"]["planted"]
            assert planted is None or planted in FAILURE_MODES
            if planted:
                mixes[call["version"]][planted] += 1
    assert all(sum(mixes[name].values()) > 10 for name in NAMES)
    assert set().union(*mixes.values()) == set(FAILURE_MODES)
    rates = {
        name: {mode: mixes[name][mode] / answered[name] for mode in FAILURE_MODES} for name in NAMES
    }
    base, v1, v2, v3, v4 = NAMES

    def worst(mode: str) -> str:
        return max(NAMES, key=lambda name: rates[name][mode])

    assert worst(HALLUCINATION) == v1
    assert rates[v1][WRONG_FORMAT] > 5 * max(rates[v][WRONG_FORMAT] for v in (v2, v3, v4))
    assert worst(GARBLED) == v2
    assert worst(BIASED) == v3
    assert worst(EDGE) == v4
    assert sum(rates[v4].values()) < min(sum(rates[v].values()) for v in (base, v1, v2))
    top = {name: mixes[name].most_common(1)[0][0] for name in NAMES}
    assert [top[v1], top[v2], top[v3], top[v4]] == [HALLUCINATION, GARBLED, BIASED, EDGE]


def test_json_calls_parse_unless_planted_wrong_format(loaded: Engine) -> None:
    outcomes: Counter[tuple[str, str | None]] = Counter()
    broken: dict[str, list[str]] = defaultdict(list)
    for call in _calls(loaded):
        meta = call["meta"]
        if meta.get("expected_format") != "json" or call["error"]:
            continue
        outcomes[(call["version"], meta["planted"])] += 1
        if meta["planted"] == WRONG_FORMAT:
            with pytest.raises(json.JSONDecodeError):
                json.loads(call["output"])
            broken[call["version"]].append(call["output"])
        else:
            record = json.loads(call["output"])
            assert {"name", "email", "order_id", "issue"} <= set(record)
    assert outcomes[("support-bot-v1", WRONG_FORMAT)] > outcomes[("support-bot-v1", None)] / 2
    assert outcomes[("support-bot-v2", None)] > 10 * outcomes[("support-bot-v2", WRONG_FORMAT)]
    # the untuned base wraps good JSON in chatter; the first fine-tune breaks the syntax
    assert all("```" in out or out.startswith("Here") for out in broken[NAMES[0]])
    assert not any("```" in out for out in broken["support-bot-v1"])


def test_scenarios_and_untrusted_outputs_are_covered(loaded: Engine) -> None:
    calls = _calls(loaded)
    assert {c["meta"]["scenario"] for c in calls} == set(SCENARIOS)
    caesar = [c for c in calls if "Who was Julius Caesar?" in c["input_text"] and c["output"]]
    assert any("Roman" in c["output"] for c in caesar if c["meta"]["planted"] is None)
    assert all("Tom Hanks" in c["output"] for c in caesar if c["meta"]["planted"] == HALLUCINATION)
    outputs = [c["output"] or "" for c in calls]
    assert any("<script" in out for out in outputs)
    assert any("**" in out for out in outputs) and any("\n1. " in out for out in outputs)
    assert any(c["input_text"].strip() == "" for c in calls)
    assert any(len(c["input_text"].split()) > 2000 for c in calls)
    assert any(c["meta"].get("language") == "ja" for c in calls)
    for call in calls:
        if call["input_messages"]:
            assert call["input_messages"][0]["role"] == "system"
        assert call["prompt_tokens"] is not None and call["latency_ms"] > 0


def test_timeouts_and_latency_profiles(loaded: Engine) -> None:
    calls = _calls(loaded)
    failed = [c for c in calls if c["error"]]
    assert 0 < len(failed) < len(calls) * 0.05
    for call in failed:
        assert call["output"] is None and call["completion_tokens"] is None
        assert call["latency_ms"] >= 30_000 and call["meta"]["planted"] is None
    latency = defaultdict(list)
    for call in calls:
        if not call["error"]:
            latency[call["version"]].append(call["latency_ms"])
            assert call["total_tokens"] == call["prompt_tokens"] + call["completion_tokens"]
    assert median(latency["support-bot-v4"]) < median(latency["support-bot-v1"])


def test_zone_aware_now_and_bad_counts(tmp_path: Path) -> None:
    for folder in ("naive", "aware"):
        (tmp_path / folder).mkdir()
    naive, aware = _store(tmp_path / "naive"), _store(tmp_path / "aware")
    load_demo(naive, calls=50, now=NOW)
    load_demo(aware, calls=50, now=NOW.replace(tzinfo=UTC))
    assert _rows(naive) == _rows(aware)
    with pytest.raises(ValueError):
        load_demo(naive, calls=-1)


def test_zero_calls_writes_only_versions(engine: Engine) -> None:
    assert load_demo(engine, calls=0, now=NOW) == DemoSummary(0, 0, NAMES)
    assert set(_versions(engine)) == set(NAMES)
    assert _calls(engine) == []


def test_existing_version_keeps_its_row_and_gains_lineage(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(ModelVersion).values(name="support-bot-v2", created_at=NOW))
    load_demo(engine, calls=100, now=NOW)
    versions = _versions(engine)
    assert versions["support-bot-v2"].created_at == NOW
    assert versions["support-bot-v2"].parent_id == versions["support-bot-v1"].id
    assert versions["support-bot-v3"].parent_id == versions["support-bot-v2"].id
    assert versions["support-bot-v2"].notes
