"""Metrics: SQL aggregates across model versions and over time, a registry naming each metric
once, and core metrics with targets. Every function takes an engine and returns a small
pandas DataFrame (or dataclasses) with plain columns, ready for Altair."""

from evalboard.metrics.axis import CallScope, VersionRef
from evalboard.metrics.calls import call_metrics
from evalboard.metrics.human import label_rates, verdict_rates
from evalboard.metrics.registry import MetricSpec, metric_catalogue, metric_spec
from evalboard.metrics.runs import REFERENCE_CHECKS, pass_rates, reference_scores
from evalboard.metrics.targets import (
    Target,
    TargetResult,
    check_core_metrics,
    core_metrics,
    evaluate_targets,
    list_targets,
    remove_target,
    reorder_targets,
    set_target,
)
from evalboard.metrics.timeseries import calls_over_time, latency_over_time, pass_rate_over_time
from evalboard.metrics.versions import metric_table, version_values

__all__ = [
    "REFERENCE_CHECKS",
    "CallScope",
    "MetricSpec",
    "Target",
    "TargetResult",
    "VersionRef",
    "call_metrics",
    "calls_over_time",
    "check_core_metrics",
    "core_metrics",
    "evaluate_targets",
    "label_rates",
    "latency_over_time",
    "list_targets",
    "metric_catalogue",
    "metric_spec",
    "metric_table",
    "pass_rate_over_time",
    "pass_rates",
    "reference_scores",
    "remove_target",
    "reorder_targets",
    "set_target",
    "verdict_rates",
    "version_values",
]
