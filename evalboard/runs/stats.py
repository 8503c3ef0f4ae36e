"""Paired statistics for two runs of one suite: the same cases, before and after.

- McNemar's exact test asks whether the pass/not-pass outcomes changed more in one direction
  than chance allows. Only the discordant pairs count: b cases went pass -> not pass,
  c went not pass -> pass, n = b + c. Under "no change" b ~ Binomial(n, 1/2), so the
  two-sided exact p-value is p = min(1, 2 * sum_{i=0}^{min(b, c)} C(n, i) / 2^n), and p = 1
  when n = 0 (the same as `scipy.stats.binomtest(b, n, 0.5).pvalue`).
- The paired bootstrap puts an interval on the mean score delta (candidate - baseline): draw
  n case indices with replacement, take the mean delta of the draw, repeat; the interval is
  the (1 - confidence) / 2 and (1 + confidence) / 2 quantiles of those means (percentile
  method). Resampling cases, not scores, keeps each case's two scores together.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

import numpy as np

# The most indices drawn at once (iterations x cases): bounds memory on large suites.
_MAX_DRAWS = 2_000_000


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value; b = pass -> fail pairs, c = fail -> pass pairs."""
    counts = []
    for name, value in (("b", b), ("c", c)):
        try:
            count = operator.index(value)
        except TypeError:
            raise ValueError(f"{name} is a count of cases, not {value!r}") from None
        if count < 0 or isinstance(value, bool):
            raise ValueError(f"{name} is a count of cases, not {value!r}")
        counts.append(count)
    n = counts[0] + counts[1]
    if n == 0:
        return 1.0
    term = tail = 1  # C(n, 0); then C(n, i + 1) = C(n, i) * (n - i) / (i + 1), exactly
    for i in range(min(counts)):
        term = term * (n - i) // (i + 1)
        tail += term
    return min(1.0, 2 * tail / 2**n)  # exact integers, one correctly rounded division


def bootstrap_mean_delta_ci(
    baseline_scores: Sequence[float],
    candidate_scores: Sequence[float],
    *,
    iterations: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(mean delta, low, high): the mean of candidate - baseline over paired cases and its
    percentile bootstrap interval; the same seed gives the same interval."""
    baseline = np.asarray(baseline_scores, dtype=float)
    candidate = np.asarray(candidate_scores, dtype=float)
    if baseline.ndim != 1 or baseline.shape != candidate.shape:
        raise ValueError("paired scores: two flat sequences of the same length, one per case")
    if baseline.size == 0:
        raise ValueError("no paired scores to compare")
    if iterations < 1:
        raise ValueError(f"iterations must be at least 1, not {iterations}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence is a level between 0 and 1 (e.g. 0.95), not {confidence}")
    deltas = candidate - baseline
    n = deltas.size
    rng = np.random.default_rng(seed)
    means = np.empty(iterations)
    block = max(1, _MAX_DRAWS // n)
    for start in range(0, iterations, block):
        stop = min(iterations, start + block)
        means[start:stop] = deltas[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    low, high = np.quantile(means, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(deltas.mean()), float(low), float(high)
