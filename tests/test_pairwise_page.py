"""The Pairwise page under AppTest: the pairing report, start, blind sides, answers with labels
and notes per side, the reveal, undo, the word diff, resume and someone else's session.

Every answer button is clicked the way its keyboard shortcut clicks it; what was stored is read
back from the database."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from evalboard.access.permissions import add_user
from evalboard.pairwise.answers import PairVerdict, answers_of, record_answer
from evalboard.pairwise.sessions import get_pairwise_session, pair_items
from evalboard.store.models import Call
from evalboard.store.pairwise_models import PairwiseSession
from tests.support import apptest
from tests.support.calls import T0, add_calls


def _store(engine, pairs: int = 4) -> None:
    rows = []
    for i in range(pairs):
        rows.append({"input": f"Question {i}?", "output": f"<script>alert({i})</script> one {i}",
                     "model_version": "v1", "created_at": T0 + timedelta(minutes=i)})
        rows.append({"input": f"question {i}?", "output": f"two {i} <img src=x onerror=y>",
                     "model_version": "v2", "created_at": T0 + timedelta(minutes=i)})
    rows.append({"input": "lonely", "output": "x", "model_version": "v3"})
    add_calls(engine, rows)


def open_page(reviewer: str = "ann", **params: str) -> AppTest:
    at = apptest.open_page("pairwise", reviewer=reviewer, **params)
    assert not at.exception
    return at


def start(at: AppTest, size: int = 3) -> AppTest:
    next(n for n in at.number_input if n.label == "How many pairs").set_value(size)
    next(b for b in at.button if b.label == "Start comparing").click().run()
    assert not at.exception
    return at


def session_of(at: AppTest) -> int:
    """The pairwise session in the page's URL."""
    value = at.query_params["pairwise"]
    return int(value[0] if isinstance(value, list) else value)


