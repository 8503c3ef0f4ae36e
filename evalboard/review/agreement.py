"""Inter-rater agreement statistics: percent agreement, Cohen's and Fleiss' kappa, Krippendorff's
alpha. Pure functions on plain Python data; no database.

Conventions shared by every function here:

- **Missing rating**: ``None`` (or a float NaN) means "this rater did not rate this unit".
  Cohen's kappa needs complete pairs and rejects missing values; percent agreement and
  Krippendorff's alpha skip them (a unit with fewer than two ratings is not pairable).
- **Too little data**: fewer than 2 units rated by at least two raters raises
  `NotEnoughRatings` (a `ValueError`): a statistic over one unit is either 0 or 1 and means
  nothing.
- **Only one category used**: chance agreement is then 1 and the kappas/alpha are 0/0; since
  the raters agree perfectly, the functions return 1.0.

Two input shapes are accepted wherever units can have missing ratings (`percent_agreement`,
`krippendorff_alpha`, `category_counts`):

- a mapping ``{unit: {rater: value}}`` (raters absent from a unit's mapping did not rate it),
  or ``{unit: [value, ...]}`` when who gave which value does not matter;
- a reliability matrix (Krippendorff's canonical layout): one row per rater, one column per
  unit, ``None``/NaN where a rater did not rate a unit. Two rows are the two-rater case.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from itertools import combinations
from typing import Any, Literal

from evalboard.errors import EvalboardError

Level = Literal["nominal", "ordinal", "interval", "ratio"]
Units = (
    Mapping[Hashable, Mapping[Hashable, Any]]
    | Mapping[Hashable, Sequence[Any]]
    | Sequence[Sequence[Any]]
)


class NotEnoughRatings(EvalboardError, ValueError):
    """Fewer than two units were rated by at least two raters: no agreement statistic."""


def is_missing(value: Any) -> bool:
    """``None`` or NaN: the rater did not rate the unit."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN is the only value unequal to itself
    except (TypeError, ValueError):
        return False


def unit_values(units: Units) -> list[list[Any]]:
    """The non-missing values of each unit, from either input shape (see the module doc)."""
    if isinstance(units, Mapping):
        return [
            [
                v
                for v in (ratings.values() if isinstance(ratings, Mapping) else ratings)
                if not is_missing(v)
            ]
            for ratings in units.values()
        ]
    rows = [list(row) for row in units]
    if not rows:
        return []
    width = len(rows[0])
    if any(len(row) != width for row in rows):
        raise ValueError("a reliability matrix needs one row per rater of equal length (units)")
    return [[row[j] for row in rows if not is_missing(row[j])] for j in range(width)]


def _pairable(values_per_unit: Iterable[list[Any]]) -> list[list[Any]]:
    pairable = [values for values in values_per_unit if len(values) >= 2]
    if len(pairable) < 2:
        raise NotEnoughRatings(
            f"need at least 2 units rated by two or more raters, got {len(pairable)}"
        )
    return pairable


def percent_agreement(units: Units) -> float:
    """Observed agreement: the share of agreeing rater pairs, averaged over units.

    ``P_u = sum_c n_uc (n_uc - 1) / (m_u (m_u - 1))`` for a unit with ``m_u >= 2`` ratings,
    ``n_uc`` of them equal to ``c``; the result is the mean of ``P_u`` (Fleiss' ``P-bar``,
    extended to a varying number of raters). With two raters it is the share of units where
    both gave the same value. Units with fewer than two ratings are skipped.
    """
    pairable = _pairable(unit_values(units))
    total = 0.0
    for values in pairable:
        m = len(values)
        total += sum(n * (n - 1) for n in Counter(values).values()) / (m * (m - 1))
    return total / len(pairable)


