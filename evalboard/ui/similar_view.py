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
from evalboard.similarity.similar import most_similar
from evalboard.store.calls_query import get_call
from evalboard.ui.auth_gate import may
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


def similar_calls(engine: Engine, call_id: int) -> None:
    """The k nearest calls by output embedding; tick some and apply this call's labels."""
    st.markdown("**Similar calls**")
    if not st.toggle("Find similar calls", key=f"similar_{call_id}",
                     help="Compares MiniLM embeddings of outputs (computed on demand)."):
        return
    try:
        with st.spinner("Finding similar outputs…"):
            neighbours = most_similar(engine, call_id, k=K)
    except EmbedderUnavailableError as exc:
        st.warning(f"Similarity is unavailable: {exc}")
        return
    if not neighbours:
        st.caption("No similar calls (the output is empty, or nothing else is embedded yet: "
                   "run `evalboard embed`).")
        return
    edited = st.data_editor(_neighbours_frame(engine, neighbours), hide_index=True,
                            width="stretch", key=f"similar_table_{call_id}",
                            disabled=["call", "similarity", "model version", "output", "labels"],
                            column_config={"apply": st.column_config.CheckboxColumn()})
    chosen = [int(c) for c in edited.loc[edited["apply"], "call"]]
    reviewer = current_reviewer()
    if not may("review"):
        return
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
