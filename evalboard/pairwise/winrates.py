"""Win rates of model versions against each other, from live pairwise answers.

A live answer is a reviewer's current one on a pair (`is_current`); every reviewer's live answer
counts once. Per pair of versions: wins, ties and losses (a tie is half a win), `both_bad`
answers reported beside them and left out of every rate. The interval is the 95% Wilson score
interval of (wins + ties / 2) of (wins + ties + losses). Beside it: the mean output length of
each side over the compared answers (characters, and completion tokens where logged) and the
length-controlled win rate (`length_control`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import aliased

from evalboard.metrics.axis import VersionRef, version_axis
from evalboard.metrics.intervals import wilson_interval
from evalboard.pairwise.length_control import (
    length_controlled_interval,
    length_controlled_win_rate,
)
from evalboard.store.models import Call
from evalboard.store.pairwise_models import PairwiseAnswer

SCORES = {"a": 1.0, "tie": 0.5, "b": 0.0}
WIN_RATE_COLUMNS = [
    "model_version", "version_order", "opponent", "opponent_order", "wins", "ties", "losses",
    "both_bad", "answers", "win_rate", "low", "high", "chars", "opponent_chars", "tokens",
    "opponent_tokens", "lc_win_rate", "lc_low", "lc_high"]


@dataclass(frozen=True)
class AnswerFilter:
    """Which live answers count: both versions among `versions` (all when empty), answered by
    one of `reviewers` (all when empty), answered in [since, until)."""

    versions: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class Comparisons:
    """Live answers as arrays, one entry per answer: the axis index of each side's version,
    the score of side a (1, 0.5, 0; NaN for both bad) and each side's output length."""

    axis: list[VersionRef]
    first: np.ndarray
    second: np.ndarray
    scores: np.ndarray
    first_chars: np.ndarray
    second_chars: np.ndarray
    first_tokens: np.ndarray
    second_tokens: np.ndarray
    judged: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "judged", ~np.isnan(self.scores))

    def subset(self, keep: np.ndarray) -> Comparisons:
        return Comparisons(self.axis, self.first[keep], self.second[keep], self.scores[keep],
                           self.first_chars[keep], self.second_chars[keep],
                           self.first_tokens[keep], self.second_tokens[keep])

    def compared(self) -> Comparisons:
        """Only the answers with a winner or a tie (both bad left out)."""
        return self.subset(self.judged)


def load_comparisons(engine: Engine, answers: AnswerFilter = AnswerFilter()) -> Comparisons:
    """The live answers the filter selects, with both calls' versions and output lengths. Only
    a few numbers per answer are kept; answers are made by people, so they fit in memory."""
    call_a, call_b = aliased(Call), aliased(Call)
    query = (select(PairwiseAnswer.outcome, call_a.model_version_id, call_b.model_version_id,
                    func.length(call_a.output), func.length(call_b.output),
                    call_a.completion_tokens, call_b.completion_tokens)
             .join(call_a, call_a.id == PairwiseAnswer.call_a_id)
             .join(call_b, call_b.id == PairwiseAnswer.call_b_id)
             .where(PairwiseAnswer.is_current.is_(True), PairwiseAnswer.outcome.is_not(None),
                    call_a.model_version_id != call_b.model_version_id))
    if answers.reviewers:
        query = query.where(PairwiseAnswer.reviewer.in_(answers.reviewers))
    if answers.since is not None:
        query = query.where(PairwiseAnswer.created_at >= answers.since)
    if answers.until is not None:
        query = query.where(PairwiseAnswer.created_at < answers.until)
    with engine.connect() as conn:
        axis = version_axis(conn, list(answers.versions) or None)
        index = {ref.id: ref.order for ref in axis}
        rows = [row for row in conn.execute(query)
                if row[1] in index and row[2] in index]
    outcome = [row[0] for row in rows]

    def column(k: int, *, version: bool = False) -> np.ndarray:
        if version:
            return np.array([index[row[k]] for row in rows], dtype=int)
        return np.array([np.nan if row[k] is None else row[k] for row in rows], dtype=float)

    return Comparisons(
        axis, column(1, version=True), column(2, version=True),
        np.array([SCORES.get(o, np.nan) for o in outcome], dtype=float),
        np.nan_to_num(column(3)), np.nan_to_num(column(4)), column(5), column(6))


def _oriented(c: Comparisons, i: int, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                         np.ndarray, np.ndarray, np.ndarray]:
    """Scores of version i against j and (chars, tokens) of i and of j, over their answers
    (both bad included: NaN scores)."""
    forward = (c.first == i) & (c.second == j)
    backward = (c.first == j) & (c.second == i)
    scores = np.concatenate([c.scores[forward], 1.0 - c.scores[backward]])
    chars_i = np.concatenate([c.first_chars[forward], c.second_chars[backward]])
    chars_j = np.concatenate([c.second_chars[forward], c.first_chars[backward]])
    tokens_i = np.concatenate([c.first_tokens[forward], c.second_tokens[backward]])
    tokens_j = np.concatenate([c.second_tokens[forward], c.first_tokens[backward]])
    return scores, chars_i, chars_j, tokens_i, tokens_j, np.isnan(scores)


