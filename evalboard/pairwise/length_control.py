"""Length-controlled win rate, as AlpacaEval 2 computes it: a logistic regression of the outcome
on the (squashed) length difference of the two outputs, read off at a length difference of zero.

People and judges prefer longer answers; a version that wins only by writing more has a raw win
rate above its length-controlled one. The regression is a small Newton (IRLS) fit in numpy:
outcome = sigmoid(intercept + slope * tanh((len_a - len_b) / std)), ties as 0.5, and the
length-controlled win rate is sigmoid(intercept).
"""

from __future__ import annotations

import math

import numpy as np

RIDGE = 1e-8  # keeps the Newton step defined when one side always wins (separation)
MAX_ITER = 100
TOLERANCE = 1e-10


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # = 1 / (1 + exp(-z)) without overflow


def fit_logistic(features: np.ndarray, targets: np.ndarray, *, ridge: float = RIDGE,
                 max_iter: int = MAX_ITER, tol: float = TOLERANCE) -> np.ndarray:
    """Coefficients of a logistic regression of `targets` (values in [0, 1]; fractional
    targets such as 0.5 for a tie are fine) on `features` (n x k; add a column of ones for an
    intercept), by Newton's method with a tiny ridge penalty."""
    x = np.asarray(features, dtype=float)
    y = np.asarray(targets, dtype=float)
    beta = np.zeros(x.shape[1])
    for _ in range(max_iter):
        p = _sigmoid(x @ beta)
        gradient = x.T @ (y - p) - ridge * beta
        hessian = (x * (p * (1 - p))[:, None]).T @ x + ridge * np.eye(x.shape[1])
        step = np.linalg.solve(hessian, gradient)
        beta = beta + step
        if float(np.max(np.abs(step))) < tol:
            break
    return beta


def length_feature(len_a: np.ndarray, len_b: np.ndarray) -> np.ndarray:
    """tanh of the length difference in standard deviations (zero when lengths never differ)."""
    diff = np.asarray(len_a, dtype=float) - np.asarray(len_b, dtype=float)
    scale = float(np.std(diff)) if diff.size else 0.0
    return np.tanh(diff / scale) if scale > 0 else np.zeros_like(diff)


def length_controlled_win_rate(scores: np.ndarray, len_a: np.ndarray,
                               len_b: np.ndarray) -> float:
    """A's win rate over B at equal output length. `scores`: 1 A won, 0.5 tie, 0 B won, one per
    comparison; `len_a`, `len_b`: the outputs' lengths. NaN without comparisons."""
    y = np.asarray(scores, dtype=float)
    if y.size == 0:
        return math.nan
    feature = length_feature(len_a, len_b)
    columns = [np.ones_like(y)] + ([feature] if np.any(feature != 0) else [])
    beta = fit_logistic(np.column_stack(columns), y)
    return float(_sigmoid(np.array([beta[0]]))[0])
