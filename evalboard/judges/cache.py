"""The judge result cache: (judge version, sha256 of the prompt, sha256 of the output).

A usable answer is a hit forever (a version never changes); an error is kept to be shown and
replaced by the next attempt. Writes are short transactions that tolerate a concurrent writer
of the same key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from evalboard.store.engine import write_session
from evalboard.store.judge_models import JudgeCallResult, JudgeResult
from evalboard.store.models import utcnow


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class CachedAnswer:
    """A stored result row."""

    result_id: int
    verdict: str | None
    score: float | None
    reason: str
    raw_answer: str | None
    error: str | None
    attempts: int


def _answer(row: JudgeResult) -> CachedAnswer:
    return CachedAnswer(row.id, row.verdict, row.score, row.reason, row.raw_answer, row.error,
                        row.attempts)


def lookup(engine: Engine, version_id: int, prompt_hash: str, output_hash: str,
           call_id: int | None = None) -> CachedAnswer | None:
    """The cached usable answer for this key, or None (nothing stored, or an error); a hit
    is linked to `call_id` when it is not yet (no write when it is)."""
    with Session(engine) as session:
        row = session.scalar(select(JudgeResult).where(
            JudgeResult.judge_version_id == version_id, JudgeResult.prompt_hash == prompt_hash,
            JudgeResult.output_hash == output_hash))
        if row is None or row.error is not None:
            return None
        answer = _answer(row)
        linked = call_id is None or session.scalar(select(JudgeCallResult.result_id).where(
            JudgeCallResult.judge_version_id == version_id,
            JudgeCallResult.call_id == call_id)) == row.id
    if not linked:
        with write_session(engine) as session:
            _link(session, version_id, call_id or 0, answer.result_id)
    return answer


def save(engine: Engine, version_id: int, prompt_hash: str, output_hash: str, *,
         verdict: str | None, score: float | None, reason: str, raw_answer: str | None,
         error: str | None, attempts: int, call_id: int | None = None) -> int:
    """Store (or replace) the answer for this key, linked to `call_id` in the same
    transaction when there is one; its result id."""
    values = {"verdict": verdict, "score": score, "reason": reason, "raw_answer": raw_answer,
              "error": error, "attempts": attempts, "created_at": utcnow()}
    key = (JudgeResult.judge_version_id == version_id, JudgeResult.prompt_hash == prompt_hash,
           JudgeResult.output_hash == output_hash)
    for _ in range(3):
        try:
            with write_session(engine) as session:
                found = session.scalar(select(JudgeResult.id).where(*key))
                if found is not None:
                    session.execute(update(JudgeResult).where(JudgeResult.id == found)
                                    .values(**values))
                else:
                    row = JudgeResult(judge_version_id=version_id, prompt_hash=prompt_hash,
                                      output_hash=output_hash, **values)
                    session.add(row)
                    session.flush()
                    found = row.id
                if call_id is not None:
                    _link(session, version_id, call_id, found)
                return found
        except IntegrityError:  # another writer stored the same key first: update theirs
            continue
    raise RuntimeError("the judge result could not be stored")


def _link(session: Session, version_id: int, call_id: int, result_id: int) -> None:
    """Record that this version's result on call `call_id` is `result_id`."""
    session.execute(delete(JudgeCallResult).where(
        JudgeCallResult.judge_version_id == version_id, JudgeCallResult.call_id == call_id))
    session.add(JudgeCallResult(judge_version_id=version_id, call_id=call_id,
                                result_id=result_id))
