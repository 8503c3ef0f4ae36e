"""Every catalogue metric across model versions, as one long table keyed like the registry.

Each source (calls, runs, reviews) is aggregated once for all versions; only the sources the
requested keys need are queried. Run metrics pool the latest finished run of every suite
(or of one suite).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pandas as pd
from sqlalchemy import Engine

from evalboard.metrics.axis import PRODUCTION, CallScope
from evalboard.metrics.calls import call_metrics
from evalboard.metrics.human import human_rates, label_rates, verdict_rates
from evalboard.metrics.registry import label_kinds, metric_spec
from evalboard.metrics.runs import pass_rates, pool_pass_rates, reference_scores

CALL_KEYS = ("latency_p50", "latency_p95", "error_rate", "mean_prompt_tokens",
             "mean_completion_tokens")

Row = tuple[str, int, str, float]


def _pooled(frame: pd.DataFrame, group: str | None, prefix: str) -> Iterator[Row]:
    for row in pool_pass_rates(frame, group).itertuples(index=False):
        key = prefix + (str(getattr(row, group)) if group else "")
        yield row.model_version, row.version_order, key, row.pass_rate


def _run_rows(engine: Engine, sources: set[str], suite: str | None,
              versions: Sequence[str] | None) -> Iterator[Row]:
    if "pass_rate" in sources:
        yield from _pooled(pass_rates(engine, suite=suite, versions=versions), None, "pass_rate")
    if "pass_rate:label" in sources:
        frame = pass_rates(engine, suite=suite, by="label", versions=versions)
        yield from _pooled(frame, "label", "pass_rate:label:")
    if "pass_rate:check" in sources:
        frame = pass_rates(engine, suite=suite, by="check", versions=versions)
        yield from _pooled(frame, "check_type", "pass_rate:check:")
    if "mean" in sources:
        frame = reference_scores(engine, suite=suite, versions=versions)
        for row in frame.itertuples(index=False):
            yield row.model_version, row.version_order, f"mean:{row.check_type}", row.mean


def _call_and_review_rows(engine: Engine, sources: set[str], scope: CallScope,
                          versions: Sequence[str] | None) -> Iterator[Row]:
    if "calls" in sources:
        frame = call_metrics(engine, scope=scope, versions=versions)
        for row in frame[frame["calls"] > 0].itertuples(index=False):
            for key in CALL_KEYS:
                yield row.model_version, row.version_order, key, getattr(row, key)
    if "human" in sources and "label_rate" in sources:  # one pass over the judgements
        verdicts, labels = human_rates(engine, scope=scope, versions=versions)
    else:
        verdicts = verdict_rates(engine, scope=scope, versions=versions) \
            if "human" in sources else None
        labels = label_rates(engine, scope=scope, versions=versions) \
            if "label_rate" in sources else None
    if verdicts is not None:
        for row in verdicts.itertuples(index=False):
            yield row.model_version, row.version_order, f"human_{row.verdict}_rate", row.rate
    if labels is not None:
        for row in labels.itertuples(index=False):
            yield row.model_version, row.version_order, f"label_rate:{row.label}", row.rate


def _monitor_rows(engine: Engine, scope: CallScope, versions: Sequence[str] | None
                  ) -> list[Row]:
    from evalboard.monitors.results import metric_rows  # monitors build on metrics.axis

    return metric_rows(engine, scope, versions)


def _win_rate_rows(engine: Engine, keys: Sequence[str], versions: Sequence[str] | None
                   ) -> list[Row]:
    from evalboard.pairwise.winrates import METRIC_PREFIX, metric_rows  # pairwise builds on axis

    baselines = [key.removeprefix(METRIC_PREFIX) for key in keys if key.startswith(METRIC_PREFIX)]
    return metric_rows(engine, baselines, versions) if baselines else []


def _source(key: str) -> str:
    if key in CALL_KEYS:
        return "calls"
    if key.startswith("human_"):
        return "human"
    if key.startswith("pass_rate:"):
        return ":".join(key.split(":")[:2])
    return key.partition(":")[0]


def metric_table(engine: Engine, *, keys: Sequence[str] | None = None, suite: str | None = None,
                 scope: CallScope = PRODUCTION,
                 versions: Sequence[str] | None = None) -> pd.DataFrame:
    """Long table of metric values: model_version, version_order, key, title, unit, direction,
    value. With keys, only those metrics (unknown keys raise ValueError); without, every
    metric with data. Sorted by version order, then key order."""
    kinds = label_kinds(engine)
    wanted = list(dict.fromkeys(keys)) if keys is not None else None
    if wanted is not None:
        for key in wanted:
            metric_spec(key, kinds)
    sources = ({_source(key) for key in wanted} if wanted is not None else
               {"pass_rate", "pass_rate:label", "pass_rate:check", "mean", "calls", "human",
                "label_rate", "monitor_pass_rate"})
    rows = [*_run_rows(engine, sources, suite, versions),
            *_call_and_review_rows(engine, sources, scope, versions),
            *(_monitor_rows(engine, scope, versions) if "monitor_pass_rate" in sources else ()),
            *_win_rate_rows(engine, wanted or (), versions)]
    frame = pd.DataFrame(rows, columns=["model_version", "version_order", "key", "value"])
    frame["value"] = frame["value"].astype(float)
    if wanted is not None:
        frame = frame[frame["key"].isin(wanted)]
        rank = {key: k for k, key in enumerate(wanted)}
        frame = frame.assign(_rank=frame["key"].map(rank))
    else:
        frame = frame.assign(_rank=frame["key"])
    frame = frame.sort_values(["version_order", "_rank"], kind="stable").drop(columns="_rank")
    specs = [metric_spec(key, kinds) for key in frame["key"]]
    frame.insert(3, "title", [s.title for s in specs])
    frame.insert(4, "unit", [s.unit for s in specs])
    frame.insert(5, "direction", [s.direction for s in specs])
    return frame.reset_index(drop=True)


def version_values(engine: Engine, model_version: str, *, keys: Sequence[str] | None = None,
                   suite: str | None = None, scope: CallScope = PRODUCTION
                   ) -> dict[str, float | None]:
    """{key: value} of one model version (None where the metric has no data)."""
    frame = metric_table(engine, keys=keys, suite=suite, scope=scope, versions=[model_version])
    values: dict[str, float | None] = {key: None for key in keys or ()}
    for key, value in zip(frame["key"], frame["value"], strict=True):
        values[key] = None if pd.isna(value) else float(value)
    return values
