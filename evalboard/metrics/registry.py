"""Every metric named once: its key, title, unit and direction ("max": higher is better).

Keys are plain strings that live in URLs and in `metric_targets`:

| key | meaning |
|---|---|
| pass_rate | suite pass rate of the latest finished runs |
| pass_rate:label:<label> | pass rate of the cases with that label |
| pass_rate:check:<check type> | share of passing check results of that type |
| mean:<reference check> | mean score of a reference check (REFERENCE_CHECKS) |
| latency_p50, latency_p95 | call latency (nearest-rank percentiles) |
| error_rate | share of calls with an error |
| mean_prompt_tokens, mean_completion_tokens | tokens per call |
| human_pass_rate, human_fail_rate, human_unsure_rate | verdict shares of current judgements |
| label_rate:<label> | share of judged calls carrying the label |
| monitor_pass_rate:<monitor> | share of the calls a monitor checked that passed all its checks |
| win_rate:<version> | pairwise win rate against that baseline version (ties half; live answers) |
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evalboard.errors import EvalboardError
from evalboard.metrics.runs import REFERENCE_CHECKS
from evalboard.store.case_models import EvalCase
from evalboard.store.monitor_models import Monitor
from evalboard.store.review_models import VERDICTS, Label
from evalboard.store.run_models import CheckResultRow


@dataclass(frozen=True)
class MetricSpec:
    """One metric: `source` says what it aggregates (runs, calls or reviews)."""

    key: str
    title: str
    unit: str  # share, score, ms, tokens
    direction: str  # "max": higher is better; "min": lower is better
    source: str

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "max"


FIXED: dict[str, MetricSpec] = {spec.key: spec for spec in (
    MetricSpec("pass_rate", "Suite pass rate", "share", "max", "runs"),
    *(MetricSpec(f"mean:{kind}", f"Mean {kind} score", "score", "max", "runs")
      for kind in REFERENCE_CHECKS),
    MetricSpec("latency_p50", "Latency p50", "ms", "min", "calls"),
    MetricSpec("latency_p95", "Latency p95", "ms", "min", "calls"),
    MetricSpec("error_rate", "Error rate", "share", "min", "calls"),
    MetricSpec("mean_prompt_tokens", "Prompt tokens per call", "tokens", "min", "calls"),
    MetricSpec("mean_completion_tokens", "Completion tokens per call", "tokens", "min", "calls"),
    *(MetricSpec(f"human_{verdict}_rate", f"Human {verdict} rate", "share",
                 "max" if verdict == "pass" else "min", "reviews") for verdict in VERDICTS),
)}


def _parametrised(key: str, label_kinds: dict[str, str]) -> MetricSpec | None:
    kind, _, name = key.partition(":")
    if not name.strip() or name != name.strip():
        return None
    if kind == "pass_rate":
        group, _, value = name.partition(":")
        if value.strip() and group == "label":
            return MetricSpec(key, f"Pass rate on {value} cases", "share", "max", "runs")
        if value.strip() and group == "check":
            return MetricSpec(key, f"Pass rate of {value} checks", "share", "max", "runs")
    if kind == "monitor_pass_rate":
        return MetricSpec(key, f"Monitor {name} pass rate", "share", "max", "monitors")
    if kind == "win_rate":
        return MetricSpec(key, f"Win rate against {name}", "share", "max", "pairwise")
    if kind == "label_rate":
        direction = "max" if label_kinds.get(name) == "success" else "min"
        return MetricSpec(key, f"Share of judged calls labelled {name}", "share", direction,
                          "reviews")
    return None


class MetricError(EvalboardError, ValueError):
    """An unknown metric, or a target that cannot be kept."""


def metric_spec(key: str, label_kinds: dict[str, str] | None = None) -> MetricSpec:
    """The spec of a key; label_rate keys of success labels (per label_kinds) are "max"."""
    spec = FIXED.get(key) or _parametrised(key, label_kinds or {})
    if spec is None:
        raise MetricError(f"unknown metric {key!r} (see evalboard.metrics.registry)")
    return spec


def label_kinds(engine: Engine) -> dict[str, str]:
    """Kind (failure or success) of every label, by name."""
    with Session(engine) as session:
        return dict(session.execute(select(Label.name, Label.kind)).all())


def metric_catalogue(engine: Engine | None = None) -> list[MetricSpec]:
    """Every metric key: the fixed ones, and with a store the label and check type ones
    (case labels in use, check types with results, review labels not archived)."""
    specs = list(FIXED.values())
    if engine is None:
        return specs
    with Session(engine) as session:
        case_labels = session.scalars(select(EvalCase.label).where(EvalCase.label.is_not(None))
                                      .distinct().order_by(EvalCase.label)).all()
        checks = session.scalars(select(CheckResultRow.check_type).distinct()
                                 .order_by(CheckResultRow.check_type)).all()
        labels = session.execute(select(Label.name, Label.kind).where(Label.archived.is_(False))
                                 .order_by(Label.position, Label.name)).all()
        monitors = session.scalars(select(Monitor.name).order_by(Monitor.name)).all()
    from evalboard.pairwise.winrates import compared_versions  # pairwise builds on metrics

    kinds = dict(labels)
    keys = [*(f"pass_rate:label:{name}" for name in case_labels),
            *(f"pass_rate:check:{kind}" for kind in checks),
            *(f"label_rate:{name}" for name, _kind in labels),
            *(f"monitor_pass_rate:{name}" for name in monitors),
            *(f"win_rate:{name}" for name in compared_versions(engine))]
    return specs + [metric_spec(key, kinds) for key in keys]
