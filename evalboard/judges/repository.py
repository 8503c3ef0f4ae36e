"""Versioned judges in the store: create, new version, list, get (newest or a given version).

A version is validated before it is written (template fields, backend parameters, output mode,
threshold) and never changed afterwards: an edit writes a new version with its parent named.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from evalboard.judges.backends import BackendSpec
from evalboard.judges.errors import JudgeError
from evalboard.judges.templates import validate_template
from evalboard.store.engine import write_session
from evalboard.store.judge_models import OUTPUT_MODES, Judge, JudgeVersion
from evalboard.store.review_models import Label

_NAME = re.compile(r"^[\w][\w .-]{0,99}$")
_VERSIONED = re.compile(r"^(?P<name>.+)@v?(?P<version>\d+)$")
MAX_EXAMPLES = 50


@dataclass(frozen=True)
class JudgeDefinition:
    """What a judge version is made of (everything but its place in the history)."""

    template: str
    backend: BackendSpec
    output_mode: str = "pass_fail"
    threshold: float | None = None
    examples: tuple[Mapping[str, Any], ...] = ()

    def validate(self) -> None:
        validate_template(self.template)
        self.backend.validate()
        if self.output_mode not in OUTPUT_MODES:
            raise JudgeError(f"output_mode: expected one of {', '.join(OUTPUT_MODES)}, "
                             f"got {self.output_mode!r}")
        if self.threshold is not None and (
                isinstance(self.threshold, bool) or not isinstance(self.threshold, int | float)
                or not math.isfinite(self.threshold) or not 0 <= self.threshold <= 1):
            raise JudgeError(f"threshold: a score from 0 to 1, got {self.threshold!r}")
        if len(self.examples) > MAX_EXAMPLES:
            raise JudgeError(f"examples: at most {MAX_EXAMPLES}, got {len(self.examples)}")
        for number, example in enumerate(self.examples):
            if example.get("verdict") not in ("pass", "fail"):
                raise JudgeError(f"examples[{number}].verdict: expected pass or fail")


@dataclass(frozen=True)
class JudgeVersionView:
    """One stored judge version with its judge's name and label."""

    id: int
    judge_id: int
    name: str
    version: int
    label: str | None
    label_kind: str | None
    label_description: str
    definition: JudgeDefinition
    parent_id: int | None
    note: str
    created_at: datetime

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class JudgeSummary:
    """A judge for lists: its newest version and how many there are."""

    name: str
    label: str | None
    newest: JudgeVersionView
    versions: int = field(default=1)


def _check_name(name: str) -> str:
    name = name.strip()
    if not _NAME.match(name) or "@" in name:
        raise JudgeError(f"name: 1 to 100 letters, digits, spaces, '.', '-' or '_', got "
                         f"{name!r}")
    return name


def _view(session: Session, version: JudgeVersion, judge: Judge) -> JudgeVersionView:
    label = session.get(Label, judge.label_id) if judge.label_id is not None else None
    return JudgeVersionView(
        id=version.id, judge_id=judge.id, name=judge.name, version=version.version,
        label=label.name if label else None, label_kind=label.kind if label else None,
        label_description=label.description if label else "",
        definition=JudgeDefinition(
            template=version.template, backend=BackendSpec.from_dict(version.backend),
            output_mode=version.output_mode, threshold=version.threshold,
            examples=tuple(version.examples or ())),
        parent_id=version.parent_id, note=version.note, created_at=version.created_at)


def _write_version(session: Session, judge: Judge, definition: JudgeDefinition,
                   parent_id: int | None, note: str) -> JudgeVersion:
    number = (session.scalar(select(func.max(JudgeVersion.version))
                             .where(JudgeVersion.judge_id == judge.id)) or 0) + 1
    version = JudgeVersion(
        judge_id=judge.id, version=number, template=definition.template,
        backend=definition.backend.to_dict(), output_mode=definition.output_mode,
        threshold=definition.threshold, examples=[dict(e) for e in definition.examples],
        parent_id=parent_id, note=note)
    session.add(version)
    session.flush()
    return version


