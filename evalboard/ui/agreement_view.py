"""Agreement between reviewers and the disagreements to settle."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from evalboard.review.agreement_query import (
    Agreement,
    Disagreement,
    agreement_report,
    disagreements,
)
from evalboard.teams.adjudication import adjudicated_calls
from evalboard.ui.adjudication_view import adjudicate_link
from evalboard.ui.auth_gate import may
from evalboard.ui.pairwise_agreement_view import pairwise_agreement_section
from evalboard.ui.store import engine_for, store_url


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _row(agreement: Agreement) -> dict[str, object]:
    return {
        "subject": agreement.subject,
        "kind": agreement.kind,
        "calls": agreement.calls,
        "reviewers": len(agreement.reviewers),
        "agreement %": None if agreement.percent_agreement is None
        else round(100 * agreement.percent_agreement, 1),
        "Cohen's κ": _fmt(agreement.cohens_kappa),
        "Fleiss' κ": _fmt(agreement.fleiss_kappa),
        "Krippendorff's α": _fmt(agreement.krippendorff_alpha),
    }


@st.cache_data(ttl=30, show_spinner=False)
def _report(url: str, versions: tuple[str, ...]):  # type: ignore[no-untyped-def]
    return agreement_report(engine_for(url), model_versions=versions)


def agreement_section(versions: tuple[str, ...]) -> None:
    report = _report(store_url(), versions)
    if report.calls == 0:
        st.info("No call has been judged by two or more reviewers yet. Start a session with "
                "the same calls for a colleague (strategy “As displayed”) to measure agreement.")
        return
    st.caption(f"{report.calls:,} calls judged by two or more of {len(report.reviewers)} "
               f"reviewers ({', '.join(report.reviewers)}). κ and α: 1 is perfect agreement, "
               "0 is chance; below 0.4 the label's definition probably needs work.")
    frame = pd.DataFrame([_row(report.verdict), *(_row(a) for a in report.labels)])
    st.dataframe(frame, hide_index=True, width="stretch")
    pairs = [(a.subject, p) for a in (report.verdict, *report.labels) for p in a.pairs]
    if pairs:
        with st.expander("Per pair of reviewers"):
            st.dataframe(pd.DataFrame([
                {"subject": subject, "reviewers": " & ".join(p.reviewers), "calls": p.calls,
                 "agreement %": None if p.percent_agreement is None
                 else round(100 * p.percent_agreement, 1), "Cohen's κ": _fmt(p.cohens_kappa)}
                for subject, p in pairs]), hide_index=True, width="stretch")


@st.cache_data(ttl=30, show_spinner=False)
def _disagreements(url: str, versions: tuple[str, ...]) -> list[Disagreement]:
    return disagreements(engine_for(url), limit=100, model_versions=versions)


def disagreements_section(versions: tuple[str, ...]) -> None:
    pairwise_agreement_section(versions)
    st.subheader("Disagreements to settle")
    found = _disagreements(store_url(), versions)
    if not found:
        st.caption("None: every call judged by several reviewers got the same answer.")
        return
    settled = adjudicated_calls(engine_for(store_url()), [d.call_id for d in found])
    adjudicator = may("adjudicate")
    st.dataframe(pd.DataFrame([
        {"call": adjudicate_link(d.call_id) if adjudicator else f"/browse?call={d.call_id}",
         "final answer": "recorded" if d.call_id in settled else "to adjudicate",
         "model version": d.model_version,
         "verdicts differ": d.verdict_differs, "labels that differ": ", ".join(d.differing_labels),
         **{j.reviewer: f"{j.verdict or '—'}: {', '.join(j.labels) or 'no labels'}"
            for j in d.judgements}}
        for d in found]), hide_index=True, width="stretch",
        column_config={"call": st.column_config.LinkColumn(
            "call", display_text=r"\?call=(\d+)",
            help="Adjudicate the call" if adjudicator else "Open the call in Browse")})
    st.caption("Agreement above is computed on the reviewers' own answers, before any "
               "adjudication. "
               + ("Open a call to record its final answer, which metrics, exports and promotion "
                  "use." if adjudicator else "Someone with the right to adjudicate records the "
                  "final answer; or review these calls together with the strategy "
                  "“Disagreements first”."))