def cohens_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Cohen's kappa for two raters on the same items (nominal categories).

    ``kappa = (p_o - p_e) / (1 - p_e)`` with ``p_o`` the share of items both raters put in the
    same category and ``p_e = sum_k p_a(k) p_b(k)`` the agreement expected from each rater's
    own category shares (Cohen 1960). Returns 1.0 when ``p_e == 1`` (both used one and the
    same category). Raises `NotEnoughRatings` for fewer than 2 items and `ValueError` for
    sequences of different lengths or missing values (drop unpaired items first, or use
    `krippendorff_alpha`, which handles missing ratings).
    """
    if len(a) != len(b):
        raise ValueError(f"both raters must rate the same items: {len(a)} != {len(b)}")
    if any(is_missing(v) for v in a) or any(is_missing(v) for v in b):
        raise ValueError("Cohen's kappa needs complete pairs; drop the items a rater skipped")
    n = len(a)
    if n < 2:
        raise NotEnoughRatings(f"need at least 2 items rated by both raters, got {n}")
    p_o = sum(x == y for x, y in zip(a, b, strict=True)) / n
    count_a, count_b = Counter(a), Counter(b)
    p_e = sum(count_a[k] * count_b[k] for k in count_a) / (n * n)
    if p_e >= 1.0:
        return 1.0
    return (p_o - p_e) / (1.0 - p_e)


def fleiss_kappa(table: Sequence[Sequence[int]]) -> float:
    """Fleiss' kappa from a subjects x categories table of counts (Fleiss 1971).

    Every subject ``i`` must be rated by the same number ``n >= 2`` of raters (rows sum to
    ``n``). ``P_i = (sum_j n_ij^2 - n) / (n (n - 1))``, ``P-bar = mean P_i``,
    ``p_j = sum_i n_ij / (N n)``, ``P_e = sum_j p_j^2`` and
    ``kappa = (P-bar - P_e) / (1 - P_e)``. Returns 1.0 when every rating falls in one
    category (``P_e == 1``). Raises `NotEnoughRatings` for fewer than 2 subjects and
    `ValueError` for ragged rows, negative counts or unequal numbers of raters.
    """
    rows = [[int(c) for c in row] for row in table]
    if len(rows) < 2:
        raise NotEnoughRatings(f"need at least 2 subjects, got {len(rows)}")
    width = len(rows[0])
    if any(len(row) != width for row in rows):
        raise ValueError("every subject needs a count for every category")
    if any(c < 0 for row in rows for c in row):
        raise ValueError("counts cannot be negative")
    n = sum(rows[0])
    if any(sum(row) != n for row in rows):
        raise ValueError("Fleiss' kappa needs the same number of raters for every subject")
    if n < 2:
        raise NotEnoughRatings(f"need at least 2 raters per subject, got {n}")
    subjects = len(rows)
    p_bar = sum((sum(c * c for c in row) - n) / (n * (n - 1)) for row in rows) / subjects
    p_e = sum((sum(row[j] for row in rows) / (subjects * n)) ** 2 for j in range(width))
    if p_e >= 1.0:
        return 1.0
    return (p_bar - p_e) / (1.0 - p_e)


def category_counts(units: Units, categories: Sequence[Hashable] | None = None) -> list[list[int]]:
    """A Fleiss table (units x categories counts) of the units with at least one rating.

    Categories default to the values seen, sorted when they can be; a value outside given
    `categories` raises `ValueError`.
    """
    per_unit = [values for values in unit_values(units) if values]
    if categories is None:
        seen = {v for values in per_unit for v in values}
        try:
            categories = sorted(seen)  # type: ignore[type-var]
        except TypeError:
            categories = sorted(seen, key=repr)
    index = {c: j for j, c in enumerate(categories)}
    table = []
    for values in per_unit:
        row = [0] * len(index)
        for v in values:
            if v not in index:
                raise ValueError(f"value {v!r} is not one of the categories {list(categories)}")
            row[index[v]] += 1
        table.append(row)
    return table


def _coincidences(pairable: list[list[Any]]) -> dict[tuple[Any, Any], float]:
    """Krippendorff's coincidence matrix: ``o_ck = sum_u (c-k pairs in u) / (m_u - 1)``."""
    o: dict[tuple[Any, Any], float] = {}
    for values in pairable:
        weight = 1.0 / (len(values) - 1)
        counts = Counter(values)
        for c, n_c in counts.items():
            for k, n_k in counts.items():
                pairs = n_c * (n_c - 1) if c == k else n_c * n_k
                if pairs:
                    o[(c, k)] = o.get((c, k), 0.0) + pairs * weight
    return o


