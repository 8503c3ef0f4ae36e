"""Bradley–Terry ratings of model versions from pairwise comparisons, with bootstrap intervals.

Under Bradley–Terry, version i beats version j with probability p_i / (p_i + p_j). The
strengths p are the maximum-likelihood fit (Newton's method on log p, with step halving; ties
count half a win to each side), normalised per group of connected versions to a geometric mean
of 1, and shown on the Elo scale Chatbot Arena uses: rating = 1000 + 400 * log10(p). For two
versions the fit is the closed form p_1 / (p_1 + p_2) = (wins + ties / 2) / comparisons.

The maximum-likelihood fit exists only when, within a group, every version can be reached from
every other by a chain of wins (Ford's condition). When it fails (a version that never won),
every compared pair gets `PRIOR` virtual half-wins on each side and the fit says
`regularised`. Intervals are percentiles of refits on comparisons resampled with replacement
(a seeded numpy Generator passed in).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalboard.pairwise.winrates import Comparisons

BASE_RATING = 1000.0
SCALE = 400.0
PRIOR = 0.5
BOOTSTRAP_ROUNDS = 200
MAX_ITER = 100
TOLERANCE = 1e-10


@dataclass(frozen=True)
class Fit:
    """Strengths (NaN for a version never compared), their group of connected versions (-1 for
    none), and whether the virtual-win prior was needed."""

    strengths: np.ndarray
    groups: np.ndarray
    regularised: bool

    @property
    def ratings(self) -> np.ndarray:
        """Elo-scale ratings: 1000 + 400 * log10(strength)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return BASE_RATING + SCALE * np.log10(self.strengths)


def win_matrix(first: np.ndarray, second: np.ndarray, scores: np.ndarray,
               size: int) -> np.ndarray:
    """wins[i, j]: how often i beat j; `scores` are 1 (first won), 0.5 (tie) or 0 per
    comparison of version index first[k] with second[k]; a tie is half a win to each."""
    wins = np.zeros((size, size))
    s = np.asarray(scores, dtype=float)
    np.add.at(wins, (first, second), s)
    np.add.at(wins, (second, first), 1.0 - s)
    return wins


def _groups(games: np.ndarray) -> np.ndarray:
    """Connected groups of the comparison graph; -1 for versions without comparisons."""
    size = games.shape[0]
    groups = np.full(size, -1)
    group = 0
    for start in range(size):
        if groups[start] >= 0 or not games[start].any():
            continue
        stack = [start]
        groups[start] = group
        while stack:
            node = stack.pop()
            for other in np.flatnonzero(games[node] > 0):
                if groups[other] < 0:
                    groups[other] = group
                    stack.append(other)
        group += 1
    return groups


def _reaches_all(beats: np.ndarray, start: int, members: np.ndarray) -> bool:
    seen = {start}
    stack = [start]
    while stack:
        node = stack.pop()
        for other in np.flatnonzero(beats[node]):
            if other not in seen:
                seen.add(int(other))
                stack.append(int(other))
    return all(int(m) in seen for m in members)


def mle_exists(wins: np.ndarray) -> bool:
    """Ford's condition in every group: the "beat at least once" graph is strongly connected."""
    games = wins + wins.T
    groups = _groups(games)
    beats = wins > 0
    for group in set(groups.tolist()) - {-1}:
        members = np.flatnonzero(groups == group)
        start = int(members[0])
        if not (_reaches_all(beats, start, members) and _reaches_all(beats.T, start, members)):
            return False
    return True


def _log_likelihood(theta: np.ndarray, wins: np.ndarray) -> float:
    diff = theta[:, None] - theta[None, :]
    return -float(np.sum(wins * np.logaddexp(0.0, -diff), where=wins > 0))


