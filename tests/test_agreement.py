"""Agreement statistics against published worked examples, and the report over the store."""

from __future__ import annotations

import math
import random
from datetime import timedelta
from itertools import count

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from evalboard.review.agreement import (
    NotEnoughRatings,
    category_counts,
    cohens_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    percent_agreement,
)
from evalboard.review.agreement_query import agreement_report, disagreements
from evalboard.review.annotations import rebuild_current_flags
from evalboard.store.models import Call
from evalboard.store.review_models import Annotation, Label
from tests.support.calls import T0, add_calls, make_rows

N = None

# --- published worked examples -------------------------------------------------------------

# Wikipedia "Cohen's kappa", worked example: 50 proposals, readers A and B.
# 20 yes/yes, 5 A-yes/B-no, 10 A-no/B-yes, 15 no/no: p_o = 0.7, p_e = 0.5, kappa = 0.4.
WIKI_KAPPA_A = ["yes"] * 25 + ["no"] * 25
WIKI_KAPPA_B = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15

# Wikipedia "Fleiss' kappa", worked example: 10 subjects, 14 raters, 5 categories.
# P-bar = 0.378, P_e = 0.213, kappa = 0.210.
WIKI_FLEISS = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]

# Wikipedia "Krippendorff's alpha", computational example: 3 coders x 15 units with gaps.
# alpha nominal = 0.691, interval = 0.811.
WIKI_ALPHA = [
    [N, N, N, N, N, 3, 4, 1, 2, 1, 1, 3, 3, N, 3],
    [1, N, 2, 1, 3, 3, 4, 3, N, N, N, N, N, N, N],
    [N, N, 2, 1, 3, 4, 4, N, 2, 1, 1, 3, 3, N, 4],
]

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C:
# 4 observers x 12 units with gaps. nominal 0.743, ordinal 0.815, interval 0.849, ratio 0.797.
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
]


def _units_from_counts(table: list[list[int]]) -> dict[int, list[int]]:
    """Subjects x categories counts -> {subject: its category values}."""
    return {i: [j for j, n in enumerate(row) for _ in range(n)] for i, row in enumerate(table)}


def test_cohens_kappa_wikipedia_worked_example():
    assert round(cohens_kappa(WIKI_KAPPA_A, WIKI_KAPPA_B), 3) == 0.400
    assert round(percent_agreement([WIKI_KAPPA_A, WIKI_KAPPA_B]), 3) == 0.700


@pytest.mark.parametrize(
    ("yy", "yn", "ny", "nn", "expected"),
    [
        (45, 15, 25, 15, 0.130),  # Wikipedia, "same percentages but different numbers", 1
        (25, 35, 5, 35, 0.259),  # ... example 2: same p_o = 0.60, different marginals
    ],
)
def test_cohens_kappa_wikipedia_same_percentages_examples(yy, yn, ny, nn, expected):
    a = ["yes"] * (yy + yn) + ["no"] * (ny + nn)
    b = ["yes"] * yy + ["no"] * yn + ["yes"] * ny + ["no"] * nn
    assert round(cohens_kappa(a, b), 3) == expected
    assert round(percent_agreement([a, b]), 3) == 0.600


def test_fleiss_kappa_wikipedia_worked_example():
    assert round(fleiss_kappa(WIKI_FLEISS), 3) == 0.210
    assert round(percent_agreement(_units_from_counts(WIKI_FLEISS)), 3) == 0.378


def test_krippendorff_alpha_wikipedia_computational_example():
    assert round(krippendorff_alpha(WIKI_ALPHA), 3) == 0.691
    assert round(krippendorff_alpha(WIKI_ALPHA, "interval"), 3) == 0.811


