"""Adjudication on the page: the disagreements left to settle, and one call with every
reviewer's answer side by side, its comments, and the form for the final answer."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from evalboard.review.agreement_query import Disagreement
from evalboard.review.annotations import current_judgements
from evalboard.store.calls_query import get_call
from evalboard.teams.adjudication import adjudication_of, pending_adjudication
from evalboard.teams.scores import scores_of
from evalboard.ui.call_comments import audit_view, comment_thread
from evalboard.ui.call_detail import input_and_output
from evalboard.ui.call_labeling import final_answer_controls
from evalboard.ui.navigation import ADJUDICATE, AGREEMENT

CALL_PARAM, QUEUE_PARAM = "call", "queue"


def adjudicate_link(call_id: int, queue_id: int | None = None) -> str:
    """The page-relative URL that opens one call for adjudication."""
    return f"/{ADJUDICATE.name}?{CALL_PARAM}={call_id}" + (
        f"&{QUEUE_PARAM}={queue_id}" if queue_id is not None else "")


def _in_queue(queue_id: int | None) -> dict[str, str]:
    """The query parameter that keeps a page on one queue's disagreements."""
    return {QUEUE_PARAM: str(queue_id)} if queue_id is not None else {}


def _row(found: Disagreement, queue_id: int | None) -> dict[str, object]:
    return {"call": adjudicate_link(found.call_id, queue_id),
            "model version": found.model_version,
            "verdicts differ": found.verdict_differs,
            "labels that differ": ", ".join(found.differing_labels),
            "answers": " | ".join(f"{j.reviewer}: {j.verdict or '—'}"
                                  + (f" ({', '.join(j.labels)})" if j.labels else "")
                                  for j in found.judgements)}


def pending_list(engine: Engine, queue_id: int | None) -> None:
    """Disagreements nobody adjudicated yet (of one queue when given), newest call first."""
    pending = pending_adjudication(engine, queue_id=queue_id)
    if not pending:
        st.success("Nothing to adjudicate: every call with several answers agrees, or has its "
                   "final answer.", icon=":material/check_circle:")
        st.page_link(AGREEMENT.path, label="Agreement between reviewers",
                     icon=":material/groups:")
        return
    st.caption(f"{len(pending)} call{'s' if len(pending) > 1 else ''} where reviewers disagree "
               "and nobody has recorded the final answer. Open one to settle it.")
    first = pending[0].call_id
    st.page_link(ADJUDICATE.path, label=f"Start with call {first}", icon=":material/gavel:",
                 query_params={CALL_PARAM: str(first), **_in_queue(queue_id)})
    st.dataframe(pd.DataFrame([_row(found, queue_id) for found in pending]), hide_index=True,
                 width="stretch", column_config={"call": st.column_config.LinkColumn(
                     "call", display_text=r"\?call=(\d+)", help="Adjudicate this call")})


def _answers_side_by_side(engine: Engine, call_id: int) -> None:
    answers = sorted(current_judgements(engine, [call_id]).get(call_id, []),
                     key=lambda view: view.reviewer)
    if not answers:
        st.caption("No reviewer has answered this call.")
        return
    scored = scores_of(engine, [view.id for view in answers])
    for column, view in zip(st.columns(len(answers)), answers, strict=True):
        with column.container(border=True):
            st.markdown(f"**{view.reviewer}**")
            st.caption(f"{view.created_at:%Y-%m-%d %H:%M} UTC")
            st.markdown(f"Verdict: **{(view.verdict or 'none').title()}**")
            st.markdown("Labels: " + (", ".join(view.labels) or "none"))
            for name, value in scored.get(view.id, {}).items():
                st.markdown(f"{name}: **{value}**")
            if view.note:
                st.caption("Note")
                st.text(view.note)
            if view.corrected_output:
                st.caption("Corrected output")
                st.text(view.corrected_output)


def adjudicate_call(engine: Engine, call_id: int, queue_id: int | None) -> None:
    """One call: the answers side by side, the final answer form, comments and the audit."""
    call = get_call(engine, call_id)
    if call is None:
        st.warning(f"Call {call_id} is not in this store.")
        return
    st.subheader(f"Call {call_id} · {call.model_version.name}")
    final = adjudication_of(engine, call_id)
    if final is not None:
        st.info(f"Final answer by {final.reviewer} on {final.created_at:%Y-%m-%d %H:%M} UTC: "
                f"{(final.verdict or 'no verdict').title()}"
                + (f" · {', '.join(final.labels)}" if final.labels else ""),
                icon=":material/gavel:")
    input_and_output(call, key="adjudicate_view")
    st.markdown("**Reviewers' answers**")
    _answers_side_by_side(engine, call_id)
    final_answer_controls(engine, call_id)
    comment_thread(engine, call_id)
    audit_view(engine, call_id)
    following = [d.call_id for d in pending_adjudication(engine, queue_id=queue_id, limit=2)
                 if d.call_id != call_id]
    nav = st.container(horizontal=True)
    if following:
        nav.page_link(ADJUDICATE.path, label="Next disagreement", icon=":material/skip_next:",
                      query_params={CALL_PARAM: str(following[0]), **_in_queue(queue_id)})
    nav.page_link(ADJUDICATE.path, label="All disagreements", icon=":material/list:",
                  query_params=_in_queue(queue_id))
