"""Scores per model version (evalboard.metrics.scores): means with 95% intervals and choice
shares with Wilson intervals, over final answers only, checked against plain Python."""

from __future__ import annotations

import math
import random
import statistics

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from evalboard.metrics.axis import CallScope
from evalboard.metrics.intervals import Z_95, wilson_interval
from evalboard.metrics.scores import (
    charted_configs,
    choice_shares,
    score_means,
    score_metrics,
)
from evalboard.review.annotations import Judgement, annotate, undo_last
from evalboard.store.models import Call
from evalboard.teams.adjudication import adjudicate, withdraw_adjudication
from evalboard.teams.scores import create_score_config
from tests.support.calls import add_calls, make_rows
from tests.support.metric_stores import order_versions

VERSIONS = ("a", "b", "c")  # c has calls but no scored answer
TONES = ("friendly", "neutral", "rude")


def _ids(engine, version: str) -> list[int]:
    with Session(engine) as session:
        return list(session.scalars(select(Call.id).join(Call.model_version)
                                    .where(Call.model_version.has(name=version))
                                    .order_by(Call.id)))


@pytest.fixture
def store(engine):
    for version in VERSIONS:
        add_calls(engine, make_rows(12, model_version=version))
    order_versions(engine, *VERSIONS)
    create_score_config(engine, "helpfulness", "rating", maximum=5)
    create_score_config(engine, "confidence", "numeric", minimum=-1, maximum=1)
    create_score_config(engine, "tone", "choice", choices=TONES)
    create_score_config(engine, "remark", "text")
    return engine


def _expected_mean(values: list[float], low: float, high: float
                   ) -> tuple[int, float, float, float]:
    """(n, mean, low, high) computed the plain way."""
    if len(values) < 2:
        return len(values), statistics.fmean(values) if values else math.nan, math.nan, math.nan
    mean = statistics.fmean(values)
    half = Z_95 * statistics.stdev(values) / math.sqrt(len(values))
    return len(values), mean, max(low, mean - half), min(high, mean + half)


def _same(found: float, expected: float) -> bool:
    return (math.isnan(found) and math.isnan(expected)) or found == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(4))
def test_means_and_shares_match_a_plain_computation_on_random_scores(store, seed):
    rng = random.Random(seed)
    final: dict[tuple[int, str], dict[str, object]] = {}  # (call, reviewer) -> current scores
    version_of = {}
    for version in VERSIONS[:2]:
        for call_id in _ids(store, version):
            version_of[call_id] = version
            for reviewer in rng.sample(["ann", "bob", "cid"], rng.randint(0, 3)):
                for _ in range(rng.randint(1, 2)):  # a second judgement replaces the first
                    scores = {"helpfulness": rng.randint(1, 5),
                              "confidence": round(rng.uniform(-1, 1), 3),
                              "tone": rng.choice(TONES), "remark": "ok"}
                    scores = {k: v for k, v in scores.items() if rng.random() < 0.8}
                    annotate(store, call_id, reviewer,
                             Judgement("pass", scores=tuple(scores.items())))
                    final[(call_id, reviewer)] = scores
    metrics = {m.config.name: m for m in score_metrics(store, scope=CallScope(source=None))}
    assert list(metrics) == ["confidence", "helpfulness", "tone"]  # text is not charted

    for name, bounds in (("helpfulness", (1, 5)), ("confidence", (-1, 1))):
        frame = metrics[name].frame
        assert list(frame["model_version"]) == list(VERSIONS)  # every version, in axis order
        for row in frame.itertuples():
            values = [float(s[name]) for (call, _r), s in final.items()
                      if version_of[call] == row.model_version and name in s]
            n, mean, low, high = _expected_mean(values, *bounds)
            assert row.n == n
            assert _same(row.mean, mean) and _same(row.low, low) and _same(row.high, high)
        c = frame[frame["model_version"] == "c"].iloc[0]
        assert c["n"] == 0 and math.isnan(c["mean"])  # no data, not zero
    assert metrics["helpfulness"].frame.equals(
        score_means(store, "helpfulness", scope=CallScope(source=None)))

    shares = metrics["tone"].frame
    assert "c" not in set(shares["model_version"])  # no answers: no data
    for version in VERSIONS[:2]:
        given = [s["tone"] for (call, _r), s in final.items()
                 if version_of[call] == version and "tone" in s]
        rows = shares[shares["model_version"] == version]
        assert list(rows["choice"]) == list(TONES)  # every choice, a never-given one at 0
        for row in rows.itertuples():
            k = given.count(row.choice)
            assert (row.count, row.answers) == (k, len(given))
            assert row.share == pytest.approx(k / len(given))
            assert (row.low, row.high) == pytest.approx(wilson_interval(k, len(given)))


