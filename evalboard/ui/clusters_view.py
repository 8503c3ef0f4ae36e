"""Failure clusters: the recurring ways calls fail a monitor or a failure label, which a new
model version fixed and which it introduced; review a cluster or promote its representatives."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from evalboard.errors import EvalboardError
from evalboard.monitors.failure_actions import (
    cluster_title,
    promote_representatives,
    review_cluster,
)
from evalboard.similarity.clusters import (
    MAX_CALLS,
    ClusterReport,
    FailureCluster,
    FailureGroup,
    cluster_failures,
    failure_groups,
)
from evalboard.similarity.embeddings import EmbedderUnavailableError
from evalboard.store.calls_query import get_call
from evalboard.ui.auth_gate import may
from evalboard.ui.navigation import REVIEW
from evalboard.ui.reviewer import current_reviewer
from evalboard.ui.store import clear_cached_reads, engine_for, store_url
from evalboard.ui.text_view import RAW, show_text

AUTO = "automatic"


@st.cache_data(ttl=60, show_spinner=False)
def _groups(url: str) -> list[FailureGroup]:
    return failure_groups(engine_for(url))


@st.cache_data(ttl=300, show_spinner=False)
def _report(url: str, group: FailureGroup, k: int | None) -> ClusterReport:
    return cluster_failures(engine_for(url), group, k=k)


def _changes(report: ClusterReport) -> None:
    """Between two chosen versions: the clusters fixed (gone) and introduced (new)."""
    if len(report.versions) < 2:
        return
    cols = st.columns(2)
    base = cols[0].selectbox("Compare", report.versions, index=len(report.versions) - 2,
                             key="clusters_base")
    candidate = cols[1].selectbox("with", report.versions, index=len(report.versions) - 1,
                                  key="clusters_candidate")
    fixed = report.fixed(base, candidate)
    introduced = report.introduced(base, candidate)
    left, right = st.columns(2)
    left.markdown(f"**Fixed in {candidate}** (no calls left)")
    for cluster in fixed or ():
        left.caption(f"cluster {cluster.number}: {', '.join(cluster.words[:5])} "
                     f"({cluster.sizes[base]} calls on {base})")
    if not fixed:
        left.caption("None.")
    right.markdown(f"**Introduced in {candidate}** (none on {base})")
    for cluster in introduced or ():
        right.caption(f"cluster {cluster.number}: {', '.join(cluster.words[:5])} "
                      f"({cluster.sizes[candidate]} calls)")
    if not introduced:
        right.caption("None.")


def _actions(engine: Engine, report: ClusterReport, cluster: FailureCluster) -> None:
    reviewer = current_reviewer()
    key = f"cluster_{report.group.kind}_{report.group.name}_{cluster.number}"
    cols = st.columns([1, 1, 1])
    if may("review") and cols[0].button(
            "Review this cluster", key=f"{key}_review", disabled=not reviewer,
            help=None if reviewer else "Enter your name under Reviewer in the sidebar"):
        try:
            st.session_state[f"{key}_session"] = review_cluster(engine, reviewer, report,
                                                                cluster)
        except EvalboardError as exc:
            st.error(str(exc))
    if may("edit_cases"):
        suite = cols[1].text_input("Suite", value="regressions", key=f"{key}_suite",
                                   label_visibility="collapsed")
        if cols[2].button("Promote representatives to test cases", key=f"{key}_promote"):
            try:
                promoted = promote_representatives(engine, report, cluster, suite=suite,
                                                   author=reviewer or None)
            except EvalboardError as exc:
                st.error(str(exc))
            else:
                clear_cached_reads()
                st.success(f"{len(promoted.case_ids)} test cases added to “{suite}”.")
                for call_id, reason in promoted.skipped:
                    st.warning(f"Call {call_id} left out: {reason}")
    session_id = st.session_state.get(f"{key}_session")
    if session_id is not None:
        st.page_link(REVIEW.path, label=f"Open the review session (#{session_id})",
                     query_params={"session": str(session_id)}, icon=":material/rate_review:")


def _cluster(engine: Engine, report: ClusterReport, cluster: FailureCluster) -> None:
    with st.container(border=True):
        st.markdown(f"**{cluster_title(report, cluster)}**: {cluster.size} calls")
        st.dataframe(pd.DataFrame([cluster.sizes], index=["calls"]), width="stretch")
        st.caption("Closest to the centre of the cluster:")
        for call_id in cluster.representatives:
            call = get_call(engine, call_id)
            if call is None:
                st.caption(f"Call {call_id} (removed since)")
                continue
            st.markdown(f"[Call {call_id}](/browse?call={call_id}) · {call.model_version.name}")
            show_text(call.output, RAW)
        _actions(engine, report, cluster)


def clusters_section(engine: Engine) -> None:
    """Pick a failure label or monitor; show its clusters."""
    st.subheader("Failure clusters")
    st.caption(f"The newest {MAX_CALLS:,} calls that failed a monitor, or that reviewers "
               "labelled with a failure mode, grouped by what they say (sentence embeddings, "
               "computed here for calls that have none). Sizes per model version show which "
               "patterns a version fixed and which it brought.")
    groups = _groups(store_url())
    if not groups:
        st.info("No failures yet: label calls in Review, or add a monitor.")
        return
    cols = st.columns([3, 1])
    group = cols[0].selectbox("Failures of", groups, format_func=lambda g: g.title,
                              key="clusters_group")
    k = cols[1].selectbox("Clusters", [AUTO, *range(1, 9)], key="clusters_k")
    if not st.toggle("Find clusters", key="clusters_on",
                     help="Embeds the calls without embeddings first: may take a minute."):
        return
    try:
        with st.spinner("Clustering…"):
            report = _report(store_url(), group, None if k == AUTO else int(k))
    except (EmbedderUnavailableError, EvalboardError) as exc:
        st.error(str(exc))
        return
    if not report.clusters:
        st.caption("No calls in this group.")
        return
    _changes(report)
    for cluster in report.clusters:
        _cluster(engine, report, cluster)
