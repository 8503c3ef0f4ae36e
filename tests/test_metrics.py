"""Metrics against hand-computed values on small crafted stores, targets, and the SQL plans.

Percentiles are nearest-rank: the q-quantile of n values is the value at 1-based rank
ceil(q * n) in ascending order.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from types import SimpleNamespace

import pandas as pd
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from evalboard.metrics import (
    CallScope,
    call_metrics,
    calls_over_time,
    check_core_metrics,
    core_metrics,
    evaluate_targets,
    label_rates,
    latency_over_time,
    list_targets,
    metric_catalogue,
    metric_spec,
    metric_table,
    pass_rate_over_time,
    pass_rates,
    reference_scores,
    remove_target,
    reorder_targets,
    set_target,
    verdict_rates,
    version_values,
)
from evalboard.metrics.axis import version_names
from evalboard.metrics.calls import nth_latency_query, percentile_query
from evalboard.metrics.comparability import case_version_mixes
from evalboard.metrics.dialect import nearest_rank, percentile_name, time_bucket
from evalboard.metrics.human import verdict_query
from evalboard.metrics.intervals import wilson_interval
from evalboard.metrics.runs import mean_interval, pool_pass_rates
from evalboard.metrics.timeseries import latency_over_time_query
from evalboard.review.annotations import Judgement, annotate, undo_last
from evalboard.store.case_models import Suite
from evalboard.store.models import Call, ModelVersion
from tests.support.calls import add_calls
from tests.support.marks import sqlite_only
from tests.support.metric_stores import add_case_version, add_run, add_suite, order_versions
from tests.support.query_plans import query_plan, reads_table_rows

NOV1 = datetime(2026, 11, 1, 9, 0)  # a Sunday: its ISO week starts on Monday 26 October
NOV2 = datetime(2026, 11, 2)
NOV3 = datetime(2026, 11, 3, 12, 0)
INDEX = "ix_calls_version_latency"


# --------------------------------------------------------------------------- crafted stores


def _add_traffic(engine) -> None:
    """v1: 20 production calls with latency 10..200 ms (call i: prompt i, completion 2i, one
    an hour from NOV1 09:00, so i=1..15 on 1 Nov and 16..20 on 2 Nov; errors on i=5 and
    i=20), one production call without latency or tokens that errored (2 Nov 05:00), one eval
    call of 5000 ms. v2: three production calls of 7, 3, 5 ms on 3 Nov. v3: one eval call."""
    rows = [{"model_version": "v1", "created_at": NOV1 + timedelta(hours=i - 1),
             "latency_ms": 10.0 * i, "prompt_tokens": i, "completion_tokens": 2 * i,
             "error": "boom" if i in (5, 20) else None} for i in range(1, 21)]
    rows += [
        {"model_version": "v1", "created_at": NOV2 + timedelta(hours=5), "error": "timeout"},
        {"model_version": "v1", "created_at": NOV1, "latency_ms": 5000.0, "source": "eval"},
        *({"model_version": "v2", "created_at": NOV3, "latency_ms": ms, "prompt_tokens": p}
          for ms, p in ((7.0, 10), (3.0, 20), (5.0, 30))),
        {"model_version": "v3", "created_at": NOV3, "latency_ms": 1.0, "source": "eval"},
    ]
    add_calls(engine, [{"input": f"prompt {k}", **row} for k, row in enumerate(rows)])
    order_versions(engine, "v1", "v2", "v3")


CASES = (("c1", "hallucination"), ("c2", "hallucination"), ("c3", "wrong format"), ("c4", None))


def _add_runs(engine) -> None:
    """v1 on s1: an old finished run (all pass, rouge 1.0), the latest finished run (c1 pass,
    c2 fail, c3 error, c4 missing; rouge 0.8 and 0.4, bleu 0.3, regex passing twice), and a
    newer run still running (ignored). v2: s1 c1-c3 pass, c4 fail; s2 its one case passes."""
    add_calls(engine, [{"input": "x", "model_version": "v1", "source": "eval"},
                       {"input": "y", "model_version": "v2", "source": "eval"}])
    order_versions(engine, "v1", "v2")
    everything_passes = dict.fromkeys(["c1", "c2", "c3", "c4"], "pass")
    with Session(engine) as session, session.begin():
        s1 = add_suite(session, "s1", CASES)
        s2 = add_suite(session, "s2", [("c5", None)])
        add_run(session, s1, "v1", datetime(2026, 10, 31, 8), "finished", everything_passes,
             {"c1": [("rouge", True, 1.0)], "c2": [("rouge", True, 1.0)]})
        add_run(session, s1, "v1", datetime(2026, 11, 1, 8), "finished",
             {"c1": "pass", "c2": "fail", "c3": "error", "c4": "missing"},
             {"c1": [("rouge", True, 0.8), ("regex", True, 1.0)],
              "c2": [("rouge", False, 0.4), ("bleu", False, 0.3), ("regex", True, 1.0)]})
        add_run(session, s1, "v1", datetime(2026, 11, 1, 9), "running", {"c1": "fail"})
        add_run(session, s1, "v2", datetime(2026, 11, 3, 8), "finished",
             {"c1": "pass", "c2": "pass", "c3": "pass", "c4": "fail"})
        add_run(session, s2, "v2", datetime(2026, 11, 3, 9), "finished", {"c5": "pass"})


def _call_ids(engine, version: str, source: str = "production") -> list[int]:
    with Session(engine) as session:
        return list(session.scalars(
            select(Call.id).join(ModelVersion, ModelVersion.id == Call.model_version_id)
            .where(ModelVersion.name == version, Call.source == source).order_by(Call.id)))


def _add_judgements(engine) -> None:
    """v1 calls a-e, g; v2 call f (see test_verdict_and_label_rates for the outcome)."""
    add_calls(engine, [{"input": f"v1 call {k}", "model_version": "v1"} for k in range(5)]
              + [{"input": "v2 call", "model_version": "v2"},
                 {"input": "v1 eval call", "model_version": "v1", "source": "eval"}])
    order_versions(engine, "v1", "v2")
    a, b, c, d, g = _call_ids(engine, "v1")
    (f,) = _call_ids(engine, "v2")
    (e,) = _call_ids(engine, "v1", "eval")
    annotate(engine, a, "alice", Judgement("pass"))
    annotate(engine, a, "bob", Judgement("fail", ("hallucination",)))
    annotate(engine, b, "alice", Judgement("fail", ("hallucination", "wrong format")))
    annotate(engine, b, "alice", Judgement("pass"))  # supersedes her fail on b
    annotate(engine, c, "alice", Judgement("fail", ("wrong format",)))
    undo_last(engine, "alice")  # retracts the judgement of c
    annotate(engine, d, "bob", Judgement("unsure"))
    annotate(engine, e, "alice", Judgement("fail"))  # an eval call: out of the default scope
    annotate(engine, f, "carol", Judgement("fail", ("hallucination",)))
    annotate(engine, g, "alice", Judgement(None, ("edge case mishandled",)))  # labels only


def _row(frame: pd.DataFrame, **where) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for column, value in where.items():
        mask &= frame[column] == value
    (index,) = frame.index[mask]
    return frame.loc[index]


# --------------------------------------------------------------------------- percentiles


def test_nearest_rank_percentile_definition():
    assert [nearest_rank(0.5, n) for n in (1, 2, 3, 4, 20, 21)] == [1, 1, 2, 2, 10, 11]
    assert [nearest_rank(0.95, n) for n in (1, 3, 5, 15, 20, 21)] == [1, 3, 5, 15, 19, 20]
    assert nearest_rank(1.0, 7) == 7 and nearest_rank(0.01, 7) == 1
    assert percentile_name(0.5) == "latency_p50" and percentile_name(0.999) == "latency_p99.9"
    with pytest.raises(ValueError):
        nearest_rank(0, 5)


# --------------------------------------------------------------------------- across versions


def test_call_metrics_per_version(engine):
    _add_traffic(engine)
    frame = call_metrics(engine)
    assert list(frame["model_version"]) == ["v1", "v2", "v3"]
    assert list(frame["version_order"]) == [0, 1, 2]
    v1, v2, v3 = (frame.iloc[k] for k in range(3))
    assert (v1["calls"], v1["errors"], v1["latency_calls"]) == (21, 3, 20)
    assert v1["error_rate"] == pytest.approx(3 / 21)
    assert (v1["latency_p50"], v1["latency_p95"]) == (100.0, 190.0)  # ranks 10 and 19 of 20
    assert (v1["mean_prompt_tokens"], v1["mean_completion_tokens"]) == (10.5, 21.0)
    # 3, 5, 7: ranks 2 and 3 (interpolating percentiles would give 5 and 6.8)
    assert (v2["calls"], v2["errors"], v2["latency_p50"], v2["latency_p95"]) == (3, 0, 5.0, 7.0)
    assert v2["mean_prompt_tokens"] == 20.0 and math.isnan(v2["mean_completion_tokens"])
    assert v3["calls"] == 0 and math.isnan(v3["error_rate"]) and math.isnan(v3["latency_p50"])


def test_call_metrics_scope_and_explicit_order(engine):
    _add_traffic(engine)
    every_source = call_metrics(engine, scope=CallScope(source=None), versions=["v1"])
    v1 = every_source.iloc[0]
    assert (v1["calls"], v1["latency_calls"]) == (22, 21)  # the 5000 ms eval call counts
    assert (v1["latency_p50"], v1["latency_p95"]) == (110.0, 200.0)  # ranks 11 and 20 of 21
    day_two = call_metrics(engine, scope=CallScope(since=NOV2, until=NOV3),
                           versions=["v2", "v1"], percentiles=(0.5, 0.95, 1.0))
    assert list(day_two["model_version"]) == ["v2", "v1"]
    assert day_two.iloc[0]["calls"] == 0  # v2's calls are on 3 Nov, outside [since, until)
    v1 = day_two.iloc[1]
    assert (v1["calls"], v1["errors"], v1["latency_calls"]) == (6, 2, 5)  # 160..200 and one
    assert (v1["latency_p50"], v1["latency_p95"], v1["latency_p100"]) == (180.0, 200.0, 200.0)
    with pytest.raises(ValueError, match="nope"):
        call_metrics(engine, versions=["v1", "nope"])


def test_pass_rates_use_the_latest_finished_run(engine):
    _add_runs(engine)
    overall = pass_rates(engine)
    assert list(zip(overall["model_version"], overall["suite"], overall["passed"],
                    overall["total"], strict=True)) == [
        ("v1", "s1", 1, 3), ("v2", "s1", 3, 4), ("v2", "s2", 1, 1)]  # missing c4 not counted
    assert _row(overall, model_version="v1")["pass_rate"] == pytest.approx(1 / 3)
    assert list(pass_rates(engine, suite="s2")["pass_rate"]) == [1.0]

    by_label = pass_rates(engine, by="label", versions=["v1"])
    assert list(zip(by_label["label"], by_label["passed"], by_label["total"], strict=True)) == [
        ("hallucination", 1, 2), ("wrong format", 0, 1)]
    by_check = pass_rates(engine, by="check", versions=["v1"])
    assert list(zip(by_check["check_type"], by_check["passed"], by_check["total"],
                    strict=True)) == [("bleu", 0, 1), ("regex", 2, 2), ("rouge", 1, 2)]


def test_reference_scores_with_normal_interval(engine):
    _add_runs(engine)
    frame = reference_scores(engine)
    assert list(zip(frame["model_version"], frame["check_type"], frame["n"], strict=True)) == [
        ("v1", "bleu", 1), ("v1", "rouge", 2)]  # regex is not a reference check
    rouge = _row(frame, check_type="rouge")
    # scores 0.8 and 0.4: mean 0.6, sample std sqrt(0.08), half-width 1.96 * 0.2828 / sqrt 2
    half = 1.959963984540054 * math.sqrt(0.08) / math.sqrt(2)
    assert rouge["mean"] == pytest.approx(0.6)
    assert rouge["std"] == pytest.approx(math.sqrt(0.08))
    assert (rouge["low"], rouge["high"]) == (pytest.approx(0.6 - half), pytest.approx(0.6 + half))
    bleu = _row(frame, check_type="bleu")
    assert bleu["mean"] == pytest.approx(0.3) and math.isnan(bleu["low"])
    assert mean_interval(4, 10.0, 30.0)[:2] == (2.5, pytest.approx(math.sqrt(5 / 3)))


def test_verdict_and_label_rates(engine):
    _add_judgements(engine)
    verdicts = verdict_rates(engine)
    v1 = verdicts[verdicts["model_version"] == "v1"]
    # current judgements on v1 with a verdict: a alice pass, a bob fail, b alice pass (her
    # fail superseded), d bob unsure; c's was retracted, e is an eval call, g has no verdict
    assert list(zip(v1["verdict"], v1["count"], v1["judgements"], strict=True)) == [
        ("pass", 2, 4), ("fail", 1, 4), ("unsure", 1, 4)]
    assert list(v1["rate"]) == [0.5, 0.25, 0.25]
    assert list(verdicts[verdicts["model_version"] == "v2"]["rate"]) == [0.0, 1.0, 0.0]
    every_source = verdict_rates(engine, scope=CallScope(source=None), versions=["v1"])
    assert _row(every_source, verdict="fail")["count"] == 2

    labels = label_rates(engine)
    v1 = labels[labels["model_version"] == "v1"].set_index("label")
    assert set(v1["judged_calls"]) == {4}  # a, b, d, g
    assert v1.loc["hallucination", "calls"] == 1  # a (bob); b's was superseded
    assert v1.loc["wrong format", "calls"] == 0  # b superseded, c retracted
    assert v1.loc["edge case mishandled", "rate"] == 0.25
    assert v1.loc["edge case handled", "kind"] == "success"
    v2 = labels[labels["model_version"] == "v2"].set_index("label")
    assert v2.loc["hallucination", "rate"] == 1.0


def test_percentiles_with_ties_agree_per_version_and_per_bucket(engine):
    add_calls(engine, [{"input": str(k), "model_version": "v", "created_at": NOV3,
                        "latency_ms": ms} for k, ms in enumerate((5.0, 5.0, 9.0, 5.0, 1.0))])
    qs = (0.2, 0.4, 0.5, 0.8, 0.95)
    # sorted 1, 5, 5, 5, 9: ranks ceil(q * 5) = 1, 2, 3, 4, 5
    expected = [1.0, 5.0, 5.0, 5.0, 9.0]
    names = [percentile_name(q) for q in qs]
    assert list(call_metrics(engine, percentiles=qs).iloc[0][names]) == expected
    assert list(latency_over_time(engine, percentiles=qs).iloc[0][names]) == expected


def test_postgresql_percentiles_are_percentile_disc():
    conn = SimpleNamespace(dialect=postgresql.dialect())
    for query in (percentile_query(conn, CallScope(), [1], (0.5, 0.95)),
                  latency_over_time_query(conn, CallScope(), [1], "week", (0.5, 0.95))):
        sql = str(query.compile(dialect=postgresql.dialect(),
                                compile_kwargs={"literal_binds": True}))
        assert "percentile_disc(0.95) WITHIN GROUP (ORDER BY calls.latency_ms)" in sql


# --------------------------------------------------------------------------- over time


@sqlite_only
def test_time_bucket_sql_on_sqlite_and_postgresql(engine):
    def sql(unit, dialect):
        bucket = time_bucket(Call.created_at, unit, dialect.name)
        return str(bucket.compile(dialect=dialect))

    assert sql("day", sqlite.dialect()) == "date(calls.created_at)"
    assert sql("week", sqlite.dialect()) == "date(calls.created_at, 'weekday 0', '-6 days')"
    assert sql("week", postgresql.dialect()) == "date_trunc('week', calls.created_at)"
    assert sql("day", postgresql.dialect()) == "date_trunc('day', calls.created_at)"
    with pytest.raises(ValueError):
        time_bucket(Call.created_at, "month", "sqlite")

    add_calls(engine, [{"input": str(day), "created_at": datetime(2026, 11, day, 23, 59)}
                       for day in (1, 2, 7, 8, 9)])  # Sun, Mon, Sat, Sun, Mon
    with engine.connect() as conn:
        weeks = conn.execute(select(time_bucket(Call.created_at, "week", "sqlite"))
                             .order_by(Call.created_at)).scalars().all()
        days = conn.execute(select(time_bucket(Call.created_at, "day", "sqlite"))
                            .order_by(Call.created_at)).scalars().all()
    assert weeks == ["2026-10-26", "2026-11-02", "2026-11-02", "2026-11-02", "2026-11-09"]
    assert days == ["2026-11-01", "2026-11-02", "2026-11-07", "2026-11-08", "2026-11-09"]


def test_calls_and_latency_over_time(engine):
    _add_traffic(engine)
    days = calls_over_time(engine)
    assert [(str(b.date()), v, n, e) for b, v, n, e in zip(
        days["bucket"], days["model_version"], days["calls"], days["errors"], strict=True)] == [
        ("2026-11-01", "v1", 15, 1), ("2026-11-02", "v1", 6, 2), ("2026-11-03", "v2", 3, 0)]
    assert list(days["mean_latency_ms"]) == [80.0, 180.0, 5.0]
    assert list(days["mean_prompt_tokens"]) == [8.0, 18.0, 20.0]
    assert days["error_rate"].iloc[1] == pytest.approx(2 / 6)

    weeks = calls_over_time(engine, unit="week")
    assert [(str(b.date()), v, n) for b, v, n in zip(
        weeks["bucket"], weeks["model_version"], weeks["calls"], strict=True)] == [
        ("2026-10-26", "v1", 15), ("2026-11-02", "v1", 6), ("2026-11-02", "v2", 3)]

    latency = latency_over_time(engine)
    # 1 Nov: 10..150 (ranks 8 and 15 of 15); 2 Nov: 160..200 (ranks 3, 5); 3 Nov: 3, 5, 7
    assert list(zip(latency["latency_calls"], latency["latency_p50"], latency["latency_p95"],
                    strict=True)) == [(15, 80.0, 150.0), (5, 180.0, 200.0), (3, 5.0, 7.0)]
    weekly = latency_over_time(engine, unit="week", scope=CallScope(source=None))
    assert list(weekly["latency_p95"]) == [5000.0, 200.0, 7.0, 1.0]  # eval calls included


def test_pass_rate_over_time(engine):
    _add_runs(engine)
    frame = pass_rate_over_time(engine)
    assert [(str(b.date()), v, r, p, t) for b, v, r, p, t in zip(
        frame["bucket"], frame["model_version"], frame["runs"], frame["passed"], frame["total"],
        strict=True)] == [
        ("2026-10-31", "v1", 1, 4, 4), ("2026-11-01", "v1", 1, 1, 3), ("2026-11-03", "v2", 2, 4, 5)]
    assert list(pass_rate_over_time(engine, suite="s2")["pass_rate"]) == [1.0]


def test_an_empty_store_gives_empty_tables(engine):
    for frame in (call_metrics(engine), calls_over_time(engine), latency_over_time(engine),
                  pass_rates(engine), pass_rates(engine, by="label"), reference_scores(engine),
                  pass_rate_over_time(engine), verdict_rates(engine), label_rates(engine),
                  metric_table(engine)):
        assert frame.empty and "model_version" in frame.columns
    with pytest.raises(ValueError, match="v9"):
        version_values(engine, "v9", keys=["pass_rate"])


# --------------------------------------------------------------------------- registry, targets


def test_metric_catalogue_and_specs(engine):
    _add_runs(engine)
    keys = [spec.key for spec in metric_catalogue(engine)]
    for key in ("pass_rate", "mean:rouge", "latency_p95", "error_rate", "human_fail_rate",
                "pass_rate:label:hallucination", "pass_rate:check:regex",
                "label_rate:hallucination", "label_rate:edge case handled"):
        assert key in keys
    assert len(keys) == len(set(keys))
    assert "pass_rate:label:hallucination" not in [s.key for s in metric_catalogue()]
    assert metric_spec("latency_p95").direction == "min"
    assert metric_spec("label_rate:edge case handled", {"edge case handled": "success"}
                       ).higher_is_better
    for bad in ("nope", "mean", "pass_rate:label:", "label_rate: x", "pass_rate:tag:x"):
        with pytest.raises(ValueError):
            metric_spec(bad)


def test_targets_round_trip(engine):
    first = set_target(engine, "pass_rate", 0.9)
    assert (first.direction, first.is_core, first.position) == ("max", True, 0)
    set_target(engine, "latency_p95", 150)
    set_target(engine, "error_rate", 0.1, "min", core=False)
    set_target(engine, "label_rate:edge case handled", 0.5)
    updated = set_target(engine, "pass_rate", 0.8)
    assert (updated.target, updated.position) == (0.8, 0)  # keeps its place
    assert [t.key for t in core_metrics(engine)] == [
        "pass_rate", "latency_p95", "label_rate:edge case handled"]
    assert core_metrics(engine)[2].direction == "max"  # a success label
    assert [t.key for t in list_targets(engine)][2] == "error_rate"
    reorder_targets(engine, ["latency_p95"])
    assert [t.key for t in list_targets(engine)] == [
        "latency_p95", "pass_rate", "error_rate", "label_rate:edge case handled"]
    assert remove_target(engine, "error_rate") and not remove_target(engine, "error_rate")
    with pytest.raises(ValueError):
        set_target(engine, "not_a_metric", 1.0)
    with pytest.raises(ValueError):
        set_target(engine, "pass_rate", 1.0, "up")


def test_evaluate_targets_finds_the_misses(engine):
    for key, target, direction in (("pass_rate", 0.8, None), ("latency_p95", 150, None),
                                   ("error_rate", 0.1, None), ("mean:rouge", None, None),
                                   ("human_fail_rate", 0.2, "min")):
        set_target(engine, key, target, direction)
    values = {"pass_rate": 0.8, "latency_p95": 190.0, "error_rate": float("nan"),
              "mean:rouge": 0.5, "human_fail_rate": 0.25}
    results = evaluate_targets(values, core_metrics(engine))
    assert [(r.key, r.status) for r in results] == [
        ("pass_rate", "met"), ("latency_p95", "missed"), ("error_rate", "no data"),
        ("mean:rouge", "no target"), ("human_fail_rate", "missed")]
    assert [r.key for r in results if r.missed] == ["latency_p95", "human_fail_rate"]


def test_metric_table_and_core_check_end_to_end(engine):
    _add_traffic(engine)
    _add_runs(engine)
    table = metric_table(engine, keys=["latency_p95", "pass_rate", "error_rate"])
    assert list(zip(table["model_version"], table["key"], table["value"], strict=True)) == [
        ("v1", "latency_p95", 190.0), ("v1", "pass_rate", pytest.approx(1 / 3)),
        ("v1", "error_rate", pytest.approx(3 / 21)),
        ("v2", "latency_p95", 7.0), ("v2", "pass_rate", 0.8), ("v2", "error_rate", 0.0)]
    assert set(table["direction"]) == {"min", "max"}
    everything = metric_table(engine)
    assert {"mean:rouge", "pass_rate:label:hallucination", "pass_rate:check:bleu"} <= set(
        everything["key"])
    assert version_values(engine, "v1", keys=["mean:rouge", "human_pass_rate"]) == {
        "mean:rouge": pytest.approx(0.6), "human_pass_rate": None}

    set_target(engine, "pass_rate", 0.75)
    set_target(engine, "latency_p95", 100)
    set_target(engine, "error_rate", 0.05)
    results = {r.key: r for r in check_core_metrics(engine, "v2")}
    assert [results[k].status for k in ("pass_rate", "latency_p95", "error_rate")] == [
        "met", "met", "met"]
    missed = [r.key for r in check_core_metrics(engine, "v1") if r.missed]
    assert missed == ["pass_rate", "latency_p95", "error_rate"]


# --------------------------------------------------------------------------- plans


# sqlite_stat1 of the calls indexes in a store of a million calls (bench/bench_metrics.py):
# as the bounded ANALYZE after a migration leaves them, and from a full ANALYZE.
STATS_1M = {
    "bounded": [("ix_calls_created_at_id", "435072 1 1"), ("ix_calls_latency_id", "1055250 3 1"),
                ("ix_calls_session_id", "1043072 401"),
                ("ix_calls_source_created_at", "1038730 401 1 1"),
                ("ix_calls_tokens_id", "1157720 26 1"),
                ("ix_calls_version_created_at", "395600 401 1 1"),
                ("ix_calls_version_input_hash", "673200 401 1"),
                ("ix_calls_version_latency", "1195425 401 401 2 1 1 1 1"),
                ("sqlite_autoindex_calls_1", "2317572 401 401")],
    "full": [("ix_calls_created_at_id", "1000000 1 1"), ("ix_calls_latency_id", "1000000 39 1"),
             ("ix_calls_session_id", "1000000 1000000"),
             ("ix_calls_source_created_at", "1000000 333334 1 1"),
             ("ix_calls_tokens_id", "1000000 785 1"),
             ("ix_calls_version_created_at", "1000000 125000 1 1"),
             ("ix_calls_version_input_hash", "1000000 125000 1"),
             ("ix_calls_version_latency", "1000000 125000 41667 6 1 1 1 1"),
             ("sqlite_autoindex_calls_1", "1000000 333334 333334")],
}


def _pretend_a_million_calls(engine, stats) -> None:
    """Give the planner the statistics of a 1M-call store (read by new connections)."""
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.exec_driver_sql("DELETE FROM sqlite_stat1 WHERE tbl = 'calls'")
        conn.execute(text("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('calls', :i, :s)"),
                     [{"i": index, "s": stat} for index, stat in stats])
    engine.dispose()


def _call_queries(conn, scope):
    return [nth_latency_query(conn, scope, 1, 5, 10),
            latency_over_time_query(conn, scope, [1, 2], "day", (0.5, 0.95))]


@pytest.mark.parametrize("stats", [None, "bounded", "full"])
@pytest.mark.parametrize("scope", [CallScope(), CallScope(since=NOV1, until=NOV3),
                                   CallScope(source=None)], ids=["production", "range", "all"])
@sqlite_only
def test_call_aggregates_read_only_the_metrics_index(engine, scope, stats):
    _add_traffic(engine)
    if stats:
        _pretend_a_million_calls(engine, STATS_1M[stats])
    source = "source=?" if scope.source else "source>?"
    with engine.connect() as conn:
        for query in _call_queries(conn, scope):
            plan = " | ".join(query_plan(conn, query))
            assert f"INDEX {INDEX} (" in plan, plan
            assert not reads_table_rows(conn, query, "calls"), plan
            assert f"INDEX {INDEX} (model_version_id=? AND {source}" in plan, plan
        nth = " ".join(query_plan(conn, _call_queries(conn, scope)[0]))
        if scope.source:  # walks the index in latency order, no sort
            assert "TEMP B-TREE" not in nth and "latency_ms>?" in nth
        # final answers with a verdict (the covering index of 0016 seeks past the label-only
        # ones) drive the review metrics; calls by id
        verdicts = " | ".join(query_plan(conn, verdict_query(conn, scope)))
        assert verdicts.startswith("SEARCH annotations USING COVERING INDEX "
                                   "ix_annotations_final_verdict (is_final=? AND verdict>?)"
                                   ), verdicts
        assert "SEARCH calls USING INTEGER PRIMARY KEY" in verdicts
        # the control: reading the error text itself would go to the table rows
        assert reads_table_rows(conn, select(func.count(Call.error)).where(
            Call.model_version_id == 1, Call.source == "production"), "calls")


def test_one_pass_human_rates_equal_the_separate_ones(engine):
    from evalboard.demo.builder import load_demo
    from evalboard.metrics.human import human_rates

    load_demo(engine, calls=400, seed=11)  # two reviewers, labels, second opinions
    for scope in (CallScope(), CallScope(source=None, since=datetime(2020, 1, 1))):
        verdicts, labels = human_rates(engine, scope=scope)
        assert not verdicts.empty and not labels.empty
        pd.testing.assert_frame_equal(verdicts, verdict_rates(engine, scope=scope))
        pd.testing.assert_frame_equal(labels, label_rates(engine, scope=scope))


# --------------------------------------------------------------------------- intervals


def test_wilson_interval_known_values_and_edges():
    # 5 of 10: the textbook Wilson interval (0.2366, 0.7634); never outside [0, 1]
    assert wilson_interval(5, 10) == (pytest.approx(0.236593, abs=1e-6),
                                      pytest.approx(0.763407, abs=1e-6))
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.277533, abs=1e-6)  # not empty at k = 0
    low, high = wilson_interval(10, 10)
    assert low == pytest.approx(0.722467, abs=1e-6) and high <= 1.0
    assert all(math.isnan(b) for b in wilson_interval(0, 0))
    narrow, wide = wilson_interval(500, 1000), wilson_interval(5, 10)
    assert narrow[1] - narrow[0] < wide[1] - wide[0]  # more trials, a tighter interval


def test_rates_carry_their_wilson_interval(engine):
    _add_runs(engine)
    overall = pass_rates(engine)
    v1 = _row(overall, model_version="v1")  # 1 of 3
    assert (v1["low"], v1["high"]) == tuple(pytest.approx(b) for b in wilson_interval(1, 3))
    pooled = pool_pass_rates(overall)  # v2: s1 3 of 4 and s2 1 of 1 pooled to 4 of 5
    v2 = _row(pooled, model_version="v2")
    assert (v2["passed"], v2["total"], v2["pass_rate"]) == (4, 5, 0.8)
    assert (v2["low"], v2["high"]) == tuple(pytest.approx(b) for b in wilson_interval(4, 5))
    assert list(pooled["model_version"]) == ["v1", "v2"]
    by_label = pool_pass_rates(pass_rates(engine, by="label"), "label")
    hallucination = _row(by_label, model_version="v1", label="hallucination")
    assert hallucination["low"] == pytest.approx(wilson_interval(1, 2)[0])


def test_verdict_label_and_error_rates_carry_their_wilson_interval(engine):
    _add_judgements(engine)
    verdicts = verdict_rates(engine)
    fail = _row(verdicts, model_version="v1", verdict="fail")  # 1 of 4
    assert (fail["low"], fail["high"]) == tuple(pytest.approx(b) for b in wilson_interval(1, 4))
    labels = label_rates(engine)
    row = _row(labels, model_version="v1", label="edge case mishandled")  # 1 of 4 judged
    assert row["high"] == pytest.approx(wilson_interval(1, 4)[1])
    calls = call_metrics(engine, versions=["v1"])
    assert list(calls["error_low"]) == [0.0]  # no errors in 5 calls: low 0, high above 0
    assert calls["error_high"].iloc[0] == pytest.approx(wilson_interval(0, 5)[1])


def test_a_version_without_calls_has_no_interval(engine):
    _add_traffic(engine)
    v3 = call_metrics(engine).iloc[2]  # only an eval call: no production calls
    assert v3["calls"] == 0 and math.isnan(v3["error_low"]) and math.isnan(v3["error_high"])
    assert version_names(engine) == ["v1", "v2", "v3"]
    assert version_names(engine, ["v3", "v1"]) == ["v3", "v1"]


# --------------------------------------------------------------------------- comparable runs


def test_runs_on_different_case_versions_are_named(engine):
    _add_runs(engine)
    # v1's latest s1 run skipped c4 (missing); v2 ran it: not the same test
    (mix,) = case_version_mixes(engine)
    assert (mix.suite, mix.cases) == ("s1", 1)
    assert [(r.model_version, r.versions) for r in mix.runs] == [
        ("v1", (("c4", None),)), ("v2", (("c4", 1),))]
    with Session(engine) as session, session.begin():
        s1 = session.scalar(select(Suite).where(Suite.name == "s1"))
        assert add_case_version(session, s1, "c1") == 2
        add_case_version(session, s1, "c2")
        add_case_version(session, s1, "c2")
        v2_run = add_run(session, s1, "v2", datetime(2026, 11, 4, 8), "finished",
                         dict.fromkeys(["c1", "c2", "c3", "c4"], "pass"),
                         case_versions={"c1": 2, "c2": 3})
    (mix,) = case_version_mixes(engine)
    assert mix.cases == 3
    assert [(r.model_version, r.run_id, r.versions) for r in mix.runs] == [
        ("v1", 2, (("c1", 1), ("c2", 1), ("c4", None))),
        ("v2", v2_run, (("c1", 2), ("c2", 3), ("c4", 1)))]
    message = mix.message()
    assert "Suite “s1”" in message and "3 cases" in message
    assert "v1 (run 2): “c1” v1, “c2” v1, “c4” not run" in message
    assert f"v2 (run {v2_run}): “c1” v2, “c2” v3, “c4” v1" in message
    assert case_version_mixes(engine, versions=["v2"]) == []  # one run: nothing to compare
    assert case_version_mixes(engine, suite="s2") == []


def test_many_differing_cases_are_counted_and_same_runs_grouped(engine):
    add_calls(engine, [{"input": "x", "model_version": v, "source": "eval"}
                       for v in ("a", "b", "c")])
    order_versions(engine, "a", "b", "c")
    names = [f"case{k}" for k in range(5)]
    with Session(engine) as session, session.begin():
        suite = add_suite(session, "big", [(name, None) for name in names])
        for name in names[:4]:
            add_case_version(session, suite, name)
        every = dict.fromkeys(names, "pass")
        add_run(session, suite, "a", datetime(2026, 11, 1), "finished", every)
        add_run(session, suite, "b", datetime(2026, 11, 2), "finished", every)
        add_run(session, suite, "c", datetime(2026, 11, 3), "finished", every,
                case_versions=dict.fromkeys(names[:4], 2))
    (mix,) = case_version_mixes(engine)
    assert mix.cases == 4 and [len(runs) for runs, _ in mix.groups()] == [2, 1]
    message = mix.message()
    assert "a (run 1), b (run 2): 4 at an older version" in message
    assert "c (run 3): the newest version of each" in message
