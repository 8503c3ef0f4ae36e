"""Promote under AppTest: after Save the page shows the saved case alone (one editor)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from evalboard.cases.repository import CaseQuery, list_cases
from evalboard.review.annotations import Judgement, annotate
from evalboard.ui.navigation import page_path
from tests.conftest import add_calls

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _save_buttons(at: AppTest) -> list[str]:
    return [b.key for b in at.button if b.label == "Save case"]


def test_after_save_one_editor_shows_the_saved_case(engine):
    add_calls(engine, [{"input": "Who wrote Hamlet?",
                        "output": "Hamlet Hamlet wrote wrote the the.", "model_version": "v1"}])
    annotate(engine, 1, "ann", Judgement("fail", ("garbled or incoherent",), note="word salad"))
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["reviewer"] = "ann"
    at.query_params["promote"] = "1"
    at.run()
    at.switch_page(page_path("cases")).run()
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
