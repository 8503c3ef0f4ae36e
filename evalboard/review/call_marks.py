"""What reviewers currently say about a page of calls (verdicts, labels), and who reviews."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, select

from evalboard.store.review_models import VERDICTS, Annotation, Label, annotation_labels


@dataclass
class CallMarks:
    """The current judgements of one call, merged over reviewers: each verdict given (in
    pass, fail, unsure order) and each label given (in the taxonomy's order)."""

    verdicts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)


def current_marks(engine: Engine, call_ids: Sequence[int]) -> dict[int, CallMarks]:
    """The merged current judgements of the calls that have any (two indexed reads)."""
    if not call_ids:
        return {}
    ids = list(call_ids)
    with engine.connect() as conn:
        judged = conn.execute(
            select(Annotation.id, Annotation.call_id, Annotation.verdict)
            .where(Annotation.is_current.is_(True), Annotation.call_id.in_(ids))).all()
        labelled = conn.execute(
            select(Annotation.call_id, Label.name)
            .join(annotation_labels, annotation_labels.c.annotation_id == Annotation.id)
            .join(Label, Label.id == annotation_labels.c.label_id)
            .where(Annotation.is_current.is_(True), Annotation.call_id.in_(ids))
            .order_by(Label.position, Label.id)).all() if judged else []
    marks: dict[int, CallMarks] = {}
    for _, call_id, verdict in judged:
        mark = marks.setdefault(call_id, CallMarks())
        if verdict and verdict not in mark.verdicts:
            mark.verdicts.append(verdict)
    for mark in marks.values():
        mark.verdicts.sort(key=VERDICTS.index)
    for call_id, name in labelled:
        if name not in marks[call_id].labels:
            marks[call_id].labels.append(name)
    return marks


def reviewer_names(engine: Engine) -> list[str]:
    """Everyone with a current judgement, by name."""
    with engine.connect() as conn:
        return list(conn.scalars(
            select(Annotation.reviewer).where(Annotation.is_current.is_(True)).distinct()
            .order_by(Annotation.reviewer)))
