"""Settings: the label taxonomy and the review guidelines."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Engine

from evalboard.review.guidelines import get_guidelines, set_guidelines
from evalboard.review.labels import (
    LabelError,
    LabelView,
    archive_label,
    create_label,
    label_usage,
    list_labels,
    restore_label,
    update_label,
)
from evalboard.store.review_models import LABEL_KINDS
from evalboard.ui.label_badges import badge_html
from evalboard.ui.store import clear_cached_reads


def _apply(action, success: str) -> None:  # type: ignore[no-untyped-def]
    try:
        result = action()
    except LabelError as exc:
        st.error(str(exc))
        return
    clear_cached_reads()
    st.toast(success.format(result=result, result_note=f": {result}" if result else ""))
    st.rerun()


def _edit_form(engine: Engine, label: LabelView) -> None:
    with st.form(f"edit_label_{label.id}", border=False):
        name = st.text_input("Name", value=label.name)
        description = st.text_area("Description", value=label.description, height=80)
        cols = st.columns(2)
        color = cols[0].color_picker("Colour", value=label.color)
        key = cols[1].text_input("Key", value=label.shortcut or "", max_chars=1,
                                 help="One letter or digit that toggles the label in Review.")
        if st.form_submit_button("Save", type="primary"):
            _apply(lambda: update_label(engine, label.id, name=name, description=description,
                                        color=color, shortcut=key, clear_shortcut=not key),
                   f"Saved “{name}”.")


def labels_section(engine: Engine) -> None:
    st.subheader("Labels")
    st.caption("Failure modes are what must not happen; success modes what must. A label "
               "that was ever used is archived (its history stays), an unused one is deleted. "
               "“Used on N calls”: the calls on which a reviewer's current judgement carries "
               "the label, each call counted once (as on Home).")
    usage = label_usage(engine)
    for label in list_labels(engine, include_archived=True):
        cols = st.columns([4, 1, 1, 1.4], vertical_alignment="center")
        cols[0].markdown(badge_html(label) + (" *(archived)*" if label.archived else ""),
                         unsafe_allow_html=True)
        if label.description:
            cols[0].caption(label.description)
        cols[1].caption(label.kind)
        cols[2].caption(f"key {label.shortcut}" if label.shortcut else "no key")
        used = usage.calls.get(label.name, 0)
        cols[3].caption(f"used on {used:,} call{'' if used == 1 else 's'}")
        # buttons as wide as their labels, wrapping to a new line rather than cutting a name
        actions = cols[0].container(horizontal=True, gap="small")
        with actions.popover(f"Edit “{label.name}”", width="content"):
            _edit_form(engine, label)
        if label.archived:
            if actions.button(f"Restore “{label.name}”", key=f"restore_{label.id}"):
                _apply(lambda lid=label.id: restore_label(engine, lid),
                       "Restored{result_note}.")
        elif actions.button(f"Archive “{label.name}”", key=f"archive_{label.id}"):
            _apply(lambda lid=label.id: archive_label(engine, lid), "Label {result}.")
    with st.expander("Add a label"), st.form("add_label"):
        cols = st.columns([3, 2, 1, 1])
        name = cols[0].text_input("Name", placeholder="e.g. too verbose")
        kind = cols[1].selectbox("Kind", LABEL_KINDS)
        color = cols[2].color_picker("Colour", value="#868e96")
        key = cols[3].text_input("Key", max_chars=1)
        description = st.text_input("Description", placeholder="When does this label apply?")
        if st.form_submit_button("Add label", type="primary"):
            _apply(lambda: create_label(engine, name, kind, description=description,
                                        color=color, shortcut=key or None),
                   f"Added “{name}”.")


def guidelines_section(engine: Engine) -> None:
    st.subheader("Review guidelines")
    st.caption("Markdown. Reviewers open them with the Guidelines button while reviewing.")
    current = get_guidelines(engine)
    write, preview = st.tabs(["Write", "Preview"])
    with write:
        text = st.text_area("Guidelines", value=current, height=320, key="guidelines_text",
                            label_visibility="collapsed")
        if st.button("Save guidelines", type="primary", disabled=text == current):
            set_guidelines(engine, text)
            st.toast("Guidelines saved.")
            st.rerun()
    with preview:
        st.markdown(text or "*No guidelines yet.*")
