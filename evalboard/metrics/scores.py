"""Scores per model version, over the final answers of the calls in scope (as in
`evalboard.metrics.human`: a call's adjudication if it has one, else each reviewer's current
judgement).

- a rating or numeric configuration: the mean score of the answers that carry one, with n
  and a 95% normal-approximation interval (kept inside the configuration's range);
- a choice configuration: the share of those answers giving each choice, with 95% Wilson
  intervals.

SQL returns count, sum and sum of squares per (version, configuration, choice); a version
without scored answers has n 0 and no mean (a chart says "no data", never 0). Free-text
scores are not aggregated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, func, select

from evalboard.metrics.axis import PRODUCTION, CallScope, VersionRef, on_axis, version_axis
from evalboard.metrics.intervals import mean_interval, with_wilson
from evalboard.review.annotations import is_final_answer
from evalboard.store.models import Call
from evalboard.store.review_models import Annotation
from evalboard.store.team_models import AnnotationScore
from evalboard.teams.scores import ScoreConfigView, list_score_configs, usage_counts

MEAN_COLUMNS = ["n", "mean", "std", "low", "high"]
SHARE_COLUMNS = ["choice", "count", "answers", "share", "low", "high"]
# (version id, configuration id, choice or None) -> (count, sum, sum of squares)
Sums = dict[tuple[int, int, str | None], tuple[int, float, float]]


@dataclass(frozen=True)
class ScoreMetric:
    """One configuration's frame across the version axis: for a numeric configuration a row
    per version (MEAN_COLUMNS; n 0 and NaN where no answer is scored), for a choice one a row
    per (version with answers, choice) (SHARE_COLUMNS)."""

    config: ScoreConfigView
    frame: pd.DataFrame

    def answers(self) -> dict[str, int]:
        """Scored final answers per version name (versions without may be left out)."""
        column = "n" if self.config.numeric else "answers"
        found = self.frame.groupby("model_version", sort=False)[column].max()
        return {str(name): int(n) for name, n in found.items()}


def score_sums_query(conn: Connection, scope: CallScope, config_ids: Sequence[int]) -> Any:
    """(model_version_id, score_config_id, text, count, sum, sum of squares) of the final
    answers' scores under these configurations. Scores drive the join (their index on
    score_config_id); answers and calls are reached by id."""
    number = AnnotationScore.number
    return (select(Call.model_version_id, AnnotationScore.score_config_id, AnnotationScore.text,
                   func.count(), func.sum(number), func.sum(number * number))
            .select_from(AnnotationScore)
            .join(Annotation, Annotation.id == AnnotationScore.annotation_id)
            .join(Call, Call.id == Annotation.call_id)
            .where(AnnotationScore.score_config_id.in_(list(config_ids)), is_final_answer(),
                   *scope.conditions(conn.dialect.name, seek=False))
            .group_by(Call.model_version_id, AnnotationScore.score_config_id,
                      AnnotationScore.text))


def _sums(conn: Connection, scope: CallScope, configs: Sequence[ScoreConfigView]) -> Sums:
    if not configs:
        return {}
    return {(vid, cid, text): (int(n), float(total or 0.0), float(squares or 0.0))
            for vid, cid, text, n, total, squares
            in conn.execute(score_sums_query(conn, scope, [c.id for c in configs]))}


def _bounds(config: ScoreConfigView) -> tuple[float, float]:
    if config.kind == "rating":
        return 1.0, float(config.maximum or 5)
    return (-math.inf if config.minimum is None else config.minimum,
            math.inf if config.maximum is None else config.maximum)


def _mean_frame(config: ScoreConfigView, sums: Sums, axis: Sequence[VersionRef]
                ) -> pd.DataFrame:
    low_bound, high_bound = _bounds(config)
    rows = []
    for version in axis:
        n, total, squares = sums.get((version.id, config.id, None), (0, 0.0, 0.0))
        mean, std, low, high = mean_interval(n, total, squares)
        rows.append((version.id, n, mean, std, max(low, low_bound) if low == low else low,
                     min(high, high_bound) if high == high else high))
    return on_axis(rows, MEAN_COLUMNS, axis)


def _share_frame(config: ScoreConfigView, sums: Sums, axis: Sequence[VersionRef]
                 ) -> pd.DataFrame:
    counts = {(vid, text): n for (vid, cid, text), (n, _, _) in sums.items()
              if cid == config.id and text is not None}
    answers: dict[int, int] = {}
    for (vid, _text), n in counts.items():
        answers[vid] = answers.get(vid, 0) + n
    stored = sorted({text for _vid, text in counts} - set(config.choices))
    choices = [*config.choices, *stored]  # a choice no longer offered still counts
    rows = [(v.id, choice, counts.get((v.id, choice), 0), answers[v.id])
            for v in axis if v.id in answers for choice in choices]
    frame = on_axis(rows, SHARE_COLUMNS[:3], axis)
    frame["share"] = frame["count"] / frame["answers"]
    return with_wilson(frame, "count", "answers")


def _metric(config: ScoreConfigView, sums: Sums, axis: Sequence[VersionRef]) -> ScoreMetric:
    build = _mean_frame if config.numeric else _share_frame
    return ScoreMetric(config, build(config, sums, axis))


def charted_configs(engine: Engine) -> list[ScoreConfigView]:
    """Rating, numeric and choice configurations that some answer scored, by name."""
    used = usage_counts(engine)
    return [c for c in list_score_configs(engine) if c.kind != "text" and used.get(c.id)]


def score_metrics(engine: Engine, *, scope: CallScope = PRODUCTION,
                  versions: Sequence[str] | None = None,
                  configs: Sequence[ScoreConfigView] | None = None) -> list[ScoreMetric]:
    """A ScoreMetric per configuration (default: `charted_configs`), from one aggregate query."""
    chosen = [c for c in (charted_configs(engine) if configs is None else configs)
              if c.kind != "text"]
    with engine.connect() as conn:
        axis = version_axis(conn, versions)
        sums = _sums(conn, scope, chosen)
    return [_metric(config, sums, axis) for config in chosen]


def _one(engine: Engine, name: str, numeric: bool, scope: CallScope,
         versions: Sequence[str] | None) -> pd.DataFrame:
    config = next((c for c in list_score_configs(engine) if c.name == name), None)
    if config is None:
        raise ValueError(f"there is no score configuration {name!r}")
    if config.numeric != numeric or config.kind == "text":
        wanted = "a rating or a number" if numeric else "a choice"
        raise ValueError(f"{name!r} is {config.describe()}, not {wanted}")
    return score_metrics(engine, scope=scope, versions=versions, configs=[config])[0].frame


def score_means(engine: Engine, name: str, *, scope: CallScope = PRODUCTION,
                versions: Sequence[str] | None = None) -> pd.DataFrame:
    """Per model version of the axis: model_version, version_order, n, mean, std, low, high
    of a rating or numeric configuration's scores."""
    return _one(engine, name, True, scope, versions)


def choice_shares(engine: Engine, name: str, *, scope: CallScope = PRODUCTION,
                  versions: Sequence[str] | None = None) -> pd.DataFrame:
    """Per (model version with answers, choice): model_version, version_order, choice, count,
    answers, share, low, high (95% Wilson interval) of a choice configuration."""
    return _one(engine, name, False, scope, versions)
