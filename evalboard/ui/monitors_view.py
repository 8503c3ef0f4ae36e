"""The Monitors page's sections: the monitors with their failing calls, a form for a new one,
and their pass rates per model version and over time."""

from __future__ import annotations

import pandas as pd
import streamlit as st
import yaml
from sqlalchemy import Engine

from evalboard.errors import EvalboardError
from evalboard.metrics.axis import version_names
from evalboard.monitors.definitions import (
    MonitorSpec,
    MonitorView,
    create_monitor,
    delete_monitor,
    list_monitors,
    parse_checks,
    set_enabled,
    update_monitor,
)
from evalboard.monitors.failure_actions import review_failing
from evalboard.monitors.results import failing_calls, pass_rate_over_time, pass_rates
from evalboard.monitors.worker import run_pass
from evalboard.store.calls_query import list_model_versions
from evalboard.store.models import SOURCES
from evalboard.ui.auth_gate import may
from evalboard.ui.metric_charts import time_chart, version_chart
from evalboard.ui.metrics_view import PERIODS, scope_for
from evalboard.ui.navigation import REVIEW
from evalboard.ui.reviewer import current_reviewer
from evalboard.ui.store import clear_cached_reads, engine_for, store_url

TTL = 30
EXAMPLE_CHECKS = """- type: is_json
- type: contains_any
  params: {values: ["As an AI language model"]}
  negate: true
"""


@st.cache_data(ttl=TTL, show_spinner=False)
def _monitors(url: str) -> list[MonitorView]:
    return list_monitors(engine_for(url))


def _filter_text(spec: MonitorSpec) -> str:
    parts = [", ".join(spec.model_versions) or "every version", spec.source or "every source",
             *(f"{key}={value}" for key, value in spec.metadata.items())]
    return " · ".join(parts)


def _act(action, success: str) -> None:  # type: ignore[no-untyped-def]
    try:
        action()
    except EvalboardError as exc:
        st.error(str(exc))
        return
    clear_cached_reads()
    st.toast(success)
    st.rerun()


def _run_now(engine: Engine) -> None:
    """A button that runs one pass of the worker here (admins, when there are monitors)."""
    if not may("admin") or not st.button(
            "Check new calls now", icon=":material/play_arrow:",
            help="One pass of the worker, here (it may take a while on a large backlog)."):
        return
    with st.spinner("Checking new calls…"):
        report = run_pass(engine)
    clear_cached_reads()
    st.success(f"{report.checked:,} calls checked, {report.failures:,} failing results.")
    for error in report.errors.values():
        st.warning(error)


def monitors_table(engine: Engine) -> list[MonitorView]:
    """Every monitor in one table; returns them."""
    st.subheader("Monitors")
    st.caption("A monitor applies its checks to calls as they arrive: `evalboard monitor` runs "
               "them (or `evalboard serve --monitors`, in the background). It resumes where it "
               "stopped; a call counts as failing when any of the monitor's checks fails.")
    if _monitors(store_url()):
        _run_now(engine)
    views = _monitors(store_url())
    if not views:
        st.info("No monitors yet: add one below.")
        return views
    st.dataframe(pd.DataFrame([{
        "monitor": v.name, "on": v.spec.enabled, "checks": ", ".join(v.check_names),
        "calls": _filter_text(v.spec), "sampled": v.spec.sampling_rate,
        "results": v.results, "failing results": v.failures,
        "after call": v.last_call_id} for v in views]), hide_index=True, width="stretch",
        column_config={"sampled": st.column_config.NumberColumn(format="percent")})
    return views


def _review_button(engine: Engine, view: MonitorView) -> None:
    reviewer = current_reviewer()
    key = f"monitor_review_{view.id}"
    if st.button("Review its unreviewed failures", key=key, disabled=not reviewer,
                 help=None if reviewer else "Enter your name under Reviewer in the sidebar"):
        try:
            st.session_state[f"{key}_session"] = review_failing(engine, reviewer, view)
        except EvalboardError as exc:
            st.error(str(exc))
    session_id = st.session_state.get(f"{key}_session")
    if session_id is not None:
        st.page_link(REVIEW.path, label=f"Open the review session (#{session_id})",
                     query_params={"session": str(session_id)}, icon=":material/rate_review:")


