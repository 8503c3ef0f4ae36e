"""Adjudication: where reviewers disagree, one person with the right records the call's final
answer. Reviewers' own judgements stay as they were (agreement is computed on them); the final
answer is what metrics, exports and promotion read (`annotations.is_final`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Engine, exists, select
from sqlalchemy.orm import Session, aliased

from evalboard.review.agreement_query import Disagreement, disagreements
from evalboard.review.annotations import (
    AnnotationView,
    Judgement,
    adjudicate_in,
    annotation_view,
    retract_in,
)
from evalboard.review.labels import labels_by_name
from evalboard.store.engine import write_session
from evalboard.store.models import Call
from evalboard.store.review_models import Annotation
from evalboard.store.team_models import QueueItem

PENDING_LIMIT = 200


def is_adjudicated() -> ColumnElement[bool]:
    """WHERE clause (on Call): the call has a live adjudication."""
    row, retract = aliased(Annotation), aliased(Annotation)
    return exists().where(row.call_id == Call.id, row.action == "adjudicate",
                          ~exists().where(retract.retracts_id == row.id))


def adjudicate(engine: Engine, call_id: int, adjudicator: str, judgement: Judgement) -> int:
    """Record the call's final answer; returns the annotation id. A later adjudication
    replaces an earlier one (both are kept)."""
    judgement.check()
    label_ids = labels_by_name(engine, judgement.labels)
    with write_session(engine) as session:
        return adjudicate_in(session, call_id, adjudicator, judgement, label_ids)


def adjudication_of(engine: Engine, call_id: int) -> AnnotationView | None:
    """The call's live adjudication (the newest), if any."""
    with Session(engine) as session:
        retract = aliased(Annotation)
        newest = session.scalar(
            select(Annotation.id)
            .where(Annotation.call_id == call_id, Annotation.action == "adjudicate",
                   ~exists().where(retract.retracts_id == Annotation.id))
            .order_by(Annotation.id.desc()).limit(1))
    return None if newest is None else annotation_view(engine, newest)


def withdraw_adjudication(engine: Engine, call_id: int, adjudicator: str) -> bool:
    """Retract the call's live adjudication (the one before it, if any, is final again; else
    the reviewers' judgements are). False when there was none."""
    current = adjudication_of(engine, call_id)
    if current is None:
        return False
    with write_session(engine) as session:
        return bool(retract_in(session, adjudicator, current.id).retracted_ids)


def pending_adjudication(engine: Engine, *, queue_id: int | None = None,
                         model_versions: Sequence[str] = (), limit: int = PENDING_LIMIT
                         ) -> list[Disagreement]:
    """Disagreements nobody has adjudicated yet, newest call first (of one queue's calls when
    `queue_id` is given)."""
    where = [~is_adjudicated()]
    if queue_id is not None:
        where.append(Call.id.in_(select(QueueItem.call_id).where(QueueItem.queue_id == queue_id)))
    return disagreements(engine, limit=limit, model_versions=model_versions, where=where)


def adjudicated_calls(engine: Engine, call_ids: Sequence[int]) -> set[int]:
    """Which of these calls have a live adjudication."""
    if not call_ids:
        return set()
    with Session(engine) as session:
        return set(session.scalars(select(Call.id).where(Call.id.in_(call_ids),
                                                         is_adjudicated())))
