"""What the focus view in the browser needs, as plain JSON: the session's progress, every item's
status, the score to give (a queue batch's score configuration), and the full content of the
calls around the reviewer's place (the current one, a few behind and the next pending ones,
each with the reviewer's answer and its comment thread), so the next call shows without asking
the server.

Every read is by key (the session's items, the window's calls, their judgements, scores,
comments, cases and results), so the cost of a feed does not grow with the store.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, joinedload

from evalboard.review.annotations import AnnotationView, current_judgements
from evalboard.review.guidelines import get_guidelines
from evalboard.review.labels import LabelView, list_labels
from evalboard.review.sessions import SessionView, get_session
from evalboard.review.suggestions import check_suggestions
from evalboard.store.case_models import CaseVersion, EvalCase
from evalboard.store.models import Call
from evalboard.store.review_models import ReviewItem
from evalboard.teams.claims import batch_queue
from evalboard.teams.comments import CommentView, comments
from evalboard.teams.scores import ScoreConfigView, score_config, score_values

MAX_SHOWN_CHARS = 200_000
AHEAD = 8
BEHIND = 2
STATUS_CODES = {"pending": "p", "done": "d", "skipped": "s"}


@dataclass(frozen=True)
class Window:
    """The positions whose calls the page gets in full."""

    positions: tuple[int, ...]


def _clip(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    return {"text": text[:MAX_SHOWN_CHARS], "length": len(text)}


def window(statuses: str, cursor: int, ahead: int = AHEAD, behind: int = BEHIND) -> Window:
    """The cursor, `behind` places before it, the next `ahead` places after it and the next
    `ahead` pending places (in the order a submit visits them: after the cursor, then from the
    start)."""
    size = len(statuses)
    if size == 0:
        return Window(())
    cursor = max(0, min(cursor, size - 1))
    chosen = dict.fromkeys(range(max(0, cursor - behind), min(size, cursor + ahead + 1)))
    order = [*range(cursor + 1, size), *range(0, cursor)]
    pending = [p for p in order if statuses[p] == "p"][:ahead]
    chosen.update(dict.fromkeys(pending))
    return Window(tuple(sorted(chosen)))


def _item_statuses(session: Session, session_id: int) -> list[Any]:
    return list(session.execute(
        select(ReviewItem.position, ReviewItem.call_id, ReviewItem.status)
        .where(ReviewItem.session_id == session_id).order_by(ReviewItem.position)).all())


def _references(session: Session, call_ids: Sequence[int]) -> dict[int, str]:
    """The first reference output of the newest test case made from each call."""
    rows = session.execute(
        select(EvalCase.origin_call_id, CaseVersion.references)
        .join(CaseVersion, (CaseVersion.case_id == EvalCase.id)
              & (CaseVersion.version == EvalCase.current_version))
        .where(EvalCase.origin_call_id.in_(call_ids)).order_by(EvalCase.id.desc())).all()
    found: dict[int, str] = {}
    for call_id, references in rows:
        if call_id is not None and references and call_id not in found:
            found[call_id] = str(references[0])
    return found


def _call_json(call: Call) -> dict[str, Any]:
    messages = None
    if call.input_messages:
        messages = [{"role": str(m.get("role", "user")) if isinstance(m, Mapping) else "user",
                     "content": _clip(_content(m))} for m in call.input_messages]
    return {
        "id": call.id,
        "version": call.model_version.name,
        "source": call.source,
        "created": f"{call.created_at:%Y-%m-%d %H:%M}",
        "latency_ms": call.latency_ms,
        "error": call.error,
        "input": _clip(call.input_text),
        "messages": messages,
        "output": _clip(call.output),
        "meta": call.meta,
    }


def _content(message: Any) -> str:
    if not isinstance(message, Mapping):
        return str(message)
    content = message.get("content")
    return content if isinstance(content, str) else ("" if content is None else str(content))


def _label_json(label: LabelView) -> dict[str, Any]:
    return {"name": label.name, "kind": label.kind, "key": (label.shortcut or "").lower(),
            "description": label.description, "color": label.color}


def _score_json(config: ScoreConfigView) -> dict[str, Any]:
    return {"name": config.name, "kind": config.kind, "minimum": config.minimum,
            "maximum": config.maximum, "choices": list(config.choices),
            "description": config.description, "describe": config.describe()}


def comment_json(comment: CommentView) -> dict[str, Any]:
    """A comment as the page shows it (its body is text, never markup)."""
    return {"id": comment.id, "author": comment.author, "body": comment.body,
            "created": f"{comment.created_at:%Y-%m-%d %H:%M}"}


def answer_json(answer: AnnotationView, scores: Mapping[str, object],
                labels: Sequence[str] | None = None) -> dict[str, Any]:
    """An answer as the page edits it (`labels` instead of the answer's own, when given); its
    scores only when it has some."""
    shown = {"verdict": answer.verdict,
             "labels": list(answer.labels if labels is None else labels),
             "note": answer.note or "", "fix": answer.corrected_output or ""}
    return {**shown, "scores": dict(scores)} if scores else shown


def _session_json(view: SessionView) -> dict[str, Any]:
    return {"id": view.id, "name": view.name, "reviewer": view.reviewer, "size": view.size,
            "position": view.position, "done": view.done, "skipped": view.skipped,
            "finished": view.finished}


def focus_feed(engine: Engine, session_id: int, reviewer: str, cursor: int | None = None,
               known: Collection[int] = ()) -> dict[str, Any] | None:
    """The page's data for one session around `cursor` (the session's place when None), or
    None for an unknown session. Calls at the `known` places (the page has them already) are
    left out, so an answer costs the reads of the one call that comes into the window."""
    view = get_session(engine, session_id)
    if view is None:
        return None
    with Session(engine) as session:
        rows = _item_statuses(session, session_id)
        statuses = "".join(STATUS_CODES.get(status, "p") for _, _, status in rows)
        shown = tuple(p for p in window(statuses, view.position if cursor is None
                                        else cursor).positions if p not in known)
        call_ids = [rows[p][1] for p in shown]
        calls = {c.id: c for c in session.scalars(
            select(Call).where(Call.id.in_(call_ids)).options(joinedload(Call.model_version)))}
        references = _references(session, call_ids) if call_ids else {}
        queue = batch_queue(session, session_id)
        config_id = queue.score_config_id if queue is not None else None
    config = None if config_id is None else score_config(engine, config_id)
    judged = current_judgements(engine, call_ids)
    own = {call_id: next((j for j in views if j.reviewer == reviewer), None)
           for call_id, views in judged.items()}
    scores = score_values(engine, [j.id for j in own.values() if j is not None])
    labels = list_labels(engine)
    active = {label.name for label in labels}
    items = []
    for position in shown:
        _, call_id, status = rows[position]
        call = calls.get(call_id)
        mine = own.get(call_id)
        saved = None if mine is None else answer_json(
            mine, scores.get(mine.id, {}), [n for n in mine.labels if n in active])
        corrected = next((j.corrected_output for j in judged.get(call_id, [])
                          if j.corrected_output), None)
        items.append({
            "position": position, "call_id": call_id, "status": status,
            "call": None if call is None else _call_json(call),
            "saved": saved,
            "reference": _clip(references.get(call_id)),
            "corrected": _clip(corrected),
            "suggestions": [_suggestion_json(s) for s in check_suggestions(engine, call_id)],
            "comments": [] if call is None else [comment_json(c)
                                                 for c in comments(engine, call_id)],
        })
    return {
        "session": _session_json(view),
        "statuses": statuses,
        "items": items,
        "labels": [_label_json(label) for label in labels],
        "score": None if config is None else _score_json(config),
        "guidelines": get_guidelines(engine),
    }


def _suggestion_json(suggestion: Any) -> dict[str, Any]:
    return {"case": suggestion.case_name, "label": suggestion.label, "mode": suggestion.mode,
            "kind": getattr(suggestion, "kind", "case"),
            "trusted": getattr(suggestion, "trusted", None),
            "status": suggestion.status, "suggested": suggestion.suggested_label,
            "failed": [f"{kind}: {reason}" for kind, reason in suggestion.failed_checks[:3]]}