def monitor_details(engine: Engine, views: list[MonitorView]) -> None:
    """Per monitor: its newest failing calls, review them, pause or remove it."""
    for view in views:
        state = "" if view.spec.enabled else " (paused)"
        with st.expander(f"{view.name}{state}: {view.failures:,} failing results"):
            failing = failing_calls(engine, view.id, limit=50)
            if failing:
                st.dataframe(pd.DataFrame([{
                    "call": f"/browse?call={c.call_id}", "model version": c.model_version,
                    "logged": c.created_at, "reviewed": c.reviewed,
                    "failed": "; ".join(f"{name}: {reason}" for name, reason
                                        in c.failed_checks)} for c in failing]),
                    hide_index=True, width="stretch", column_config={
                        "call": st.column_config.LinkColumn(
                            "call", display_text=r"\?call=(\d+)", help="Open the call")})
                _review_button(engine, view)
            else:
                st.caption("No failing calls.")
            if may("admin"):
                if st.toggle("Edit", key=f"monitor_edit_{view.id}"):
                    edit_monitor_form(engine, view)
                cols = st.columns(2)
                label = "Pause" if view.spec.enabled else "Resume"
                if cols[0].button(label, key=f"monitor_toggle_{view.id}"):
                    _act(lambda v=view: set_enabled(engine, v.id, not v.spec.enabled),
                         f"{label}d “{view.name}”.")
                if cols[1].button("Remove with its results", key=f"monitor_delete_{view.id}"):
                    _act(lambda v=view: delete_monitor(engine, v.id), f"Removed “{view.name}”.")


def _metadata(text: str) -> dict[str, str]:
    pairs = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, equals, value = line.partition("=")
        if not equals:
            raise EvalboardError(f"metadata: write key=value, one per line (got {line!r})")
        pairs[key.strip()] = value.strip()
    return pairs


def _checks(text: str):  # type: ignore[no-untyped-def]
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise EvalboardError(f"checks: not YAML ({str(exc).splitlines()[0]})") from None
    return parse_checks(data if data is not None else [])


def _checks_yaml(spec: MonitorSpec) -> str:
    return yaml.safe_dump([c.to_dict() for c in spec.checks], sort_keys=False,
                          allow_unicode=True)


def _monitor_form(engine: Engine, key: str, initial: MonitorSpec | None
                  ) -> tuple[MonitorSpec, bool] | None:
    """The fields of a monitor (prefilled from `initial`); the spec and the backfill choice
    once submitted (raises EvalboardError naming a bad field), else None."""
    with st.form(key):
        name = st.text_input("Name", value=initial.name if initial else "")
        checks = st.text_area("Checks (YAML, as in a test case file)",
                              value=_checks_yaml(initial) if initial else EXAMPLE_CHECKS,
                              height=160)
        cols = st.columns([3, 1, 1])
        known = [v.name for v in list_model_versions(engine)]
        chosen = list(initial.model_versions) if initial else []
        versions = cols[0].multiselect("Model versions", list(dict.fromkeys([*known, *chosen])),
                                       default=chosen, placeholder="Every version")
        sources = [*SOURCES, "any"]
        source = cols[1].selectbox("Source", sources, index=sources.index(
            (initial.source or "any") if initial else "production"))
        rate = cols[2].number_input("Share checked", min_value=0.0, max_value=1.0,
                                    value=initial.sampling_rate if initial else 1.0, step=0.05)
        metadata = st.text_area("Metadata (key=value, one per line; all must hold)",
                                value="\n".join(f"{k}={v}" for k, v in
                                                (initial.metadata if initial else {}).items()),
                                height=70)
        backfill = False if initial else st.checkbox(
            "Also check the calls already logged", help="Otherwise only calls logged from now on.")
        if not st.form_submit_button("Save monitor", type="primary"):
            return None
    spec = MonitorSpec(name, _checks(checks), tuple(versions),
                       None if source == "any" else source, _metadata(metadata), float(rate),
                       initial.enabled if initial else True)
    return spec, bool(backfill)