def _newton(wins: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Log-strengths maximising the likelihood, by Newton's method with step halving; the first
    version of each group is held at 0 (strengths are defined up to a factor per group), then
    each group is centred."""
    games = wins + wins.T
    anchors = {int(np.flatnonzero(groups == g)[0]) for g in set(groups.tolist()) - {-1}}
    free = np.array([g >= 0 and i not in anchors for i, g in enumerate(groups)], dtype=bool)
    index = np.flatnonzero(free)
    theta = np.zeros(len(groups))
    total_wins = wins.sum(axis=1)
    for _ in range(MAX_ITER):
        p = 0.5 * (1.0 + np.tanh(0.5 * (theta[:, None] - theta[None, :])))
        gradient = total_wins - np.sum(games * p, axis=1)
        weight = games * p * (1.0 - p)
        information = np.diag(weight.sum(axis=1)) - weight
        step = np.zeros_like(theta)
        if index.size:
            step[index] = np.linalg.solve(information[np.ix_(index, index)], gradient[index])
        before, size = _log_likelihood(theta, wins), 1.0
        while _log_likelihood(theta + size * step, wins) < before - 1e-12 and size > 1e-6:
            size /= 2
        theta = theta + size * step
        if float(np.max(np.abs(size * step), initial=0.0)) < TOLERANCE:
            break
    for group in set(groups.tolist()) - {-1}:
        members = groups == group
        theta[members] -= theta[members].mean()
    return np.where(groups >= 0, np.exp(theta), np.nan)


def fit_bradley_terry(wins: np.ndarray, prior: float | None = None) -> Fit:
    """The Bradley–Terry fit of a win matrix (see `win_matrix`). `prior`: virtual half-wins
    added to each side of every compared pair; by default none when the maximum-likelihood
    fit exists, `PRIOR` otherwise."""
    wins = np.asarray(wins, dtype=float)
    groups = _groups(wins + wins.T)
    if prior is None:
        prior = 0.0 if mle_exists(wins) else PRIOR
    if prior > 0:
        compared = (wins + wins.T) > 0
        wins = wins + prior * compared
    return Fit(_newton(wins, groups), groups, prior > 0)


def bootstrap_ratings(first: np.ndarray, second: np.ndarray, scores: np.ndarray, size: int,
                      rng: np.random.Generator, rounds: int = BOOTSTRAP_ROUNDS,
                      level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) percentile interval of every version's rating over `rounds` refits on the
    comparisons resampled with replacement; NaN for a version never compared. A resample is
    drawn as multinomial counts of the distinct (first, second, score) comparisons: the same
    distribution as drawing each comparison, at a cost that does not grow with the answers."""
    n = len(scores)
    if n == 0:
        return np.full(size, np.nan), np.full(size, np.nan)
    cells, counts = np.unique(np.column_stack([first, second, scores]), axis=0,
                              return_counts=True)
    cell_first, cell_second = cells[:, 0].astype(int), cells[:, 1].astype(int)
    samples = np.empty((rounds, size))
    for round_ in range(rounds):
        weights = rng.multinomial(n, counts / n)
        wins = np.zeros((size, size))
        np.add.at(wins, (cell_first, cell_second), weights * cells[:, 2])
        np.add.at(wins, (cell_second, cell_first), weights * (1.0 - cells[:, 2]))
        samples[round_] = fit_bradley_terry(wins).ratings
    tail = (1 - level) / 2 * 100
    with warnings.catch_warnings():  # a version never compared has no rating in any round
        warnings.simplefilter("ignore", RuntimeWarning)
        low = np.nanpercentile(samples, tail, axis=0)
        high = np.nanpercentile(samples, 100 - tail, axis=0)
    return low, high


LEADERBOARD_COLUMNS = ["rank", "model_version", "version_order", "rating", "low", "high",
                       "wins", "ties", "losses", "answers", "chars", "group"]


def leaderboard(comparisons: Comparisons, rng: np.random.Generator,
                rounds: int = BOOTSTRAP_ROUNDS) -> pd.DataFrame:
    """Versions with answers, best rating first: LEADERBOARD_COLUMNS (low and high: the 95%
    bootstrap interval; chars: mean output length in its compared answers; group: versions in
    different groups were never compared, even indirectly). `attrs["regularised"]` says whether
    the prior was needed."""
    c = comparisons.compared()
    size = len(c.axis)
    fit = fit_bradley_terry(win_matrix(c.first, c.second, c.scores, size))
    low, high = bootstrap_ratings(c.first, c.second, c.scores, size, rng, rounds)
    rows = []
    for i, ref in enumerate(c.axis):
        if fit.groups[i] < 0:
            continue
        as_first, as_second = c.first == i, c.second == i
        scores = np.concatenate([c.scores[as_first], 1.0 - c.scores[as_second]])
        chars = np.concatenate([c.first_chars[as_first], c.second_chars[as_second]])
        wins, ties = int(np.sum(scores == 1.0)), int(np.sum(scores == 0.5))
        rows.append({"model_version": ref.name, "version_order": i,
                     "rating": float(fit.ratings[i]), "low": float(low[i]),
                     "high": float(high[i]), "wins": wins, "ties": ties,
                     "losses": int(scores.size - wins - ties), "answers": int(scores.size),
                     "chars": float(chars.mean()), "group": int(fit.groups[i])})
    frame = pd.DataFrame(rows, columns=LEADERBOARD_COLUMNS[1:])
    frame = frame.sort_values(["rating", "version_order"], ascending=[False, True],
                              kind="stable").reset_index(drop=True)
    frame.insert(0, "rank", range(1, len(frame) + 1))
    frame.attrs["regularised"] = fit.regularised
    return frame
