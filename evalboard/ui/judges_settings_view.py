"""Settings › Judges: create a suggested judge per label, edit its template and backend (each
save is a new version), and test it on one call."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from evalboard.errors import EvalboardError
from evalboard.judges.backends import BackendSpec
from evalboard.judges.judging import JudgeRunner
from evalboard.judges.repository import (
    JudgeDefinition,
    JudgeVersionView,
    create_judge,
    list_judges,
    new_version,
)
from evalboard.judges.running import items_for
from evalboard.judges.suggested import DEFAULT_BACKEND, suggested_judges
from evalboard.judges.templates import FIELDS
from evalboard.store.judge_models import OUTPUT_MODES
from evalboard.ui.store import clear_cached_reads

SERVER, LOCAL = "OpenAI-compatible server", "Local checkpoint"
MODE_NAMES = {"pass_fail": "pass / fail", "score": "score with a threshold"}


def _backend_form(key: str, current: BackendSpec) -> BackendSpec:
    """Widgets for a backend; the spec they describe (validated when the judge is saved)."""
    kind = st.radio("Backend", [SERVER, LOCAL], horizontal=True, key=f"{key}_kind",
                    index=0 if current.kind == "openai" else 1)
    left, right = st.columns(2)
    if kind == SERVER:
        base_url = left.text_input("Base URL", current.base_url or DEFAULT_BACKEND.base_url,
                                   key=f"{key}_url", help="vLLM, llama.cpp, Ollama, ... e.g. "
                                   "http://127.0.0.1:8000/v1")
        model = right.text_input("Model", current.model or DEFAULT_BACKEND.model,
                                 key=f"{key}_model")
        key_env = left.text_input("API key environment variable", current.api_key_env,
                                  key=f"{key}_key_env", placeholder="e.g. JUDGE_API_KEY",
                                  help="The key is read from this variable where evalboard "
                                  "runs; it is never stored. Empty for a local server.")
        spec = BackendSpec(kind="openai", base_url=base_url.strip(), model=model.strip(),
                           api_key_env=key_env.strip())
    else:
        model_dir = left.text_input("Checkpoint directory", current.model_dir,
                                    key=f"{key}_dir", help="A local transformers checkpoint "
                                    "(loaded with local_files_only: nothing is downloaded).")
        spec = BackendSpec(kind="transformers", model_dir=model_dir.strip())
    temperature = right.number_input("Temperature", 0.0, 2.0, float(current.temperature), 0.1,
                                     key=f"{key}_temperature")
    max_tokens = right.number_input("Max tokens", 1, 8192, int(current.max_tokens),
                                    key=f"{key}_max_tokens")
    return BackendSpec(**{**spec.to_dict(), "temperature": float(temperature),
                          "max_tokens": int(max_tokens), "timeout_s": current.timeout_s,
                          "max_retries": current.max_retries, "backoff_s": current.backoff_s})


def _save(action, success: str) -> None:  # type: ignore[no-untyped-def]
    try:
        view = action()
    except EvalboardError as exc:
        st.error(str(exc))
        return
    clear_cached_reads()
    st.toast(success.format(ref=view.ref))
    st.rerun()


def _create_section(engine: Engine) -> None:
    open_ones = [s for s in suggested_judges(engine) if not s.exists]
    if not open_ones:
        st.caption("Every label has a judge.")
        return
    with st.expander("Create a judge from a suggestion", expanded=not list_judges(engine)):
        names = [s.name for s in open_ones]
        chosen = st.selectbox("Suggested judge", names, key="judge_new_name",
                              format_func=lambda n: next(
                                  f"{s.name} ({s.kind or 'verdict'}: {s.description})"
                                  for s in open_ones if s.name == n))
        suggestion = next(s for s in open_ones if s.name == chosen)
        backend = _backend_form("judge_new", DEFAULT_BACKEND)
        if st.button("Create judge", type="primary", key="judge_create"):
            _save(lambda: create_judge(engine, suggestion.name, JudgeDefinition(
                suggestion.definition.template, backend), label=suggestion.label),
                "Created {ref}.")


def _edit_section(engine: Engine, version: JudgeVersionView) -> None:
    key = f"judge_edit_{version.name}"
    definition = version.definition
    st.caption(f"Editing {version.ref} (saving writes version {version.version + 1}). Fields: "
               + ", ".join(f"`{{{name}}}` {doc}" for name, doc in FIELDS.items()))
    template = st.text_area("Template", definition.template, height=260, key=f"{key}_template")
    left, right = st.columns(2)
    mode = left.selectbox("Output", OUTPUT_MODES, index=OUTPUT_MODES.index(definition.output_mode),
                          format_func=MODE_NAMES.get, key=f"{key}_mode")
    threshold = right.number_input("Score threshold (score mode)", 0.0, 1.0,
                                   definition.threshold if definition.threshold is not None
                                   else 0.5, 0.05, key=f"{key}_threshold")
    backend = _backend_form(key, definition.backend)
    edited = JudgeDefinition(template, backend, mode, threshold if mode == "score" else None,
                             definition.examples)
    if st.button("Save as a new version", type="primary", key=f"{key}_save",
                 disabled=edited == definition):
        _save(lambda: new_version(engine, version.name, edited, note="edited in Settings"),
              "Saved {ref}.")


def _test_section(engine: Engine, version: JudgeVersionView) -> None:
    key = f"judge_test_{version.name}"
    call_id = st.number_input("Call id", min_value=1, step=1, value=None, key=f"{key}_call",
                              placeholder="a call id from Browse")
    if st.button("Test on this call", key=f"{key}_run", disabled=call_id is None):
        found = items_for(engine, [int(call_id or 0)])
        if not found:
            st.error(f"There is no call {call_id}.")
            return
        try:
            with st.spinner(f"Asking {version.ref}…"):
                outcome = JudgeRunner(engine, version).judge(found[0])
        except EvalboardError as exc:
            st.error(str(exc))
            return
        if outcome.error:
            st.error(f"{version.ref} gave no verdict: {outcome.error}")
        else:
            st.success(f"{version.ref}: **{outcome.verdict}**"
                       + (f" (score {outcome.score:.2f})" if outcome.score is not None else "")
                       + (" · from the cache" if outcome.cached else "")
                       + (f" — {outcome.reason}" if outcome.reason else ""))
        if outcome.raw_answer is not None:
            with st.expander("The judge's raw answer"):
                st.code(outcome.raw_answer, language=None)


def judges_section(engine: Engine) -> None:
    st.subheader("Judges")
    st.caption("Model-graded checks, one per label. A judge is trusted once its answers agree "
               "with people's (Cohen's κ ≥ 0.6, see Agreement); until then its results are "
               "suggestions only. Use one in a case or a monitor as the check "
               "`judge` with params `{\"judge\": \"<name>\"}`.")
    judges = list_judges(engine)
    if judges:
        st.dataframe(pd.DataFrame([{
            "judge": s.name, "version": s.newest.version, "versions": s.versions,
            "label": s.label or "(verdict)",
            "output": MODE_NAMES[s.newest.definition.output_mode],
            "examples": len(s.newest.definition.examples),
            "backend": s.newest.definition.backend.describe()} for s in judges]),
            hide_index=True, width="stretch")
    _create_section(engine)
    if not judges:
        return
    name = st.selectbox("Judge", [s.name for s in judges], key="judge_selected")
    version = next(s.newest for s in judges if s.name == name)
    edit, test = st.tabs(["Edit", "Test on one call"])
    with edit:
        _edit_section(engine, version)
    with test:
        _test_section(engine, version)