def _distance(
    level: Level, marginals: Mapping[Any, float], order: Sequence[Hashable] | None
) -> Any:
    """The squared difference function delta^2(c, k) of a level of measurement."""
    if level == "nominal":
        return lambda c, k: 0.0 if c == k else 1.0
    if level == "interval":
        return lambda c, k: float(c - k) ** 2
    if level == "ratio":
        return lambda c, k: 0.0 if c + k == 0 else float((c - k) / (c + k)) ** 2
    if level == "ordinal":
        ranked = list(order) if order is not None else sorted(marginals)
        unknown = set(marginals) - set(ranked)
        if unknown:
            raise ValueError(f"values {sorted(map(repr, unknown))} are missing from `order`")
        position = {v: i for i, v in enumerate(ranked)}
        cumulative = [0.0]
        for v in ranked:
            cumulative.append(cumulative[-1] + marginals.get(v, 0.0))

        def ordinal(c: Any, k: Any) -> float:
            lo, hi = sorted((position[c], position[k]))
            between = cumulative[hi + 1] - cumulative[lo]  # n_g for g from c to k inclusive
            return (between - (marginals[c] + marginals[k]) / 2) ** 2

        return ordinal
    raise ValueError(f"unknown level {level!r}: use nominal, ordinal, interval or ratio")


def krippendorff_alpha(
    units: Units,
    level: Level = "nominal",
    *,
    order: Sequence[Hashable] | None = None,
) -> float:
    """Krippendorff's alpha for any number of raters, with missing ratings (Krippendorff 2011).

    ``alpha = 1 - D_o / D_e = 1 - (n - 1) sum_ck o_ck d_ck / sum_ck n_c n_k d_ck`` where
    ``o_ck`` is the coincidence matrix over pairable units (each unit with ``m_u >= 2``
    ratings contributes its ordered value pairs with weight ``1 / (m_u - 1)``),
    ``n_c = sum_k o_ck``, ``n = sum_c n_c`` (the number of pairable values) and ``d_ck`` the
    squared difference of the level: nominal ``[c != k]``, interval ``(c - k)^2``, ratio
    ``((c - k) / (c + k))^2``, ordinal ``(sum_{g=c..k} n_g - (n_c + n_k) / 2)^2`` (ranks from
    `order`, lowest first, or from sorting the values). Units with fewer than two ratings
    are ignored. Returns 1.0 when ``D_e == 0`` (every pairable value is the same). Raises
    `NotEnoughRatings` when fewer than 2 units have two or more ratings.
    """
    pairable = _pairable(unit_values(units))
    o = _coincidences(pairable)
    marginals: dict[Any, float] = {}
    for (c, _k), weight in o.items():
        marginals[c] = marginals.get(c, 0.0) + weight
    n = sum(marginals.values())
    delta = _distance(level, marginals, order)
    observed = sum(weight * delta(c, k) for (c, k), weight in o.items())
    # delta is symmetric and zero on the diagonal: sum the unordered pairs of values twice
    pairs = combinations(marginals.items(), 2)
    expected = 2 * sum(n_c * n_k * delta(c, k) for (c, n_c), (k, n_k) in pairs)
    if expected == 0:
        return 1.0
    return 1.0 - (n - 1) * observed / expected


__all__ = [
    "NotEnoughRatings",
    "category_counts",
    "cohens_kappa",
    "fleiss_kappa",
    "is_missing",
    "krippendorff_alpha",
    "percent_agreement",
    "unit_values",
]
