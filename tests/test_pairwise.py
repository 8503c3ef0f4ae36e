"""Pairwise review library: pairing by input hash, blind seeded sides, sessions with resume,
append-only answers with undo, the word diff and agreement on preferences (SQLite and, with
$EVALBOARD_TEST_PG_URL, PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from evalboard.demo.builder import load_demo
from evalboard.pairwise.agreement import pairwise_agreement
from evalboard.pairwise.answers import (
    PairVerdict,
    PairwiseAnswerError,
    answers_of,
    current_answer,
    outcome_for,
    rebuild_current_flags,
    record_answer,
    retract_answer,
    side_of,
)
from evalboard.pairwise.pairing import (
    PairingError,
    PairSpec,
    pairing_report,
    pairing_report_query,
    pick_pairs,
    shared_inputs,
)
from evalboard.pairwise.sessions import (
    answer_pair,
    get_pairwise_session,
    move_pair_to,
    open_pairwise_session_of,
    pair_item_at,
    pair_items,
    resume_position,
    session_tally,
    start_pairwise_session,
    undo_in_pairwise_session,
)
from evalboard.pairwise.word_diff import side, word_diff
from evalboard.store import open_store
from evalboard.store.copy import copy_store
from evalboard.store.models import Call
from evalboard.store.pairwise_models import PairwiseAnswer
from evalboard.store.run_models import CaseResult
from tests.support.calls import T0, add_calls
from tests.support.marks import sqlite_only
from tests.support.metric_stores import add_run, add_suite
from tests.support.query_plans import query_plan


def _two_versions(engine, shared: int = 6, only_a: int = 2, only_b: int = 1) -> None:
    """v1 and v2 answer `shared` prompts alike (v2 with other spacing and case), plus their
    own prompts; v3 shares the first two prompts with v1."""
    rows = []
    for i in range(shared):
        rows.append({"input": f"Question {i}?", "output": f"v1 says {i}", "model_version": "v1",
                     "created_at": T0 + timedelta(minutes=i)})
        rows.append({"input": f"  question   {i}? ", "output": f"v2 says {i}",
                     "model_version": "v2", "created_at": T0 + timedelta(minutes=i, seconds=30)})
    rows += [{"input": f"only a {i}", "output": "x", "model_version": "v1", "created_at": T0}
             for i in range(only_a)]
    rows += [{"input": f"only b {i}", "output": "y", "model_version": "v2", "created_at": T0}
             for i in range(only_b)]
    rows += [{"input": f"Question {i}?", "output": "v3", "model_version": "v3",
              "created_at": T0} for i in range(2)]
    add_calls(engine, rows)


def _call_id(engine, version: str, output: str) -> int:
    with Session(engine) as session:
        return session.scalars(select(Call.id).where(Call.output == output)).one()


def test_chat_messages_hash_canonically_and_pair_with_their_own_kind(engine):
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi  there"}]
    respaced = [{"content": "be BRIEF.", "role": "system"},
                {"role": "user", "content": [{"type": "text", "text": "hi there"}]}]
    other_role = [{"role": "user", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    add_calls(engine, [{"input": chat, "output": "1", "model_version": "v1"},
                       {"input": respaced, "output": "2", "model_version": "v2"},
                       {"input": other_role, "output": "3", "model_version": "v2"}])
    with Session(engine) as session:
        hashes = dict(session.execute(select(Call.output, Call.input_hash)).all())
    assert hashes["1"] == hashes["2"] != hashes["3"]
    assert shared_inputs(engine, "v1", "v2") == 1


def test_pairing_report_counts_distinct_shared_inputs_per_pair_of_versions(engine):
    _two_versions(engine)
    add_calls(engine, [{"input": "Question 0?", "output": "again", "model_version": "v1"}])
    report = {(p.version_a, p.version_b): p.shared_inputs for p in pairing_report(engine)}
    assert report == {("v1", "v2"): 6, ("v1", "v3"): 2, ("v2", "v3"): 2}
    assert shared_inputs(engine, "v2", "v1") == 6
    assert pairing_report(engine, sources=("eval",)) == []


def test_pairing_reads_only_source_filtered_calls(engine):
    add_calls(engine, [{"input": "p", "output": "a", "model_version": "v1", "source": "eval"},
                       {"input": "p", "output": "b", "model_version": "v2", "source": "eval"},
                       {"input": "q", "output": "c", "model_version": "v1"},
                       {"input": "q", "output": "d", "model_version": "v2", "source": "import",
                        "external_id": "x"}])
    assert shared_inputs(engine, "v1", "v2") == 2
    assert shared_inputs(engine, "v1", "v2", ("eval",)) == 1
    pairs = pick_pairs(engine, PairSpec("v1", "v2", 10, sources=("eval",), seed=1))
    assert [(p.call_a_id, p.call_b_id) for p in pairs] == [
        (_call_id(engine, "v1", "a"), _call_id(engine, "v2", "b"))]
    with pytest.raises(PairingError, match="unknown source"):
        shared_inputs(engine, "v1", "v2", ("prod",))


@sqlite_only
def test_pairing_report_and_pair_lookup_read_the_version_input_hash_index(engine):
    _two_versions(engine)
    with engine.connect() as conn:
        plan = query_plan(conn, pairing_report_query())
    assert "SCAN calls USING COVERING INDEX ix_calls_version_input_hash" in plan
    assert not any(line.startswith("SCAN calls") and "INDEX" not in line for line in plan)


def test_pick_pairs_takes_the_newest_call_of_each_version_per_input(engine):
    _two_versions(engine, shared=2)
    add_calls(engine, [{"input": "question 1?", "output": "v2 newer", "model_version": "v2",
                        "created_at": T0 + timedelta(hours=1)},
                       {"input": "question 1?", "output": "v2 older", "model_version": "v2",
                        "created_at": T0 - timedelta(hours=1)}])
    pairs = pick_pairs(engine, PairSpec("v1", "v2", 10, strategy="newest"))
    assert [(p.call_a_id, p.call_b_id) for p in pairs] == [
        (_call_id(engine, "v1", "v1 says 1"), _call_id(engine, "v2", "v2 newer")),
        (_call_id(engine, "v1", "v1 says 0"), _call_id(engine, "v2", "v2 says 0"))]


def test_random_pairs_are_reproducible_with_a_seed_and_skip_answered_inputs(engine):
    _two_versions(engine, shared=12)
    first = pick_pairs(engine, PairSpec("v1", "v2", 5, seed=7))
    assert first == pick_pairs(engine, PairSpec("v1", "v2", 5, seed=7))
    assert len({p.input_hash for p in first}) == 5
    assert first != pick_pairs(engine, PairSpec("v1", "v2", 5, seed=8))
    answered = first[0]
    # answered in the other orientation (a v2-vs-v1 session): still the same pair
    record_answer(engine, answered.call_b_id, answered.call_a_id, "ann", PairVerdict("a"))
    left = pick_pairs(engine, PairSpec("v1", "v2", 50, seed=1), reviewer="ann")
    assert len(left) == 11 and answered.input_hash not in {p.input_hash for p in left}
    assert len(pick_pairs(engine, PairSpec("v1", "v2", 50, seed=1), reviewer="ben")) == 12


def test_disagreeing_checks_picks_inputs_where_one_version_passed_a_case(engine):
    _two_versions(engine, shared=3)
    with Session(engine) as session, session.begin():
        suite = add_suite(session, "s", [("c0", None), ("c1", None), ("c2", None)])
        run_1 = add_run(session, suite, "v1", T0, "finished", {"c0": "pass", "c1": "pass",
                                                               "c2": "fail"})
        run_2 = add_run(session, suite, "v2", T0, "finished", {"c0": "fail", "c1": "pass",
                                                               "c2": "pass"})
        for run, version in ((run_1, "v1"), (run_2, "v2")):
            for k in range(3):
                call = session.scalars(select(Call.id).where(
                    Call.output == f"{version} says {k}")).one()
                session.execute(update(CaseResult).where(
                    CaseResult.run_id == run,
                    CaseResult.case_id == k + 1).values(call_id=call))
    pairs = pick_pairs(engine, PairSpec("v1", "v2", 10, strategy="disagreeing_checks"))
    assert {p.call_a_id for p in pairs} == {_call_id(engine, "v1", "v1 says 0"),
                                           _call_id(engine, "v1", "v1 says 2")}


def test_pick_pairs_refuses_bad_specs(engine):
    _two_versions(engine)
    for spec, message in ((PairSpec("v1", "v1", 3), "two different"),
                          (PairSpec("v1", "nope", 3), "no model version 'nope'"),
                          (PairSpec("v1", "v2", 0), "at least one"),
                          (PairSpec("v1", "v2", 3, strategy="best"), "unknown strategy")):
        with pytest.raises(PairingError, match=message):
            pick_pairs(engine, spec)


def test_screen_sides_map_to_outcomes_in_version_terms():
    assert [outcome_for(c, True) for c in ("left", "right", "tie", "both_bad")] == [
        "a", "b", "tie", "both_bad"]
    assert [outcome_for(c, False) for c in ("left", "right")] == ["b", "a"]
    for left_is_a in (True, False):
        for choice in ("left", "right", "tie", "both_bad"):
            assert side_of(outcome_for(choice, left_is_a), left_is_a) == choice
    with pytest.raises(PairwiseAnswerError):
        outcome_for("up", True)


def test_answers_are_append_only_and_the_newest_live_one_is_current(engine):
    _two_versions(engine, shared=1)
    a, b = _call_id(engine, "v1", "v1 says 0"), _call_id(engine, "v2", "v2 says 0")
    first = record_answer(engine, a, b, "ann", PairVerdict(
        "a", labels_a=("correct format",), labels_b=("hallucination", "wrong format"),
        note_a=" good ", note_b="made up"), left_was_a=False, seconds=3.5)
    view = current_answer(engine, a, b, "ann")
    assert (view.id, view.outcome, view.left_was_a, view.note_a, view.note_b) == (
        first, "a", False, "good", "made up")
    assert (view.labels_a, view.labels_b) == (("correct format",),
                                              ("hallucination", "wrong format"))
    second = record_answer(engine, b, a, "ann", PairVerdict("tie"))  # the other orientation
    ben = record_answer(engine, a, b, "ben", PairVerdict("b"))
    assert current_answer(engine, a, b, "ann").id == second
    assert current_answer(engine, b, a, "ben").id == ben
    retraction = retract_answer(engine, second, "ann")
    assert current_answer(engine, a, b, "ann").id == first  # the earlier answer is live again
    rows = answers_of(engine, reviewer="ann")
    assert [(r.id, r.outcome, r.retracts_id, r.is_current) for r in rows] == [
        (first, "a", None, True), (second, "tie", None, False),
        (retraction, None, second, False)]
    with pytest.raises(PairwiseAnswerError, match="already undone"):
        retract_answer(engine, second, "ann")
    with pytest.raises(PairwiseAnswerError, match="ben's"):
        retract_answer(engine, ben, "ann")
    retract_answer(engine, first, "ann")
    assert current_answer(engine, a, b, "ann") is None
    flags = {r.id: r.is_current for r in answers_of(engine)}
    with engine.begin() as conn:
        rebuild_current_flags(conn)
    assert {r.id: r.is_current for r in answers_of(engine)} == flags


def test_answers_refuse_what_cannot_be_recorded(engine):
    _two_versions(engine, shared=1)
    a, b = _call_id(engine, "v1", "v1 says 0"), _call_id(engine, "v2", "v2 says 0")
    for args, message in (((a, a, "ann", PairVerdict("a")), "two different"),
                          ((a, 999_999, "ann", PairVerdict("a")), "no call 999999"),
                          ((a, b, "ann", PairVerdict("left")), "an outcome is one of"),
                          ((a, b, " ", PairVerdict("a")), "who is reviewing")):
        with pytest.raises(PairwiseAnswerError if "who" not in message else ValueError,
                           match=message):
            record_answer(engine, *args)
    with pytest.raises(ValueError, match="unknown or archived"):
        record_answer(engine, a, b, "ann", PairVerdict("a", labels_a=("nope",)))
    with Session(engine) as session:
        assert session.scalars(select(PairwiseAnswer)).all() == []


@pytest.mark.clock(datetime(2026, 11, 2, 12, 0))
def test_a_session_has_seeded_blind_sides_advances_and_resumes(engine):
    _two_versions(engine, shared=8)
    spec = PairSpec("v1", "v2", 6, strategy="random", seed=42)
    sid = start_pairwise_session(engine, "ann", spec)
    view = get_pairwise_session(engine, sid)
    assert (view.version_a, view.version_b, view.size, view.seed, view.done) == (
        "v1", "v2", 6, 42, 0)
    assert view.name == "v1 vs v2 · 2026-11-02"
    items = pair_items(engine, sid)
    sides = [item.left_is_a for item in items]
    assert True in sides and False in sides
    again = start_pairwise_session(engine, "ben", spec)
    assert [i.left_is_a for i in pair_items(engine, again)] == sides  # the seed decides
    assert [(i.call_a_id, i.call_b_id) for i in pair_items(engine, again)] == [
        (i.call_a_id, i.call_b_id) for i in items]
    for item in items:
        assert item.left_call_id == (item.call_a_id if item.left_is_a else item.call_b_id)

    first = answer_pair(engine, sid, 0, "ann", PairVerdict(outcome_for("left", sides[0])),
                        seconds=1.0)
    assert get_pairwise_session(engine, sid).position == 1
    answer_pair(engine, sid, 2, "ann", PairVerdict("tie"))
    assert get_pairwise_session(engine, sid).position == 3
    stored = current_answer(engine, items[0].call_a_id, items[0].call_b_id, "ann")
    assert (stored.id, stored.left_was_a, stored.session_id) == (first, sides[0], sid)
    assert stored.outcome == ("a" if sides[0] else "b")
    assert open_pairwise_session_of(engine, "ann") == sid
    move_pair_to(engine, sid, 5)
    assert resume_position(engine, sid) == 1  # the first unanswered item
    for position in (1, 3, 4, 5):
        answer_pair(engine, sid, position, "ann", PairVerdict("both_bad"))
    finished = get_pairwise_session(engine, sid)
    assert finished.finished and finished.done == 6 and finished.remaining == 0
    first_won = "a" if sides[0] else "b"
    assert session_tally(engine, sid) == {"a": 0, "b": 0, first_won: 1, "tie": 1,
                                          "both_bad": 4}
    assert open_pairwise_session_of(engine, "ann") is None


def test_undo_in_a_session_retracts_the_last_answer_and_reopens_its_item(engine):
    _two_versions(engine, shared=3)
    sid = start_pairwise_session(engine, "ann", PairSpec("v1", "v2", 3, seed=1))
    assert undo_in_pairwise_session(engine, sid, "ann") is None
    answer_pair(engine, sid, 0, "ann", PairVerdict("a"))
    answer_pair(engine, sid, 1, "ann", PairVerdict("b"))
    answer_pair(engine, sid, 1, "ann", PairVerdict("tie"))  # changed its mind
    answer_pair(engine, sid, 2, "ann", PairVerdict("a"))
    assert get_pairwise_session(engine, sid).finished
    undone = undo_in_pairwise_session(engine, sid, "ann")
    assert undone.position == 2
    view = get_pairwise_session(engine, sid)
    assert (view.position, view.done, view.finished) == (2, 2, False)
    assert pair_item_at(engine, sid, 2).status == "pending"
    undone = undo_in_pairwise_session(engine, sid, "ann")  # the tie: the earlier b is live
    item = pair_item_at(engine, sid, 1)
    assert (undone.position, item.status) == (1, "done")
    assert current_answer(engine, item.call_a_id, item.call_b_id, "ann").outcome == "b"
    assert item.answer_id == current_answer(engine, item.call_a_id, item.call_b_id, "ann").id


def test_starting_a_session_without_shared_inputs_says_why(engine):
    add_calls(engine, [{"input": "a", "model_version": "v1"},
                       {"input": "b", "model_version": "v2"}])
    with pytest.raises(PairingError, match="share no input"):
        start_pairwise_session(engine, "ann", PairSpec("v1", "v2", 5))


def test_word_diff_keeps_both_texts_and_marks_changed_words():
    pieces = word_diff("The refund takes 5 days.", "The refund takes 14 days, sorry.")
    assert [(p.op, p.text) for p in pieces] == [
        ("equal", "The refund takes "), ("delete", "5"), ("insert", "14"), ("equal", " days"),
        ("insert", ", sorry"), ("equal", ".")]
    assert "".join(p.text for p in side(pieces, "left")) == "The refund takes 5 days."
    assert "".join(p.text for p in side(pieces, "right")) == "The refund takes 14 days, sorry."
    assert word_diff("", "") == []
    assert [p.op for p in word_diff("same", "same")] == ["equal"]


def test_pairwise_agreement_uses_cohen_and_fleiss_on_a_b_tie(engine):
    add_calls(engine, [{"input": f"q{i}", "output": f"{v}{i}", "model_version": v}
                       for i in range(4) for v in ("v1", "v2")])
    pairs = [(_call_id(engine, "v1", f"v1{i}"), _call_id(engine, "v2", f"v2{i}"))
             for i in range(4)]
    ann = ["a", "b", "tie", "a"]
    ben = ["a", "b", "a", "b"]
    for (a, b), x, y in zip(pairs, ann, ben, strict=True):
        record_answer(engine, a, b, "ann", PairVerdict(x))
        # ben answered in the other orientation: his "b" on (b, a) is a win for call a
        record_answer(engine, b, a, "ben", PairVerdict({"a": "b", "b": "a"}.get(y, y)))
    record_answer(engine, *pairs[0], "cy", PairVerdict("both_bad"))  # takes no part
    report = pairwise_agreement(engine)
    # hand computed: p_o = 2/4; ann first 2, second 1, tie 1; ben first 2, second 2
    # p_e = (2*2 + 1*2 + 1*0) / 16 = 6/16; kappa = (0.5 - 0.375) / 0.625 = 0.2
    assert report.calls == 4 and report.reviewers == ("ann", "ben")
    assert report.cohens_kappa == pytest.approx(0.2)
    assert report.percent_agreement == pytest.approx(0.5)
    # Fleiss, 2 raters: P-bar = 0.5; p = (4/8, 3/8, 1/8); P_e = 26/64; (0.5-26/64)/(38/64)
    assert report.fleiss_kappa == pytest.approx((0.5 - 26 / 64) / (38 / 64))
    assert pairwise_agreement(engine, model_versions=("v3",)).calls == 0


@pytest.mark.clock(datetime(2026, 11, 28, 12, 0))
def test_the_demo_has_inputs_every_pair_of_versions_shares(engine):
    load_demo(engine, calls=600, seed=0, reviews=False, suite=False)
    report = pairing_report(engine)
    assert len(report) >= 6 and all(p.shared_inputs >= 10 for p in report[:6])
    top = report[0]
    sid = start_pairwise_session(engine, "ann", PairSpec(top.version_a, top.version_b, 5,
                                                         seed=3))
    assert get_pairwise_session(engine, sid).size == 5


def test_a_store_copy_keeps_pairwise_sessions_and_answers(engine, db_url, tmp_path):
    _two_versions(engine, shared=3)
    sid = start_pairwise_session(engine, "ann", PairSpec("v1", "v2", 3, seed=5))
    answer_pair(engine, sid, 0, "ann", PairVerdict("a", labels_b=("hallucination",)))
    answer_pair(engine, sid, 1, "ann", PairVerdict("b"))
    undo_in_pairwise_session(engine, sid, "ann")
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    summary = copy_store(db_url, target)
    assert (summary.rows["pairwise_answers"], summary.rows["pairwise_items"],
            summary.rows["pairwise_answer_labels"]) == (3, 3, 1)
    copied = open_store(target)
    try:
        assert [(a.outcome, a.retracts_id, a.is_current, a.labels_b) for a in answers_of(copied)
                ] == [(a.outcome, a.retracts_id, a.is_current, a.labels_b)
                      for a in answers_of(engine)]
        assert pair_items(copied, sid) == pair_items(engine, sid)
    finally:
        copied.dispose()


def test_deleting_a_call_takes_its_pairs_and_answers_with_it(engine):
    _two_versions(engine, shared=2)
    sid = start_pairwise_session(engine, "ann", PairSpec("v1", "v2", 2, seed=2))
    answer_pair(engine, sid, 0, "ann", PairVerdict("a", labels_a=("correct format",)))
    undo_in_pairwise_session(engine, sid, "ann")
    answer_pair(engine, sid, 0, "ann", PairVerdict("b"))
    answer_pair(engine, sid, 1, "ann", PairVerdict("tie"))
    gone = pair_items(engine, sid)[0].call_a_id
    with engine.begin() as conn:
        conn.execute(Call.__table__.delete().where(Call.id == gone))
    assert [item.position for item in pair_items(engine, sid)] == [1]
    assert [a.outcome for a in answers_of(engine)] == ["tie"]
