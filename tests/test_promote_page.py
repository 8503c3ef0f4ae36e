"""Promote under AppTest: after Save the page shows the saved case alone (one editor)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from evalboard.cases.repository import CaseQuery, list_cases
from evalboard.review.annotations import Judgement, annotate
from tests.support.apptest import open_page
from tests.support.calls import add_calls


def _save_buttons(at: AppTest) -> list[str]:
    return [b.key for b in at.button if b.label == "Save case"]


def test_after_save_one_editor_shows_the_saved_case(engine):
    add_calls(engine, [{"input": "Who wrote Hamlet?",
                        "output": "Hamlet Hamlet wrote wrote the the.", "model_version": "v1"}])
    annotate(engine, 1, "ann", Judgement("fail", ("garbled or incoherent",), note="word salad"))
    at = open_page("cases", timeout=60, reviewer="ann", promote="1")
    assert not at.exception
    assert _save_buttons(at) == ["promote_1_save"]
    at.text_input(key="promote_1_new_suite").set_value("regressions").run()
    at.button(key="promote_1_save").click().run()
    assert not at.exception
    [case] = list_cases(engine, CaseQuery())
    assert any(f"Saved as case {case.id}" in s.value for s in at.success)
    assert len(_save_buttons(at)) == 1 and _save_buttons(at) != ["promote_1_save"]
    assert not any("Promote call" in h.value for h in at.subheader)
    assert "promote" not in at.query_params and at.query_params["case"] == str(case.id)
