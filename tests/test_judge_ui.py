"""Settings › Judges and Agreement › Judges against people, under AppTest, with the fake
OpenAI-compatible server as the judges' backend."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from evalboard.judges.repository import get_version, list_judges
from evalboard.review.sessions import get_session, items
from tests.support.apptest import open_page
from tests.support.fake_openai import FAIL, PASS, fake_openai
from tests.support.judge_stores import labelled_calls, openai_judge


def _button(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label.startswith(label))


def _text(at: AppTest) -> str:
    return " ".join([*(c.value for c in at.caption), *(m.value for m in at.markdown),
                     *(s.value for s in at.success), *(e.value for e in at.error),
                     *(i.value for i in at.info)])


@pytest.fixture
def server():  # type: ignore[no-untyped-def]
    def answer(body):  # type: ignore[no-untyped-def]
        judged = body["messages"][-1]["content"].split("Output to judge:")[-1]
        number = re.search(r"answer number (\d+)", judged)
        return FAIL if number and int(number[1]) in (0, 1, 2, 5) else PASS

    with fake_openai(answer=answer) as fake:
        yield fake


def test_settings_creates_a_suggested_judge_edits_it_and_tests_it_on_a_call(
        engine, server, monkeypatch) -> None:
    monkeypatch.setenv("JUDGE_KEY", "k")
    ids = labelled_calls(engine, [("fail", ["hallucination"]), ("pass", [])])
    at = open_page("settings", timeout=60)
    assert not at.exception
    at.selectbox(key="judge_new_name").set_value("hallucination").run()
    at.text_input(key="judge_new_url").input(server.url).run()
    at.text_input(key="judge_new_model").input("judge-model").run()
    at.text_input(key="judge_new_key_env").input("JUDGE_KEY").run()
    _button(at, "Create judge").click().run()
    assert not at.exception and not at.error
    created = get_version(engine, "hallucination")
    assert created.version == 1 and created.label == "hallucination"
    assert created.definition.backend.api_key_env == "JUDGE_KEY"
    assert "{label_description}" in created.definition.template

    at.text_area(key="judge_edit_hallucination_template").input(
        "Is {output} a hallucination? {nonsense}").run()
    _button(at, "Save as a new version").click().run()
    assert "unknown field {nonsense}" in _text(at)
    assert get_version(engine, "hallucination").version == 1  # refused, nothing written
    at.text_area(key="judge_edit_hallucination_template").input(
        "Judge the output to judge:\nOutput to judge: {output}\nReply in JSON.").run()
    _button(at, "Save as a new version").click().run()
    edited = get_version(engine, "hallucination")
    assert (edited.version, edited.parent_id) == (2, created.id)

    at.number_input(key="judge_test_hallucination_call").set_value(ids[0]).run()
    _button(at, "Test on this call").click().run()
    assert not at.exception
    assert "hallucination@2: **fail**" in _text(at) and "states a false fact" in _text(at)
    assert server.prompts()[-1].endswith(
        "Output to judge: answer number 0\nReply in JSON.")
    assert server.headers_seen[-1]["authorization"] == "Bearer k"  # from $JUDGE_KEY


def test_settings_shows_a_judge_that_cannot_answer_as_one_message(engine, server) -> None:
    ids = labelled_calls(engine, [("pass", [])])
    server.answer = lambda body: "I would rather not say."
    openai_judge(engine, server.url, max_retries=1)
    at = open_page("settings", timeout=60)
    at.number_input(key="judge_test_hallucination_call").set_value(ids[0]).run()
    _button(at, "Test on this call").click().run()
    assert not at.exception
    assert any("gave no verdict" in e.value and "holds no JSON verdict" in e.value
               and "after 2 attempts" in e.value for e in at.error)


def test_agreement_runs_a_judge_measures_it_and_reviews_its_disagreements(engine, server
                                                                         ) -> None:
    ids = labelled_calls(engine, [("fail", ["hallucination"])] * 5 + [("pass", [])] * 5)
    openai_judge(engine, server.url, template="In: {input}\nOutput to judge: {output}\n")
    at = open_page("agreement", timeout=60, reviewer="bob")
    assert not at.exception
    assert "not trusted (not measured" in _text(at)
    _button(at, "Run hallucination@1 on the next 10 labelled calls").click().run()
    assert not at.exception
    assert "Judged 10 calls (0 from the cache, 0 errors); 0 left." in _text(at)
    frames = [d.value for d in at.dataframe]
    table = next(f for f in frames if "Cohen's κ" in f.columns and "judge" in f.columns)
    assert table.iloc[0]["Cohen's κ"] == "0.40" and table.iloc[0]["trust"] == "not trusted"
    assert (table.iloc[0]["precision"], table.iloc[0]["recall"]) == ("0.75", "0.60")
    matrix = next(f for f in frames if "people: fail" in f.columns)
    assert matrix.loc["judge: fail"].tolist() == [3, 1]
    assert matrix.loc["judge: pass"].tolist() == [2, 4]
    assert "3 calls where hallucination@1 and people disagree" in _text(at)
    _button(at, "Review these 3 calls").click().run()
    assert not at.exception
    link = next(p for p in at.get("page_link") if "review session" in p.proto.label)
    session_id = int(re.search(r"#(\d+)", link.proto.label)[1])
    assert [i.call_id for i in items(engine, session_id)] == [ids[3], ids[4], ids[5]]
    assert link.proto.query_string == f"session={session_id}"
    review = open_page("review", timeout=60, reviewer="bob", session=str(session_id))
    assert not review.exception and get_session(engine, session_id).reviewer == "bob"
    assert len(server.requests) == 10
    assert len(list_judges(engine)) == 1


def test_agreement_aligns_a_judge_and_shows_kappa_before_and_after(engine, server) -> None:
    labelled_calls(engine, [("fail", ["hallucination"])] * 4 + [("pass", [])] * 4)
    openai_judge(engine, server.url, template="In: {input}\nOutput to judge: {output}\n")
    at = open_page("agreement", timeout=60)
    at.number_input(key="judge_align_hallucination_examples").set_value(2)
    at.button(key="FormSubmitter:judge_align_hallucination-Align hallucination@1").click().run()
    assert not at.exception and not at.error
    labels = [m.label for m in at.metric]
    assert labels == ["Before: hallucination@1", "After: hallucination@2"]
    assert "2 few-shot examples" in _text(at) and "4 held-out calls never used" in _text(at)
    runs = next(d.value for d in at.dataframe if "κ before" in d.value.columns)
    assert runs.iloc[0]["to"] == "hallucination@2"
    assert get_version(engine, "hallucination").version == 2


def test_pages_without_judges_say_where_to_create_them(engine) -> None:
    at = open_page("agreement", timeout=60)
    assert not at.exception and "create one per label in Settings › Judges" in _text(at)
    at = open_page("settings", timeout=60)
    assert not at.exception
    assert _button(at, "Create judge") is not None
