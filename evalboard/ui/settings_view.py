"""Settings: the label taxonomy, score configurations and the review guidelines."""

from __future__ import annotations

from typing import Any

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
from evalboard.store.team_models import SCORE_KINDS
from evalboard.teams.scores import (
    KIND_NAMES,
    ScoreError,
    create_score_config,
    list_score_configs,
    usage_counts,
)
from evalboard.ui.label_badges import badge_html
from evalboard.ui.store import clear_cached_reads


def _named(name: str) -> str:
    """A user-entered name inside a `_apply` success message (which is formatted)."""
    return " ".join(name.split()).replace("{", "{{").replace("}", "}}")


def _apply(action, success: str, errors: Any = st) -> None:  # type: ignore[no-untyped-def]
    """Run a write; show its error (in `errors`, a container) or toast `success` and rerun."""
    try:
        result = action()
    except (LabelError, ScoreError) as exc:
        errors.error(str(exc))
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
                   f"Saved “{_named(name)}”.")


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
                   f"Added “{_named(name)}”.")


def _times(count: int) -> str:
    return f"used {count:,} time{'' if count == 1 else 's'}"


def scores_section(engine: Engine) -> None:
    st.subheader("Score configurations")
    st.caption("Answers beyond the verdict: a 1–N rating (keys 1…N in review), a number in a "
               "range, one choice of several, or free text. A review queue can ask for one; "
               "Metrics charts the ratings, numbers and choices per model version. “Used N "
               "times”: the answers that gave the score, replaced and undone ones included.")
    used = usage_counts(engine)
    configs = list_score_configs(engine)
    if not configs:
        st.caption("No score configurations yet.")
    for config in configs:
        cols = st.columns([3, 2, 3, 1.4], vertical_alignment="center")
        cols[0].markdown(f"**{config.name}**")
        if config.description:
            cols[0].caption(config.description)
        cols[1].caption(KIND_NAMES[config.kind])
        cols[2].caption(f"accepts {config.describe()}")
        cols[3].caption(_times(used.get(config.id, 0)))
    # a popover, not an expander: a collapsed expander's submit button stays in the page
    # without a readable name, beside "Add label"'s
    with st.popover("Add a score configuration", icon=":material/add:"), \
            st.form("add_score_config", border=False):
        problem = st.empty()  # an error shows first, not below the fold of the popover
        cols = st.columns([3, 2])
        name = cols[0].text_input("Name", placeholder="e.g. helpfulness", key="score_name")
        kind = cols[1].selectbox("Kind", SCORE_KINDS, format_func=KIND_NAMES.get,
                                 key="score_kind")
        cols = st.columns(2)
        minimum = cols[0].number_input("Minimum", value=None, key="score_minimum",
                                       help="A number: the bottom of its range. A rating "
                                       "always starts at 1.")
        maximum = cols[1].number_input("Maximum", value=None, key="score_maximum",
                                       help="A rating: N of 1–N (2–10; empty: 5). A number: "
                                       "the top of its range.")
        choices = st.text_area("Choices, one per line", key="score_choices", height=100,
                               help="A choice: 2 to 20 options, one per line.")
        description = st.text_input("Description", key="score_description",
                                    placeholder="What do reviewers score here?")
        if st.form_submit_button("Add score configuration", type="primary"):
            _apply(lambda: create_score_config(
                engine, name, kind, minimum=minimum, maximum=maximum,
                choices=choices.splitlines(), description=description),
                f"Added the score “{_named(name)}”.", problem)


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
