"""Start or resume a pairwise session: two versions (with how many inputs they share), how many
pairs, picked how, from which sources."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Engine

from evalboard.pairwise.pairing import STRATEGIES, PairingError, PairSpec, pairing_report
from evalboard.pairwise.sessions import (
    list_pairwise_sessions,
    resume_position,
    start_pairwise_session,
)
from evalboard.store.calls_query import list_model_versions
from evalboard.store.models import SOURCES
from evalboard.ui.store import engine_for, store_url

PAIRWISE_SESSION_PARAM = "pairwise"


def open_pairwise_session(session_id: int) -> None:
    st.query_params.pop("new", None)
    st.query_params[PAIRWISE_SESSION_PARAM] = str(session_id)


def new_session_requested() -> None:
    st.query_params.pop(PAIRWISE_SESSION_PARAM, None)
    st.query_params["new"] = "1"


@st.cache_data(ttl=60, show_spinner="Matching inputs across versions…")
def _report(url: str, sources: tuple[str, ...]) -> dict[tuple[str, str], int]:
    return {(p.version_a, p.version_b): p.shared_inputs
            for p in pairing_report(engine_for(url), sources)}


def _shared(report: dict[tuple[str, str], int], a: str, b: str) -> int:
    return report.get((a, b), report.get((b, a), 0))


def start_form(engine: Engine, reviewer: str) -> None:
    """The pairing report, then the session settings; start on submit."""
    st.subheader("Start a pairwise session")
    versions = [v.name for v in list_model_versions(engine)]
    sources = tuple(st.multiselect("Sources", list(SOURCES), placeholder="All sources",
                                   key="pairwise_sources",
                                   help="Pair production logs, imports or eval runs."))
    report = _report(store_url(), sources)
    if not report:
        st.info("No two model versions answered the same input yet (inputs match when they "
                "are equal after case and spacing are ignored). Log or run the same prompts "
                "with two versions to compare them here.", icon=":material/compare_arrows:")
        return
    best = max(report, key=lambda pair: (report[pair], pair))
    st.dataframe([{"version": a, "other version": b, "shared inputs": n}
                  for (a, b), n in sorted(report.items(), key=lambda kv: -kv[1])],
                 hide_index=True, width="stretch", height=min(36 * (len(report) + 1) + 2, 250))
    left, right = st.columns(2)
    version_a = left.selectbox("Compare version", versions, index=versions.index(best[0]),
                               key="pairwise_version_a")
    others = [v for v in versions if v != version_a]
    default_b = best[1] if best[1] in others else (best[0] if best[0] in others else others[0])
    version_b = right.selectbox("Against version", others, index=others.index(default_b),
                                key="pairwise_version_b")
    shared = _shared(report, version_a, version_b)
    st.caption(f"{version_a} and {version_b} share **{shared:,}** inputs. Sides are shuffled "
               "and the versions stay hidden until you answer.")
    with st.form("start_pairwise"):
        size = st.number_input("How many pairs", min_value=1, max_value=1000,
                               value=min(20, max(shared, 1)), step=5)
        strategy = st.radio("Pick pairs", list(STRATEGIES), format_func=STRATEGIES.get)
        submitted = st.form_submit_button("Start comparing", type="primary",
                                          icon=":material/play_arrow:", disabled=shared == 0)
    if not submitted:
        return
    try:
        session_id = start_pairwise_session(engine, reviewer, PairSpec(
            version_a, version_b, int(size), str(strategy), sources))
    except PairingError as exc:
        st.warning(str(exc))
        return
    open_pairwise_session(session_id)
    st.rerun()


def recent_sessions(engine: Engine, reviewer: str) -> None:
    """The reviewer's recent pairwise sessions, each with a button that resumes it."""
    sessions = list_pairwise_sessions(engine, reviewer, limit=10)
    if not sessions:
        return
    st.subheader("Your recent pairwise sessions")
    for view in sessions:
        cols = st.columns([4, 2, 1], vertical_alignment="center")
        cols[0].markdown(f"**{view.name}**  \n{view.created_at:%Y-%m-%d %H:%M} UTC")
        cols[1].progress(view.done / view.size, text=f"{view.done} of {view.size}"
                         + (" · finished" if view.finished else ""))
        if cols[2].button("Open", key=f"open_pairwise_{view.id}"):
            resume_position(engine, view.id)  # at the first unanswered pair
            open_pairwise_session(view.id)
            st.rerun()
