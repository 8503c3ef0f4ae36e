"""The Metrics page's pairwise part: a Bradley–Terry leaderboard with a chart across versions,
win rates per pair of versions (with output length and the length-controlled win rate), and a
win-rate chart against a chosen baseline."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from evalboard.metrics.axis import version_names
from evalboard.pairwise.ratings import BASE_RATING, leaderboard
from evalboard.pairwise.winrates import (
    AnswerFilter,
    Comparisons,
    against_baseline,
    answer_reviewers,
    load_comparisons,
    win_rate_table,
)
from evalboard.ui.metric_charts import (
    VERSION,
    VERSION_LABEL,
    _version_x,
    download,
    short_version_names,
    version_chart,
)
from evalboard.ui.navigation import PAIRWISE
from evalboard.ui.store import engine_for, store_url

TTL = 60
RATING_TITLE = "Rating (Elo scale)"
PAIR_COLUMNS = ["model_version", "opponent", "win_rate", "low", "high", "lc_win_rate", "lc_low",
                "lc_high", "wins", "ties", "losses", "both_bad", "answers", "chars",
                "opponent_chars", "tokens", "opponent_tokens"]
SEED = 0  # the bootstrap is seeded: the same answers always draw the same intervals
ROUNDS = 200
EMPTY = ("No pairwise answers yet. On the **Pairwise** page, pick two model versions and judge "
         "their outputs for the same inputs side by side, blind (A better, B better, tie, both "
         "bad); win rates and Bradley–Terry ratings across versions appear here.")


@st.cache_data(ttl=TTL, show_spinner=False)
def _comparisons(url: str, versions: tuple[str, ...], reviewers: tuple[str, ...]
                 ) -> Comparisons:
    return load_comparisons(engine_for(url), AnswerFilter(versions=versions, reviewers=reviewers))


@st.cache_data(ttl=TTL, show_spinner=False)
def _leaderboard(url: str, versions: tuple[str, ...], reviewers: tuple[str, ...]
                 ) -> pd.DataFrame:
    return leaderboard(_comparisons(url, versions, reviewers), np.random.default_rng(SEED),
                       ROUNDS)


@st.cache_data(ttl=TTL, show_spinner=False)
def _pairs(url: str, versions: tuple[str, ...], reviewers: tuple[str, ...]) -> pd.DataFrame:
    return win_rate_table(_comparisons(url, versions, reviewers), np.random.default_rng(SEED))


@st.cache_data(ttl=TTL, show_spinner=False)
def _reviewers(url: str) -> list[str]:
    return answer_reviewers(engine_for(url))


def rating_chart_spec(board: pd.DataFrame, axis: list[str]) -> alt.LayerChart:
    """Each version's rating as a point with its 95% bootstrap interval, versions in axis
    order, and a rule at the average rating (1000)."""
    labels = short_version_names(axis)
    data = board.assign(**{VERSION_LABEL: board[VERSION].map(labels)})
    x = _version_x([labels[name] for name in axis])
    y = alt.Y("rating:Q", title=RATING_TITLE, scale=alt.Scale(zero=False))
    tooltip = [alt.Tooltip(f"{VERSION}:N", title="Model version"),
               alt.Tooltip("rating:Q", title="Rating", format=".0f"),
               alt.Tooltip("low:Q", title="95% interval from", format=".0f"),
               alt.Tooltip("high:Q", title="95% interval to", format=".0f"),
               alt.Tooltip("answers:Q", title="Answers")]
    points = alt.Chart(data).mark_point(filled=True, size=90, color="#3b5bdb").encode(
        x=x, y=y, tooltip=tooltip)
    whiskers = alt.Chart(data).mark_errorbar(ticks={"size": 6}, color="#212529").encode(
        x=x, y=alt.Y("low:Q", title=RATING_TITLE), y2="high:Q",
        tooltip=tooltip)
    average = alt.Chart(pd.DataFrame({"rating": [BASE_RATING]})).mark_rule(
        strokeDash=[4, 4], color="#868e96").encode(y="rating:Q")
    return alt.layer(whiskers, points, average).properties(height=300)


def _leaderboard_table(board: pd.DataFrame) -> None:
    st.dataframe(board.drop(columns=["version_order", "group"]), hide_index=True,
                 width="stretch", column_config={
                     "rank": st.column_config.NumberColumn("Rank"),
                     "model_version": st.column_config.TextColumn("Model version"),
                     "rating": st.column_config.NumberColumn("Rating", format="%.0f"),
                     "low": st.column_config.NumberColumn("95% from", format="%.0f"),
                     "high": st.column_config.NumberColumn("95% to", format="%.0f"),
                     "wins": "Wins", "ties": "Ties", "losses": "Losses", "answers": "Answers",
                     "chars": st.column_config.NumberColumn("Mean output chars",
                                                            format="%.0f")})


def _pairs_table(table: pd.DataFrame) -> None:
    shown = table[PAIR_COLUMNS]
    st.dataframe(shown, hide_index=True, width="stretch", column_config={
        "model_version": "Version", "opponent": "Against", "wins": "Wins", "ties": "Ties",
        "losses": "Losses", "both_bad": "Both bad", "answers": "Answers",
        "win_rate": st.column_config.NumberColumn("Win rate", format="percent"),
        "low": st.column_config.NumberColumn("95% from", format="percent"),
        "high": st.column_config.NumberColumn("95% to", format="percent"),
        "lc_win_rate": st.column_config.NumberColumn("Length-controlled", format="percent"),
        "lc_low": st.column_config.NumberColumn("LC 95% from", format="percent"),
        "lc_high": st.column_config.NumberColumn("LC 95% to", format="percent"),
        "chars": st.column_config.NumberColumn("Chars", format="%.0f"),
        "opponent_chars": st.column_config.NumberColumn("Against: chars", format="%.0f"),
        "tokens": st.column_config.NumberColumn("Tokens", format="%.0f"),
        "opponent_tokens": st.column_config.NumberColumn("Against: tokens", format="%.0f")})


def pairwise_section(versions: tuple[str, ...]) -> None:
    """Leaderboard, win rates per pair and against a baseline, or how to get pairwise answers."""
    url = store_url()
    everyone = _reviewers(url)
    if not everyone:
        st.info(EMPTY, icon=":material/compare:")
        st.page_link(PAIRWISE.path, label="Open the Pairwise page", icon=":material/compare:")
        return
    reviewers = tuple(st.multiselect("Answers by", everyone, key="metrics_pairwise_reviewers",
                                     bind="query-params", placeholder="Every reviewer"))
    comparisons = _comparisons(url, versions, reviewers)
    if comparisons.scores.size == 0:
        st.caption("No live answers between these versions by these reviewers.")
        return
    axis = version_names(engine_for(url), list(versions) or None)
    board = _leaderboard(url, versions, reviewers)
    st.markdown("**Bradley–Terry leaderboard**")
    st.caption(f"Ratings on the Elo scale (1000 is the average version) from every live answer, "
               f"ties as half a win; whiskers: 95% bootstrap interval ({ROUNDS} resamples)."
               + (" Some version never won (or never lost), so each compared pair got half a "
                  "virtual win on each side." if board.attrs.get("regularised") else ""))
    if board["group"].nunique() > 1:
        st.warning("Some versions were never compared with the others, even through a third "
                   "version: their ratings are on separate scales.", icon=":material/warning:")
    if not board.empty:
        st.altair_chart(rating_chart_spec(board, axis), width="stretch", key="chart_ratings")
        download(board, "ratings")
        _leaderboard_table(board)
    st.markdown("**Win rate per pair of versions**")
    st.caption("The later version against the earlier; ties count half, “both bad” answers are "
               "counted apart and left out. 95% Wilson interval. Judges and people prefer longer "
               "answers: the length-controlled win rate is what a logistic regression on the "
               "length difference predicts at equal length (as AlpacaEval 2), with a 95% bootstrap "
               "interval: with few answers it swings far.")
    _pairs_table(_pairs(url, versions, reviewers))
    compared = [name for name in axis if name in set(board["model_version"])]
    baseline = st.selectbox("Win rate against", compared, key="metrics_baseline",
                            bind="query-params")
    if baseline:
        against = against_baseline(comparisons, baseline)
        version_chart(against, "win_rate", name="win_rate", axis=[v for v in axis
                                                                  if v != baseline],
                      title=f"Win rate against {baseline}", interval=("low", "high"))
