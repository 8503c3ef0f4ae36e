"""Review sessions stored in the database: start, resume, move, judge, skip and undo."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from evalboard.review.annotations import (
    Judgement,
    annotate_in,
    clean_reviewer,
    newest_live_action,
    record_skip_in,
    undo_last_in,
)
from evalboard.review.labels import labels_by_name
from evalboard.review.sampling import STRATEGIES, ReviewSessionError, SessionSpec, pick_calls
from evalboard.store.engine import write_session
from evalboard.store.models import utcnow
from evalboard.store.review_models import ReviewItem, ReviewSession
from evalboard.teams.claims import settle_in


@dataclass(frozen=True)
class SessionView:
    id: int
    name: str
    reviewer: str
    strategy: str
    size: int
    position: int
    done: int
    skipped: int
    created_at: datetime
    finished: bool

    @property
    def remaining(self) -> int:
        return self.size - self.done - self.skipped


@dataclass(frozen=True)
class ItemView:
    position: int
    call_id: int
    status: str


def filters_as_json(spec: SessionSpec) -> dict[str, object]:
    def plain(value: object) -> object:
        return value.isoformat() if isinstance(value, date | datetime) else value

    return {
        "filter": {
            k: plain(v)
            for k, v in asdict(spec.call_filter).items()
            if v not in ((), "", None, False)
        },
        "sort": spec.sort_key,
        "seed": spec.seed,
    }


def start_session(engine: Engine, reviewer: str, spec: SessionSpec, name: str = "") -> int:
    """Pick the calls and store the session; raise when nothing matches."""
    reviewer = clean_reviewer(reviewer)
    call_ids = pick_calls(engine, spec)
    if not call_ids:
        raise ReviewSessionError(
            "no calls to review with these settings: every matching call is reviewed, or none "
            "matches. Widen the dates or versions, or pick another strategy."
        )
    with write_session(engine) as session:
        review = ReviewSession(
            name=name.strip() or f"{STRATEGIES[spec.strategy]} · {utcnow():%Y-%m-%d}",
            reviewer=reviewer,
            strategy=spec.strategy,
            filters=filters_as_json(spec),
            size=len(call_ids),
            position=0,
        )
        session.add(review)
        session.flush()
        session.add_all(
            ReviewItem(session_id=review.id, position=i, call_id=call_id)
            for i, call_id in enumerate(call_ids)
        )
        return review.id


def _view(session: Session, review: ReviewSession) -> SessionView:
    counts = dict(
        session.execute(
            select(ReviewItem.status, func.count())
            .where(ReviewItem.session_id == review.id)
            .group_by(ReviewItem.status)
        ).all()
    )
    return SessionView(
        review.id,
        review.name,
        review.reviewer,
        review.strategy,
        review.size,
        review.position,
        counts.get("done", 0),
        counts.get("skipped", 0),
        review.created_at,
        review.finished_at is not None,
    )


def get_session(engine: Engine, session_id: int) -> SessionView | None:
    with Session(engine) as session:
        review = session.get(ReviewSession, session_id)
        return None if review is None else _view(session, review)


def list_sessions(
    engine: Engine, reviewer: str | None = None, limit: int = 20
) -> list[SessionView]:
    """Newest sessions first (one reviewer's, or everyone's)."""
    with Session(engine) as session:
        query = select(ReviewSession).order_by(ReviewSession.id.desc()).limit(limit)
        if reviewer:
            query = query.where(ReviewSession.reviewer == reviewer)
        return [_view(session, review) for review in session.scalars(query)]


def open_session_of(engine: Engine, reviewer: str) -> int | None:
    """The reviewer's newest unfinished session, to resume after a reload or restart."""
    with Session(engine) as session:
        return session.scalar(
            select(ReviewSession.id)
            .where(ReviewSession.reviewer == reviewer, ReviewSession.finished_at.is_(None))
            .order_by(ReviewSession.id.desc())
            .limit(1)
        )


def item_at(engine: Engine, session_id: int, position: int) -> ItemView | None:
    with Session(engine) as session:
        item = session.get(ReviewItem, (session_id, position))
        return None if item is None else ItemView(item.position, item.call_id, item.status)


def items(engine: Engine, session_id: int) -> list[ItemView]:
    with Session(engine) as session:
        return [
            ItemView(i.position, i.call_id, i.status)
            for i in session.scalars(
                select(ReviewItem)
                .where(ReviewItem.session_id == session_id)
                .order_by(ReviewItem.position)
            )
        ]


