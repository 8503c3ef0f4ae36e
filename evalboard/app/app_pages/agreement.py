"""Agreement: how consistently reviewers label the same calls, and where they differ."""

import streamlit as st

from evalboard.store.calls_query import list_model_versions
from evalboard.ui.agreement_view import agreement_section, disagreements_section
from evalboard.ui.judge_alignment_view import judge_alignment_section
from evalboard.ui.store import get_engine

engine = get_engine()
st.title("Reviewer agreement")
versions = tuple(st.multiselect("Model versions", [v.name for v in list_model_versions(engine)],
                                placeholder="All versions"))
agreement_section(versions)
disagreements_section(versions)
st.divider()
judge_alignment_section(engine)
