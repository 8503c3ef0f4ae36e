"""Append-only annotations: judge, skip, bulk-judge and undo; read current state and history."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    exists,
    func,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session, aliased

from evalboard.errors import EvalboardError
from evalboard.review.labels import labels_by_name
from evalboard.store.engine import write_session
from evalboard.store.models import Call
from evalboard.store.review_models import VERDICTS, Annotation, Label
from evalboard.teams.scores import ScoreError, score_rows

BULK_CHUNK = 500


class AnnotationError(EvalboardError, ValueError):
    """An annotation that cannot be recorded; the message says why."""


@dataclass(frozen=True)
class Judgement:
    """What a reviewer decides about a call."""

    verdict: str | None
    labels: tuple[str, ...] = ()
    note: str = ""
    corrected_output: str | None = None
    scores: tuple[tuple[str, object], ...] = ()  # (score configuration name, raw value)

    def check(self) -> None:
        if self.verdict is not None and self.verdict not in VERDICTS:
            raise AnnotationError(f"a verdict is pass, fail or unsure, not {self.verdict!r}")
        if (
            self.verdict is None
            and not self.labels
            and not self.note.strip()
            and not self.corrected_output
            and not self.scores
        ):
            raise AnnotationError("choose a verdict or a label, or write a note")


@dataclass(frozen=True)
class AnnotationView:
    id: int
    call_id: int
    reviewer: str
    action: str
    verdict: str | None
    labels: tuple[str, ...]
    note: str | None
    corrected_output: str | None
    seconds_spent: float | None
    created_at: datetime
    retracted: bool = False
    batch_id: str | None = None


@dataclass
class UndoResult:
    retracted_ids: list[int] = field(default_factory=list)
    call_ids: list[int] = field(default_factory=list)


def clean_reviewer(reviewer: str) -> str:
    name = " ".join((reviewer or "").split())
    if not name:
        raise AnnotationError("say who is reviewing (a reviewer name)")
    return name[:200]


def _retracted():  # type: ignore[no-untyped-def]
    retract = aliased(Annotation)
    return exists().where(retract.retracts_id == Annotation.id)


def live_judgements():  # type: ignore[no-untyped-def]
    """WHERE clause of judge rows that no retract row has undone."""
    return and_(Annotation.action == "judge", ~_retracted())


def is_current_judgement() -> ColumnElement[bool]:
    """WHERE clause (on Annotation): the row is its reviewer's current judgement of the call.
    Reads the flag every write keeps (`current_by_definition` says what it means)."""
    return Annotation.is_current.is_(True)


def is_final_answer() -> ColumnElement[bool]:
    """WHERE clause (on Annotation): the row is (part of) the call's final answer: its newest
    live adjudication, or, on a call nobody adjudicated, each current judgement."""
    return Annotation.is_final.is_(True)


def current_by_definition(row: type[Annotation] | Any = Annotation) -> ColumnElement[bool]:
    """WHERE clause (on `row`): a live judge row with no newer live judge row by the same
    reviewer on the same call, i.e. the reviewer's current judgement of the call."""
    newer = aliased(Annotation)
    retract = aliased(Annotation)
    own_retract = aliased(Annotation)
    newer_live = (
        exists()
        .where(
            newer.call_id == row.call_id,
            newer.reviewer == row.reviewer,
            newer.id > row.id,
            newer.action == "judge",
            ~exists().where(retract.retracts_id == newer.id),
        )
        .correlate(row)
    )
    return and_(row.action == "judge", ~exists().where(own_retract.retracts_id == row.id)
                .correlate(row), ~newer_live)


def _set_current(session: Session, reviewer: str, call_ids: Sequence[int]) -> None:
    """Mark the reviewer's current judgement of each call (none if every one is retracted)."""
    row, retract = aliased(Annotation), aliased(Annotation)
    for start in range(0, len(call_ids), BULK_CHUNK):
        chunk = list(call_ids[start : start + BULK_CHUNK])
        _clear_current(session, reviewer, chunk)
        newest = (select(func.max(row.id))
                  .where(row.reviewer == reviewer, row.call_id.in_(chunk), row.action == "judge",
                         ~exists().where(retract.retracts_id == row.id))
                  .group_by(row.call_id))
        session.execute(update(Annotation).where(Annotation.id.in_(newest))
                        .values(is_current=True)
                        .execution_options(synchronize_session=False))


