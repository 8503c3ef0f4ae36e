"""Judges against people: statistics against hand-computed values, the human answer per label,
bounded runs, trust, suggestions, the review of disagreements, and Align's held-out split."""

from __future__ import annotations

import re

import pytest

from evalboard.judges.align import align, align_runs, choose_examples, split
from evalboard.judges.alignment import alignment, confusion, human_answers, kappa
from evalboard.judges.errors import JudgeError
from evalboard.judges.repository import get_version
from evalboard.judges.review_queue import review_disagreements
from evalboard.judges.running import run_on_labelled
from evalboard.review.annotations import Judgement, annotate
from evalboard.review.sessions import get_session, items
from evalboard.review.suggestions import check_suggestions
from tests.support.fake_openai import FAIL, PASS, fake_openai
from tests.support.judge_stores import labelled_calls, openai_judge

# Ten calls by hand, "fail" positive: tp 3 (both fail), fp 1, fn 2, tn 4.
JUDGE = ["fail"] * 3 + ["fail"] + ["pass"] * 2 + ["pass"] * 4
HUMAN = ["fail"] * 3 + ["pass"] + ["fail"] * 2 + ["pass"] * 4


def test_the_statistics_match_a_confusion_matrix_computed_by_hand() -> None:
    matrix = confusion(JUDGE, HUMAN)
    assert (matrix.tp, matrix.fp, matrix.fn, matrix.tn) == (3, 1, 2, 4)
    # p_o = 7/10; p_e = 0.4 * 0.5 + 0.6 * 0.5 = 0.5; kappa = (0.7 - 0.5) / 0.5
    assert kappa(JUDGE, HUMAN) == pytest.approx(0.4)
    assert matrix.precision == pytest.approx(3 / 4)
    assert matrix.recall == pytest.approx(3 / 5)
    assert matrix.f1 == pytest.approx(2 * 0.75 * 0.6 / 1.35)  # 2/3
    assert kappa(["pass"], ["pass"]) is None
    assert confusion(["pass", "pass"], ["pass", "pass"]).precision is None


def _by_output(answers: dict[int, str]):  # type: ignore[no-untyped-def]
    """A scripted judge: the verdict for 'answer number i' in the prompt's output."""
    def answer(body):  # type: ignore[no-untyped-def]
        number = int(re.search(r"Output: answer number (\d+)", body["messages"][-1]["content"])[1])
        return FAIL if answers.get(number) == "fail" else PASS
    return answer


def test_a_judge_run_on_labelled_calls_is_measured_against_people(engine) -> None:
    ids = labelled_calls(engine, [("fail", ["hallucination"])] * 5 + [("pass", [])] * 5)
    # calls 0-4 people fail, 5-9 pass: 0-2 tp, 3-4 fn, 5 fp, 6-9 tn (the matrix above)
    judge_says = {0: "fail", 1: "fail", 2: "fail", 3: "pass", 4: "pass", 5: "fail"}
    with fake_openai(answer=_by_output(judge_says)) as server:
        version = openai_judge(engine, server.url)
        first = run_on_labelled(engine, "hallucination", limit=4)
        assert (first.judged, first.remaining, first.backend_calls) == (4, 6, 4)
        rest = run_on_labelled(engine, "hallucination", limit=50)
        assert (rest.judged, rest.remaining) == (6, 0)
        assert run_on_labelled(engine, "hallucination").judged == 0  # nothing left
        assert len(server.requests) == 10
    measured = alignment(engine, "hallucination")
    assert measured.calls == 10 and measured.version.id == version.id
    m = measured.confusion
    assert (m.tp, m.fp, m.fn, m.tn) == (3, 1, 2, 4)
    assert measured.kappa == pytest.approx(0.4) and not measured.trusted
    assert measured.trust_text == "not trusted (κ 0.40)"
    assert [(d.call_id, d.judge, d.human) for d in measured.disagreements] == [
        (ids[3], "pass", "fail"), (ids[4], "pass", "fail"), (ids[5], "fail", "pass")]
    hints = check_suggestions(engine, ids[5])
    judged = [s for s in hints if s.kind == "judge"]
    assert len(judged) == 1 and judged[0].status == "fail" and judged[0].trusted is False
    assert judged[0].case_name == "hallucination@1, not trusted (κ 0.40)"
    assert judged[0].suggested_label == "hallucination"
    assert judged[0].failed_checks == (("judge", "states a false fact"),)
    session_id = review_disagreements(engine, "bob", measured.version.ref,
                                      [d.call_id for d in measured.disagreements])
    assert [i.call_id for i in items(engine, session_id)] == [ids[3], ids[4], ids[5]]
    assert get_session(engine, session_id).size == 3


def test_a_judge_that_agrees_is_trusted(engine) -> None:
    ids = labelled_calls(engine, [("fail", ["hallucination"])] * 3 + [("pass", [])] * 3)
    with fake_openai(answer=_by_output({0: "fail", 1: "fail", 2: "fail"})) as server:
        openai_judge(engine, server.url)
        run_on_labelled(engine, "hallucination")
    measured = alignment(engine, "hallucination")
    assert measured.kappa == 1.0 and measured.trusted and measured.disagreements == ()
    hint = next(s for s in check_suggestions(engine, ids[0]) if s.kind == "judge")
    assert hint.trusted and hint.case_name == "hallucination@1, trusted (κ 1.00)"
    annotate(engine, ids[1], "ada", Judgement("pass"))  # people change their mind: measured again
    annotate(engine, ids[3], "ada", Judgement("fail", ("hallucination",)))
    hint = next(s for s in check_suggestions(engine, ids[0]) if s.kind == "judge")
    assert not hint.trusted and hint.case_name == "hallucination@1, not trusted (κ 0.33)"
    with pytest.raises(JudgeError, match="nothing to review"):
        review_disagreements(engine, "bob", "hallucination@1", [])


