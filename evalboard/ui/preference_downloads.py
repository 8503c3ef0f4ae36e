"""Preference data as a download: TRL, OpenAI DPO or KTO files from review work, built when
asked (the same export as `evalboard review export-preferences`)."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from evalboard.exchange.preferences import (
    FILE_TYPES,
    FORMATS,
    KTO_SOURCES,
    PAIR_SOURCES,
    PreferenceExport,
    PreferenceExportError,
    preference_file_bytes,
)
from evalboard.ui.store import engine_for, store_url

SOURCE_TITLES = {"corrections": "Corrections (corrected output over the model's)",
                 "pairwise": "Pairwise answers (the preferred output)",
                 "runs": "Eval runs (an output that passed over one that failed)",
                 "verdicts": "Single verdicts (pass: desirable, fail: not)"}
MIME = {"jsonl": "application/jsonl", "parquet": "application/vnd.apache.parquet"}


@dataclass(frozen=True)
class _Built:
    """Files built for download (kept in the session until built again)."""

    files: dict[str, bytes]
    line: str
    file_type: str
    fmt: str


def preference_downloads(key: str = "prefs") -> None:
    """The export form and, once built, a download per split. `key` keeps two copies of the
    form (e.g. on Review and on Pairwise) apart."""
    st.markdown("**Preference data** for DPO, ORPO or KTO: TRL's `prompt`/`chosen`/`rejected`, "
                "OpenAI's DPO format, or KTO's unpaired `prompt`/`completion`/`label`. Ties and "
                "“both bad” answers are left out, duplicates written once.")
    cols = st.columns(3)
    fmt = cols[0].selectbox("Format", list(FORMATS), format_func=FORMATS.get, key=f"{key}_fmt")
    kinds = [t for t in FILE_TYPES if fmt != "openai" or t == "jsonl"]
    file_type = cols[1].selectbox("File", kinds, key=f"{key}_file_type")
    share = cols[2].number_input("Test share (by prompt)", 0.0, 0.9, 0.0, 0.05,
                                 key=f"{key}_test_share")
    allowed = KTO_SOURCES if fmt == "kto" else PAIR_SOURCES
    sources = st.multiselect("From", list(allowed), default=["verdicts"] if fmt == "kto"
                             else list(PAIR_SOURCES), format_func=SOURCE_TITLES.get,
                             key=f"{key}_sources_{fmt}")
    spec = PreferenceExport(fmt=fmt, sources=tuple(sources), test_share=float(share))
    if st.button("Build preference files", icon=":material/build:", key=f"{key}_build",
                 disabled=not sources):
        try:
            files, summary = preference_file_bytes(engine_for(store_url()), spec, file_type)
        except PreferenceExportError as exc:
            st.error(str(exc))
            st.session_state.pop(f"{key}_built", None)
        else:
            st.session_state[f"{key}_built"] = _Built(files, summary.line(), file_type, fmt)
    built: _Built | None = st.session_state.get(f"{key}_built")
    if built is not None:
        st.caption(built.line)
        for split, data in built.files.items():
            name = f"evalboard-{built.fmt}-{split}.{built.file_type}"
            st.download_button(f"Download {split} ({name})", data, file_name=name,
                               mime=MIME[built.file_type], icon=":material/download:",
                               key=f"{key}_download_{split}")
    st.caption("From the command line: `evalboard review export-preferences OUT.jsonl "
               "--format trl|openai|kto --source pairwise --test-share 0.1`.")