def click(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click().run()
    assert not at.exception
    assert not [e.value for e in at.error]
    return at


def progress(at: AppTest) -> str:
    return next(p.proto.text for p in at.get("progress"))


def texts(at: AppTest) -> str:
    return " ".join(str(e.value) for e in [*at.caption, *at.markdown, *at.info, *at.warning,
                                           *at.success, *at.toast])


def test_the_start_screen_shows_how_many_inputs_each_pair_of_versions_shares(engine):
    _store(engine)
    at = open_page()
    frame = at.dataframe[0].value
    assert frame.to_dict("records") == [{"version": "v1", "other version": "v2",
                                         "shared inputs": 4}]
    assert [s.value for s in at.selectbox] == ["v1", "v2"]
    assert "v1 and v2 share **4** inputs" in texts(at)
    at.selectbox(key="pairwise_version_b").set_value("v3").run()
    assert "v1 and v3 share **0** inputs" in texts(at)
    assert next(b for b in at.button if b.label == "Start comparing").disabled


def test_no_shared_inputs_says_what_to_do(engine):
    add_calls(engine, [{"input": "a", "model_version": "v1"},
                       {"input": "b", "model_version": "v2"}])
    at = open_page()
    assert "No two model versions answered the same input yet" in texts(at)


def test_answers_are_blind_stored_in_version_terms_and_then_revealed(engine):
    _store(engine)
    at = start(open_page())
    sid = get_pairwise_session(engine, session_of(at)).id
    items = pair_items(engine, sid)
    assert progress(at) == "Pair 1 of 3 · 0 answered"
    shown = texts(at)
    assert "v1" not in shown and "v2" not in shown  # blind: no version named on the screen
    outputs = [c.value for c in at.code][1:]  # after the input
    assert any(o.startswith("<script>") for o in outputs)  # model text shown as text
    left_is_a = items[0].left_is_a
    at.multiselect(key=f"pairwise_labels_{sid}_0_left").set_value(["hallucination"])
    at.text_input(key=f"pairwise_note_{sid}_0_right").input("clear and short")
    click(at, "pairwise_choice_left")
    assert progress(at) == "Pair 2 of 3 · 1 answered"
    left, right = ("v1", "v2") if left_is_a else ("v2", "v1")
    assert f"Pair 1: you said A (left) is better. A was {left}, B was {right}." in texts(at)
    [answer] = answers_of(engine, reviewer="ann")
    assert (answer.outcome, answer.left_was_a) == ("a" if left_is_a else "b", left_is_a)
    assert answer.call_a_id == items[0].call_a_id and answer.call_b_id == items[0].call_b_id
    left_version_side = "a" if left_is_a else "b"
    assert (answer.labels_a if left_version_side == "a" else answer.labels_b) == (
        "hallucination",)
    assert (answer.note_b if left_version_side == "a" else answer.note_a) == "clear and short"
    assert answer.seconds is not None and answer.seconds >= 0

    click(at, "pairwise_choice_tie")
    click(at, "pairwise_choice_both_bad")
    a_won = "1 · v2 better 0" if left_is_a else "0 · v2 better 1"
    assert f"Session finished: v1 better {a_won} · ties 1 · both bad 1." in texts(at)
    assert [a.outcome for a in answers_of(engine, reviewer="ann")][1:] == ["tie", "both_bad"]


def test_undo_brings_the_pair_back_with_its_labels_and_notes(engine):
    _store(engine)
    at = start(open_page())
    sid = session_of(at)
    at.multiselect(key=f"pairwise_labels_{sid}_0_right").set_value(["wrong format"])
    at.text_input(key=f"pairwise_note_{sid}_0_left").input("fine")
    click(at, "pairwise_choice_right")
    click(at, "pairwise_undo")
    assert progress(at) == "Pair 1 of 3 · 0 answered"
    assert at.multiselect(key=f"pairwise_labels_{sid}_0_right").value == ["wrong format"]
    assert at.text_input(key=f"pairwise_note_{sid}_0_left").value == "fine"
    rows = answers_of(engine, reviewer="ann")
    assert [(r.outcome is None, r.retracts_id, r.is_current) for r in rows] == [
        (False, None, False), (True, rows[0].id, False)]
    assert pair_items(engine, sid)[0].status == "pending"
    click(at, "pairwise_undo")
    assert "Nothing to undo" in texts(at)


def test_the_word_diff_shows_both_outputs_escaped(engine):
    _store(engine, pairs=1)
    at = start(open_page(), size=1)
    click(at, "pairwise_diff_toggle")
    bodies = [h.proto.body for h in at.get("html") if "word-diff" in h.proto.body]
    assert len(bodies) == 2
    joined = " ".join(bodies)
    assert "&lt;script&gt;alert(0)&lt;/script&gt;" in joined and "<script" not in joined
    assert "&lt;img src=x onerror=y&gt;" in joined and "<img" not in joined
    assert 'class="diff-delete"' in joined and 'class="diff-insert"' in joined
    click(at, "pairwise_diff_toggle")
    assert not [h for h in at.get("html") if "word-diff" in h.proto.body]


def test_reopening_resumes_at_the_first_unanswered_pair(engine):
    _store(engine)
    at = start(open_page())
    sid = session_of(at)
    click(at, "pairwise_choice_tie")
    click(at, "pairwise_prev")
    assert progress(at) == "Pair 1 of 3 · 1 answered"
    assert "You answered this pair: a tie" in texts(at)
    again = open_page()  # a new browser session, no session in the URL
    assert session_of(again) == sid
    assert progress(again) == "Pair 2 of 3 · 1 answered"


def test_someone_elses_session_is_not_answered_by_mistake(engine):
    _store(engine)
    start(open_page())
    with Session(engine) as session:
        sid = session.scalars(select(PairwiseSession.id)).one()
    at = open_page(reviewer="ben", pairwise=str(sid))
    assert "This is ann's pairwise session" in texts(at)
    assert not [b for b in at.button if b.label == "A is better"]


def test_the_agreement_page_shows_agreement_on_pairwise_preferences(engine):
    _store(engine)
    with Session(engine) as session:
        ids = dict(session.execute(select(Call.output, Call.id)).all())
    pairs = [(ids[f"<script>alert({i})</script> one {i}"], ids[f"two {i} <img src=x onerror=y>"])
             for i in range(4)]
    for (a, b), x, y in zip(pairs, "ab" + "ta", "abab", strict=True):
        record_answer(engine, a, b, "ann", PairVerdict({"t": "tie"}.get(x, x)))
        record_answer(engine, a, b, "ben", PairVerdict(y))
    at = apptest.open_page("agreement")
    assert not at.exception
    assert "4 pairs answered by two or more of 2 reviewers (ann, ben)" in texts(at)
    [row] = next(f.value for f in at.dataframe if "Cohen's κ" in f.value
                 and "pairs" in f.value).to_dict("records")
    assert (row["pairs"], row["agreement %"], row["Cohen's κ"]) == (4, "50.0", "0.20")


def test_a_second_key_before_the_next_pair_shows_answers_nothing(engine):
    _store(engine)
    at = start(open_page())
    at.button(key="pairwise_choice_left").click()
    at.button(key="pairwise_choice_tie").click()  # the same run: Streamlit batched the keys
    at.run()
    assert not at.exception
    assert progress(at) == "Pair 2 of 3 · 1 answered"
    assert [a.outcome for a in answers_of(engine, reviewer="ann")] == [
        "a" if pair_items(engine, session_of(at))[0].left_is_a else "b"]
    assert "it was ignored" in texts(at)


def test_an_unknown_session_in_the_url_says_so(engine):
    _store(engine)
    at = open_page(pairwise="999")
    assert "There is no pairwise session 999." in texts(at)


def test_recent_sessions_open_at_their_first_unanswered_pair(engine):
    _store(engine)
    at = start(open_page())
    sid = session_of(at)
    click(at, "pairwise_choice_left")
    click(at, "pairwise_prev")
    at = open_page(new="1")
    assert "Your recent pairwise sessions" in [h.value for h in at.subheader]
    click(at, f"open_pairwise_{sid}")
    assert progress(at) == "Pair 2 of 3 · 1 answered"


def test_a_viewer_cannot_answer_pairs_and_a_reviewer_answers_as_who_signed_in(engine,
                                                                             monkeypatch):
    _store(engine, pairs=2)
    add_user(engine, "vera", "long enough", "viewer")
    add_user(engine, "rita", "long enough", "reviewer")
    at = apptest.submit_sign_in(apptest.with_accounts(monkeypatch).run(), "vera", "long enough")
    at.switch_page(apptest.page_file("pairwise")).run()
    assert any("cannot compare versions' answers" in w.value for w in at.warning)
    assert not [b for b in at.button if b.label == "Start comparing"]
    at = apptest.submit_sign_in(apptest.with_accounts(monkeypatch).run(), "rita", "long enough")
    at.switch_page(apptest.page_file("pairwise")).run()
    start(at, size=2)
    click(at, "pairwise_choice_tie")
    assert [(a.reviewer, a.outcome) for a in answers_of(engine)] == [("rita", "tie")]


def test_number_keys_answer_like_the_letters(engine):
    _store(engine)
    at = start(open_page())
    click(at, "pairwise_number_tie")  # key 3
    click(at, "pairwise_number_left")  # key 1
    items = pair_items(engine, session_of(at))
    assert [a.outcome for a in answers_of(engine)] == [
        "tie", "a" if items[1].left_is_a else "b"]