def test_an_adjudicated_call_counts_its_adjudications_score_only(store):
    first, second = _ids(store, "a")[:2]
    annotate(store, first, "ann", Judgement("pass", scores=(("helpfulness", 1),
                                                            ("tone", "rude"))))
    annotate(store, first, "bob", Judgement("pass", scores=(("helpfulness", 5),
                                                            ("tone", "friendly"))))
    annotate(store, second, "ann", Judgement("pass", scores=(("helpfulness", 4),)))
    everything = CallScope(source=None)

    def helpfulness() -> tuple[int, float]:
        row = score_means(store, "helpfulness", scope=everything).iloc[0]
        return int(row["n"]), float(row["mean"])

    assert helpfulness() == (3, pytest.approx(10 / 3))  # both reviewers' answers count
    adjudicate(store, first, "lead", Judgement("pass", scores=(("helpfulness", 3),
                                                               ("tone", "neutral"))))
    assert helpfulness() == (2, pytest.approx(3.5))  # 3 (adjudication) and 4
    tones = choice_shares(store, "tone", scope=everything)
    assert dict(zip(tones["choice"], tones["count"], strict=True)) == {
        "friendly": 0, "neutral": 1, "rude": 0}
    # an adjudication without the score leaves the call unscored: reviewers' scores stay out
    adjudicate(store, first, "lead", Judgement("fail"))
    assert helpfulness() == (1, 4.0)
    withdraw_adjudication(store, first, "lead")
    withdraw_adjudication(store, first, "lead")
    assert helpfulness() == (3, pytest.approx(10 / 3))
    undo_last(store, "bob")  # a retracted judgement is no answer
    assert helpfulness() == (2, pytest.approx(2.5))


def test_scope_and_version_axis_decide_what_counts(store):
    add_calls(store, make_rows(2, model_version="a", source="eval"))
    eval_call = _ids(store, "a")[-1]
    annotate(store, eval_call, "ann", Judgement("pass", scores=(("helpfulness", 1),)))
    annotate(store, _ids(store, "b")[0], "ann", Judgement("pass", scores=(("helpfulness", 5),)))
    production = score_means(store, "helpfulness")
    assert dict(zip(production["model_version"], production["n"], strict=True)) == {
        "a": 0, "b": 1, "c": 0}  # the eval call is not production
    assert list(score_means(store, "helpfulness", versions=["c", "a"])["model_version"]) == [
        "c", "a"]
    assert score_means(store, "helpfulness", scope=CallScope(source="eval"))["n"].tolist() == [
        1, 0, 0]


def test_intervals_stay_inside_the_configured_range(store):
    for call_id, value in zip(_ids(store, "a"), [5, 5, 5, 4], strict=False):
        annotate(store, call_id, "ann", Judgement("pass", scores=(("helpfulness", value),)))
    row = score_means(store, "helpfulness").iloc[0]
    assert row["mean"] == 4.75 and row["high"] == 5.0 and row["low"] < 4.75
    one = score_means(store, "helpfulness", versions=["a"])
    assert one["n"].tolist() == [4]


def test_charted_configs_are_the_used_non_text_ones_and_wrong_kinds_are_refused(store):
    assert charted_configs(store) == []
    assert score_metrics(store) == []
    call = _ids(store, "a")[0]
    annotate(store, call, "ann", Judgement("pass", scores=(("remark", "fine"),)))
    assert charted_configs(store) == []  # free text is not charted
    annotate(store, call, "ann", Judgement("pass", scores=(("tone", "neutral"),)))
    assert [c.name for c in charted_configs(store)] == ["tone"]
    with pytest.raises(ValueError, match="'tone' is one of friendly, neutral, rude, not a "
                                         "rating or a number"):
        score_means(store, "tone")
    with pytest.raises(ValueError, match="not a choice"):
        choice_shares(store, "helpfulness")
    with pytest.raises(ValueError, match="no score configuration 'nope'"):
        score_means(store, "nope")
