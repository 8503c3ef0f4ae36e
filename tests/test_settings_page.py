"""The Settings page under AppTest: the label taxonomy and the review guidelines."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from evalboard.review.annotations import Judgement, annotate, call_history
from evalboard.review.guidelines import get_guidelines
from evalboard.store.review_models import Label
from evalboard.ui.navigation import page_path
from tests.support import apptest
from tests.support.calls import add_calls, make_rows
from tests.test_review_page import feed as review_feed

SETTINGS = page_path("settings")
REVIEW = page_path("review")


def open_page(page: str = SETTINGS, reviewer: str = "ann") -> AppTest:
    at = apptest.open_page(page, reviewer=reviewer)
    assert not at.exception
    return at


def labels(engine) -> dict[str, tuple[str, str, str | None, bool, str]]:
    """name -> (kind, colour, key, archived, description), straight from the store."""
    with Session(engine) as session:
        return {
            label.name: (label.kind, label.color, label.shortcut, label.archived,
                         label.description)
            for label in session.scalars(select(Label).order_by(Label.id))
        }


def label_id(engine, name: str) -> int:
    with Session(engine) as session:
        found = session.scalar(select(Label.id).where(Label.name == name))
        assert found is not None
        return found


def _in_form(at: AppTest, form_id: str, kind: str, label: str):  # type: ignore[no-untyped-def]
    return next(w for w in at.get(kind) if w.form_id == form_id and w.label == label)


def add_label(at: AppTest, name: str, kind: str = "failure", key: str = "",
              color: str | None = None, description: str = "") -> AppTest:
    _in_form(at, "add_label", "text_input", "Name").input(name)
    _in_form(at, "add_label", "selectbox", "Kind").set_value(kind)
    _in_form(at, "add_label", "text_input", "Key").input(key)
    _in_form(at, "add_label", "text_input", "Description").input(description)
    if color:
        _in_form(at, "add_label", "color_picker", "Colour").set_value(color)
    at.button(key="FormSubmitter:add_label-Add label").click().run()
    assert not at.exception
    return at


def edit_label(at: AppTest, lid: int, **fields: str) -> AppTest:
    form = f"edit_label_{lid}"
    widgets = {"name": ("text_input", "Name"), "description": ("text_area", "Description"),
               "color": ("color_picker", "Colour"), "key": ("text_input", "Key")}
    for field, value in fields.items():
        kind, label = widgets[field]
        widget = _in_form(at, form, kind, label)
        if kind == "color_picker":
            widget.set_value(value)
        else:
            widget.input(value)
    at.button(key=f"FormSubmitter:{form}-Save").click().run()
    assert not at.exception
    return at


def _errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def _row_captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def _badges(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if "<span" in m.value]


@pytest.fixture
def store(engine):
    add_calls(engine, make_rows(5, model_version="v1"))
    return engine


# labels -----------------------------------------------------------------------------------

def test_the_seeded_taxonomy_is_listed_with_keys(store):
    at = open_page()
    assert at.title[0].value == "Settings"
    badges = _badges(at)
    assert len(badges) == 8 and "hallucination" in badges[0]
    captions = _row_captions(at)
    for key in range(1, 9):
        assert f"key {key}" in captions
    assert captions.count("used on 0 calls") == 8


def test_add_a_label_with_a_key(store):
    at = add_label(open_page(), "too verbose", key="v", color="#112233",
                   description="Says in ten lines what needs one.")
    assert not _errors(at)
    assert labels(store)["too verbose"] == (
        "failure", "#112233", "V", False, "Says in ten lines what needs one.")
    assert any("too verbose" in badge for badge in _badges(at))
    assert "key V" in _row_captions(at)
    assert any("Added “too verbose”" in t.value for t in at.toast)
    # and the Review page gives it a button with that key
    review = open_page(REVIEW)
    next(b for b in review.button if b.label == "Start reviewing").click().run()
    label = next(label for label in review_feed(review)["labels"]
                 if label["name"] == "too verbose")
    assert label["key"] == "v"


@pytest.mark.parametrize(
    ("name", "key", "message"),
    [
        ("too verbose", "1", "the key 1 already belongs to “hallucination”"),
        ("too verbose", "p", "P is taken by the review screen"),
        ("too verbose", "Z", "Z is taken by the review screen"),
        ("too verbose", "r", "reserved by Streamlit"),
        ("hallucination", "", "a label named “hallucination” exists already"),
        ("   ", "", "a label needs a name"),
        ("too verbose", "?", "a shortcut is one letter or digit"),
    ],
)
def test_adding_a_bad_label_shows_an_error_and_adds_nothing(store, name, key, message):
    before = labels(store)
    at = add_label(open_page(), name, key=key)
    assert any(message in e for e in _errors(at)), _errors(at)
    assert labels(store) == before


def test_rename_recolour_rekey_and_describe_via_the_edit_form(store):
    lid = label_id(store, "hallucination")
    at = edit_label(open_page(), lid, name="made-up facts", color="#123456", key="h",
                    description="Invents things.")
    assert not _errors(at)
    after = labels(store)
    assert "hallucination" not in after
    assert after["made-up facts"] == ("failure", "#123456", "H", False, "Invents things.")
    assert any("made-up facts" in badge for badge in _badges(at))
    assert "key H" in _row_captions(at) and "key 1" not in _row_captions(at)
    # clearing the key leaves the label without one
    at = edit_label(at, lid, key="")
    assert labels(store)["made-up facts"][2] is None
    assert "no key" in _row_captions(at)


def test_an_annotation_keeps_its_label_across_a_rename(store):
    annotate(store, 1, "ann", Judgement("fail", ("hallucination",)))
    edit_label(open_page(), label_id(store, "hallucination"), name="made-up facts")
    assert call_history(store, 1)[0].labels == ("made-up facts",)


@pytest.mark.parametrize(
    ("key", "message"),
    [("2", "the key 2 already belongs to “wrong format”"),
     ("f", "F is taken by the review screen"),
     ("k", "K is taken by the review screen"),
     ("c", "reserved by Streamlit")],
)
def test_a_clashing_or_reserved_key_in_the_edit_form_changes_nothing(store, key, message):
    before = labels(store)
    # the name and colour change in the same submit must not be saved either
    at = edit_label(open_page(), label_id(store, "hallucination"), name="renamed",
                    color="#000000", key=key)
    assert any(message in e for e in _errors(at)), _errors(at)
    assert labels(store) == before


def test_renaming_onto_another_label_is_refused(store):
    before = labels(store)
    at = edit_label(open_page(), label_id(store, "hallucination"), name="wrong format")
    assert any("exists already" in e for e in _errors(at))
    assert labels(store) == before


def test_archive_a_used_label_then_restore_it(store):
    annotate(store, 1, "ann", Judgement("fail", ("hallucination", "wrong format")))
    lid = label_id(store, "hallucination")
    at = open_page()
    assert "used on 1 call" in _row_captions(at)
    at.button(key=f"archive_{lid}").click().run()
    assert not at.exception and not _errors(at)
    assert any("Label archived" in t.value for t in at.toast)
    assert labels(store)["hallucination"][2:4] == (None, True)  # key freed, archived
    # history keeps it; the page shows it as archived with a Restore button
    assert call_history(store, 1)[0].labels == ("hallucination", "wrong format")
    row = next(m.value for m in at.markdown if ">hallucination<" in m.value)
    assert row.endswith("*(archived)*")
    assert at.button(key=f"restore_{lid}").label == "Restore “hallucination”"
    # the Review page no longer offers it, and its old key is free for another label
    review = open_page(REVIEW)
    next(b for b in review.button if b.label == "Start reviewing").click().run()
    assert not any(b.key == f"label_{lid}" for b in review.button)
    at = add_label(at, "invented source", key="1")
    assert labels(store)["invented source"][2] == "1"

    at.button(key=f"restore_{lid}").click().run()
    assert not at.exception and not _errors(at)
    assert labels(store)["hallucination"][3] is False
    assert at.button(key=f"archive_{lid}").label == "Archive “hallucination”"
    assert not any(m.value.endswith("*(archived)*") for m in at.markdown)


def test_archive_an_unused_label_deletes_it(store):
    lid = label_id(store, "edge case handled")
    at = open_page()
    at.button(key=f"archive_{lid}").click().run()
    assert any("Label deleted" in t.value for t in at.toast)
    assert "edge case handled" not in labels(store)
    assert not any("edge case handled" in badge for badge in _badges(at))
    assert not any(b.key == f"restore_{lid}" for b in at.button)


def test_restoring_a_label_never_makes_two_active_labels_share_a_key(store):
    annotate(store, 1, "ann", Judgement("fail", ("hallucination",)))
    lid = label_id(store, "hallucination")
    at = open_page()
    at.button(key=f"archive_{lid}").click().run()
    at = edit_label(at, lid, key="9")  # refused: an archived label gets no key
    at = add_label(at, "invented source", key="3")  # takes the archived label's old key
    at.button(key=f"restore_{lid}").click().run()
    with Session(store) as session:
        keys = list(session.scalars(select(Label.shortcut).where(
            Label.archived.is_(False), Label.shortcut.is_not(None))))
    assert len(keys) == len(set(keys)), keys


# guidelines -------------------------------------------------------------------------------

def test_edit_and_save_guidelines_then_read_them_while_reviewing(store):
    at = open_page()
    seeded = get_guidelines(store)
    assert "How to review" in seeded
    assert at.text_area(key="guidelines_text").value == seeded
    save = next(b for b in at.button if b.label == "Save guidelines")
    assert save.disabled  # nothing changed yet
    text = "## House rules\n\n- Fail any answer that promises a **refund**.\n"
    at.text_area(key="guidelines_text").input(text).run()
    assert any("House rules" in m.value for m in at.markdown)  # the Preview tab
    save = next(b for b in at.button if b.label == "Save guidelines")
    assert not save.disabled
    save.click().run()
    assert not at.exception
    assert get_guidelines(store) == text
    assert any("Guidelines saved" in t.value for t in at.toast)
    assert next(b for b in at.button if b.label == "Save guidelines").disabled

    review = open_page(REVIEW)
    next(b for b in review.button if b.label == "Start reviewing").click().run()
    assert review_feed(review)["guidelines"] == text  # the focus view's G panel shows them


def test_without_guidelines_the_popover_points_to_settings(store):
    at = open_page()
    at.text_area(key="guidelines_text").input("").run()
    next(b for b in at.button if b.label == "Save guidelines").click().run()
    assert get_guidelines(store) == ""
    review = open_page(REVIEW)
    next(b for b in review.button if b.label == "Start reviewing").click().run()
    # the focus view shows "No guidelines yet: write them in Settings." for an empty text
    assert review_feed(review)["guidelines"] == ""


# score configurations ---------------------------------------------------------------------

def score_configs(engine) -> dict[str, tuple]:
    """name -> (kind, minimum, maximum, choices, description), straight from the store."""
    from evalboard.store.team_models import ScoreConfig

    with Session(engine) as session:
        return {c.name: (c.kind, c.minimum, c.maximum, list(c.choices or []), c.description)
                for c in session.scalars(select(ScoreConfig).order_by(ScoreConfig.id))}


def add_score_config(at: AppTest, name: str, kind: str, *, minimum: float | None = None,
                     maximum: float | None = None, choices: str = "",
                     description: str = "") -> AppTest:
    at.text_input(key="score_name").input(name)
    at.selectbox(key="score_kind").set_value(kind)
    if minimum is not None:
        at.number_input(key="score_minimum").set_value(minimum)
    if maximum is not None:
        at.number_input(key="score_maximum").set_value(maximum)
    at.text_area(key="score_choices").input(choices)
    at.text_input(key="score_description").input(description)
    at.button(key="FormSubmitter:add_score_config-Add score configuration").click().run()
    assert not at.exception
    return at


def test_score_configurations_are_listed_with_what_they_accept_and_their_use(store):
    from evalboard.teams.scores import create_score_config

    create_score_config(store, "helpfulness", "rating", maximum=4,
                        description="How much the answer helps.")
    create_score_config(store, "tone", "choice", choices=["friendly", "rude"])
    annotate(store, 1, "ann", Judgement("pass", scores=(("helpfulness", 3),)))
    annotate(store, 2, "ann", Judgement("pass", scores=(("helpfulness", 4), ("tone", "rude"))))
    at = open_page()
    assert "Score configurations" in [s.value for s in at.subheader]
    assert {"**helpfulness**", "**tone**"} <= {m.value for m in at.markdown}
    captions = _row_captions(at)
    for caption in ("How much the answer helps.", "Rating 1–N", "accepts rating 1–4",
                    "used 2 times", "One choice of several", "accepts one of friendly, rude",
                    "used 1 time"):
        assert caption in captions, caption
    assert captions.count("used on 0 calls") == 8  # scores alone: no label is used


def test_add_score_configurations_of_each_kind(store):
    at = open_page()
    assert "No score configurations yet." in _row_captions(at)
    at = add_score_config(at, "  helpfulness ", "rating", maximum=7,
                          description="How much it helps.")
    assert not _errors(at)
    assert any("Added the score “helpfulness”" in t.value for t in at.toast)
    at = add_score_config(at, "confidence", "numeric", minimum=-1, maximum=1)
    at = add_score_config(at, "tone", "choice", choices="friendly\n\nneutral \nfriendly\nrude\n")
    at = add_score_config(at, "remark", "text")
    assert not _errors(at)
    assert score_configs(store) == {
        "helpfulness": ("rating", 1.0, 7.0, [], "How much it helps."),
        "confidence": ("numeric", -1.0, 1.0, [], ""),
        "tone": ("choice", None, None, ["friendly", "neutral", "rude"], ""),
        "remark": ("text", None, None, [], ""),
    }
    captions = _row_captions(at)
    for caption in ("accepts rating 1–7", "accepts number -1 to 1",
                    "accepts one of friendly, neutral, rude", "accepts free text"):
        assert caption in captions, caption
    assert captions.count("used 0 times") == 4


@pytest.mark.parametrize(
    ("name", "kind", "fields", "message"),
    [
        ("   ", "rating", {}, "a score configuration needs a name"),
        ("stars", "rating", {"maximum": 11.0}, "a rating goes from 1 to a whole number 2–10"),
        ("stars", "rating", {"maximum": 4.5}, "a rating goes from 1 to a whole number 2–10"),
        ("confidence", "numeric", {"maximum": 1.0}, "a number needs a range"),
        ("confidence", "numeric", {"minimum": 2.0, "maximum": 1.0}, "a minimum below the maximum"),
        ("tone", "choice", {"choices": "friendly\nfriendly\n"}, "a choice needs 2 to 20"),
        ("helpfulness", "text", {}, "a score configuration named 'helpfulness' exists already"),
    ],
)
def test_a_bad_score_configuration_shows_an_error_and_stores_nothing(store, name, kind, fields,
                                                                      message):
    from evalboard.teams.scores import create_score_config

    create_score_config(store, "helpfulness", "rating")
    before = score_configs(store)
    at = add_score_config(open_page(), name, kind, **fields)
    assert any(message in e for e in _errors(at)), _errors(at)
    assert score_configs(store) == before
    assert not at.toast


def test_a_label_name_with_braces_is_added_and_named_in_the_toast(store):
    at = add_label(open_page(), "uses {placeholders}")
    assert not _errors(at)
    assert any("Added “uses {placeholders}”" in t.value for t in at.toast)
