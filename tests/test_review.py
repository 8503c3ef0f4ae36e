"""Labels, annotations (append-only, undo), sampling strategies and review sessions."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from evalboard.review.annotations import (
    AnnotationError,
    Judgement,
    annotate,
    bulk_annotate,
    call_history,
    current_by_definition,
    current_judgement,
    current_judgements,
    record_skip,
    undo_last,
)
from evalboard.review.guidelines import get_guidelines, set_guidelines
from evalboard.review.labels import (
    LabelError,
    archive_label,
    create_label,
    list_labels,
    restore_label,
    update_label,
)
from evalboard.review.sampling import SessionSpec, pick_calls
from evalboard.review.sessions import (
    ReviewSessionError,
    get_session,
    item_at,
    items,
    judge_item,
    open_session_of,
    skip_item,
    start_session,
    undo_in_session,
)
from evalboard.store import migrate, open_store
from evalboard.store.calls_query import CallFilter
from evalboard.store.models import Call
from evalboard.store.review_models import Annotation
from tests.support.calls import T0, add_calls, make_rows
from tests.support.marks import sqlite_only

FAIL_HALLUCINATION = Judgement("fail", ("hallucination",), note="invented a feature")


@pytest.fixture
def calls(engine):
    # one write, so the ids are 1..45 on PostgreSQL too (each write reserves a block of ids)
    add_calls(engine, make_rows(30, model_version="a")
              + make_rows(10, start=T0 + timedelta(days=1), model_version="b")
              + make_rows(5, start=T0 + timedelta(days=2), model_version="c"))
    return engine


# labels -----------------------------------------------------------------------------------

def test_the_guides_labels_are_seeded_with_keys(engine):
    labels = list_labels(engine)
    assert [(lb.name, lb.kind) for lb in labels[:5]] == [
        ("hallucination", "failure"), ("wrong format", "failure"),
        ("biased or insulting", "failure"), ("garbled or incoherent", "failure"),
        ("edge case mishandled", "failure")]
    assert {lb.name for lb in labels if lb.kind == "success"} == {
        "correct format", "appropriate response", "edge case handled"}
    assert [lb.shortcut for lb in labels] == [str(i) for i in range(1, 9)]
    assert "How to review" in get_guidelines(engine)


def test_label_edits_and_their_errors(engine):
    new_id = create_label(engine, "too verbose", "failure", color="#FF0000", shortcut="9")
    update_label(engine, new_id, name="Too verbose", color="#00ff00", shortcut="v")
    label = next(lb for lb in list_labels(engine) if lb.id == new_id)
    assert (label.name, label.color, label.shortcut) == ("Too verbose", "#00ff00", "V")
    for bad, message in [
        (lambda: create_label(engine, "hallucination", "failure"), "exists already"),
        (lambda: create_label(engine, "x", "neutral"), "failure or success"),
        (lambda: create_label(engine, "y", "failure", shortcut="1"), "belongs to"),
        (lambda: create_label(engine, "z", "failure", shortcut="P"), "taken"),
        (lambda: create_label(engine, "w", "failure", color="red"), "#RRGGBB"),
        (lambda: create_label(engine, "   ", "failure"), "needs a name"),
    ]:
        with pytest.raises(LabelError, match=message):
            bad()


def test_used_labels_are_archived_and_unused_ones_deleted(calls):
    unused = create_label(calls, "unused", "success")
    assert archive_label(calls, unused) == "deleted"
    hallucination = next(lb for lb in list_labels(calls) if lb.name == "hallucination")
    annotate(calls, 1, "ann", FAIL_HALLUCINATION)
    assert archive_label(calls, hallucination.id) == "archived"
    assert "hallucination" not in {lb.name for lb in list_labels(calls)}
    assert call_history(calls, 1)[0].labels == ("hallucination",)  # history keeps it
    with pytest.raises(LabelError, match="archived"):
        annotate(calls, 2, "ann", FAIL_HALLUCINATION)
    restore_label(calls, hallucination.id)
    annotate(calls, 2, "ann", FAIL_HALLUCINATION)


def test_guidelines_round_trip(engine):
    set_guidelines(engine, "# Be kind\n\nFail insults.")
    assert get_guidelines(engine) == "# Be kind\n\nFail insults."


# annotations ------------------------------------------------------------------------------

def test_annotations_are_append_only_and_newest_is_current(calls):
    first = annotate(calls, 1, "ann", Judgement("pass", ("appropriate response",)))
    second = annotate(calls, 1, "ann", FAIL_HALLUCINATION, seconds_spent=4.5)
    annotate(calls, 1, "bob", Judgement("unsure", note="check the date"))
    assert current_judgement(calls, 1, "ann").id == second
    assert {v.reviewer: v.verdict for v in current_judgements(calls, [1])[1]} == {
        "ann": "fail", "bob": "unsure"}
    assert [v.id for v in call_history(calls, 1)][1:] == [second, first]
    with Session(calls) as session:
        assert session.scalar(select(func.count()).select_from(Annotation)) == 3


def test_undo_retracts_the_last_action_and_the_previous_one_is_current_again(calls):
    first = annotate(calls, 1, "ann", Judgement("pass"))
    second = annotate(calls, 1, "ann", FAIL_HALLUCINATION)
    result = undo_last(calls, "ann")
    assert result.retracted_ids == [second]
    assert current_judgement(calls, 1, "ann").id == first
    assert [v.retracted for v in call_history(calls, 1) if v.action == "judge"] == [True, False]
    undo_last(calls, "ann")
    assert current_judgement(calls, 1, "ann") is None
    assert undo_last(calls, "ann").retracted_ids == []
    with Session(calls) as session:  # nothing was deleted
        assert session.scalar(select(func.count()).select_from(Annotation)) == 4


def test_bulk_judgement_is_one_undoable_action(calls):
    annotate(calls, 40, "ann", Judgement("pass"))
    bulk_annotate(calls, [1, 2, 3, 3], "ann", Judgement("fail", ("wrong format",)))
    assert {c: v[0].verdict for c, v in current_judgements(calls, [1, 2, 3]).items()} == {
        1: "fail", 2: "fail", 3: "fail"}
    assert sorted(undo_last(calls, "ann").call_ids) == [1, 2, 3]
    assert current_judgements(calls, [1, 2, 3]) == {}
    assert current_judgement(calls, 40, "ann").verdict == "pass"


def test_bad_annotations_are_refused(calls):
    for judgement, reviewer, call_id in [(Judgement("great"), "ann", 1),
                                         (Judgement(None), "ann", 1),
                                         (Judgement("pass"), "  ", 1),
                                         (Judgement("pass"), "ann", 999)]:
        with pytest.raises(AnnotationError):
            annotate(calls, call_id, reviewer, judgement)


# sampling ---------------------------------------------------------------------------------

def _version_of(engine, call_ids):
    with Session(engine) as session:
        return Counter(session.get(Call, i).model_version.name for i in call_ids)


def test_random_excludes_reviewed_calls_and_is_deterministic(calls):
    bulk_annotate(calls, list(range(1, 21)), "ann", Judgement("pass"))
    picked = pick_calls(calls, SessionSpec(10, "random", seed=7))
    assert len(picked) == len(set(picked)) == 10
    assert not set(picked) & set(range(1, 21))
    assert picked == pick_calls(calls, SessionSpec(10, "random", seed=7))
    assert len(pick_calls(calls, SessionSpec(100, "random"))) == 25


def test_stratified_balances_model_versions(calls):
    picked = pick_calls(calls, SessionSpec(12, "stratified", seed=1))
    assert _version_of(calls, picked) == {"a": 4, "b": 4, "c": 4}
    picked = pick_calls(calls, SessionSpec(18, "stratified", seed=1))
    assert _version_of(calls, picked) == {"a": 7, "b": 6, "c": 5}  # c has only 5


@pytest.fixture
def probing(monkeypatch):
    """Sample by probing ids even on a small store (a store of millions does so always)."""
    monkeypatch.setattr("evalboard.review.sampling.PROBES_PER_QUERY", 4)
    monkeypatch.setattr("evalboard.review.sampling.PROBE_QUERIES", 3)


def test_probing_samples_unreviewed_matches_uniformly(calls, probing):
    bulk_annotate(calls, list(range(1, 21)), "ann", Judgement("pass"))
    only_a = CallFilter(model_versions=("a",))  # a: calls 1-30, 21-30 unreviewed
    picks: Counter = Counter()
    for seed in range(600):
        picked = pick_calls(calls, SessionSpec(3, "random", call_filter=only_a, seed=seed))
        assert len(set(picked)) == len(picked) <= 3
        picks.update(picked)
    assert set(picks) == set(range(21, 31))
    assert max(picks.values()) < 2 * min(picks.values())  # ~uniform: about 170 each
    assert pick_calls(calls, SessionSpec(3, "random", seed=4)) == pick_calls(
        calls, SessionSpec(3, "random", seed=4))


def test_probing_stratifies_too(calls, probing):
    picked = pick_calls(calls, SessionSpec(6, "stratified", seed=2))
    assert len(set(picked)) == len(picked)
    assert max(_version_of(calls, picked).values()) <= 3  # a, b and c share the six


def test_newest_filters_and_as_displayed(calls):
    newest = pick_calls(calls, SessionSpec(3, "newest"))
    assert newest == [45, 44, 43]
    only_a = pick_calls(calls, SessionSpec(3, "newest", CallFilter(model_versions=("a",))))
    assert only_a == [30, 29, 28]
    shown = pick_calls(calls, SessionSpec(4, "as_displayed", CallFilter(search="answer"),
                                          sort_key="oldest"))
    assert shown == [1, 2, 3, 4]


def test_disagreements_first(calls):
    annotate(calls, 5, "ann", Judgement("pass"))
    annotate(calls, 5, "bob", Judgement("fail"))
    annotate(calls, 6, "ann", Judgement("pass"))
    annotate(calls, 6, "bob", Judgement("pass"))
    annotate(calls, 7, "ann", Judgement("fail"))
    annotate(calls, 7, "bob", Judgement("pass"))
    undo_last(calls, "bob")  # bob no longer disagrees on 7
    assert pick_calls(calls, SessionSpec(10, "disagreements")) == [5]


# sessions ---------------------------------------------------------------------------------

def test_a_session_is_stored_judged_skipped_undone_and_resumed(calls):
    session_id = start_session(calls, "ann", SessionSpec(3, "newest"))
    assert open_session_of(calls, "ann") == session_id
    assert [i.call_id for i in items(calls, session_id)] == [45, 44, 43]
    judge_item(calls, session_id, 0, "ann", FAIL_HALLUCINATION, seconds_spent=3)
    assert get_session(calls, session_id).position == 1
    skip_item(calls, session_id, 1, "ann")
    view = get_session(calls, session_id)
    assert (view.done, view.skipped, view.position) == (1, 1, 2)
    assert undo_in_session(calls, session_id, "ann").position == 1  # the skip is undone
    assert item_at(calls, session_id, 1).status == "pending"
    judge_item(calls, session_id, 1, "ann", Judgement("pass"))
    judge_item(calls, session_id, 2, "ann", Judgement("pass"))
    view = get_session(calls, session_id)
    assert view.finished and view.done == 3 and view.remaining == 0
    assert open_session_of(calls, "ann") is None
    assert current_judgement(calls, 45, "ann").labels == ("hallucination",)


def test_starting_a_session_with_nothing_to_review_explains_why(calls):
    bulk_annotate(calls, list(range(1, 46)), "ann", Judgement("pass"))
    with pytest.raises(ReviewSessionError, match="no calls to review"):
        start_session(calls, "ann", SessionSpec(5, "random"))


def test_the_current_flag_follows_every_kind_of_write(calls):
    """Judge, re-judge, bulk, skip and undo in a random order: after each step the flag
    marks exactly the rows the definition of a current judgement picks."""
    rng = random.Random(12)
    reviewers = ("ann", "bob")
    for step in range(120):
        reviewer = rng.choice(reviewers)
        action = rng.choice(("judge", "judge", "bulk", "skip", "undo", "undo"))
        if action == "judge":
            annotate(calls, rng.randint(1, 8), reviewer,
                     Judgement(rng.choice(("pass", "fail"))))
        elif action == "bulk":
            bulk_annotate(calls, rng.sample(range(1, 9), 3), reviewer, Judgement("fail"))
        elif action == "skip":
            record_skip(calls, rng.randint(1, 8), reviewer)
        else:
            undo_last(calls, reviewer)
        with Session(calls) as session:
            flagged = set(session.scalars(select(Annotation.id).where(
                Annotation.is_current.is_(True))))
            defined = set(session.scalars(select(Annotation.id).where(
                current_by_definition())))
        assert flagged == defined, (step, action)
    assert flagged  # the walk left some judgements standing


@sqlite_only
def test_the_migration_sets_the_current_flag_of_existing_judgements(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path / 'reviews.db'}")
    add_calls(engine, make_rows(6))
    for call_id in range(1, 7):
        annotate(engine, call_id, "ann", Judgement("fail"))
        annotate(engine, call_id, "ann", Judgement("pass"))
    undo_last(engine, "ann")  # call 6: the first judgement is current again
    with Session(engine) as session:
        before = set(session.scalars(select(Annotation.id).where(Annotation.is_current)))
    migrate.downgrade(engine, "0009")
    migrate.upgrade(engine)
    with Session(engine) as session:
        assert set(session.scalars(select(Annotation.id).where(Annotation.is_current))) == before
    assert len(before) == 6
