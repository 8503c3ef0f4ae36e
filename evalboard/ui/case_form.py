"""The case editor: used to promote a call and to edit a case. Saves through the library."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from evalboard.cases.draft import CaseDraft, CaseError
from evalboard.cases.editing import (
    REFERENCE_SEPARATOR,
    input_as_text,
    parse_entities,
    parse_input,
    parse_references,
    parse_tags,
    rows_from_specs,
    specs_from_rows,
)
from evalboard.cases.evaluate import evaluate
from evalboard.cases.repository import list_suites
from evalboard.checks import CaseOutcome, CheckError
from evalboard.checks.base import catalogue
from evalboard.review.labels import list_labels
from evalboard.store.calls_query import get_call
from evalboard.store.case_models import CASE_MODES, SEVERITIES

NEW_SUITE = "New suite…"


def _suite_picker(engine: Engine, key: str, current: str | None) -> str:
    suites = [name for name, _ in list_suites(engine)]
    options = [*suites, NEW_SUITE]
    index = options.index(current) if current in options else (0 if suites else len(suites))
    choice = st.selectbox("Suite", options, index=index, key=f"{key}_suite")
    if choice == NEW_SUITE:
        return st.text_input("New suite name", key=f"{key}_new_suite",
                             placeholder="e.g. support-bot-regressions") or ""
    return str(choice)


def _checks_table(draft: CaseDraft, key: str) -> pd.DataFrame:
    checks = catalogue()
    st.markdown("**Checks**")
    st.caption("One row per check. Params are JSON, e.g. `{\"values\": [\"tom hanks\"]}`. "
               "Negate turns “contains” into “must not contain”.")
    return st.data_editor(
        pd.DataFrame(rows_from_specs(draft.checks),
                     columns=["type", "params", "negate", "weight", "threshold"]),
        key=f"{key}_checks", num_rows="dynamic", width="stretch", hide_index=True,
        column_config={
            "type": st.column_config.SelectboxColumn(options=sorted(checks), required=True,
                                                     width="medium"),
            "params": st.column_config.TextColumn(width="large"),
            "negate": st.column_config.CheckboxColumn(default=False),
            "weight": st.column_config.NumberColumn(min_value=0.0, default=1.0, format="%.1f"),
            "threshold": st.column_config.NumberColumn(
                help="Score-based checks pass at or above it (levenshtein and latency: at or "
                "below)."),
        },
    )


def draft_from_form(engine: Engine, draft: CaseDraft, key: str) -> tuple[str, CaseDraft]:
    """Draw the form for `draft`; return (suite, the edited draft) — parse errors raise
    CaseError naming the field."""
    labels = [label.name for label in list_labels(engine)]
    top = st.columns([2, 3])
    with top[0]:
        suite = _suite_picker(engine, key, st.session_state.get(f"{key}_suite_default"))
    name = top[1].text_input("Name", value=draft.name, key=f"{key}_name")
    row = st.columns(4)
    mode = row[0].radio("Mode", CASE_MODES, index=CASE_MODES.index(draft.mode),
                        key=f"{key}_mode", horizontal=True,
                        help="success: behaviour that must hold; failure: a failure mode that "
                        "must not come back.")
    label_options = [None, *labels]
    label = row[1].selectbox("Guards label", label_options,
                             index=label_options.index(draft.label)
                             if draft.label in label_options else 0,
                             format_func=lambda v: "— none —" if v is None else v,
                             key=f"{key}_label")
    severity = row[2].selectbox("Severity", SEVERITIES, index=SEVERITIES.index(draft.severity),
                                key=f"{key}_severity")
    threshold = row[3].number_input("Case threshold", min_value=0.0, max_value=1.0,
                                    value=draft.threshold, step=0.05, key=f"{key}_threshold",
                                    help="Empty: every check must pass. Else the weighted score "
                                    "of the checks must reach it.")
    is_chat = not isinstance(draft.input, str)
    input_text = st.text_area("Input" + (" (chat messages as JSON)" if is_chat else ""),
                              value=input_as_text(draft.input), key=f"{key}_input", height=120)
    references = st.text_area("Reference output(s)", value=REFERENCE_SEPARATOR.join(
        draft.references), key=f"{key}_refs", height=100,
        help="For ROUGE, BLEU, similarity… Separate several with a line holding only ---.")
    table = _checks_table(draft, key)
    with st.expander("Tags, expected entities (NER), active"):
        tags = st.text_input("Tags (comma-separated)", value=", ".join(draft.tags),
                             key=f"{key}_tags")
        entities = st.text_area("Expected entities (JSON)", key=f"{key}_entities",
                                value=json.dumps(list(draft.expected_entities), ensure_ascii=False)
                                if draft.expected_entities else "")
        active = st.checkbox("Active (runs with its suite)", value=draft.active,
                             key=f"{key}_active")
    edited = replace(
        draft, name=name or "", mode=str(mode), label=label, severity=str(severity),
        threshold=threshold, input=parse_input(input_text or "", is_chat),
        references=parse_references(references or ""),
        checks=specs_from_rows(table.to_dict("records")), tags=parse_tags(tags or ""),
        expected_entities=parse_entities(entities or ""), active=active,
    )
    return suite, edited


def show_outcome(outcome: CaseOutcome, subject: str) -> None:
    verdict = "passes" if outcome.passed else "fails"
    (st.success if outcome.passed else st.error)(
        f"The case {verdict} on {subject} (score {outcome.score:.2f}).")
    st.dataframe(pd.DataFrame([
        {"check": ("NOT " if r.spec.negate else "") + r.spec.type,
         "passed": r.passed, "score": round(r.score, 3), "reason": r.reason}
        for r in outcome.results]), hide_index=True, width="stretch")


def preview_on_call(engine: Engine, draft: CaseDraft, key: str, default_call: int | None
                    ) -> None:
    """Run the case's checks on any logged call's output."""
    call_id = st.number_input("Preview on the output of call", min_value=1, step=1,
                              value=default_call, key=f"{key}_preview_call")
    if call_id is None:
        return
    call = get_call(engine, int(call_id))
    if call is None:
        st.warning(f"There is no call {call_id}.")
        return
    show_outcome(evaluate(draft, call.output, call), f"call {call.id}'s output")


def case_editor(engine: Engine, draft: CaseDraft, *, key: str, hints: Sequence[str] = (),
                preview_call: int | None = None, suite: str | None = None,
                save: Callable[[str, CaseDraft], str]) -> None:
    """The whole editor: form, hints, preview and a Save button calling `save(suite, draft)`,
    which returns a confirmation message (or raises CaseError)."""
    if suite is not None:
        st.session_state.setdefault(f"{key}_suite_default", suite)
    for hint in hints:
        st.info(hint, icon=":material/edit_note:")
    try:
        chosen_suite, edited = draft_from_form(engine, draft, key)
    except (CaseError, CheckError) as exc:
        st.warning(f"To finish the case — {exc.field}: {exc.reason}")
        st.button("Save case", type="primary", key=f"{key}_save", icon=":material/save:",
                  disabled=True)
        return
    preview_on_call(engine, edited, key, preview_call)
    if st.button("Save case", type="primary", key=f"{key}_save", icon=":material/save:"):
        try:
            message = save(chosen_suite, edited)
        except (CaseError, CheckError) as exc:  # one line naming the field; nothing stored
            st.error(f"Not saved. {exc.field}: {exc.reason}")
            return
        st.success(message)
