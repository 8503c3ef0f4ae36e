"""Similar calls on a call's detail, and applying this call's labels to chosen neighbours."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from evalboard.review.annotations import (
    AnnotationError,
    Judgement,
    bulk_annotate,
    current_judgement,
    current_judgements,
)
from evalboard.similarity.embeddings import EmbedderUnavailableError
from evalboard.similarity.similar import (
    ON_DEMAND_NEIGHBOURS,
    embed_on_demand,
    most_similar,
    readiness,
)
from evalboard.store.calls_query import get_call
from evalboard.ui.auth_gate import may
from evalboard.ui.queues_view import add_to_queue
from evalboard.ui.reviewer import current_reviewer

K = 10


def _neighbours_frame(engine: Engine, neighbours: list[tuple[int, float]]) -> pd.DataFrame:
    judged = current_judgements(engine, [call_id for call_id, _ in neighbours])
    rows = []
    for call_id, score in neighbours:
        call = get_call(engine, call_id)
        views = judged.get(call_id, [])
        rows.append({
            "apply": False, "call": call_id, "similarity": round(score, 3),
            "model version": call.model_version.name if call else "",
            "output": (call.output or "")[:160] if call else "",
            "labels": "; ".join(f"{v.reviewer}: {', '.join(v.labels) or v.verdict or '—'}"
                                for v in views)})
    return pd.DataFrame(rows)


def _compute(engine: Engine, call_id: int, others: int) -> bool:
    """The button that embeds this call (and, when few are embedded, its neighbours)."""
    if others >= ON_DEMAND_NEIGHBOURS:
        st.caption(f"This call has no embedding yet; {others:,} or more other calls have one.")
        what = "Embeds this call (a second) and compares it with them."
    else:
        st.caption("This call has no embedding yet, and "
                   + ("no other call has one." if others == 0 else f"only {others} others do."))
        what = (f"Embeds this call and the newest {ON_DEMAND_NEIGHBOURS - others} calls of its "
                "model version that have none (a few seconds), then compares them. "
                "`evalboard embed` embeds every call.")
    if not st.button("Compute similar calls", key=f"similar_compute_{call_id}",
                     icon=":material/hub:", help=what):
        st.caption(what)
        return False
    try:
        with st.spinner("Embedding with MiniLM…"):
            added = embed_on_demand(engine, call_id)
    except EmbedderUnavailableError as exc:
        st.warning(f"Similarity is unavailable: {exc}")
        return False
    st.caption(f"Embedded this call{f' and {added} others' if added else ''}.")
    st.session_state[f"similar_{call_id}"] = True  # the list stays open from now on
    return True


def similar_calls(engine: Engine, call_id: int) -> None:
    """The k nearest calls by output embedding; tick some and apply this call's labels. A call
    without an embedding gets a button that computes what is needed."""
    st.markdown("**Similar calls**")
    state = readiness(engine, call_id)
    if not state.embedded:
        if not _compute(engine, call_id, state.others):
            return
    elif not st.toggle("Find similar calls", key=f"similar_{call_id}",
                       help="Compares MiniLM embeddings of outputs with the other embedded "
                       "calls (`evalboard embed` embeds every call)."):
        return
    try:
        with st.spinner("Finding similar outputs…"):
            neighbours = most_similar(engine, call_id, k=K)
    except EmbedderUnavailableError as exc:
        st.warning(f"Similarity is unavailable: {exc}")
        return
    if not neighbours:
        st.caption("No similar calls: this call's output is empty, or no other call has an "
                   "output to compare.")
        return
    edited = st.data_editor(_neighbours_frame(engine, neighbours), hide_index=True,
                            width="stretch", key=f"similar_table_{call_id}",
                            disabled=["call", "similarity", "model version", "output", "labels"],
                            column_config={"apply": st.column_config.CheckboxColumn()})
    chosen = [int(c) for c in edited.loc[edited["apply"], "call"]]
    reviewer = current_reviewer()
    if not may("review"):
        return
    like_this = [call_id, *(neighbour for neighbour, _ in neighbours)]
    add_to_queue(engine, len(like_this), lambda: like_this, key=f"similar_queue_{call_id}",
                 what=f"this call and its {len(neighbours)} most similar")
    mine = current_judgement(engine, call_id, reviewer) if reviewer else None
    if mine is None:
        st.caption("Judge this call first (Review, or bulk in Browse); then its labels can be "
                   "applied to the neighbours you tick.")
        return
    summary = f"{mine.verdict or 'no verdict'}: {', '.join(mine.labels) or 'no labels'}"
    if st.button(f"Apply “{summary}” to {len(chosen)} ticked calls", disabled=not chosen,
                 key=f"apply_similar_{call_id}"):
        try:
            bulk_annotate(engine, chosen, reviewer,
                          Judgement(mine.verdict, mine.labels, note=f"as call {call_id}"))
        except AnnotationError as exc:
            st.warning(f"Not applied: {exc}.")
            return
        st.success(f"Applied to {len(chosen)} calls (one undoable action).")