def _mean(values: np.ndarray) -> float:
    kept = values[~np.isnan(values)]
    return float(kept.mean()) if kept.size else float("nan")


def pair_row(c: Comparisons, i: int, j: int, rng: np.random.Generator | None = None
             ) -> dict[str, object] | None:
    """The win-rate row of version i (axis index) against version j; None without answers.
    With `rng`, lc_low and lc_high bound the length-controlled rate (bootstrap); else NaN."""
    scores, chars_i, chars_j, tokens_i, tokens_j, bad = _oriented(c, i, j)
    if scores.size == 0:
        return None
    kept = ~bad
    s = scores[kept]
    wins, ties = int(np.sum(s == 1.0)), int(np.sum(s == 0.5))
    losses = int(s.size - wins - ties)
    n = wins + ties + losses
    low, high = wilson_interval(wins + ties / 2, n)  # a tie is half a success
    lc_low, lc_high = ((float("nan"), float("nan")) if rng is None else
                       length_controlled_interval(s, chars_i[kept], chars_j[kept], rng))
    return {
        "model_version": c.axis[i].name, "version_order": i,
        "opponent": c.axis[j].name, "opponent_order": j,
        "wins": wins, "ties": ties, "losses": losses, "both_bad": int(bad.sum()), "answers": n,
        "win_rate": (wins + ties / 2) / n if n else float("nan"), "low": low, "high": high,
        "chars": _mean(chars_i[kept]), "opponent_chars": _mean(chars_j[kept]),
        "tokens": _mean(tokens_i[kept]), "opponent_tokens": _mean(tokens_j[kept]),
        "lc_win_rate": length_controlled_win_rate(s, chars_i[kept], chars_j[kept]),
        "lc_low": lc_low, "lc_high": lc_high,
    }


def _frame(rows: Sequence[dict[str, object] | None]) -> pd.DataFrame:
    return pd.DataFrame([row for row in rows if row is not None], columns=WIN_RATE_COLUMNS)


def win_rate_table(comparisons: Comparisons, rng: np.random.Generator | None = None
                   ) -> pd.DataFrame:
    """One row per pair of versions with answers, the later version on the axis against the
    earlier one (is the new version better?): WIN_RATE_COLUMNS (with `rng`, a bootstrap
    interval of the length-controlled rate)."""
    size = len(comparisons.axis)
    return _frame([pair_row(comparisons, j, i, rng) for i in range(size)
                   for j in range(i + 1, size)])


def against_baseline(comparisons: Comparisons, baseline: str) -> pd.DataFrame:
    """Every other version's row against `baseline` (WIN_RATE_COLUMNS); empty when the
    baseline is not on the axis."""
    names = [ref.name for ref in comparisons.axis]
    if baseline not in names:
        return _frame([])
    j = names.index(baseline)
    return _frame([pair_row(comparisons, i, j) for i in range(len(names)) if i != j])


def win_rates(engine: Engine, answers: AnswerFilter = AnswerFilter()) -> pd.DataFrame:
    """`win_rate_table` of the live answers the filter selects."""
    return win_rate_table(load_comparisons(engine, answers))


METRIC_PREFIX = "win_rate:"


def metric_rows(engine: Engine, baselines: Sequence[str], versions: Sequence[str] | None = None
                ) -> list[tuple[str, int, str, float]]:
    """(model_version, version_order, "win_rate:<baseline>", win rate) of each version of
    `versions` (all when None; order as on their axis) against each baseline, for the metric
    registry; versions without answers against the baseline have no row."""
    comparisons = load_comparisons(engine)
    with engine.connect() as conn:
        order = {ref.name: ref.order for ref in version_axis(conn, versions)}
    rows = []
    for baseline in baselines:
        table = against_baseline(comparisons, baseline)
        rows += [(name, order[name], f"{METRIC_PREFIX}{baseline}", float(rate))
                 for name, rate in zip(table["model_version"], table["win_rate"], strict=True)
                 if name in order]
    return rows


def compared_versions(engine: Engine) -> list[str]:
    """Versions with live answers, in axis order: the baselines a win-rate metric can name."""
    with engine.connect() as conn:
        axis = version_axis(conn)
    comparisons = load_comparisons(engine)
    seen = set(comparisons.first.tolist()) | set(comparisons.second.tolist())
    return [ref.name for ref in axis if ref.order in seen]


def answer_reviewers(engine: Engine) -> list[str]:
    """Who gave live answers (people, or judges answering as a reviewer), by name."""
    with engine.connect() as conn:
        return list(conn.scalars(select(PairwiseAnswer.reviewer)
                                 .where(PairwiseAnswer.is_current.is_(True)).distinct()
                                 .order_by(PairwiseAnswer.reviewer)))