def new_monitor_form(engine: Engine) -> None:
    """A form that saves a new monitor (admins only)."""
    if not may("admin"):
        return
    st.subheader("New monitor")

    def save() -> None:
        submitted = _monitor_form(engine, "new_monitor", None)
        if submitted is not None:
            create_monitor(engine, submitted[0], backfill=submitted[1])
            st.session_state["monitor_saved"] = submitted[0].name

    _save(save)


def edit_monitor_form(engine: Engine, view: MonitorView) -> None:
    """The monitor's own form: new calls get the changed checks, results stay."""
    def save() -> None:
        submitted = _monitor_form(engine, f"edit_monitor_{view.id}", view.spec)
        if submitted is not None:
            update_monitor(engine, view.id, submitted[0])
            st.session_state["monitor_saved"] = submitted[0].name

    _save(save)


def _save(action) -> None:  # type: ignore[no-untyped-def]
    """Run a form; after a save, clear cached reads and rerun with a toast."""
    try:
        action()
    except EvalboardError as exc:
        st.error(str(exc))
        return
    saved = st.session_state.pop("monitor_saved", None)
    if saved is not None:
        clear_cached_reads()
        st.toast(f"Saved monitor “{saved.strip()}”.")
        st.rerun()


@st.cache_data(ttl=TTL, show_spinner=False)
def _rate_frames(url: str, versions: tuple[str, ...], period: str
                 ) -> tuple[list[str], pd.DataFrame, pd.DataFrame]:
    engine = engine_for(url)
    chosen = list(versions) or None
    scope = scope_for(period)
    return (version_names(engine, chosen), pass_rates(engine, scope=scope, versions=chosen),
            pass_rate_over_time(engine, scope=scope, versions=chosen))


def _rate_charts(name: str, key: str, axis: list[str], per_version: pd.DataFrame,
                 per_day: pd.DataFrame) -> None:
    left, right = st.columns(2)
    with left:
        version_chart(per_version[per_version["monitor"] == name], "pass_rate",
                      name=f"{key}_versions", axis=axis, title="Pass rate",
                      interval=("low", "high"))
    with right:
        time_chart(per_day[per_day["monitor"] == name], "pass_rate", name=f"{key}_days",
                   axis=axis, title="Pass rate per day", unit="share")


CAPTION = ("The share of the calls a monitor checked that passed all its checks (by when the "
           "call was logged); whiskers: 95% Wilson interval. As a metric "
           "(`monitor_pass_rate:<monitor>`) it can be a core metric with a target.")


def pass_rate_section(views: list[MonitorView]) -> None:
    """Each monitor's pass rate per model version and per day."""
    if not views:
        return
    st.subheader("Pass rates")
    st.caption(CAPTION)
    period = st.selectbox("Calls logged in", list(PERIODS), index=1, key="monitors_period",
                          bind="query-params")
    axis, per_version, per_day = _rate_frames(store_url(), (), period)
    for view in views:
        st.markdown(f"**{view.name}**")
        _rate_charts(view.name, f"monitor_{view.id}", axis, per_version, per_day)


def metrics_page_section(versions: tuple[str, ...], period: str) -> None:
    """The Metrics page's monitor section: one monitor's pass rate across the chosen versions
    and over time (nothing without monitor results)."""
    axis, per_version, per_day = _rate_frames(store_url(), versions, period)
    names = list(dict.fromkeys(per_version["monitor"]))
    if not names:
        return
    st.subheader("Monitors on production calls")
    st.caption(CAPTION)
    name = st.selectbox("Monitor", names, key="metrics_monitor", bind="query-params")
    _rate_charts(name, "metrics_monitor", axis, per_version, per_day)
