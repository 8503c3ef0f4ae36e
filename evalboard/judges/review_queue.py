"""One click to review where a judge and people disagree: a review session of those calls."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine

from evalboard.judges.errors import JudgeError
from evalboard.review.annotations import clean_reviewer
from evalboard.store.engine import write_session
from evalboard.store.models import utcnow
from evalboard.store.review_models import ReviewItem, ReviewSession

STRATEGY = "disagreements"  # the calls where raters (here: a judge and people) differ


def review_disagreements(engine: Engine, reviewer: str, judge_ref: str,
                         call_ids: Sequence[int]) -> int:
    """A review session of `call_ids` (in order, each once) for `reviewer`; its id."""
    reviewer = clean_reviewer(reviewer)
    ordered = list(dict.fromkeys(call_ids))
    if not ordered:
        raise JudgeError(f"{judge_ref} agrees with people on every call: nothing to review")
    with write_session(engine) as session:
        review = ReviewSession(
            name=f"Judge {judge_ref} vs people · {utcnow():%Y-%m-%d}", reviewer=reviewer,
            strategy=STRATEGY, filters={"judge": judge_ref, "calls": len(ordered)},
            size=len(ordered), position=0)
        session.add(review)
        session.flush()
        session.add_all(ReviewItem(session_id=review.id, position=i, call_id=call_id)
                        for i, call_id in enumerate(ordered))
        return review.id
