"""Demo reviews: two reviewers label part of the demo traffic, mostly agreeing.

They judge what the demo planted (`metadata["planted"]`), with the slips real reviewers make,
so the Home, Agreement and export features have something true to show.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from random import Random

from sqlalchemy import Engine, exists, select
from sqlalchemy.orm import Session

from evalboard.store.engine import write_session
from evalboard.store.models import Call
from evalboard.store.review_models import Annotation, Label

REVIEWERS = ("ana (demo)", "ben (demo)")
REVIEWED_SHARE = 0.12  # of production calls, by the first reviewer
SECOND_OPINION_SHARE = 0.5  # of those, also judged by the second reviewer
SLIP = {"ana (demo)": 0.05, "ben (demo)": 0.15}  # chance to miss a planted failure
SUCCESS_BY_SCENARIO = {"json_extraction": "correct format", "non_english_input":
                       "edge case handled", "empty_input": "edge case handled",
                       "long_input": "edge case handled"}


def _judgement(rng: Random, reviewer: str, planted: str | None, scenario: str | None
               ) -> tuple[str, list[str], str | None]:
    """Verdict, labels and note of one reviewer for a call."""
    if planted is not None:
        if rng.random() < SLIP[reviewer]:
            return "pass", ["appropriate response"], None
        if rng.random() < 0.08:
            return "unsure", [planted], "Not sure this counts: second opinion please."
        return "fail", [planted], f"Looks like {planted}."
    labels = ["appropriate response"]
    if scenario in SUCCESS_BY_SCENARIO:
        labels.append(SUCCESS_BY_SCENARIO[scenario])
    return "pass", labels, None


def add_demo_reviews(engine: Engine, seed: int = 0, now: datetime | None = None) -> int:
    """Judge a deterministic sample of the demo's production calls; returns annotations added.

    Calls are drawn in external-id order, so the same calls get the same judgements whatever
    the dates they were logged at; no judgement is dated after `now` (default: the newest
    call). Does nothing when the demo reviewers have reviewed before (loading twice adds
    nothing).
    """
    rng = Random(f"reviews-{seed}")
    with Session(engine) as session:
        if session.scalar(select(exists().where(Annotation.reviewer.in_(REVIEWERS)))):
            return 0
        labels = {label.name: label for label in session.scalars(select(Label))}
        calls = sorted(session.execute(
            select(Call.external_id, Call.id, Call.created_at, Call.meta)
            .where(Call.source == "production", Call.external_id.like("demo-%"),
                   Call.error.is_(None))).all(), key=lambda row: row.external_id)
    latest = now or max((created for _, _, created, _ in calls), default=None)
    added = 0
    with write_session(engine) as session:
        for _, call_id, created_at, meta in calls:
            if rng.random() >= REVIEWED_SHARE:
                continue
            meta = meta or {}
            reviewers = REVIEWERS if rng.random() < SECOND_OPINION_SHARE else REVIEWERS[:1]
            for reviewer in reviewers:
                verdict, names, note = _judgement(rng, reviewer, meta.get("planted"),
                                                  meta.get("scenario"))
                at = created_at + timedelta(hours=rng.uniform(1, 30))
                annotation = Annotation(  # each reviewer judges a call once: current and final
                    call_id=call_id, reviewer=reviewer, action="judge", is_current=True,
                    is_final=True, verdict=verdict,
                    note=note, seconds_spent=round(rng.uniform(4, 40), 1),
                    created_at=min(at, latest) if latest else at)
                annotation.labels = [labels[n] for n in names if n in labels]
                session.add(annotation)
                added += 1
    return added