def test_the_human_answer_for_a_label(engine) -> None:
    ids = labelled_calls(engine, [
        ("fail", ["hallucination"]),  # fail for hallucination
        ("fail", ["garbled or incoherent"]),  # failed for another label: pass for it
        ("fail", []),  # a fail without labels says nothing about hallucination
        ("unsure", ["hallucination"]),  # unsure: left out
        ("pass", []),
        ("pass", ["correct format"]),
    ])
    annotate(engine, ids[4], "bob", Judgement("fail", ("hallucination",)))  # a tie: left out
    annotate(engine, ids[0], "bob", Judgement("fail", ("hallucination",)))
    annotate(engine, ids[0], "cyd", Judgement("pass"))  # 2 to 1: fail
    assert human_answers(engine, "hallucination", "failure") == {
        ids[0]: "fail", ids[1]: "pass", ids[5]: "pass"}
    assert human_answers(engine, "correct format", "success") == {
        ids[0]: "fail", ids[1]: "fail", ids[2]: "fail", ids[5]: "pass"}
    assert human_answers(engine, None, None) == {
        ids[0]: "fail", ids[1]: "fail", ids[2]: "fail", ids[5]: "pass"}


def test_the_split_is_seeded_and_examples_come_from_the_pool_only() -> None:
    ids = list(range(100, 120))
    first, again = split(ids, seed=7), split(ids, seed=7)
    assert first == again and split(ids, seed=8) != first
    assert set(first.pool).isdisjoint(first.held_out)
    assert sorted(first.pool + first.held_out) == ids and len(first.held_out) == 10
    human = {c: ("fail" if c % 2 else "pass") for c in ids}
    judged = {c: "pass" for c in ids}
    judged[first.pool[-1]] = "fail"  # one disagreement among the passes too
    chosen = choose_examples(first.pool, judged, human, 4)
    assert set(chosen) <= set(first.pool) and len(chosen) == 4
    assert [human[c] for c in chosen] == ["fail", "pass", "fail", "pass"]  # both, in turn
    pool_fails = [c for c in first.pool if human[c] == "fail"]
    assert chosen[0::2] == pool_fails[:2]  # every fail is a disagreement: pool order
    if human[first.pool[-1]] == "pass":
        assert chosen[1] == first.pool[-1]  # the disagreeing pass first


def test_align_builds_a_few_shot_version_measured_on_held_out_calls(engine) -> None:
    truth = {i: ("fail" if i % 2 else "pass") for i in range(16)}
    ids = labelled_calls(engine, [("fail", ["hallucination"]) if truth[i] == "fail"
                                  else ("pass", []) for i in range(16)])

    def answer(body):  # type: ignore[no-untyped-def]
        prompt = body["messages"][-1]["content"]
        judged = int(re.search(r"Output: answer number (\d+)", prompt)[1])
        if "Examples judged by people" not in prompt:
            return PASS  # the first version passes everything
        return FAIL if truth[judged] == "fail" else PASS

    with fake_openai(answer=answer) as server:
        openai_judge(engine, server.url)
        report = align(engine, "hallucination", seed=3, examples=4)
        aligned_prompts = [r["messages"][-1]["content"] for r in server.requests
                           if "Examples judged by people" in r["messages"][-1]["content"]]
    held_out = set(report.held_out_call_ids)
    assert set(report.example_call_ids).isdisjoint(held_out) and len(held_out) == 8
    assert report.before.calls == report.after.calls == 8
    assert report.before.kappa == pytest.approx(0.0) and report.after.kappa == 1.0
    # every prompt of the aligned version judges a held-out call and shows pool calls only
    for prompt in aligned_prompts:
        examples, judged = prompt.split("Label hallucination")
        judged_number = int(re.search(r"Output: answer number (\d+)", judged)[1])
        assert ids[judged_number] in held_out
        shown = {ids[int(n)] for n in re.findall(r"answer number (\d+)", examples)}
        assert shown and shown.isdisjoint(held_out) and shown <= set(report.example_call_ids)
    assert len(aligned_prompts) == 8
    newest = get_version(engine, "hallucination")
    assert newest.version == 2 and newest.parent_id == report.before.version.id
    assert len(newest.definition.examples) == 4 and "aligned from v1" in newest.note
    # the first version passed everything: the fails are the disagreements, and lead
    assert [e["verdict"] for e in newest.definition.examples] == ["fail", "pass"] * 2
    assert [e["call_id"] for e in newest.definition.examples] == list(report.example_call_ids)
    runs = align_runs(engine, "hallucination")
    assert [(r.kappa_before, r.kappa_after, r.examples, r.held_out) for r in runs] == [
        (report.before.kappa, 1.0, 4, 8)]


def test_align_needs_enough_labelled_calls(engine) -> None:
    labelled_calls(engine, [("fail", ["hallucination"]), ("pass", [])])
    openai_judge(engine, "http://127.0.0.1:9/v1")
    with pytest.raises(JudgeError, match="at least 4 calls"):
        align(engine, "hallucination")
