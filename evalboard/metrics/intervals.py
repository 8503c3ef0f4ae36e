"""95% intervals of the metrics, from the counts and sums the SQL aggregates return: Wilson
score intervals for rates (k of n), normal-approximation intervals for means."""

from __future__ import annotations

import math

import pandas as pd

Z_95 = 1.959963984540054


def wilson_interval(k: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """(low, high) of the Wilson score interval of k successes in n trials; NaN when n is 0.
    Unlike k/n +- z*se it stays inside [0, 1] and is not empty at k = 0 or k = n."""
    if n <= 0:
        return math.nan, math.nan
    share = k / n
    z2 = z * z
    centre = (share + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(share * (1 - share) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def with_wilson(frame: pd.DataFrame, k: str, n: str, *, prefix: str = "") -> pd.DataFrame:
    """The frame with `{prefix}low` and `{prefix}high`: the Wilson interval of column k of
    column n on every row (NaN where n is 0 or missing). Frames here are one row per version
    and group, so a row at a time costs nothing."""
    bounds = [wilson_interval(int(k_), int(n_)) if n_ == n_ else (math.nan, math.nan)
              for k_, n_ in zip(frame[k].fillna(0), frame[n], strict=True)]
    low, high = zip(*bounds, strict=True) if bounds else ((), ())
    return frame.assign(**{f"{prefix}low": pd.Series(low, index=frame.index, dtype=float),
                           f"{prefix}high": pd.Series(high, index=frame.index, dtype=float)})


def mean_interval(n: int, total: float, squares: float, z: float = Z_95
                  ) -> tuple[float, float, float, float]:
    """(mean, sample std, low, high): normal-approximation interval mean +- z * std / sqrt(n);
    std, low and high are NaN below two values."""
    if n == 0:
        return (math.nan,) * 4
    mean = total / n
    if n < 2:
        return mean, math.nan, math.nan, math.nan
    std = math.sqrt(max(0.0, (squares - total * total / n) / (n - 1)))
    half = z * std / math.sqrt(n)
    return mean, std, mean - half, mean + half