@pytest.mark.parametrize(
    ("level", "expected"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_krippendorff_alpha_krippendorff_2011_example(level, expected):
    assert round(krippendorff_alpha(KRIPPENDORFF_2011, level), 3) == expected


def test_krippendorff_alpha_input_shapes_agree():
    by_unit = {
        f"unit {j}": {f"coder {i}": row[j] for i, row in enumerate(KRIPPENDORFF_2011)}
        for j in range(12)
    }
    sparse = {
        unit: {c: v for c, v in given.items() if v is not None} for unit, given in by_unit.items()
    }
    as_array = np.array(KRIPPENDORFF_2011, dtype=float)  # None -> NaN
    words = ["very low", "low", "mid", "high", "very high"]
    as_words = [[N if v is None else words[v - 1] for v in row] for row in KRIPPENDORFF_2011]
    expected = krippendorff_alpha(KRIPPENDORFF_2011)
    assert krippendorff_alpha(by_unit) == pytest.approx(expected)
    assert krippendorff_alpha(sparse) == pytest.approx(expected)
    assert krippendorff_alpha(as_array) == pytest.approx(expected)
    assert krippendorff_alpha(as_words) == pytest.approx(expected)
    assert round(krippendorff_alpha(as_words, "ordinal", order=words), 3) == 0.815


def _brute_force_alpha(units: list[list[float]], level: str) -> float:
    """Alpha from its pairwise definition, without a coincidence matrix:
    D_o = 1/n sum_u 1/(m_u - 1) sum_{i != j in u} d(v_i, v_j),
    D_e = 1/(n (n - 1)) sum_{i != j over all pairable values} d(v_i, v_j)."""

    def d(c: float, k: float) -> float:
        if level == "nominal":
            return float(c != k)
        if level == "interval":
            return (c - k) ** 2
        return 0.0 if c + k == 0 else ((c - k) / (c + k)) ** 2  # ratio

    pairable = [u for u in units if len(u) >= 2]
    values = [v for u in pairable for v in u]
    n = len(values)
    observed = (
        sum(
            sum(d(u[i], u[j]) for i in range(len(u)) for j in range(len(u)) if i != j)
            / (len(u) - 1)
            for u in pairable
        )
        / n
    )
    expected = sum(d(values[i], values[j]) for i in range(n) for j in range(n) if i != j) / (
        n * (n - 1)
    )
    return 1.0 - observed / expected


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("level", ["nominal", "interval", "ratio"])
def test_krippendorff_alpha_matches_brute_force_definition_with_missing_values(seed, level):
    rng = random.Random(seed)
    while True:  # redraw until at least two units are pairable and two values occur
        raters, units = rng.randint(2, 6), rng.randint(3, 25)
        matrix = [
            [None if rng.random() < 0.35 else rng.choice([1, 2, 3, 4]) for _ in range(units)]
            for _ in range(raters)
        ]
        per_unit = [[row[j] for row in matrix if row[j] is not None] for j in range(units)]
        pairable = [u for u in per_unit if len(u) >= 2]
        if len(pairable) >= 2 and len({v for u in pairable for v in u}) >= 2:
            break
    assert krippendorff_alpha(matrix, level) == pytest.approx(_brute_force_alpha(per_unit, level))


def test_krippendorff_alpha_on_complete_data_is_fleiss_kappa_with_small_sample_correction():
    # Complete data, m raters per unit, N = units * m values: alpha = 1 - (1 - kappa) (N-1)/N.
    values = 10 * 14
    kappa = fleiss_kappa(WIKI_FLEISS)
    alpha = krippendorff_alpha(_units_from_counts(WIKI_FLEISS))
    assert alpha == pytest.approx(1 - (1 - kappa) * (values - 1) / values)
    assert round(alpha, 3) == 0.216

    rng = random.Random(7)
    for _ in range(5):
        units, raters = rng.randint(2, 30), rng.randint(2, 7)
        data = {u: [rng.choice("abc") for _ in range(raters)] for u in range(units)}
        table = category_counts(data)
        n = units * raters
        if len({v for vs in data.values() for v in vs}) < 2:
            continue
        assert krippendorff_alpha(data) == pytest.approx(
            1 - (1 - fleiss_kappa(table)) * (n - 1) / n
        )


def test_category_counts_builds_a_fleiss_table():
    assert category_counts(_units_from_counts(WIKI_FLEISS), range(5)) == WIKI_FLEISS
    assert category_counts([["a", "b", N], ["a", "a", N]]) == [[2, 0], [1, 1]]
    with pytest.raises(ValueError, match="not one of the categories"):
        category_counts({1: ["x", "y"]}, ["x"])


def test_percent_agreement_averages_agreeing_pairs_and_skips_single_ratings():
    units = {1: ["a", "a", "b"], 2: ["a", "a"], 3: ["c"], 4: {"r1": "b", "r2": N, "r3": "a"}}
    # unit 1: 1 of 3 pairs agree; unit 2: 1/1; unit 3 has one rating; unit 4: 0/1
    assert percent_agreement(units) == pytest.approx((1 / 3 + 1 + 0) / 3)


def test_single_category_is_perfect_agreement():
    assert cohens_kappa(["pass"] * 5, ["pass"] * 5) == 1.0
    assert fleiss_kappa([[3, 0], [3, 0], [3, 0]]) == 1.0
    assert krippendorff_alpha([["pass", "pass", N], ["pass", "pass", "pass"]]) == 1.0
    assert krippendorff_alpha([[2, 2], [2, 2]], "interval") == 1.0
    assert percent_agreement([["pass", "pass"], ["pass", "pass"]]) == 1.0


def test_perfect_and_systematic_disagreement():
    assert cohens_kappa("abcab", "abcab") == 1.0
    assert krippendorff_alpha(["abcab", "abcab", "abcab"]) == 1.0
    assert cohens_kappa("abab", "baba") == pytest.approx(-1.0)
    assert fleiss_kappa([[1, 1], [1, 1]]) == pytest.approx(-1.0)


def test_fewer_than_two_paired_items_raise_a_clear_value_error():
    with pytest.raises(NotEnoughRatings, match="at least 2 items"):
        cohens_kappa(["pass"], ["fail"])
    with pytest.raises(NotEnoughRatings, match="at least 2 subjects"):
        fleiss_kappa([[1, 1]])
    with pytest.raises(NotEnoughRatings, match="at least 2 units"):
        krippendorff_alpha([[1, N, 2], [1, 2, N]])  # only unit 0 has two ratings
    with pytest.raises(NotEnoughRatings):
        percent_agreement({1: ["a"], 2: ["b"]})
    assert issubclass(NotEnoughRatings, ValueError)


def test_malformed_input_raises_value_error():
    with pytest.raises(ValueError, match="same items"):
        cohens_kappa(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="complete pairs"):
        cohens_kappa(["a", None], ["a", "b"])
    with pytest.raises(ValueError, match="same number of raters"):
        fleiss_kappa([[2, 0], [1, 2]])
    with pytest.raises(ValueError, match="cannot be negative"):
        fleiss_kappa([[3, -1], [1, 1]])
    with pytest.raises(ValueError, match="equal length"):
        krippendorff_alpha([[1, 2, 3], [1, 2]])
    with pytest.raises(ValueError, match="unknown level"):
        krippendorff_alpha([[1, 2], [1, 2]], "circular")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="missing from `order`"):
        krippendorff_alpha([[1, 2], [1, 3]], "ordinal", order=[1, 2])


def test_nan_means_missing():
    with_nan = [[1.0, 2.0, math.nan, 1.0], [1.0, 2.0, 3.0, 2.0]]
    with_none = [[1.0, 2.0, None, 1.0], [1.0, 2.0, 3.0, 2.0]]
    assert krippendorff_alpha(with_nan) == krippendorff_alpha(with_none)


# --- the report over the store ------------------------------------------------------------


class Desk:
    """Appends annotation rows the way the review page does, each one tick later."""

    def __init__(self, engine):
        self.engine = engine
        self.clock = count(1)

    def _add(self, **fields) -> int:
        with Session(self.engine) as session, session.begin():
            names = fields.pop("labels", ())
            labels = session.scalars(select(Label).where(Label.name.in_(names))).all()
            assert len(labels) == len(names), "unknown label name"
            row = Annotation(
                created_at=T0 + timedelta(days=30, seconds=next(self.clock)),
                labels=list(labels),
                **fields,
            )
            session.add(row)
            session.flush()
            rebuild_current_flags(session.connection())  # what evalboard's writes keep
            return row.id

    def judge(self, call_id: int, reviewer: str, verdict: str, *labels: str) -> int:
        return self._add(
            call_id=call_id, reviewer=reviewer, action="judge", verdict=verdict, labels=labels
        )

    def skip(self, call_id: int, reviewer: str) -> int:
        return self._add(call_id=call_id, reviewer=reviewer, action="skip")

    def retract(self, annotation_id: int) -> int:
        with Session(self.engine) as session:
            target = session.get(Annotation, annotation_id)
            call_id, reviewer = target.call_id, target.reviewer
        return self._add(
            call_id=call_id, reviewer=reviewer, action="retract", retracts_id=annotation_id
        )


def _call_ids(engine) -> list[int]:
    with Session(engine) as session:
        return list(session.scalars(select(Call.id).order_by(Call.created_at, Call.id)))


H, W = "hallucination", "wrong format"


@pytest.fixture
def reviewed(engine):
    """Twelve calls of v1 (oldest first); alice and bob both judge c0..c9.

    verdicts  c0-c4 pass/pass, c5-c6 alice pass / bob fail, c7-c9 fail/fail
    H         alice c7 c8; bob c6 c7 c8 c9          W  alice c9 only
    c5        alice first judged fail+H, then pass (current)
    c1        bob skips after judging (changes nothing)
    c10       judged by alice only; c11 judged by both, bob's judgement retracted
    """
    add_calls(engine, make_rows(12, model_version="v1"))
    c = _call_ids(engine)
    desk = Desk(engine)
    alice = {i: ("pass",) for i in range(7)} | {7: ("fail", H), 8: ("fail", H), 9: ("fail", W)}
    bob = {i: ("pass",) for i in range(5)} | {5: ("fail",), 6: ("fail", H)}
    bob |= {7: ("fail", H), 8: ("fail", H), 9: ("fail", H)}
    old_c5 = desk.judge(c[5], "alice", "fail", H)
    ids = {}
    for i in range(10):
        ids["alice", i] = desk.judge(c[i], "alice", *alice[i])
        ids["bob", i] = desk.judge(c[i], "bob", *bob[i])
    desk.skip(c[1], "bob")
    desk.judge(c[10], "alice", "fail", H)
    desk.judge(c[11], "alice", "pass")
    desk.retract(desk.judge(c[11], "bob", "fail"))
    return desk, c, ids, old_c5


def test_report_on_two_reviewers_matches_hand_computed_statistics(engine, reviewed):
    report = agreement_report(engine)
    assert report.calls == 10  # c10 (one reviewer) and c11 (bob retracted) are left out
    assert report.reviewers == ("alice", "bob")

    v = report.verdict
    assert (v.subject, v.calls, v.ratings, v.reviewers) == ("verdict", 10, 20, ("alice", "bob"))
    # 2x2: 5 pass/pass, 2 pass/fail, 0 fail/pass, 3 fail/fail. p_o = 0.8
    # Cohen: p_e = .7*.5 + .3*.5 = .5 -> 0.6;  Fleiss: pooled pass .6, P_e = .52 -> .28/.48
    # alpha: n = 20, n_pass = 12, n_fail = 8, o_pf = o_fp = 2 -> 1 - 19*4/(2*12*8)
    assert v.percent_agreement == pytest.approx(0.8)
    assert v.cohens_kappa == pytest.approx(0.6)
    assert v.fleiss_kappa == pytest.approx(0.28 / 0.48)
    assert v.krippendorff_alpha == pytest.approx(1 - 19 * 4 / 192)
    assert [(p.reviewers, p.calls) for p in v.pairs] == [(("alice", "bob"), 10)]

    assert [a.subject for a in report.labels] == [H, W]  # ticked labels only, seed order
    h = report.label(H)
    assert h.kind == "failure"
    # H: both c7 c8, bob only c6 c9, neither 6. p_o = .8, p_e = .2*.4 + .8*.6 = .56
    assert h.percent_agreement == pytest.approx(0.8)
    assert h.cohens_kappa == pytest.approx(0.24 / 0.44)
    assert h.fleiss_kappa == pytest.approx(0.22 / 0.42)  # pooled .3, P_e = .58
    assert h.krippendorff_alpha == pytest.approx(1 - 19 * 4 / (2 * 6 * 14))
    w = report.label(W)
    # W: alice ticks it once in 10: p_o = .9 = p_e -> kappa 0; alpha 1 - 19*2/(2*1*19) = 0
    assert w.cohens_kappa == pytest.approx(0.0)
    assert w.krippendorff_alpha == pytest.approx(0.0)
    assert w.fleiss_kappa == pytest.approx((0.9 - 0.905) / 0.095)
    assert report.label("correct format") is None


def test_retracting_a_judgement_makes_the_previous_one_current(engine, reviewed):
    desk, c, ids, _old = reviewed
    desk.retract(ids["alice", 5])  # alice's c5 is "fail + H" again: agrees with bob's fail
    report = agreement_report(engine)
    # verdicts: 5 pass/pass, 1 pass/fail, 4 fail/fail. p_e = .6*.5 + .4*.5 = .5 -> kappa .8
    assert report.verdict.percent_agreement == pytest.approx(0.9)
    assert report.verdict.cohens_kappa == pytest.approx(0.8)
    # H: both c7 c8, alice only c5, bob only c6 c9: p_o = .7, p_e = .3*.4 + .7*.6 = .54
    assert report.label(H).cohens_kappa == pytest.approx(0.16 / 0.46)

    desk.retract(ids["bob", 0])  # bob has no other judgement of c0: the call drops out
    assert agreement_report(engine).calls == 9


def test_newest_judgement_wins_and_skips_change_nothing(engine, reviewed):
    desk, c, _ids, _old = reviewed
    before = agreement_report(engine)
    desk.skip(c[0], "alice")
    assert agreement_report(engine) == before
    desk.judge(c[0], "alice", "fail")  # a new judgement replaces alice's current one
    after = agreement_report(engine)
    assert after.calls == 10 and after.verdict.percent_agreement == pytest.approx(0.7)


def test_judgements_with_the_same_timestamp_are_ordered_by_id(engine):
    add_calls(engine, make_rows(2, model_version="v1"))
    c = _call_ids(engine)
    with Session(engine) as session, session.begin():
        for call_id in c:
            for reviewer, verdict in (("alice", "fail"), ("alice", "pass"), ("bob", "pass")):
                session.add(
                    Annotation(
                        call_id=call_id,
                        reviewer=reviewer,
                        verdict=verdict,
                        action="judge",
                        created_at=T0,
                    )
                )
                session.flush()
        rebuild_current_flags(session.connection())
    assert agreement_report(engine).verdict.percent_agreement == 1.0


def test_three_reviewers_give_pairs_alpha_and_no_fleiss_when_rater_counts_vary(engine, reviewed):
    desk, c, _ids, _old = reviewed
    for i, verdict in enumerate(["pass", "pass", "pass", "fail"]):
        desk.judge(c[i], "carol", verdict)
    desk.judge(c[10], "carol", "fail", H)  # c10 now has two reviewers
    report = agreement_report(engine)
    assert report.calls == 11
    v = report.verdict
    assert v.reviewers == ("alice", "bob", "carol")
    assert v.fleiss_kappa is None and v.cohens_kappa is None
    pairs = {p.reviewers: p for p in v.pairs}
    assert {k: p.calls for k, p in pairs.items()} == {
        ("alice", "bob"): 10,
        ("alice", "carol"): 5,
        ("bob", "carol"): 4,
    }
    # alice vs carol: c0-c3 p p p p / p p p f, c10 f / f. p_o = .8, p_e = .8*.6 + .2*.4 = .56
    assert pairs["alice", "carol"].cohens_kappa == pytest.approx(0.24 / 0.44)
    assert pairs["bob", "carol"].cohens_kappa == pytest.approx(0.0)  # bob passed all four
    verdicts = {
        **{i: ["pass", "pass", "pass"] for i in range(3)},
        3: ["pass", "pass", "fail"],
        4: ["pass", "pass"],
        5: ["pass", "fail"],
        6: ["pass", "fail"],
        7: ["fail"] * 2,
        8: ["fail"] * 2,
        9: ["fail"] * 2,
        10: ["fail", "fail"],
    }
    assert v.krippendorff_alpha == pytest.approx(krippendorff_alpha(verdicts))
    assert v.percent_agreement == pytest.approx(percent_agreement(verdicts))
    assert v.percent_agreement == pytest.approx((3 + 1 / 3 + 5) / 11)


def test_filters_by_model_version_and_call_time(engine, reviewed):
    add_calls(engine, make_rows(3, start=T0 + timedelta(days=1), model_version="v2"))
    desk, _c, _ids, _old = reviewed
    v2 = _call_ids(engine)[-3:]
    for call_id in v2:
        desk.judge(call_id, "alice", "pass")
        desk.judge(call_id, "bob", "fail")
    assert agreement_report(engine).calls == 13
    only_v2 = agreement_report(engine, model_versions=["v2"])
    assert only_v2.calls == 3 and only_v2.verdict.percent_agreement == 0.0
    assert only_v2.verdict.cohens_kappa == 0.0  # p_o = p_e = 0
    assert agreement_report(engine, model_versions=["v1"]).calls == 10
    assert agreement_report(engine, model_versions=["nope"]).calls == 0
    # make_rows spaces calls a minute apart from T0: [T0 + 2 min, T0 + 5 min) is c2..c4
    window = agreement_report(
        engine, since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=5)
    )
    assert window.calls == 3 and window.verdict.percent_agreement == 1.0
    assert window.verdict.krippendorff_alpha == 1.0  # one category only: documented as 1.0
    assert agreement_report(engine, since=T0 + timedelta(days=1)).calls == 3


