"""Runs: start one with a progress display, list them, and read one case by case."""

from __future__ import annotations

import html

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from evalboard.cases.repository import list_suites, list_tags
from evalboard.review.labels import list_labels
from evalboard.runs.diff import word_diff
from evalboard.runs.generators import CallableGenerator, Generator, TransformersGenerator
from evalboard.runs.results import CaseResultView, RunSummary, case_results, list_runs, run_summary
from evalboard.runs.runner import RunError, Selection, run_suite
from evalboard.store.calls_query import list_model_versions
from evalboard.ui.navigation import BROWSE, CASES
from evalboard.ui.reviewer import current_reviewer
from evalboard.ui.store import clear_cached_reads

RUN_PARAM = "run"
STATUS_ICON = {"pass": ":material/check_circle:", "fail": ":material/cancel:",
               "error": ":material/error:", "missing": ":material/remove_circle_outline:"}
GENERATORS = {"callable": "Python callable (module:function)",
              "transformers": "Local transformers model directory",
              "replay": "Replay logged calls of the version"}


def _generator(kind: str, callable_ref: str, model_dir: str, batch_size: int,
               max_new_tokens: int) -> Generator | None:
    if kind == "callable":
        return CallableGenerator(callable_ref.strip())
    if kind == "transformers":
        return TransformersGenerator(model_dir.strip(), batch_size=batch_size,
                                     generation={"max_new_tokens": max_new_tokens})
    return None


def new_run_form(engine: Engine) -> None:
    suites = [name for name, _ in list_suites(engine)]
    if not suites:
        st.info("No suites yet: promote failing calls to test cases, or import a YAML suite.")
        return
    with st.form("new_run"):
        cols = st.columns(3)
        suite = cols[0].selectbox("Suite", suites)
        versions = [v.name for v in list_model_versions(engine)]
        version = cols[1].selectbox("Model version", versions, accept_new_options=True,
                                    help="Pick one, or type a new name.")
        kind = cols[2].radio("Outputs from", list(GENERATORS), format_func=GENERATORS.get)
        cols = st.columns(3)
        callable_ref = cols[0].text_input("Callable", placeholder="my_package.models:generate",
                                          help="A function (prompt or messages) -> text.")
        model_dir = cols[1].text_input("Model directory", placeholder="/models/support-bot-v5")
        batch_size = cols[2].number_input("Batch size", min_value=1, value=4)
        max_new_tokens = cols[2].number_input("Max new tokens", min_value=1, value=128)
        cols = st.columns(2)
        tags = cols[0].multiselect("Only cases tagged", list_tags(engine))
        labels = cols[1].multiselect("Only cases guarding", [lb.name for lb in list_labels(engine)])
        submitted = st.form_submit_button("Run the suite", type="primary",
                                          icon=":material/play_arrow:")
    if not submitted:
        return
    bar = st.progress(0.0, text="Starting…")
    try:
        generator = _generator(str(kind), callable_ref, model_dir, int(batch_size),
                               int(max_new_tokens))
        summary = run_suite(
            engine, str(suite), str(version), generator,
            selection=Selection(tuple(tags), tuple(labels)), author=current_reviewer() or None,
            progress=lambda done, total: bar.progress(done / total,
                                                      text=f"{done} of {total} cases"))
    except (RunError, ValueError, FileNotFoundError, OSError) as exc:
        bar.empty()
        st.error(f"The run could not start: {exc}")
        return
    clear_cached_reads()
    st.query_params[RUN_PARAM] = str(summary.run_id)
    st.rerun()


def runs_table(engine: Engine) -> None:
    runs = list_runs(engine, limit=200)
    if not runs:
        st.caption("No runs yet.")
        return
    frame = pd.DataFrame([{
        "run": r.run_id, "suite": r.suite, "model version": r.model_version,
        "outputs from": r.generator, "status": r.status, "started (UTC)": r.started_at,
        "pass rate": r.pass_rate, "passed": r.passed, "failed": r.failed, "errors": r.errors,
        "no logged call": len(r.missing)} for r in runs])
    event = st.dataframe(frame, hide_index=True, placeholder="—", width="stretch",
                         on_select="rerun",
                         selection_mode="single-row", key="runs_table", column_config={
                             "pass rate": st.column_config.ProgressColumn(
                                 format="percent", min_value=0.0, max_value=1.0),
                             "started (UTC)": st.column_config.DatetimeColumn(
                                 format="YYYY-MM-DD HH:mm")})
    if event.selection.rows:
        chosen = str(runs[event.selection.rows[0]].run_id)
        if st.query_params.get(RUN_PARAM) != chosen:
            st.query_params[RUN_PARAM] = chosen
            st.rerun()


