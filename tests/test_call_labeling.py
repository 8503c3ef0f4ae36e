"""Labelling a call from Browse's call dialog, under AppTest: save, change, undo, and who may."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from evalboard.access.permissions import add_user
from evalboard.review.annotations import Judgement, annotate, call_history, current_judgement
from evalboard.ui.navigation import page_path
from tests.support.apptest import open_page, submit_sign_in, with_accounts
from tests.support.calls import add_calls, make_rows


def _group(at: AppTest, kind: str, call_id: int):
    return at.button_group(key=f"call_label_{kind}_{call_id}")


def _save(at: AppTest) -> AppTest:
    return next(b for b in at.button if b.label.startswith("Save as")).click().run()


def _texts(at: AppTest) -> str:
    return " ".join(str(e.value) for e in [*at.caption, *at.markdown, *at.info, *at.success,
                                           *at.warning])


def test_label_a_call_from_its_dialog_then_undo(engine):
    call = add_calls(engine, make_rows(3)).ids[1]
    at = open_page("browse", reviewer="ann", call=str(call))
    assert not at.exception
    _group(at, "verdict", call).set_value("fail")
    _group(at, "labels", call).set_value(["hallucination", "wrong format"])
    at.text_area(key=f"call_label_note_{call}").input("made up a refund policy")
    at.text_area(key=f"call_label_fix_{call}").input("We refund within 30 days.")
    _save(at)
    assert not at.exception
    mine = current_judgement(engine, call, "ann")
    assert mine is not None and mine.verdict == "fail"
    assert mine.labels == ("hallucination", "wrong format")
    assert mine.note == "made up a refund policy"
    assert mine.corrected_output == "We refund within 30 days."
    assert "Saved as ann: fail · hallucination · wrong format" in _texts(at)
    # the history in the dialog shows it, and the next change is a new answer (append-only)
    _group(at, "verdict", call).set_value("pass")
    _group(at, "labels", call).set_value([])
    at.text_area(key=f"call_label_fix_{call}").input("")
    _save(at)
    assert current_judgement(engine, call, "ann").verdict == "pass"
    assert [h.verdict for h in call_history(engine, call)] == ["pass", "fail"]
    next(b for b in at.button if b.label == "Undo my last answer").click().run()
    assert current_judgement(engine, call, "ann").verdict == "fail"  # the one before is back
    assert f"Undone your last answer (call {call})" in _texts(at)
    assert _group(at, "verdict", call).value == "fail"  # the fields show what is current


def test_the_dialog_starts_from_the_reviewers_current_answer(engine):
    call = add_calls(engine, make_rows(2)).ids[0]
    annotate(engine, call, "ann", Judgement("unsure", ("edge case mishandled",), note="hmm"))
    at = open_page("browse", reviewer="ann", call=str(call))
    assert _group(at, "verdict", call).value == "unsure"
    assert list(_group(at, "labels", call).value) == ["edge case mishandled"]
    assert at.text_area(key=f"call_label_note_{call}").value == "hmm"
    other = open_page("browse", reviewer="bo", call=str(call))  # Bo has not answered
    assert _group(other, "verdict", call).value is None


def test_without_a_reviewer_name_the_dialog_asks_for_one(engine):
    call = add_calls(engine, make_rows(1)).ids[0]
    at = open_page("browse", call=str(call))
    assert "Enter your name under **Reviewer**" in _texts(at)
    assert not any(b.label.startswith("Save as") for b in at.button)


def test_an_empty_answer_is_refused_in_one_line(engine):
    call = add_calls(engine, make_rows(1)).ids[0]
    at = _save(open_page("browse", reviewer="ann", call=str(call)))
    assert not at.exception
    assert "Not saved: choose a verdict or a label, or write a note." in _texts(at)
    assert call_history(engine, call) == []


def test_with_sign_in_the_login_is_the_reviewer_and_viewers_cannot_label(engine, monkeypatch):
    call = add_calls(engine, make_rows(1)).ids[0]
    add_user(engine, "rita", "long enough", "reviewer")
    add_user(engine, "vic", "long enough", "viewer")
    at = submit_sign_in(with_accounts(monkeypatch).run(), "rita", "long enough")
    at.query_params["call"] = str(call)
    at.switch_page(page_path("browse")).run()
    _group(at, "verdict", call).set_value("pass")
    _save(at)
    assert current_judgement(engine, call, "rita").verdict == "pass"
    viewer = submit_sign_in(with_accounts(monkeypatch).run(), "vic", "long enough")
    viewer.query_params["call"] = str(call)
    viewer.switch_page(page_path("browse")).run()
    assert "Your role (viewer) cannot label calls." in _texts(viewer)
    assert not any(b.label.startswith("Save as") for b in viewer.button)
