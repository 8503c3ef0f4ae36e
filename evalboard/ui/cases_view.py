"""The Test cases page: filter, edit (a new version), deactivate, duplicate, promote calls."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from evalboard.cases.draft import CaseDraft, CaseError
from evalboard.cases.promote import promote_call
from evalboard.cases.repository import (
    CaseQuery,
    CaseView,
    case_history,
    checks_summary,
    create_case,
    duplicate_case,
    get_case,
    list_suites,
    list_tags,
    set_active,
    update_case,
)
from evalboard.checks import CheckSpec
from evalboard.review.labels import list_labels
from evalboard.store.calls_query import get_call
from evalboard.store.case_models import CASE_MODES
from evalboard.ui.case_form import case_editor
from evalboard.ui.navigation import BROWSE
from evalboard.ui.reviewer import current_reviewer
from evalboard.ui.text_view import RAW, show_text

CASE_PARAM, PROMOTE_PARAM, NEW_PARAM = "case", "promote", "new_case"
BOUND = "query-params"


def open_case(case_id: int) -> None:
    st.query_params.pop(PROMOTE_PARAM, None)
    st.query_params.pop(NEW_PARAM, None)
    st.query_params[CASE_PARAM] = str(case_id)


def case_filters(engine: Engine) -> CaseQuery:
    cols = st.columns(5)
    suite = cols[0].selectbox("Suite", [None, *(n for n, _ in list_suites(engine))],
                              format_func=lambda v: "All suites" if v is None else v,
                              key="cases_suite", bind=BOUND)
    label = cols[1].selectbox("Label", [None, *(lb.name for lb in list_labels(engine))],
                              format_func=lambda v: "Any label" if v is None else v,
                              key="cases_label", bind=BOUND)
    mode = cols[2].selectbox("Mode", [None, *CASE_MODES],
                             format_func=lambda v: "Any mode" if v is None else v,
                             key="cases_mode", bind=BOUND)
    tag = cols[3].selectbox("Tag", [None, *list_tags(engine)],
                            format_func=lambda v: "Any tag" if v is None else v,
                            key="cases_tag", bind=BOUND)
    state = cols[4].selectbox("State", ["active", "inactive", "all"], key="cases_state",
                              bind=BOUND)
    text = st.text_input("Name contains", key="cases_text", bind=BOUND)
    active = {"active": True, "inactive": False, "all": None}[state or "active"]
    return CaseQuery(suite=suite, label=label, mode=mode, tag=tag, active=active,
                     text=text or "")


def case_table(cases: list[CaseView]) -> None:
    if not cases:
        st.info("No test cases match. Promote a failing call from Browse or Review, import a "
                "YAML suite (`evalboard cases import suite.yaml`), or add one here.")
        return
    frame = pd.DataFrame([{
        "id": c.id, "suite": c.suite, "name": c.draft.name, "mode": c.draft.mode,
        "label": c.draft.label or "", "checks": checks_summary(c.draft.checks),
        "tags": ", ".join(c.draft.tags), "severity": c.draft.severity, "version": c.version,
        "active": c.active, "from call": c.provenance.call_id} for c in cases])
    event = st.dataframe(frame, hide_index=True, placeholder="—", width="stretch",
                         on_select="rerun",
                         selection_mode="single-row", key="cases_table",
                         column_config={"checks": st.column_config.TextColumn(width="large")})
    if event.selection.rows:
        chosen = cases[event.selection.rows[0]].id
        if st.query_params.get(CASE_PARAM) != str(chosen):
            open_case(chosen)
            st.rerun()


_SAVED_NOTE = "cases_saved_note"


def _save_new(engine: Engine, provenance=None):  # type: ignore[no-untyped-def]
    """Save a new case, then show it alone: the run starts again with the case open (going on
    would draw the case's editor under the new-case or promote editor just used)."""
    def save(suite: str, draft: CaseDraft) -> str:
        case_id = create_case(engine, suite, draft, provenance=provenance,
                              author=current_reviewer() or None)
        st.session_state[_SAVED_NOTE] = f"Saved as case {case_id} in {suite}."
        open_case(case_id)
        st.rerun()
    return save


def promote_section(engine: Engine, call_id: int) -> None:
    """A case prefilled from a call and its review; the reviewer edits, then saves."""
    st.subheader(f"Promote call {call_id} to a test case")
    try:
        promotion = promote_call(engine, call_id, current_reviewer() or None)
    except ValueError as exc:
        st.warning(str(exc))
        return
    origin = promotion.provenance
    st.caption(f"From call {call_id} ({origin.model_version}) · reviewed by "
               f"{origin.reviewer or 'nobody yet'} · labels: {', '.join(origin.labels) or 'none'}"
               + (f" · note: {origin.note}" if origin.note else ""))
    st.page_link(BROWSE.path, label=f"Open call {call_id}",
                 query_params={"call": str(call_id)}, icon=":material/open_in_new:")
    call = get_call(engine, call_id)
    with st.expander("The call's output (what the case must catch)", expanded=True):
        show_text(call.output if call else None, RAW, empty="(no output)")
    case_editor(engine, promotion.draft, key=f"promote_{call_id}", hints=promotion.hints,
                preview_call=call_id, save=_save_new(engine, promotion.provenance))


def new_case_section(engine: Engine) -> None:
    st.subheader("New test case")
    blank = CaseDraft(name="", input="", checks=(CheckSpec("contains_any", {"values": []}),))
    case_editor(engine, blank, key="new_case", save=_save_new(engine))


def case_section(engine: Engine, case_id: int) -> None:
    view = get_case(engine, case_id)
    if view is None:
        st.warning(f"There is no case {case_id}.")
        return
    st.subheader(f"{view.suite} / {view.draft.name}")
    if saved := st.session_state.pop(_SAVED_NOTE, None):
        st.success(saved)
    origin = view.provenance
    facts = f"Version {view.version} · {'active' if view.active else 'inactive'}"
    if origin.call_id:
        facts += (f" · from call {origin.call_id} ({origin.model_version}), reviewed by "
                  f"{origin.reviewer or '—'} as {', '.join(origin.labels) or '—'}")
    st.caption(facts)
    actions = st.columns([1, 1, 1, 3])
    if origin.call_id:
        actions[0].page_link(BROWSE.path, label="Origin call",
                             query_params={"call": str(origin.call_id)},
                             icon=":material/open_in_new:")
    if actions[1].button("Deactivate" if view.active else "Activate", key="toggle_active"):
        set_active(engine, case_id, not view.active)
        st.rerun()
    if actions[2].button("Duplicate", key="duplicate_case"):
        try:
            copy = duplicate_case(engine, case_id, author=current_reviewer() or None)
        except CaseError as exc:  # a case stored before today's rules: fix it, then copy it
            st.error(f"This case cannot be copied as it is: {exc}. Fix it in the editor "
                     "below and save, then duplicate it.")
        else:
            open_case(copy)
            st.rerun()

    def save(suite: str, draft: CaseDraft) -> str:
        version = update_case(engine, case_id, draft, author=current_reviewer() or None)
        return f"Saved: version {version}." if version != view.version else "No change to save."

    case_editor(engine, view.draft, key=f"case_{case_id}_v{view.version}", suite=view.suite,
                preview_call=origin.call_id, save=save)
    with st.expander("Version history"):
        st.dataframe(pd.DataFrame(case_history(engine, case_id),
                                  columns=["version", "saved (UTC)", "by"]),
                     hide_index=True, placeholder="—", width="stretch")