def _rates_frame(summary: RunSummary) -> pd.DataFrame:
    rows = [{"by": "label", "name": k, "passed": p, "of": n, "pass rate": p / n}
            for k, (p, n) in sorted(summary.by_label.items()) if n]
    rows += [{"by": "check", "name": k, "passed": p, "of": n, "pass rate": p / n}
             for k, (p, n) in sorted(summary.by_check.items()) if n]
    return pd.DataFrame(rows)


def diff_html(reference: str, output: str) -> str:
    """The output against the reference, words removed in red and added in green (escaped)."""
    styles = {"delete": "background:#ffe3e3;text-decoration:line-through",
              "insert": "background:#d3f9d8"}
    parts = [f'<span style="{styles[op]}">{html.escape(text)}</span>' if op in styles
             else html.escape(text) for op, text in word_diff(reference, output)]
    return ('<div style="font-family:monospace;white-space:pre-wrap;font-size:0.9em">'
            + "".join(parts) + "</div>")


def _case_block(result: CaseResultView) -> None:
    title = f"{result.name} — {result.status}, score {result.score:.2f}" + (
        f" · {result.label}" if result.label else "")
    with st.expander(title, expanded=result.status != "pass", icon=STATUS_ICON[result.status]):
        links = st.columns(3)
        if result.call_id:
            links[0].page_link(BROWSE.path, label=f"Logged call {result.call_id}",
                               query_params={"call": str(result.call_id)},
                               icon=":material/open_in_new:")
        if result.origin_call_id:
            links[1].page_link(BROWSE.path,
                               label=f"Case origin call {result.origin_call_id}",
                               query_params={"call": str(result.origin_call_id)},
                               icon=":material/history:")
        links[2].page_link(CASES.path, label=f"Case (v{result.version})",
                           query_params={"case": str(result.case_id)},
                           icon=":material/checklist:")
        if result.status == "missing":
            st.caption(result.error or "No logged call of this version has this case's input.")
        elif result.error:
            st.error(result.error)
        if result.checks:
            st.dataframe(pd.DataFrame([{
                "check": ("NOT " if c.negate else "") + c.check_type, "passed": c.passed,
                "score": round(c.score, 3), "reason": c.reason} for c in result.checks]),
                hide_index=True, placeholder="—", width="stretch")
        if result.references and result.output is not None:
            st.markdown("**Output against the reference** (removed, added)")
            st.markdown(diff_html(result.references[0], result.output), unsafe_allow_html=True)
        elif result.output is not None:
            st.markdown("**Output**")
            st.code(result.output, language=None, wrap_lines=True)


def run_detail(engine: Engine, run_id: int) -> None:
    try:
        summary = run_summary(engine, run_id)
    except ValueError as exc:
        st.warning(str(exc))
        return
    st.subheader(f"Run {run_id}: {summary.suite} on {summary.model_version}")
    st.caption(f"Outputs from {summary.generator} · {summary.status} · started "
               f"{summary.started_at:%Y-%m-%d %H:%M} UTC")
    cols = st.columns(5)
    cols[0].metric("Pass rate", f"{summary.pass_rate:.1%}")
    cols[1].metric("Passed", summary.passed)
    cols[2].metric("Failed", summary.failed)
    cols[3].metric("Errors", summary.errors)
    cols[4].metric("No logged call", len(summary.missing))
    rates = _rates_frame(summary)
    if not rates.empty:
        st.dataframe(rates, hide_index=True, placeholder="—", width="stretch", column_config={
            "pass rate": st.column_config.ProgressColumn(format="percent", min_value=0.0,
                                                         max_value=1.0)})
    failing_only = st.toggle("Failing only", value=True, key="failing_only")
    results = case_results(engine, run_id, failing_only=failing_only)
    if not results:
        st.success("Every case passed.")
    for result in results:
        _case_block(result)
