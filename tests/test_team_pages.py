"""Team review on the pages, under AppTest: make a queue, work it from the Queues page and
Home, add Browse's list to it, comment on a call, adjudicate, and who may."""

from __future__ import annotations

from datetime import datetime

import pytest
from streamlit.testing.v1 import AppTest

from evalboard import clock
from evalboard.access.permissions import add_user
from evalboard.review.annotations import Judgement, annotate, current_judgements
from evalboard.review.sampling import SessionSpec
from evalboard.review.sessions import items
from evalboard.teams.adjudication import adjudication_of
from evalboard.teams.comments import comments
from evalboard.teams.queues import QueueSpec, create_queue, get_queue, list_queues
from tests.support.apptest import open_page, submit_sign_in, with_accounts
from tests.support.calls import add_calls, make_rows

NOW = datetime(2026, 11, 20, 9, 0)
pytestmark = pytest.mark.clock(NOW)


def _texts(at: AppTest) -> str:
    return " ".join(str(e.value) for e in [*at.caption, *at.markdown, *at.info, *at.success,
                                           *at.warning, *at.subheader]).replace("**", "")


def _button(at: AppTest, starts: str):
    return next(b for b in at.button if b.label.startswith(starts))


def _queue(engine, name="weekly", ids=(1, 2, 3), **options) -> int:
    return create_queue(engine, QueueSpec(name, SessionSpec(size=len(ids), strategy="listed",
                                                            call_ids=tuple(ids)), **options),
                        "lead")


def test_make_a_queue_with_the_form(engine):
    add_calls(engine, make_rows(12, model_version="a"))
    at = open_page("queues", reviewer="lead")
    assert not at.exception
    assert "No queues yet" in _texts(at)
    next(t for t in at.text_input if t.label == "Name").input("Week 48")
    next(r for r in at.radio if r.label == "Fill it with").set_value("newest")
    next(n for n in at.number_input if n.label == "How many calls").set_value(5)
    next(n for n in at.number_input if n.label == "Reviewers per call").set_value(2)
    _button(at, "Create queue").click().run()
    assert not at.exception
    [view] = list_queues(engine, clock.now())
    assert (view.name, view.items, view.reviewers_per_item, view.created_by) == (
        "Week 48", 5, 2, "lead")
    assert at.query_params["queue"] == str(view.id)
    assert "Queue “Week 48” created." in _texts(at)
    # a second one with the same name is refused with the reason, and nothing is stored
    at = open_page("queues", reviewer="lead")
    next(t for t in at.text_input if t.label == "Name").input("Week 48")
    _button(at, "Create queue").click().run()
    assert "Not created: a queue named 'Week 48' exists already" in _texts(at)
    assert len(list_queues(engine, clock.now())) == 1


def test_work_a_queue_from_its_page_and_from_home(engine):
    add_calls(engine, make_rows(4, model_version="a"))
    queue = _queue(engine, ids=(1, 2, 3, 4), reviewers_per_item=2)
    at = open_page("home", reviewer="ana")
    assert "Your queues" in _texts(at) and "4 left for you" in _texts(at)
    at = open_page("queues", reviewer="ana", queue=str(queue))
    assert "You answered 0; 4 left for you." in _texts(at)
    _button(at, "Review 4 now").click().run()
    assert not at.exception
    session_id = int(at.query_params["session"])
    assert [i.call_id for i in items(engine, session_id)] == [1, 2, 3, 4]
    assert get_queue(engine, queue, clock.now()).reserved == 4
    # the Review page names the queue; "Next batch" hands back what is not answered
    at = open_page("review", reviewer="ana", session=str(session_id))
    assert not at.exception
    assert any("Queue: weekly" in str(link.label) for link in at.get("page_link"))
    _button(at, "Next batch").click().run()
    assert get_queue(engine, queue, clock.now()).reserved == 4  # a new batch, the same calls


def test_add_browses_list_to_a_queue(engine):
    add_calls(engine, make_rows(6, model_version="a"))
    queue = _queue(engine, ids=(1,))
    at = open_page("browse", reviewer="ana")
    assert not at.exception
    _button(at, "Add these 6 calls").click().run()
    assert not at.exception
    assert "Added 5 calls to “weekly” (1 were in it already)." in _texts(at)
    assert get_queue(engine, queue, clock.now()).items == 6


def test_comment_on_a_call_from_its_dialog(engine):
    call = add_calls(engine, make_rows(2)).ids[0]
    at = open_page("browse", reviewer="ana", call=str(call))
    at.text_area(key=f"call_comment_{call}").input("Is 1998 right?")
    _button(at, "Post as ana").click().run()
    assert not at.exception
    assert [(c.author, c.body) for c in comments(engine, call)] == [("ana", "Is 1998 right?")]
    assert "Comments (1)" in _texts(at)
    _button(at, "Post as ana").click().run()  # an empty box posts nothing, and says so
    assert "Not posted: write something to post." in _texts(at)
    assert len(comments(engine, call)) == 1


def _disagreement(engine) -> int:
    call = add_calls(engine, make_rows(2)).ids[0]
    annotate(engine, call, "ana", Judgement("pass"))
    annotate(engine, call, "ben", Judgement("fail", ("hallucination",), note="invented"))
    return call


def test_adjudicate_from_the_list_to_the_final_answer(engine):
    call = _disagreement(engine)
    at = open_page("adjudicate", reviewer="lead")
    assert not at.exception
    assert "1 call where reviewers disagree" in _texts(at)
    at = open_page("adjudicate", reviewer="lead", call=str(call))
    assert not at.exception
    assert {"ana", "ben"} <= {m.value.strip("*") for m in at.markdown}
    at.button_group(key=f"final_answer_verdict_{call}").set_value("fail")
    at.button_group(key=f"final_answer_labels_{call}").set_value(["hallucination"])
    _button(at, "Record final answer as lead").click().run()
    assert not at.exception
    final = adjudication_of(engine, call)
    assert (final.reviewer, final.verdict, final.labels) == ("lead", "fail", ("hallucination",))
    assert [v.reviewer for v in current_judgements(engine, [call], final=True)[call]] == ["lead"]
    assert "Final answer recorded by lead" in _texts(at)
    _button(at, "Withdraw the final answer").click().run()
    assert adjudication_of(engine, call) is None
    at = open_page("agreement", reviewer="lead")
    assert not at.exception


def test_adjudication_follows_the_roles(engine, monkeypatch):
    call = _disagreement(engine)
    add_user(engine, "rita", "rita-password", "reviewer")
    add_user(engine, "judy", "judy-password", "reviewer", can_adjudicate=True)
    at = submit_sign_in(with_accounts(monkeypatch).run(), "rita", "rita-password")
    at.switch_page("evalboard/app/app_pages/adjudicate.py").run()
    assert "cannot adjudicate" in _texts(at).lower() or at.error
    at = submit_sign_in(with_accounts(monkeypatch).run(), "judy", "judy-password")
    at.query_params["call"] = str(call)
    at.switch_page("evalboard/app/app_pages/adjudicate.py").run()
    assert not at.exception
    at.button_group(key=f"final_answer_verdict_{call}").set_value("pass")
    _button(at, "Record final answer as judy").click().run()
    assert adjudication_of(engine, call).reviewer == "judy"
