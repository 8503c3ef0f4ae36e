"""A comment thread per call: append-only messages with their author and time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evalboard.errors import EvalboardError
from evalboard.review.annotations import clean_reviewer
from evalboard.store.engine import write_session
from evalboard.store.models import Call
from evalboard.store.team_models import CallComment

MAX_COMMENT = 10_000


class CommentError(EvalboardError, ValueError):
    """A comment that cannot be posted; the message says why."""


@dataclass(frozen=True)
class CommentView:
    id: int
    call_id: int
    author: str
    body: str
    created_at: datetime


def _view(comment: CallComment) -> CommentView:
    return CommentView(comment.id, comment.call_id, comment.author, comment.body,
                       comment.created_at)


def add_comment_in(session: Session, call_id: int, author: str, body: str,
                   now: datetime | None = None) -> CommentView:
    """`add_comment` inside the caller's write transaction; returns the stored comment."""
    text = body.strip()
    if not text:
        raise CommentError("write something to post")
    if len(text) > MAX_COMMENT:
        raise CommentError(f"a comment has at most {MAX_COMMENT:,} characters; this one has "
                           f"{len(text):,}")
    if session.get(Call, call_id) is None:
        raise CommentError(f"there is no call {call_id}")
    comment = CallComment(call_id=call_id, author=clean_reviewer(author), body=text)
    if now is not None:
        comment.created_at = now
    session.add(comment)
    session.flush()
    return _view(comment)


def add_comment(engine: Engine, call_id: int, author: str, body: str,
                now: datetime | None = None) -> int:
    """Post a comment on a call; returns its id."""
    with write_session(engine) as session:
        return add_comment_in(session, call_id, author, body, now).id


def comments(engine: Engine, call_id: int) -> list[CommentView]:
    """The call's thread, oldest first."""
    with Session(engine) as session:
        return [_view(c) for c in session.scalars(
            select(CallComment).where(CallComment.call_id == call_id).order_by(CallComment.id))]
