"""Bulk labelling from Browse: the selected rows, or every call of the filter, at once."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Engine

from evalboard.review.annotations import AnnotationError, Judgement, bulk_annotate, undo_batch
from evalboard.review.labels import LabelError, list_labels
from evalboard.store.calls_query import CallFilter, matching_ids
from evalboard.store.review_models import VERDICTS
from evalboard.ui.reviewer import current_reviewer
from evalboard.ui.store import clear_cached_reads

BULK_TOGGLE = "bulk"
_LAST_BATCH = "bulk_last_applied"


def bulk_mode() -> bool:
    return st.toggle("Bulk label", key=BULK_TOGGLE, bind="query-params",
                     help="Select several rows (or take the whole filter) and give them all "
                     "the same verdict and labels in one undoable step.")


def _undo(engine: Engine, reviewer: str, batch_id: str) -> None:
    result = undo_batch(engine, reviewer, batch_id)
    st.session_state.pop(_LAST_BATCH, None)
    clear_cached_reads()
    st.toast(f"Undone: {len(result.call_ids)} calls are back as they were.")


def bulk_panel(engine: Engine, f: CallFilter, selected_ids: list[int], total: int | None
               ) -> None:
    """Verdict and labels for the selection or the whole filter, with confirmation and undo
    (`total` None: the filter's calls are not counted exactly, so only the selection)."""
    reviewer = current_reviewer()
    with st.container(border=True):
        last = st.session_state.get(_LAST_BATCH)
        if last:
            batch_id, message = last
            note, undo = st.columns([4, 1], vertical_alignment="center")
            note.success(message)
            undo.button("Undo", icon=":material/undo:", on_click=_undo,
                        args=(engine, reviewer, batch_id), width="stretch")
        if not reviewer:
            st.info("Enter your name under **Reviewer** in the sidebar to label calls.")
            return
        if total is None:
            st.caption("To label every call matching the filter, count them all first "
                       "(the sidebar's button).")
        target = st.radio(
            "Apply to", ["selected"] if total is None else ["selected", "filter"],
            horizontal=True,
            format_func=lambda t: f"the {len(selected_ids)} selected rows" if t == "selected"
            else f"all {total:,} calls matching the filter",
        )
        cols = st.columns([1, 3])
        verdict = cols[0].selectbox("Verdict to give", [None, *VERDICTS],
                                    format_func=lambda v: "— none —" if v is None else v)
        labels = cols[1].multiselect("Labels to give",
                                     [label.name for label in list_labels(engine)])
        count = len(selected_ids) if target == "selected" or total is None else total
        confirmed = True
        if target == "filter":
            confirmed = st.checkbox(f"Yes, label all {total:,} calls as {reviewer}")
        if st.button(f"Apply to {count:,} calls", type="primary",
                     disabled=count == 0 or not confirmed):
            ids = selected_ids if target == "selected" else matching_ids(engine, f)
            if target == "filter" and len(ids) != total:
                clear_cached_reads()
                st.warning(f"The filter now matches {len(ids):,} calls, not the {total:,} you "
                           "confirmed (calls were logged meanwhile). Nothing was labelled: check "
                           "the new count and confirm again.")
                return
            try:
                batch_id = bulk_annotate(engine, ids, reviewer, Judgement(verdict, tuple(labels)))
            except (AnnotationError, LabelError) as exc:
                st.warning(f"Nothing labelled: {exc}.")
                return
            clear_cached_reads()
            st.session_state[_LAST_BATCH] = (batch_id, (
                f"Labelled {len(ids):,} calls ({verdict or 'no verdict'}"
                f"{': ' + ', '.join(labels) if labels else ''})."))
            st.rerun()
