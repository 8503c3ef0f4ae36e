"""Compare two versions (or runs) case by case: regressions, fixes, rates, significance."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from evalboard.cases.repository import list_suites
from evalboard.runs.compare import Comparison, ComparisonError, Flip, RateRow, compare
from evalboard.store.calls_query import list_model_versions
from evalboard.ui.navigation import BROWSE
from evalboard.ui.text_view import RAW, show_text

BOUND = "query-params"


def pick_comparison(engine: Engine) -> Comparison | None:
    """The choice of suite and sides (bound to the URL); None with a message when incomplete."""
    by = st.segmented_control("Compare", ["versions", "runs"], default="versions",
                              key="cmp_by", bind=BOUND, required=True)
    if by == "runs":
        cols = st.columns(2)
        baseline = cols[0].number_input("Baseline run", min_value=1, step=1, value=None,
                                        key="cmp_base_run", bind=BOUND)
        candidate = cols[1].number_input("Candidate run", min_value=1, step=1, value=None,
                                         key="cmp_cand_run", bind=BOUND)
        if baseline is None or candidate is None:
            st.info("Pick two runs of the same suite (their ids are on the Runs page).")
            return None
        kwargs: dict[str, object] = {"baseline_run": int(baseline),
                                     "candidate_run": int(candidate)}
    else:
        suites = [name for name, _ in list_suites(engine)]
        versions = [v.name for v in list_model_versions(engine)]
        cols = st.columns(3)
        suite = cols[0].selectbox("Suite", suites, key="cmp_suite", bind=BOUND, index=None,
                                  placeholder="Pick a suite")
        baseline = cols[1].selectbox("Baseline version", versions, key="cmp_base", bind=BOUND,
                                     index=None, placeholder="e.g. the current fine-tune")
        candidate = cols[2].selectbox("Candidate version", versions, key="cmp_cand",
                                      bind=BOUND, index=None,
                                      placeholder="e.g. the next fine-tune or a new base model")
        if not (suite and baseline and candidate):
            st.info("Pick a suite and two model versions: each side is the version's latest "
                    "finished run of the suite. Comparing your fine-tune with a newly released "
                    "base model answers “is the new base already better?”.")
            return None
        kwargs = {"suite": suite, "baseline_version": baseline, "candidate_version": candidate}
    try:
        return compare(engine, **kwargs)  # type: ignore[arg-type]
    except ComparisonError as exc:
        st.warning(str(exc))
        return None


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def headline(result: Comparison) -> None:
    base, cand = result.baseline, result.candidate
    st.caption(f"Baseline: run {base.run_id} ({base.model_version}) · candidate: run "
               f"{cand.run_id} ({cand.model_version}) · suite {cand.suite}")
    cols = st.columns(5)
    cols[0].metric("Candidate pass rate", _pct(cand.pass_rate),
                   delta=f"{result.pass_rate_delta:+.1%}")
    cols[1].metric("Regressions", len(result.regressions), help="pass → fail or error")
    cols[2].metric("Fixes", len(result.fixes), help="fail or error → pass")
    cols[3].metric("Still failing", len(result.still_failing))
    cols[4].metric("McNemar p", f"{result.mcnemar_p:.3f}",
                   help="Exact test on the cases that flipped: a small p (< 0.05) means the "
                   "difference in pass/fail is unlikely to be chance.")
    delta = result.score_delta
    if delta is not None:
        st.caption(f"Mean score change {delta.mean:+.3f} (95% bootstrap CI {delta.low:+.3f} to "
                   f"{delta.high:+.3f}, {delta.cases} paired cases). "
                   f"{len(result.new_cases)} new and {len(result.removed_cases)} removed cases "
                   "are not paired.")


def _rates(rows: tuple[RateRow, ...], title: str) -> None:
    if not rows:
        return
    st.markdown(f"**Pass rate by {title}**")
    st.dataframe(pd.DataFrame([{
        title: r.key, "baseline": r.baseline_rate, "candidate": r.candidate_rate,
        "change": r.delta, "baseline cases": r.baseline_total,
        "candidate cases": r.candidate_total} for r in rows]),
        hide_index=True, placeholder="—", width="stretch", column_config={
            "baseline": st.column_config.NumberColumn(format="percent"),
            "candidate": st.column_config.NumberColumn(format="percent"),
            "change": st.column_config.NumberColumn(format="percent")})


def rate_tables(result: Comparison) -> None:
    left, right = st.columns(2)
    with left:
        _rates(result.by_label, "label")
    with right:
        _rates(result.by_check, "check")


def _flip(flip: Flip, kind: str) -> None:
    with st.expander(f"{flip.name} — {flip.baseline_status} → {flip.candidate_status}"
                     + (f" · {flip.label}" if flip.label else ""), expanded=kind == "regression"):
        left, right = st.columns(2)
        for column, side, output, call_id, failures in (
                (left, "Baseline", flip.baseline_output, flip.baseline_call_id,
                 flip.baseline_failures),
                (right, "Candidate", flip.candidate_output, flip.candidate_call_id,
                 flip.candidate_failures)):
            with column:
                st.markdown(f"**{side}**")
                show_text(output, RAW, empty="(no output)")
                for failure in failures:
                    st.caption(f"failed: {failure}")
                if call_id:
                    st.page_link(BROWSE.path, label=f"Call {call_id}",
                                 query_params={"call": str(call_id)},
                                 icon=":material/open_in_new:")


def flipped_cases(result: Comparison) -> None:
    for title, flips, kind in (("Regressions", result.regressions, "regression"),
                               ("Fixes", result.fixes, "fix")):
        st.subheader(f"{title} ({len(flips)})")
        if not flips:
            st.caption("None.")
        for flip in flips:
            _flip(flip, kind)
    if result.still_failing:
        with st.expander(f"Still failing ({len(result.still_failing)})"):
            st.dataframe(pd.DataFrame([{"case": f.name, "label": f.label or "",
                                        "candidate failures": "; ".join(f.candidate_failures)}
                                       for f in result.still_failing]),
                         hide_index=True, placeholder="—", width="stretch")