def _clear_current(session: Session, reviewer: str, call_ids: Sequence[int]) -> None:
    session.execute(update(Annotation)
                    .where(Annotation.reviewer == reviewer, Annotation.call_id.in_(call_ids),
                           Annotation.is_current.is_(True))
                    .values(is_current=False)
                    .execution_options(synchronize_session=False))


def _set_final(session: Session | Connection, call_ids: Sequence[int] | None) -> None:
    """Mark the final answer of each call (every call when `call_ids` is None)."""
    chunks = ([None] if call_ids is None else
              [list(call_ids[i : i + BULK_CHUNK]) for i in range(0, len(call_ids), BULK_CHUNK)])
    for chunk in chunks:
        def within(column: Any, chunk: list[int] | None = chunk) -> ColumnElement[bool]:
            return true() if chunk is None else column.in_(chunk)

        row, retract = aliased(Annotation), aliased(Annotation)
        live_adjudication = and_(within(row.call_id), row.action == "adjudicate",
                                 ~exists().where(retract.retracts_id == row.id))
        session.execute(update(Annotation)
                        .where(within(Annotation.call_id), Annotation.is_final.is_(True))
                        .values(is_final=False).execution_options(synchronize_session=False))
        session.execute(update(Annotation)
                        .where(Annotation.id.in_(select(func.max(row.id)).where(live_adjudication)
                                                 .group_by(row.call_id)))
                        .values(is_final=True).execution_options(synchronize_session=False))
        session.execute(update(Annotation)
                        .where(within(Annotation.call_id), Annotation.is_current.is_(True),
                               Annotation.call_id.not_in(select(row.call_id)
                                                         .where(live_adjudication)))
                        .values(is_final=True).execution_options(synchronize_session=False))


def rebuild_final_flags(conn: Connection) -> None:
    """Set every annotation's is_final from the annotations and their is_current flags."""
    _set_final(conn, None)


def rebuild_answer_flags(conn: Connection) -> None:
    """Both flags, is_current then is_final, from the annotations alone (after a bulk load)."""
    rebuild_current_flags(conn)
    rebuild_final_flags(conn)


def rebuild_current_flags(conn: Connection) -> None:
    """Set every annotation's is_current from the annotations themselves (after rows were
    written without the flag: a migration, a bulk load)."""
    conn.execute(update(Annotation).values(is_current=False))
    row = aliased(Annotation)
    conn.execute(update(Annotation).where(Annotation.id.in_(
        select(row.id).where(current_by_definition(row)))).values(is_current=True))


def _new_annotation(
    session: Session,
    call_id: int,
    reviewer: str,
    judgement: Judgement,
    label_ids: dict[str, int],
    action: str = "judge",
    **extra: object,
) -> Annotation:
    annotation = Annotation(
        call_id=call_id,
        reviewer=reviewer,
        action=action,
        is_current=action == "judge",
        verdict=judgement.verdict,
        note=judgement.note.strip() or None,
        corrected_output=judgement.corrected_output if judgement.corrected_output else None,
        **extra,
    )
    annotation.labels = [session.get(Label, label_ids[name]) for name in judgement.labels]
    if judgement.scores:
        try:
            annotation.scores = score_rows(session, judgement.scores)
        except ScoreError as exc:
            raise AnnotationError(str(exc)) from None
    session.add(annotation)
    return annotation


def annotate(
    engine: Engine,
    call_id: int,
    reviewer: str,
    judgement: Judgement,
    *,
    seconds_spent: float | None = None,
    review_session_id: int | None = None,
) -> int:
    """Record a reviewer's judgement of a call; returns the annotation id."""
    judgement.check()
    label_ids = labels_by_name(engine, judgement.labels)
    with write_session(engine) as session:
        return annotate_in(session, call_id, reviewer, judgement, label_ids,
                           seconds_spent=seconds_spent, review_session_id=review_session_id)


