"""How much reviewers agree on pairwise answers: Cohen's κ (per two reviewers), Fleiss' κ and
Krippendorff's α on A / B / tie, over the pairs answered by two or more reviewers.

A pair is the same pair in either orientation (a session of v2 against v1 shows v1's call as
its B); each live answer is turned into which call won (`first` / `second`: the lower / higher
call id) or `tie`. "Both bad" answers take no part (no preference was given).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, or_, select

from evalboard.review.agreement_query import Agreement
from evalboard.review.agreement_query import _agreement as agreement_of  # the shared statistics
from evalboard.store.calls_query import version_ids
from evalboard.store.models import Call
from evalboard.store.pairwise_models import PairwiseAnswer

SUBJECT = "pairwise preference"


def _winner(outcome: str, call_a_id: int, call_b_id: int) -> str:
    if outcome == "tie":
        return "tie"
    winner = call_a_id if outcome == "a" else call_b_id
    return "first" if winner == min(call_a_id, call_b_id) else "second"


def pairwise_agreement(engine: Engine, *, model_versions: Sequence[str] = ()) -> Agreement:
    """Agreement on the preference over pairs with live answers from two or more reviewers
    (pairs with a call of one of `model_versions`, when given)."""
    call_a, call_b = Call.__table__.alias("call_a"), Call.__table__.alias("call_b")
    with engine.connect() as conn:
        query = (select(PairwiseAnswer.reviewer, PairwiseAnswer.call_a_id,
                        PairwiseAnswer.call_b_id, PairwiseAnswer.outcome)
                 .join(call_a, call_a.c.id == PairwiseAnswer.call_a_id)
                 .join(call_b, call_b.c.id == PairwiseAnswer.call_b_id)
                 .where(PairwiseAnswer.is_current.is_(True),
                        PairwiseAnswer.outcome.in_(("a", "b", "tie"))))
        if model_versions:
            ids = version_ids(conn, tuple(model_versions))
            query = query.where(or_(call_a.c.model_version_id.in_(ids),
                                    call_b.c.model_version_id.in_(ids)))
        rows = conn.execute(query).all()
    units: dict[tuple[int, int], dict[str, str]] = {}
    for reviewer, a, b, outcome in rows:
        units.setdefault((min(a, b), max(a, b)), {})[reviewer] = _winner(outcome, a, b)
    return agreement_of(SUBJECT, "pairwise", units)
