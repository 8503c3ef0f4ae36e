"""The Metrics page's sections: core metrics with targets, across versions, scores, over
time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from evalboard import clock
from evalboard.metrics.axis import CallScope, version_names
from evalboard.metrics.calls import call_metrics
from evalboard.metrics.comparability import CaseVersionMix, case_version_mixes
from evalboard.metrics.daily import EXACT_LATENCY_LIMIT
from evalboard.metrics.human import label_rates, verdict_rates
from evalboard.metrics.registry import metric_catalogue, metric_spec
from evalboard.metrics.runs import pass_rates, pool_pass_rates, reference_scores
from evalboard.metrics.scores import ScoreMetric, score_metrics
from evalboard.metrics.targets import Target, list_targets, remove_target, set_target
from evalboard.metrics.timeseries import calls_over_time, latency_over_time, pass_rate_over_time
from evalboard.metrics.versions import metric_table
from evalboard.runs.results import latest_finished_run
from evalboard.teams.scores import ScoreConfigView
from evalboard.ui.auth_gate import may
from evalboard.ui.label_badges import VERDICT_COLOURS, settings_label_colours
from evalboard.ui.metric_charts import (
    Series,
    browse_link,
    counts_caption,
    time_chart,
    version_chart,
)
from evalboard.ui.navigation import RUNS
from evalboard.ui.store import clear_cached_reads, engine_for, store_url
from evalboard.ui.winrate_view import pairwise_section

PERIODS = {"last 7 days": 7, "last 28 days": 28, "last 90 days": 90, "all time": None}
TTL = 60
# Colours for case labels that are no review label (so have no colour set in Settings).
SPARE_COLOURS = ("#4c6ef5", "#15aabf", "#82c91e", "#fab005", "#fd7e14", "#be4bdb", "#495057")
PERCENTILES = {"latency_p50": "p50", "latency_p95": "p95"}
TOKENS = {"mean_prompt_tokens": "prompt", "mean_completion_tokens": "completion"}


def scope_for(period: str) -> CallScope:
    days = PERIODS[period]
    since = None if days is None else clock.now() - timedelta(days)
    return CallScope(since=since)


@st.cache_data(ttl=TTL, show_spinner=False)
def _axis(url: str, versions: tuple[str, ...]) -> list[str]:
    return version_names(engine_for(url), list(versions) or None)


@st.cache_data(ttl=TTL, show_spinner=False)
def _case_version_mixes(url: str, versions: tuple[str, ...], suite: str | None
                        ) -> list[CaseVersionMix]:
    return case_version_mixes(engine_for(url), suite=suite, versions=list(versions) or None)


def label_series(values: pd.Series, title: str) -> Series:
    """Colour each label as set in Settings; a case label with no review label of that name
    gets a spare colour."""
    known = settings_label_colours(store_url())
    names = list(dict.fromkeys(values.dropna()))
    spare = iter(SPARE_COLOURS * (len(names) // len(SPARE_COLOURS) + 1))
    return Series("label", title, {name: known.get(name) or next(spare) for name in names})


def case_version_notes(versions: tuple[str, ...], suite: str | None) -> None:
    """Warn when the runs charted side by side did not run the same case versions."""
    for mix in _case_version_mixes(store_url(), versions, suite):
        st.warning(mix.message(), icon=":material/warning:")


@st.cache_data(ttl=TTL, show_spinner=False)
def _frames(url: str, versions: tuple[str, ...], suite: str | None, period: str
            ) -> dict[str, pd.DataFrame]:
    engine = engine_for(url)
    chosen = list(versions) or None
    scope = scope_for(period)
    return {
        "pass": pass_rates(engine, suite=suite, versions=chosen),
        "pass_label": pass_rates(engine, suite=suite, by="label", versions=chosen),
        "pass_check": pass_rates(engine, suite=suite, by="check", versions=chosen),
        "scores": reference_scores(engine, suite=suite, versions=chosen),
        "verdicts": verdict_rates(engine, scope=scope, versions=chosen),
        "labels": label_rates(engine, scope=scope, versions=chosen),
        "calls": call_metrics(engine, scope=scope, versions=chosen),
    }


@st.cache_data(ttl=TTL, show_spinner=False)
def _time_frames(url: str, versions: tuple[str, ...], suite: str | None, period: str,
                 unit: str) -> dict[str, pd.DataFrame]:
    engine = engine_for(url)
    chosen = list(versions) or None
    scope = scope_for(period)
    return {
        "calls": calls_over_time(engine, unit=unit, scope=scope, versions=chosen),
        "latency": latency_over_time(engine, unit=unit, scope=scope, versions=chosen),
        "runs": pass_rate_over_time(engine, unit=unit, suite=suite, versions=chosen),
    }


@st.cache_data(ttl=TTL, show_spinner=False)
def _core_table(url: str, keys: tuple[str, ...], versions: tuple[str, ...], suite: str | None,
                period: str) -> pd.DataFrame:
    return metric_table(engine_for(url), keys=list(keys), suite=suite,
                        scope=scope_for(period), versions=list(versions) or None)


def _open_run(engine: Engine, suite: str | None, versions: list[str]) -> None:
    for version in versions:
        run_id = latest_finished_run(engine, suite, version) if suite else None
        if run_id:
            st.page_link(RUNS.path, label=f"Open run {run_id} ({version})",
                         query_params={"run": str(run_id)}, icon=":material/open_in_new:")
        else:
            browse_link(version)


def core_section(engine: Engine, versions: tuple[str, ...], suite: str | None,
                 period: str) -> None:
    st.subheader("Core metrics")
    targets = [t for t in list_targets(engine) if t.is_core]
    if not targets:
        st.caption("Pick the metrics that decide whether a fine-tune worked, and a target for "
                   "each, under “Choose core metrics”.")
    else:
        table = _core_table(store_url(), tuple(t.key for t in targets), versions, suite, period)
        if any(metric_spec(t.key).source == "runs" for t in targets):
            case_version_notes(versions, suite)
        axis = _axis(store_url(), versions)
        cols = st.columns(2)
        for index, target in enumerate(targets):
            frame = table[table["key"] == target.key]
            with cols[index % 2]:
                spec = metric_spec(target.key)
                st.markdown(f"**{spec.title}** — target {'≥' if target.direction == 'max' else '≤'}"
                            f" {target.target:g}" if target.target is not None else
                            f"**{spec.title}**")
                clicked = version_chart(frame, "value", name=f"core_{index}", axis=axis,
                                        title=spec.title, unit=spec.unit, target=target)
                if clicked:
                    _open_run(engine, suite, clicked)
    manage_targets(engine)


def manage_targets(engine: Engine) -> None:
    if not may("admin"):
        return
    with st.expander("Choose core metrics and targets"):
        catalogue = {spec.key: spec for spec in metric_catalogue(engine)}
        current: dict[str, Target] = {t.key: t for t in list_targets(engine)}
        with st.form("core_metric"):
            cols = st.columns([3, 1, 1])
            key = cols[0].selectbox("Metric", list(catalogue),
                                    format_func=lambda k: catalogue[k].title)
            value = cols[1].number_input("Target", value=None, format="%.3f")
            direction = cols[2].selectbox("Better", ["max", "min"],
                                          format_func={"max": "higher", "min": "lower"}.get)
            if st.form_submit_button("Save as core metric", type="primary"):
                set_target(engine, key, value, direction, core=True)
                clear_cached_reads()
                st.rerun()
        for target in current.values():
            row = st.columns([4, 1])
            row[0].caption(f"{metric_spec(target.key).title}: "
                           f"{'no target' if target.target is None else f'{target.target:g}'}"
                           f" ({'higher' if target.direction == 'max' else 'lower'} is better)")
            if row[1].button("Remove", key=f"remove_target_{target.key}"):
                remove_target(engine, target.key)
                clear_cached_reads()
                st.rerun()


def versions_section(engine: Engine, versions: tuple[str, ...], suite: str | None,
                     period: str) -> None:
    frames = _frames(store_url(), versions, suite, period)
    st.subheader("Across model versions")
    tabs = st.tabs(["Suite pass rate", "Reference scores", "Human review", "Latency and tokens",
                    "Errors", "Pairwise"])
    axis = _axis(store_url(), versions)
    with tabs[0]:
        case_version_notes(versions, suite)
        st.caption("Share of cases passing in the latest finished run of each version (pooled "
                   "over suites); whiskers: 95% Wilson interval.")
        clicked = version_chart(pool_pass_rates(frames["pass"]), "pass_rate", name="pass_rate",
                                axis=axis, title="Pass rate", interval=("low", "high"))
        _open_run(engine, suite, clicked)
        st.markdown("**Per label**")  # full width: every version and label stays readable
        per_label = pool_pass_rates(frames["pass_label"], "label")
        version_chart(per_label, "pass_rate", name="pass_label", axis=axis, title="Pass rate",
                      series=label_series(per_label["label"], "Case label"),
                      interval=("low", "high"))
        st.markdown("**Per check type**")
        version_chart(pool_pass_rates(frames["pass_check"], "check_type"), "pass_rate",
                      name="pass_check", axis=axis, title="Share of checks passing",
                      series=Series("check_type", "Check type"), interval=("low", "high"))
    with tabs[1]:
        case_version_notes(versions, suite)
        st.caption("Mean score with a 95% interval (whiskers), over the latest run of each "
                   "version.")
        version_chart(frames["scores"], "mean", name="scores", axis=axis, title="Mean score",
                      unit="score", series=Series("check_type", "Check"),
                      interval=("low", "high"))
    with tabs[2]:
        st.caption("Whiskers: 95% Wilson interval.")
        st.markdown("**Verdicts of current judgements**")
        version_chart(frames["verdicts"], "rate", name="verdicts", axis=axis,
                      title="Share of judgements",
                      series=Series("verdict", "Verdict", VERDICT_COLOURS),
                      interval=("low", "high"))
        st.markdown("**Share of judged calls carrying each label**")
        version_chart(frames["labels"], "rate", name="label_rates", axis=axis,
                      title="Share of judged calls",
                      series=label_series(frames["labels"]["label"], "Label"),
                      interval=("low", "high"))
    with tabs[3]:
        calls = frames["calls"]
        latency = calls.melt(id_vars=["model_version", "version_order"],
                             value_vars=list(PERCENTILES), var_name="percentile",
                             value_name="ms").replace({"percentile": PERCENTILES})
        clicked = version_chart(latency, "ms", name="latency", axis=axis, title="Latency (ms)",
                                unit="ms", series=Series("percentile", "Percentile"))
        _approximate_note(calls)
        for version in clicked:
            browse_link(version)
        tokens = calls.melt(id_vars=["model_version", "version_order"],
                            value_vars=list(TOKENS), var_name="tokens",
                            value_name="per call").replace({"tokens": TOKENS})
        version_chart(tokens, "per call", name="tokens", axis=axis, title="Tokens per call",
                      unit="tokens", series=Series("tokens", "Tokens"))
    with tabs[4]:
        st.caption("Share of calls with an error; whiskers: 95% Wilson interval.")
        for version in version_chart(frames["calls"], "error_rate", name="error_rate",
                                     axis=axis, title="Error rate",
                                     interval=("error_low", "error_high")):
            browse_link(version)
    with tabs[5]:
        pairwise_section(versions)


@st.cache_data(ttl=TTL, show_spinner=False)
def _score_metrics(url: str, versions: tuple[str, ...], period: str) -> list[ScoreMetric]:
    return score_metrics(engine_for(url), scope=scope_for(period), versions=list(versions) or None)


def _capitalised(name: str) -> str:
    return name[:1].upper() + name[1:]


def score_scale(config: ScoreConfigView) -> tuple[float, float]:
    """The value axis of a numeric score: its whole range, and 0 (where bars start)."""
    low = 1.0 if config.kind == "rating" else float(config.minimum or 0.0)
    high = float(config.maximum if config.maximum is not None else 5.0)
    return min(0.0, low), max(0.0, high)


def scores_section(versions: tuple[str, ...], period: str) -> None:
    """A chart per rating, numeric or choice score configuration in use (none: no section)."""
    metrics = _score_metrics(store_url(), versions, period)
    if not metrics:
        return
    st.subheader("Scores")
    st.caption("Over final answers: a call's adjudication where reviewers' disagreement was "
               "settled, else each reviewer's current judgement. Numbers and ratings: the mean "
               "score with a 95% interval (whiskers); choices: the share of answers giving "
               "each, with a 95% Wilson interval.")
    axis = _axis(store_url(), versions)
    for metric in metrics:
        config = metric.config
        st.markdown(f"**{config.name}** — {config.describe()}")
        if config.description:
            st.caption(config.description)
        if config.numeric:
            clicked = version_chart(metric.frame, "mean", name=f"score_{config.id}", axis=axis,
                                    title=f"Mean {config.name}", unit="mean",
                                    interval=("low", "high"), scale=score_scale(config))
        else:
            clicked = version_chart(metric.frame, "share", name=f"score_{config.id}",
                                    axis=axis, title="Share of answers",
                                    series=Series("choice", _capitalised(config.name)),
                                    interval=("low", "high"))
        st.caption(counts_caption(metric.answers(), axis, "final answer")
                   + " Final answers with this score only.")
        for version in clicked:
            browse_link(version)


def _approximate_note(frame: pd.DataFrame) -> None:
    """Say when latency percentiles come from the daily histograms rather than every call."""
    if frame.attrs.get("approximate"):
        st.caption(f"Percentiles over more than {EXACT_LATENCY_LIMIT:,} calls are read from "
                   "daily latency histograms: within 0.5% of the exact value.")


def _day(value: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value) / 1000, tz=UTC)
    except (TypeError, ValueError):
        return None


def time_section(versions: tuple[str, ...], suite: str | None, period: str) -> None:
    st.subheader("Over time")
    unit = st.segmented_control("Per", ["day", "week"], default="day", key="metrics_unit",
                                bind="query-params", required=True) or "day"
    frames = _time_frames(store_url(), versions, suite, period, unit)
    days = 7 if unit == "week" else 1
    left, right = st.columns(2)
    axis = _axis(store_url(), versions)
    bucket = "week" if unit == "week" else "day"
    with left:
        st.markdown("**Production calls**")
        for version, moment_ms in time_chart(frames["calls"], "calls", name="calls_time",
                                             axis=axis, title=f"Calls per {bucket}",
                                             bucket_days=days):
            moment = _day(moment_ms)
            browse_link(version, moment.date() if moment else None, days)
        st.markdown("**Error rate**")
        time_chart(frames["calls"], "error_rate", name="errors_time", axis=axis,
                   title="Error rate", unit="share", bucket_days=days)
    with right:
        st.markdown("**Latency p95 (ms)**")
        time_chart(frames["latency"], "latency_p95", name="latency_time", axis=axis,
                   title="Latency p95 (ms)", unit="ms", bucket_days=days)
        _approximate_note(frames["latency"])
        st.markdown("**Pass rate of runs**")
        time_chart(frames["runs"], "pass_rate", name="runs_time", axis=axis,
                   title="Pass rate", unit="share", bucket_days=days)