def move_to(engine: Engine, session_id: int, position: int) -> int:
    """Set the session's current position (clamped to its items); returns it."""
    with write_session(engine) as session:
        review = session.get(ReviewSession, session_id)
        if review is None:
            raise ReviewSessionError(f"there is no review session {session_id}")
        review.position = max(0, min(position, review.size - 1))
        return review.position


def _next_pending(session: Session, session_id: int, after: int) -> int | None:
    return session.scalar(
        select(ReviewItem.position)
        .where(
            ReviewItem.session_id == session_id,
            ReviewItem.status == "pending",
            ReviewItem.position > after,
        )
        .order_by(ReviewItem.position)
        .limit(1)
    ) or session.scalar(
        select(ReviewItem.position)
        .where(ReviewItem.session_id == session_id, ReviewItem.status == "pending")
        .order_by(ReviewItem.position)
        .limit(1)
    )


def _finish_item(
    session: Session, session_id: int, position: int, status: str, annotation_id: int
) -> None:
    session.execute(
        update(ReviewItem)
        .where(ReviewItem.session_id == session_id, ReviewItem.position == position)
        .values(status=status, annotation_id=annotation_id)
    )
    settle_in(session, session_id, position)
    review = session.get(ReviewSession, session_id)
    assert review is not None
    following = _next_pending(session, session_id, position)
    if following is None:
        review.finished_at = review.finished_at or utcnow()
        review.position = min(position + 1, review.size - 1)
    else:
        review.position = following


def _item_in(session: Session, session_id: int, position: int) -> ReviewItem:
    item = session.get(ReviewItem, (session_id, position))
    if item is None:
        raise ReviewSessionError(f"session {session_id} has no item {position}")
    return item


def judge_item(
    engine: Engine,
    session_id: int,
    position: int,
    reviewer: str,
    judgement: Judgement,
    seconds_spent: float | None = None,
) -> int:
    """Annotate the call at `position` and advance to the next pending call."""
    judgement.check()
    label_ids = labels_by_name(engine, judgement.labels)
    with write_session(engine) as session:
        return judge_item_in(session, session_id, position, reviewer, judgement, label_ids,
                             seconds_spent)


def judge_item_in(
    session: Session,
    session_id: int,
    position: int,
    reviewer: str,
    judgement: Judgement,
    label_ids: dict[str, int],
    seconds_spent: float | None = None,
) -> int:
    """`judge_item` inside the caller's write transaction (labels already resolved)."""
    item = _item_in(session, session_id, position)
    annotation_id = annotate_in(session, item.call_id, reviewer, judgement, label_ids,
                                seconds_spent=seconds_spent, review_session_id=session_id)
    _finish_item(session, session_id, position, "done", annotation_id)
    return annotation_id


def skip_item(engine: Engine, session_id: int, position: int, reviewer: str) -> int:
    """Record a skip of the call at `position` and advance."""
    with write_session(engine) as session:
        return skip_item_in(session, session_id, position, reviewer)


def skip_item_in(session: Session, session_id: int, position: int, reviewer: str) -> int:
    """`skip_item` inside the caller's write transaction."""
    item = _item_in(session, session_id, position)
    annotation_id = record_skip_in(session, item.call_id, reviewer, session_id)
    _finish_item(session, session_id, position, "skipped", annotation_id)
    return annotation_id


@dataclass(frozen=True)
class Undone:
    """Where an undo landed: the item's position and the annotation it retracted."""

    position: int
    retracted_id: int


def undo_in_session(engine: Engine, session_id: int, reviewer: str) -> Undone | None:
    """Undo the reviewer's last judgement or skip in this session and make its call current.

    The item then reflects what is live again: the reviewer's earlier answer in this session
    if there is one (done or skipped), else it is pending. None when there is nothing to undo.
    """
    with write_session(engine) as session:
        return undo_in_session_in(session, session_id, reviewer)


def undo_in_session_in(session: Session, session_id: int, reviewer: str) -> Undone | None:
    """`undo_in_session` inside the caller's write transaction."""
    result = undo_last_in(session, reviewer, review_session_id=session_id)
    if not result.retracted_ids:
        return None
    item = session.scalars(select(ReviewItem).where(
        ReviewItem.session_id == session_id,
        ReviewItem.call_id == result.call_ids[0])).first()
    if item is None:
        return None
    live = newest_live_action(session, item.call_id, clean_reviewer(reviewer), session_id)
    if live is None:
        item.status, item.annotation_id = "pending", None
    else:
        item.status = "done" if live.action == "judge" else "skipped"
        item.annotation_id = live.id
    session.flush()
    settle_in(session, session_id, item.position)
    review = session.get(ReviewSession, session_id)
    assert review is not None
    review.position = item.position
    if item.status == "pending":
        review.finished_at = None
    return Undone(item.position, result.retracted_ids[0])