def annotate_in(
    session: Session,
    call_id: int,
    reviewer: str,
    judgement: Judgement,
    label_ids: dict[str, int],
    *,
    seconds_spent: float | None = None,
    review_session_id: int | None = None,
) -> int:
    """`annotate` inside the caller's write transaction (labels already resolved to ids)."""
    judgement.check()
    reviewer = clean_reviewer(reviewer)
    if session.get(Call, call_id) is None:
        raise AnnotationError(f"there is no call {call_id}")
    _clear_current(session, reviewer, [call_id])
    annotation = _new_annotation(
        session,
        call_id,
        reviewer,
        judgement,
        label_ids,
        seconds_spent=seconds_spent,
        review_session_id=review_session_id,
    )
    session.flush()
    _set_final(session, [call_id])
    return annotation.id


def adjudicate_in(session: Session, call_id: int, adjudicator: str, judgement: Judgement,
                  label_ids: dict[str, int]) -> int:
    """Record the call's final answer (an `adjudicate` row, undone like any other by a
    retract); reviewers' own judgements stay as they are, for agreement. Returns its id."""
    judgement.check()
    if session.get(Call, call_id) is None:
        raise AnnotationError(f"there is no call {call_id}")
    annotation = _new_annotation(session, call_id, clean_reviewer(adjudicator), judgement,
                                 label_ids, action="adjudicate")
    session.flush()
    _set_final(session, [call_id])
    return annotation.id


def retract_in(session: Session, reviewer: str, annotation_id: int) -> UndoResult:
    """Retract one live annotation by id (the reviewer who retracts is recorded)."""
    target = session.scalars(select(Annotation).where(
        Annotation.id == annotation_id, Annotation.action != "retract", ~_retracted())).first()
    if target is None:
        return UndoResult()
    return _retract(session, clean_reviewer(reviewer), [target])


def record_skip(
    engine: Engine, call_id: int, reviewer: str, review_session_id: int | None = None
) -> int:
    """Record that a reviewer skipped a call (it stays unreviewed)."""
    with write_session(engine) as session:
        return record_skip_in(session, call_id, reviewer, review_session_id)


def record_skip_in(session: Session, call_id: int, reviewer: str,
                   review_session_id: int | None = None) -> int:
    """`record_skip` inside the caller's write transaction."""
    annotation = Annotation(
        call_id=call_id,
        reviewer=clean_reviewer(reviewer),
        action="skip",
        review_session_id=review_session_id,
    )
    session.add(annotation)
    session.flush()
    return annotation.id


def bulk_annotate(
    engine: Engine, call_ids: Sequence[int], reviewer: str, judgement: Judgement
) -> str:
    """Apply one judgement to many calls as one undoable action; returns its batch id."""
    judgement.check()
    reviewer = clean_reviewer(reviewer)
    label_ids = labels_by_name(engine, judgement.labels)
    batch_id = uuid.uuid4().hex
    unique_ids = list(dict.fromkeys(call_ids))
    with write_session(engine) as session:
        for start in range(0, len(unique_ids), BULK_CHUNK):
            chunk = unique_ids[start : start + BULK_CHUNK]
            _clear_current(session, reviewer, chunk)
            for call_id in chunk:
                _new_annotation(session, call_id, reviewer, judgement, label_ids, batch_id=batch_id)
            session.flush()
            _set_final(session, chunk)
    return batch_id


def _retract(session: Session, reviewer: str, targets: Sequence[Annotation]) -> UndoResult:
    result = UndoResult()
    for target in targets:
        session.add(Annotation(call_id=target.call_id, reviewer=reviewer, action="retract",
                               retracts_id=target.id,
                               review_session_id=target.review_session_id))
        result.retracted_ids.append(target.id)
        result.call_ids.append(target.call_id)
    session.flush()
    judged: dict[str, list[int]] = {}
    for target in targets:
        if target.action == "judge":  # an adjudication is never current, only final
            judged.setdefault(target.reviewer, []).append(target.call_id)
    for judge, call_ids in judged.items():  # the judgement before the retracted one is current
        _set_current(session, judge, call_ids)
    _set_final(session, list(dict.fromkeys(result.call_ids)))
    return result


def _live_batch(session: Session, batch_id: str) -> list[Annotation]:
    return list(session.scalars(
        select(Annotation).where(Annotation.batch_id == batch_id, ~_retracted())))