def create_judge(engine: Engine, name: str, definition: JudgeDefinition, *,
                 label: str | None = None, note: str = "") -> JudgeVersionView:
    """A new judge with its first version; JudgeError when the name is taken or bad."""
    name = _check_name(name)
    definition.validate()
    try:
        with write_session(engine) as session:
            label_id = None
            if label:
                label_id = session.scalar(select(Label.id).where(Label.name == label))
                if label_id is None:
                    raise JudgeError(f"label: there is no label {label!r}")
            if session.scalar(select(Judge.id).where(Judge.name == name)) is not None:
                raise JudgeError(f"name: there is already a judge {name!r}")
            judge = Judge(name=name, label_id=label_id)
            session.add(judge)
            session.flush()
            version = _write_version(session, judge, definition, None, note or "created")
            version_id = version.id
    except IntegrityError:
        raise JudgeError(f"name: there is already a judge {name!r}") from None
    return get_version_by_id(engine, version_id)


def new_version(engine: Engine, name: str, definition: JudgeDefinition, *, note: str = "",
                parent_id: int | None = None) -> JudgeVersionView:
    """A new version of the judge `name` (its parent: `parent_id`, else the newest)."""
    definition.validate()
    for attempt in range(3):  # two writers numbering the same judge: the second renumbers
        try:
            with write_session(engine) as session:
                judge = _judge(session, name)
                parent = parent_id if parent_id is not None else session.scalar(
                    select(func.max(JudgeVersion.id)).where(JudgeVersion.judge_id == judge.id))
                version_id = _write_version(session, judge, definition, parent, note).id
            return get_version_by_id(engine, version_id)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _judge(session: Session, name: str) -> Judge:
    judge = session.scalar(select(Judge).where(Judge.name == name))
    if judge is None:
        known = session.scalars(select(Judge.name).order_by(Judge.name)).all()
        raise JudgeError(f"judge: there is no judge {name!r}"
                         + (f"; judges: {', '.join(known)}" if known else
                            "; create one in Settings or with evalboard judge create"))
    return judge


def get_version(engine: Engine, name: str, version: int | None = None) -> JudgeVersionView:
    """The judge's newest version, or its version number `version`."""
    with Session(engine) as session:
        judge = _judge(session, name)
        query = select(JudgeVersion).where(JudgeVersion.judge_id == judge.id)
        query = query.where(JudgeVersion.version == version) if version is not None else \
            query.order_by(JudgeVersion.version.desc()).limit(1)
        row = session.scalar(query)
        if row is None:
            raise JudgeError(f"judge: {name!r} has no version {version}")
        return _view(session, row, judge)


def get_version_by_id(engine: Engine, version_id: int) -> JudgeVersionView:
    with Session(engine) as session:
        row = session.get(JudgeVersion, version_id)
        if row is None:
            raise JudgeError(f"judge: there is no judge version with id {version_id}")
        return _view(session, row, session.get_one(Judge, row.judge_id))


def resolve(engine: Engine, ref: str | int) -> JudgeVersionView:
    """A judge version from a reference: a name (newest version), 'name@3' (version 3), or a
    version id (an int, or '#17')."""
    if isinstance(ref, int):
        return get_version_by_id(engine, ref)
    ref = ref.strip()
    if ref.startswith("#") and ref[1:].isdigit():
        return get_version_by_id(engine, int(ref[1:]))
    versioned = _VERSIONED.match(ref)
    if versioned:
        return get_version(engine, versioned["name"], int(versioned["version"]))
    return get_version(engine, ref)


def list_judges(engine: Engine) -> list[JudgeSummary]:
    """Every judge with its newest version, by name."""
    with Session(engine) as session:
        counts = dict(session.execute(select(JudgeVersion.judge_id, func.count())
                                      .group_by(JudgeVersion.judge_id)).all())
        summaries = []
        for judge in session.scalars(select(Judge).order_by(Judge.name)):
            newest = session.scalar(select(JudgeVersion).where(JudgeVersion.judge_id == judge.id)
                                    .order_by(JudgeVersion.version.desc()).limit(1))
            if newest is not None:
                view = _view(session, newest, judge)
                summaries.append(JudgeSummary(judge.name, view.label, view,
                                              counts.get(judge.id, 1)))
        return summaries


def history(engine: Engine, name: str) -> list[JudgeVersionView]:
    """Every version of a judge, newest first."""
    with Session(engine) as session:
        judge = _judge(session, name)
        return [_view(session, v, judge) for v in session.scalars(
            select(JudgeVersion).where(JudgeVersion.judge_id == judge.id)
            .order_by(JudgeVersion.version.desc()))]


def judges_for_labels(engine: Engine, labels: Sequence[str]) -> dict[str, str]:
    """label name -> judge name, for the judges that judge one of `labels`."""
    with Session(engine) as session:
        return dict(session.execute(select(Label.name, Judge.name)
                                    .join(Judge, Judge.label_id == Label.id)
                                    .where(Label.name.in_(list(labels)))).all())
