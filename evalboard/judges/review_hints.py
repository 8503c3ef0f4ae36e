"""Judge results on a call as review suggestions, each marked trusted or not (κ ≥ 0.6)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from evalboard.judges.alignment import alignment
from evalboard.judges.repository import JudgeVersionView, get_version_by_id
from evalboard.store.judge_models import JudgeCallResult, JudgeResult, JudgeVersion
from evalboard.store.review_models import Annotation


@dataclass(frozen=True)
class JudgeHint:
    """The newest judged version of one judge on a call."""

    judge: str
    ref: str
    label: str | None
    kind: str | None
    verdict: str
    reason: str
    trusted: bool
    trust_text: str


def judge_hints(engine: Engine, call_id: int) -> list[JudgeHint]:
    """For each judge that answered on this call: its newest version's answer."""
    with Session(engine) as session:
        rows = session.execute(
            select(JudgeVersion.judge_id, JudgeCallResult.judge_version_id, JudgeResult.verdict,
                   JudgeResult.reason)
            .join(JudgeResult, JudgeResult.id == JudgeCallResult.result_id)
            .join(JudgeVersion, JudgeVersion.id == JudgeCallResult.judge_version_id)
            .where(JudgeCallResult.call_id == call_id, JudgeResult.verdict.is_not(None))
            .order_by(JudgeVersion.judge_id, JudgeVersion.version.desc())).all()
    newest: dict[int, tuple[int, str, str]] = {}
    for judge_id, version_id, verdict, reason in rows:
        newest.setdefault(judge_id, (version_id, verdict, reason))
    hints = []
    for version_id, verdict, reason in newest.values():
        version = get_version_by_id(engine, version_id)
        trusted, trust_text = trust(engine, version)
        hints.append(JudgeHint(version.name, version.ref, version.label, version.label_kind,
                               verdict, reason, trusted, trust_text))
    return sorted(hints, key=lambda h: h.judge)


_TRUST: dict[tuple[str, int, tuple[Any, ...]], tuple[bool, str]] = {}
_TRUST_KEPT = 256


def trust(engine: Engine, version: JudgeVersionView) -> tuple[bool, str]:
    """(trusted, its text) of a version, measured again only when its results or the
    annotations changed (a review queue asks for every call it shows)."""
    with Session(engine) as session:
        answered = session.execute(
            select(func.count(), func.count(JudgeResult.verdict),
                   func.sum(JudgeCallResult.result_id))
            .join(JudgeResult, JudgeResult.id == JudgeCallResult.result_id)
            .where(JudgeCallResult.judge_version_id == version.id)).one()
        fingerprint = (*answered, session.scalar(select(func.max(Annotation.id))))
    key = (str(engine.url), version.id, fingerprint)
    if key not in _TRUST:
        if len(_TRUST) >= _TRUST_KEPT:
            _TRUST.clear()
        measured = alignment(engine, version)
        _TRUST[key] = (measured.trusted, measured.trust_text)
    return _TRUST[key]
