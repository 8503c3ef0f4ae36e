"""Win rates, the length-controlled win rate and Bradley–Terry ratings, checked against values
worked out by hand."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

from evalboard.pairwise.answers import PairVerdict, record_answer, retract_answer
from evalboard.pairwise.length_control import fit_logistic, length_controlled_win_rate
from evalboard.pairwise.ratings import (
    bootstrap_ratings,
    fit_bradley_terry,
    leaderboard,
    mle_exists,
    win_matrix,
)
from evalboard.pairwise.winrates import (
    AnswerFilter,
    against_baseline,
    load_comparisons,
    win_rates,
)
from tests.support.app_server import CHROMIUM, running_app
from tests.support.pairwise_data import add_answers, add_pair, ensure_versions

Z = 1.959963984540054


def wilson(k: float, n: int) -> tuple[float, float]:
    """The Wilson score interval written out:
    (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)."""
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return centre - half, centre + half


# ------------------------------------------------------------------ Bradley–Terry, pure


def test_three_versions_with_known_strengths():
    # Strengths 4 : 2 : 1 make the counts below the exact expectation: A beats B 4 of 6
    # (4/(4+2)), A beats C 4 of 5 (4/(4+1)), B beats C 2 of 3 (2/(2+1)); so the MLE is
    # p = (4, 2, 1) / geometric mean 2 = (2, 1, 0.5), ratings 1000 + 400·log10(p):
    # 1000 + 400·0.30103 = 1120.412, 1000, 879.588.
    wins = np.array([[0, 4, 4], [2, 0, 2], [1, 1, 0]], dtype=float)
    fit = fit_bradley_terry(wins)
    assert not fit.regularised
    assert fit.strengths == pytest.approx([2.0, 1.0, 0.5], rel=1e-8)
    assert fit.ratings == pytest.approx([1120.411998, 1000.0, 879.588002], abs=1e-5)


def test_two_versions_closed_form_with_ties_as_half():
    # 5 wins, 1 tie, 2 losses: p1 / (p1 + p2) = (5 + 1/2) / 8.
    first = np.zeros(8, dtype=int)
    second = np.ones(8, dtype=int)
    scores = np.array([1, 1, 1, 1, 1, 0.5, 0, 0])
    fit = fit_bradley_terry(win_matrix(first, second, scores, 2))
    p1, p2 = fit.strengths
    assert p1 / (p1 + p2) == pytest.approx(5.5 / 8, rel=1e-9)
    assert p1 * p2 == pytest.approx(1.0)  # geometric mean 1


def test_a_version_that_never_won_needs_the_prior():
    wins = np.array([[0, 3], [0, 0]], dtype=float)
    assert not mle_exists(wins)
    fit = fit_bradley_terry(wins)
    assert fit.regularised
    # 3.5 : 0.5 after half a virtual win each side: p1/(p1+p2) = 3.5/4
    p1, p2 = fit.strengths
    assert p1 / (p1 + p2) == pytest.approx(3.5 / 4, rel=1e-9)


def test_a_version_never_compared_has_no_rating():
    wins = np.array([[0, 2, 0], [1, 0, 0], [0, 0, 0]], dtype=float)
    fit = fit_bradley_terry(wins)
    assert list(fit.groups) == [0, 0, -1]
    assert math.isnan(fit.strengths[2])


def test_versions_never_compared_across_groups_get_separate_scales():
    # 0 and 1 met (2 : 1), 2 and 3 met (1 : 3); nothing links the two groups
    wins = np.array([[0, 2, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 3, 0]], dtype=float)
    fit = fit_bradley_terry(wins)
    assert list(fit.groups) == [0, 0, 1, 1]
    p = fit.strengths
    assert p[0] / (p[0] + p[1]) == pytest.approx(2 / 3)
    assert p[2] / (p[2] + p[3]) == pytest.approx(1 / 4)
    assert p[0] * p[1] == pytest.approx(1.0) and p[2] * p[3] == pytest.approx(1.0)


def test_bootstrap_is_seeded_and_brackets_the_fit():
    first = np.array([0] * 6 + [0] * 5 + [1] * 3)
    second = np.array([1] * 6 + [2] * 5 + [2] * 3)
    scores = np.array([1, 1, 1, 1, 0, 0] + [1, 1, 1, 1, 0] + [1, 1, 0], dtype=float)
    low, high = bootstrap_ratings(first, second, scores, 3, np.random.default_rng(7), 100)
    again = bootstrap_ratings(first, second, scores, 3, np.random.default_rng(7), 100)
    assert np.array_equal(low, again[0]) and np.array_equal(high, again[1])
    ratings = fit_bradley_terry(win_matrix(first, second, scores, 3)).ratings
    assert np.all(low <= ratings + 1e-9) and np.all(ratings <= high + 1e-9)
    assert np.all(high - low > 10)  # 14 comparisons leave a wide interval


# ------------------------------------------------------------------ length control, pure


def test_length_controlled_rate_of_a_saturated_fit():
    # Length difference is +10 or -10 only, so tanh(diff/std) takes two opposite values and
    # the logistic fit reproduces both rates: intercept = (logit r+ + logit r-) / 2.
    # A longer: won 4 of 5 (logit 0.8 = ln 4); A shorter: won 2 of 4 (logit 0.5 = 0):
    # intercept = ln 2, LC win rate = 2/3 (raw: 6/9).
    scores = np.array([1, 1, 1, 1, 0, 1, 1, 0, 0], dtype=float)
    len_a = np.array([20] * 5 + [10] * 4)
    len_b = np.array([10] * 5 + [20] * 4)
    assert length_controlled_win_rate(scores, len_a, len_b) == pytest.approx(2 / 3, abs=1e-7)
    # A longer: 6 of 8 (logit ln 3); shorter: 1 of 4 (logit -ln 3): LC 1/2 (raw 7/12).
    scores = np.array([1] * 6 + [0] * 2 + [1] + [0] * 3, dtype=float)
    len_a = np.array([30] * 8 + [20] * 4)
    len_b = np.array([20] * 8 + [30] * 4)
    assert length_controlled_win_rate(scores, len_a, len_b) == pytest.approx(0.5, abs=1e-7)


def test_length_controlled_rate_without_length_differences_is_the_raw_rate():
    scores = np.array([1, 1, 0.5, 0], dtype=float)
    same = np.full(4, 50)
    assert length_controlled_win_rate(scores, same, same) == pytest.approx(2.5 / 4)
    assert math.isnan(length_controlled_win_rate(np.array([]), np.array([]), np.array([])))


def test_length_controlled_interval_is_seeded_and_brackets_the_rate():
    from evalboard.pairwise.length_control import length_controlled_interval

    scores = np.array([1, 1, 1, 1, 0, 1, 1, 0, 0] * 4, dtype=float)
    len_a = np.array(([20] * 5 + [10] * 4) * 4)
    len_b = np.array(([10] * 5 + [20] * 4) * 4)
    low, high = length_controlled_interval(scores, len_a, len_b, np.random.default_rng(5))
    assert (low, high) == length_controlled_interval(scores, len_a, len_b,
                                                     np.random.default_rng(5))
    assert low < 2 / 3 < high and high - low > 0.1
    assert all(map(math.isnan, length_controlled_interval(
        np.array([]), np.array([]), np.array([]), np.random.default_rng(0))))


def test_logistic_fit_matches_scikit_learn():
    linear_model = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(3)
    x = rng.normal(size=200)
    y = (rng.random(200) < 1 / (1 + np.exp(-(0.4 + 1.3 * x)))).astype(float)
    ours = fit_logistic(np.column_stack([np.ones_like(x), x]), y)
    theirs = linear_model.LogisticRegression(C=np.inf, tol=1e-10).fit(x[:, None], y)
    assert ours == pytest.approx([theirs.intercept_[0], theirs.coef_[0][0]], abs=1e-4)


def test_a_version_always_winning_gets_a_finite_rate_near_one():
    scores = np.ones(5)
    rate = length_controlled_win_rate(scores, np.arange(5), np.arange(5)[::-1])
    assert 0.99 < rate <= 1.0


# ------------------------------------------------------------------ from the store


def test_win_rates_from_live_answers(engine):
    ensure_versions(engine, ["v1", "v2"])
    # v2 (call a) against v1 (call b): 3 wins, 1 tie, 1 loss, 1 both bad ...
    add_answers(engine, "v2", "v1", ["a", "a", "a", "tie", "b", "both_bad"])
    # ... and with the sides the other way round: v2 as call b wins once more, loses once.
    add_answers(engine, "v1", "v2", ["b", "a"])
    rows = win_rates(engine)
    assert len(rows) == 1
    row = rows.iloc[0]
    assert (row.model_version, row.opponent) == ("v2", "v1")  # the newer against the older
    assert (row.wins, row.ties, row.losses, row.both_bad, row.answers) == (4, 1, 2, 1, 7)
    assert row.win_rate == pytest.approx(4.5 / 7)
    assert (row.low, row.high) == pytest.approx(wilson(4.5, 7))
    # same lengths on both sides: the length-controlled rate is the raw rate
    assert row.lc_win_rate == pytest.approx(4.5 / 7, abs=1e-7)
    assert math.isnan(row.lc_low)  # no interval without a generator
    from evalboard.pairwise.winrates import win_rate_table

    seeded = win_rate_table(load_comparisons(engine), np.random.default_rng(2)).iloc[0]
    assert seeded.lc_low <= seeded.lc_win_rate <= seeded.lc_high
    assert row.chars == pytest.approx(len("answer a"))


def test_output_length_beside_the_win_rate(engine):
    ensure_versions(engine, ["v1", "v2"])
    add_answers(engine, "v2", "v1", ["a", "a", "b"],
                outputs=[("x" * 30, "y" * 10), ("x" * 50, "y" * 10), ("x" * 10, "y" * 20)])
    row = win_rates(engine).iloc[0]
    assert row.chars == pytest.approx(30.0)
    assert row.opponent_chars == pytest.approx(40 / 3)
    assert math.isnan(row.tokens)  # no completion tokens were logged


def test_only_live_answers_count(engine):
    ensure_versions(engine, ["v1", "v2"])
    call_a, call_b = add_pair(engine, "v2", "v1")
    first = record_answer(engine, call_a, call_b, "ana", PairVerdict("b"))
    record_answer(engine, call_a, call_b, "ana", PairVerdict("a"))  # replaces her answer
    record_answer(engine, call_a, call_b, "ben", PairVerdict("a"))  # a second reviewer
    undone = record_answer(engine, *add_pair(engine, "v2", "v1"), "ana", PairVerdict("b"))
    retract_answer(engine, undone, "ana")
    row = win_rates(engine).iloc[0]
    assert (row.wins, row.losses, row.answers) == (2, 0, 2)
    assert first  # the replaced answer is kept in the history, not counted
    only_ben = win_rates(engine, AnswerFilter(reviewers=("ben",))).iloc[0]
    assert only_ben.answers == 1


def test_no_answers_no_rows(engine):
    ensure_versions(engine, ["v1", "v2"])
    assert win_rates(engine).empty
    board = leaderboard(load_comparisons(engine), np.random.default_rng(0), 20)
    assert board.empty


def test_leaderboard_matches_the_hand_computed_fit(engine):
    ensure_versions(engine, ["A", "B", "C"])
    add_answers(engine, "A", "B", ["a"] * 4 + ["b"] * 2)
    add_answers(engine, "A", "C", ["a"] * 4 + ["b"])
    add_answers(engine, "C", "B", ["b"] * 2 + ["a"] + ["both_bad"])  # B beats C 2 of 3
    board = leaderboard(load_comparisons(engine), np.random.default_rng(1), 50)
    assert list(board["model_version"]) == ["A", "B", "C"]
    assert list(board["rank"]) == [1, 2, 3]
    assert board["rating"].tolist() == pytest.approx([1120.412, 1000.0, 879.588], abs=1e-3)
    assert board.attrs["regularised"] is False
    a = board.iloc[0]
    assert (a.wins, a.ties, a.losses, a.answers) == (8, 0, 3, 11)
    assert all(board["low"] <= board["rating"]) and all(board["rating"] <= board["high"])
    assert set(board["group"]) == {0}


def test_win_rate_against_a_baseline(engine):
    ensure_versions(engine, ["A", "B", "C"])
    add_answers(engine, "A", "B", ["a"] * 3 + ["b"])
    add_answers(engine, "C", "A", ["a", "tie"])
    rows = against_baseline(load_comparisons(engine), "A")
    assert list(rows["model_version"]) == ["B", "C"]
    assert rows["win_rate"].tolist() == pytest.approx([1 / 4, 1.5 / 2])
    assert set(rows["opponent"]) == {"A"}
    assert against_baseline(load_comparisons(engine), "nope").empty


def test_version_filter_keeps_answers_between_chosen_versions(engine):
    ensure_versions(engine, ["A", "B", "C"])
    add_answers(engine, "A", "B", ["a"])
    add_answers(engine, "A", "C", ["a", "a"])
    rows = win_rates(engine, AnswerFilter(versions=("A", "C")))
    assert list(zip(rows["model_version"], rows["opponent"], strict=True)) == [("C", "A")]
    assert rows.iloc[0].losses == 2


def test_win_rate_against_a_baseline_is_a_registry_metric(engine):
    from evalboard.metrics.registry import metric_catalogue, metric_spec
    from evalboard.metrics.targets import list_targets, set_target
    from evalboard.metrics.versions import metric_table, version_values

    ensure_versions(engine, ["A", "B", "C"])
    add_answers(engine, "A", "B", ["a"] * 3 + ["b"])
    add_answers(engine, "C", "A", ["a", "tie"])
    spec = metric_spec("win_rate:A")
    assert (spec.title, spec.unit, spec.direction) == ("Win rate against A", "share", "max")
    assert {"win_rate:A", "win_rate:B", "win_rate:C"} <= {
        s.key for s in metric_catalogue(engine)}
    table = metric_table(engine, keys=["win_rate:A"])
    assert list(table["model_version"]) == ["B", "C"]
    assert table["value"].tolist() == pytest.approx([0.25, 0.75])
    assert version_values(engine, "C", keys=["win_rate:A"]) == {"win_rate:A": 0.75}
    set_target(engine, "win_rate:A", 0.5)  # a core metric with a target, like any other
    assert [(t.key, t.target, t.direction) for t in list_targets(engine)] == [
        ("win_rate:A", 0.5, "max")]


# ------------------------------------------------------------------ the Metrics page


def _pairwise_tab(**params):
    from tests.support.apptest import open_page

    at = open_page("metrics", timeout=90, **params)
    assert not at.exception and not at.error
    return at


def test_metrics_page_says_how_to_get_pairwise_answers(engine):
    ensure_versions(engine, ["v1", "v2"])
    at = _pairwise_tab()
    assert any("No pairwise answers yet" in info.value for info in at.info)


def test_metrics_page_shows_the_leaderboard_and_win_rates(engine):
    from evalboard.ui.winrate_view import rating_chart_spec

    ensure_versions(engine, ["A", "B", "C"])
    add_answers(engine, "A", "B", ["a"] * 4 + ["b"] * 2)
    add_answers(engine, "A", "C", ["a"] * 4 + ["b"])
    add_answers(engine, "C", "B", ["b"] * 2 + ["a"])
    at = _pairwise_tab(metrics_baseline="A")
    assert not any("No pairwise answers yet" in info.value for info in at.info)
    frames = [frame.value for frame in at.dataframe]
    board = next(f for f in frames if "rating" in f.columns)
    assert list(board["model_version"]) == ["A", "B", "C"]
    assert board["rating"].tolist() == pytest.approx([1120.412, 1000.0, 879.588], abs=1e-3)
    pairs = next(f for f in frames if "lc_win_rate" in f.columns)
    assert list(zip(pairs["model_version"], pairs["opponent"], strict=True)) == [
        ("B", "A"), ("C", "A"), ("C", "B")]
    assert pairs["win_rate"].tolist() == pytest.approx([2 / 6, 1 / 5, 1 / 3])
    titles = [json.dumps(chart.spec) for chart in at.get("vega_lite_chart")]
    assert any("Rating (Elo scale)" in spec for spec in titles)
    assert any("Win rate against A" in spec for spec in titles)
    spec = rating_chart_spec(board.assign(version_order=range(3), group=0), ["A", "B", "C"])
    layers = spec.to_dict()["layer"]
    assert [layer["mark"]["type"] for layer in layers] == ["errorbar", "point", "rule"]


def test_metrics_page_counts_the_answers_of_chosen_reviewers(engine):
    ensure_versions(engine, ["A", "B"])
    add_answers(engine, "B", "A", ["a", "a", "b"], reviewer="ana")
    add_answers(engine, "B", "A", ["b"], reviewer="judge-gpt")
    at = _pairwise_tab()

    def pairs():
        return next(f.value for f in at.dataframe if "lc_win_rate" in f.value.columns)

    assert pairs().iloc[0].answers == 4
    next(m for m in at.multiselect if m.label == "Answers by").set_value(["judge-gpt"]).run()
    assert not at.exception
    row = pairs().iloc[0]
    assert (row.wins, row.losses, row.answers) == (0, 1, 1)


@pytest.mark.browser
@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium is not installed")
def test_the_rating_chart_draws_every_version_in_a_browser(engine, db_url, browser_page,
                                                           tmp_path):
    ensure_versions(engine, ["A", "B", "C"])
    add_answers(engine, "A", "B", ["a"] * 4 + ["b"] * 2)
    add_answers(engine, "A", "C", ["a"] * 4 + ["b"])
    add_answers(engine, "C", "B", ["b"] * 2 + ["a"])
    page = browser_page
    with running_app(db_url, log_path=tmp_path / "server.log") as base:
        page.goto(f"{base}/metrics?metrics_baseline=A")
        page.get_by_role("tab", name="Pairwise").click()
        panel = page.locator("[role='tabpanel']:visible")
        chart = panel.locator(".vega-embed").first
        chart.wait_for(timeout=60_000)
        title = chart.locator("g.role-axis[aria-label^='Y-axis'] g.role-axis-title text").first
        title.wait_for(timeout=30_000)
        assert title.text_content() == "Rating (Elo scale)"
        labels = chart.locator("g.role-axis[aria-label^='X-axis'] g.role-axis-label text")
        assert [label.text_content() for label in labels.all()] == ["A", "B", "C"]
        assert panel.get_by_text("Win rate per pair of versions").count() == 1