def undo_last(engine: Engine, reviewer: str, *, review_session_id: int | None = None
              ) -> UndoResult:
    """Retract the reviewer's newest action that is not retracted yet (a whole bulk action at
    once). With a review session, only that session's actions are considered."""
    with write_session(engine) as session:
        return undo_last_in(session, reviewer, review_session_id=review_session_id)


def undo_last_in(session: Session, reviewer: str, *, review_session_id: int | None = None
                 ) -> UndoResult:
    """`undo_last` inside the caller's write transaction."""
    reviewer = clean_reviewer(reviewer)
    query = select(Annotation).where(
        Annotation.reviewer == reviewer, Annotation.action != "retract", ~_retracted()
    )
    if review_session_id is not None:
        query = query.where(Annotation.review_session_id == review_session_id)
    last = session.scalars(query.order_by(Annotation.id.desc()).limit(1)).first()
    if last is None:
        return UndoResult()
    targets = [last] if last.batch_id is None else _live_batch(session, last.batch_id)
    return _retract(session, reviewer, targets)


def undo_batch(engine: Engine, reviewer: str, batch_id: str) -> UndoResult:
    """Retract every still-live annotation of one bulk action."""
    reviewer = clean_reviewer(reviewer)
    with write_session(engine) as session:
        return _retract(session, reviewer, _live_batch(session, batch_id))


def newest_live_action(session: Session, call_id: int, reviewer: str,
                       review_session_id: int | None = None) -> Annotation | None:
    """The reviewer's newest judge or skip row on the call that no retract row undoes."""
    query = select(Annotation).where(
        Annotation.call_id == call_id, Annotation.reviewer == reviewer,
        Annotation.action.in_(("judge", "skip")), ~_retracted())
    if review_session_id is not None:
        query = query.where(Annotation.review_session_id == review_session_id)
    return session.scalars(query.order_by(Annotation.id.desc()).limit(1)).first()


def annotation_view(engine: Engine, annotation_id: int) -> AnnotationView | None:
    with Session(engine) as session:
        row = session.get(Annotation, annotation_id)
        return _views(session, [row])[0] if row else None


def _views(session: Session, annotations: Sequence[Annotation]) -> list[AnnotationView]:
    ids = [a.id for a in annotations]
    retracted = (
        set(session.scalars(select(Annotation.retracts_id).where(Annotation.retracts_id.in_(ids))))
        if ids
        else set()
    )
    return [
        AnnotationView(
            a.id,
            a.call_id,
            a.reviewer,
            a.action,
            a.verdict,
            tuple(label.name for label in a.labels),
            a.note,
            a.corrected_output,
            a.seconds_spent,
            a.created_at,
            a.id in retracted,
            a.batch_id,
        )
        for a in annotations
    ]


def call_history(engine: Engine, call_id: int) -> list[AnnotationView]:
    """Every annotation row of a call, newest first (retracted ones flagged)."""
    with Session(engine) as session:
        rows = list(
            session.scalars(
                select(Annotation)
                .where(Annotation.call_id == call_id)
                .order_by(Annotation.id.desc())
            )
        )
        return _views(session, rows)


def current_judgements(engine: Engine, call_ids: Sequence[int], *, final: bool = False
                       ) -> dict[int, list[AnnotationView]]:
    """Each call's current judgement per reviewer, newest first; with `final`, its final
    answer instead (the adjudication, or else the current judgements)."""
    if not call_ids:
        return {}
    with Session(engine) as session:
        rows = list(session.scalars(
            select(Annotation).where(Annotation.call_id.in_(call_ids),
                                     is_final_answer() if final else is_current_judgement())
            .order_by(Annotation.id.desc())))
        current: dict[int, list[AnnotationView]] = {}
        for view in _views(session, rows):
            current.setdefault(view.call_id, []).append(view)
        return current


def current_judgement(engine: Engine, call_id: int, reviewer: str) -> AnnotationView | None:
    for view in current_judgements(engine, [call_id]).get(call_id, []):
        if view.reviewer == reviewer:
            return view
    return None


def is_reviewed():  # type: ignore[no-untyped-def]
    """WHERE clause (on Call) true when someone's current judgement of the call exists."""
    return exists().where(Annotation.call_id == Call.id, live_judgements())
