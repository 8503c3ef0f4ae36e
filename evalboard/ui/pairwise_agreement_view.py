"""On the Agreement page: how consistently reviewers prefer the same side of a pair."""

from __future__ import annotations

import streamlit as st

from evalboard.pairwise.agreement import pairwise_agreement
from evalboard.review.agreement_query import Agreement
from evalboard.ui.store import engine_for, store_url


@st.cache_data(ttl=30, show_spinner=False)
def _agreement(url: str, versions: tuple[str, ...]) -> Agreement:
    return pairwise_agreement(engine_for(url), model_versions=versions)


def _shown(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "—"
    return f"{100 * value:.1f}" if percent else f"{value:.2f}"


def pairwise_agreement_section(versions: tuple[str, ...]) -> None:
    """Cohen's κ per two reviewers, Fleiss' κ and Krippendorff's α on A / B / tie."""
    st.subheader("Pairwise preferences")
    found = _agreement(store_url(), versions)
    if found.calls == 0:
        st.caption("No pair has been answered by two or more reviewers yet (Pairwise page).")
        return
    st.caption(f"{found.calls:,} pairs answered by two or more of {len(found.reviewers)} "
               f"reviewers ({', '.join(found.reviewers)}), on which side is better or a tie "
               "(“both bad” takes no part).")
    st.dataframe([{"pairs": found.calls, "agreement %": _shown(found.percent_agreement, True),
                   "Cohen's κ": _shown(found.cohens_kappa),
                   "Fleiss' κ": _shown(found.fleiss_kappa),
                   "Krippendorff's α": _shown(found.krippendorff_alpha)}],
                 hide_index=True, width="stretch")
    if len(found.pairs) > 1:
        st.dataframe([{"reviewers": " & ".join(p.reviewers), "pairs": p.calls,
                       "agreement %": _shown(p.percent_agreement, True),
                       "Cohen's κ": _shown(p.cohens_kappa)} for p in found.pairs],
                     hide_index=True, width="stretch")