def test_report_on_an_empty_store(engine):
    report = agreement_report(engine)
    assert (report.calls, report.reviewers, report.labels) == (0, (), ())
    v = report.verdict
    assert (v.calls, v.percent_agreement, v.krippendorff_alpha, v.fleiss_kappa) == (0, N, N, N)
    assert disagreements(engine) == []


def test_too_few_shared_calls_give_none_not_an_error(engine):
    add_calls(engine, make_rows(1, model_version="v1"))
    (call_id,) = _call_ids(engine)
    desk = Desk(engine)
    desk.judge(call_id, "alice", "pass")
    desk.judge(call_id, "bob", "fail")
    v = agreement_report(engine).verdict
    assert v.calls == 1 and v.pairs[0].calls == 1
    assert (v.percent_agreement, v.krippendorff_alpha, v.cohens_kappa) == (N, N, N)


def test_disagreements_newest_first_with_each_reviewers_judgement(engine, reviewed):
    desk, c, ids, _old = reviewed
    found = disagreements(engine)
    assert [d.call_id for d in found] == [c[9], c[6], c[5]]  # c7, c8 agree on verdict and H
    c9, c6, c5 = found
    assert (c9.verdict_differs, c9.differing_labels) == (False, (H, W))
    assert (c6.verdict_differs, c6.differing_labels) == (True, (H,))
    assert (c5.verdict_differs, c5.differing_labels) == (True, ())
    assert c9.model_version == "v1" and c9.call_created_at == T0 + timedelta(minutes=9)
    assert [(j.reviewer, j.verdict, j.labels) for j in c9.judgements] == [
        ("alice", "fail", (W,)),
        ("bob", "fail", (H,)),
    ]
    assert c9.judgements[0].annotation_id == ids["alice", 9]
    assert [d.call_id for d in disagreements(engine, limit=2)] == [c[9], c[6]]
    assert disagreements(engine, limit=0) == []

    desk.retract(ids["alice", 5])  # c5: fail + H (alice) vs fail (bob)
    c5 = next(d for d in disagreements(engine) if d.call_id == c[5])
    assert (c5.verdict_differs, c5.differing_labels) == (False, (H,))
    assert c5.judgements[0].labels == (H,)

    desk.judge(c[9], "alice", "fail", H)  # alice now agrees with bob on c9
    assert [d.call_id for d in disagreements(engine)] == [c[6], c[5]]
    assert [d.call_id for d in disagreements(engine, model_versions=["v2"])] == []
    assert [d.call_id for d in disagreements(engine, until=T0 + timedelta(minutes=6))] == [c[5]]
