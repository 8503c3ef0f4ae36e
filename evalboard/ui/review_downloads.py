"""Downloads of review work: fine-tuning pairs and annotations, built only when clicked."""

from __future__ import annotations

import io

import streamlit as st

from evalboard.review.exports import (
    iter_annotation_rows,
    iter_sft_examples,
    score_names,
    write_annotations_csv,
    write_sft_jsonl,
)
from evalboard.ui.preference_downloads import preference_downloads
from evalboard.ui.store import engine_for, store_url


def _sft(url: str, include_passing: bool) -> str:
    buffer = io.StringIO()
    write_sft_jsonl(iter_sft_examples(engine_for(url), include_passing=include_passing), buffer)
    return buffer.getvalue()


def _annotations(url: str, current_only: bool) -> str:
    buffer = io.StringIO()
    engine = engine_for(url)
    write_annotations_csv(iter_annotation_rows(engine, current_only=current_only), buffer,
                          score_names(engine))
    return buffer.getvalue()


def review_downloads() -> None:
    url = store_url()
    with st.expander("Export reviews", icon=":material/download:"):
        st.markdown("**Fine-tuning pairs**: every corrected output as a chat example "
                    "(`messages` with the correction as the assistant turn), JSONL.")
        include_passing = st.checkbox("Also include calls everyone passed, with the model's "
                                      "own output as the answer")
        st.download_button("Download SFT JSONL", lambda: _sft(url, include_passing),
                           file_name="evalboard-sft.jsonl", mime="application/jsonl",
                           icon=":material/download:")
        st.markdown("**Annotations**: one row per current judgement, or the whole append-only "
                    "history (skips and undos included), CSV; a `score:<name>` column per score "
                    "configuration.")
        history = st.checkbox("Whole history")
        st.download_button("Download annotations CSV", lambda: _annotations(url, not history),
                           file_name="evalboard-annotations.csv", mime="text/csv",
                           icon=":material/download:")
        st.caption("From the command line: `evalboard review export-sft OUT.jsonl` and "
                   "`evalboard review export-annotations OUT.csv`.")
        preference_downloads()
