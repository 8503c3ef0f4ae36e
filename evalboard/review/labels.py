"""The label taxonomy: list, add, rename, recolour, re-key and archive labels."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, exists, func, select
from sqlalchemy.orm import Session

from evalboard.errors import EvalboardError
from evalboard.store.engine import write_session
from evalboard.store.review_models import LABEL_KINDS, Annotation, Label, annotation_labels

# Keys the review screen uses for verdicts and navigation, and keys Streamlit reserves.
# (T and V focus a score's field in a scored queue only; a label may take them, and wins.)
RESERVED_KEYS = frozenset("PFUSZJKCRNGMO")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


class LabelError(EvalboardError, ValueError):
    """A label change that cannot be made; the message says why."""


@dataclass(frozen=True)
class LabelView:
    id: int
    name: str
    kind: str
    description: str
    color: str
    shortcut: str | None
    position: int
    archived: bool


def _view(label: Label) -> LabelView:
    return LabelView(
        label.id,
        label.name,
        label.kind,
        label.description,
        label.color,
        label.shortcut,
        label.position,
        label.archived,
    )


def list_labels(engine: Engine, *, include_archived: bool = False) -> list[LabelView]:
    """Labels in display order (failure modes first, as positioned)."""
    with Session(engine) as session:
        query = select(Label).order_by(Label.position, Label.id)
        if not include_archived:
            query = query.where(Label.archived.is_(False))
        return [_view(label) for label in session.scalars(query)]


def labels_by_name(engine: Engine, names: Sequence[str]) -> dict[str, int]:
    """Ids of active labels by name; raise LabelError naming any unknown or archived one."""
    if not names:
        return {}
    with Session(engine) as session:
        found = dict(
            session.execute(
                select(Label.name, Label.id).where(Label.name.in_(names), Label.archived.is_(False))
            ).all()
        )
    missing = [n for n in names if n not in found]
    if missing:
        raise LabelError(f"unknown or archived label(s): {', '.join(missing)}")
    return found


USAGE_DEFINITION = ("share of judged calls (calls with a current judgement) on which a current "
                    "judgement carries the label; a call counts once however many reviewers "
                    "labelled it")


@dataclass(frozen=True)
class LabelUsage:
    """How many calls carry each label: calls on which a reviewer's current judgement (the
    newest unretracted one per reviewer) carries it, each call counted once, out of the
    calls that have a current judgement (USAGE_DEFINITION)."""

    calls: dict[str, int]
    judged_calls: int

    def share(self, name: str) -> float:
        return self.calls.get(name, 0) / self.judged_calls if self.judged_calls else 0.0


def label_usage(engine: Engine) -> LabelUsage:
    """The calls carrying each label and the judged calls, by USAGE_DEFINITION."""
    current = Annotation.is_current.is_(True)  # see annotations.is_current_judgement
    calls = func.count(Annotation.call_id.distinct())
    with engine.connect() as conn:
        per_label = dict(conn.execute(
            select(Label.name, calls)
            .join(annotation_labels, annotation_labels.c.label_id == Label.id)
            .join(Annotation, Annotation.id == annotation_labels.c.annotation_id)
            .where(current)
            .group_by(Label.name)).all())
        judged = conn.execute(select(calls).where(current)).scalar_one()
    return LabelUsage(per_label, judged)


def _check_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise LabelError("a label needs a name")
    if len(cleaned) > 100:
        raise LabelError("a label name has at most 100 characters")
    return cleaned


def _check_key(session: Session, key: str | None, label_id: int | None) -> str | None:
    if key is None or key.strip() == "":
        return None
    key = key.strip().upper()
    if len(key) != 1 or not key.isalnum():
        raise LabelError(f"a shortcut is one letter or digit, not {key!r}")
    if key in RESERVED_KEYS:
        raise LabelError(
            f"{key} is taken by the review screen (P pass, F fail, U unsure, S skip, Z undo, "
            "J/K next/previous, N note, G guidelines, M raw/Markdown, O comment) or reserved by "
            "Streamlit (C, R)"
        )
    clash = session.scalar(
        select(Label.name).where(
            func.upper(Label.shortcut) == key,
            Label.archived.is_(False),
            Label.id != (label_id or -1),
        )
    )
    if clash:
        raise LabelError(f"the key {key} already belongs to “{clash}”")
    return key


def _check_colour(color: str) -> str:
    if not _COLOUR.match(color):
        raise LabelError(f"a colour is #RRGGBB, not {color!r}")
    return color.lower()


def create_label(
    engine: Engine,
    name: str,
    kind: str,
    *,
    description: str = "",
    color: str = "#868e96",
    shortcut: str | None = None,
) -> int:
    if kind not in LABEL_KINDS:
        raise LabelError(f"a label's kind is failure or success, not {kind!r}")
    with write_session(engine) as session:
        name = _check_name(name)
        if session.scalar(select(Label.id).where(Label.name == name)):
            raise LabelError(f"a label named “{name}” exists already (it may be archived)")
        position = (session.scalar(select(func.max(Label.position))) or 0) + 1
        label = Label(
            name=name,
            kind=kind,
            description=description.strip(),
            color=_check_colour(color),
            shortcut=_check_key(session, shortcut, None),
            position=position,
        )
        session.add(label)
        session.flush()
        return label.id


def update_label(
    engine: Engine,
    label_id: int,
    *,
    name: str | None = None,
    description: str | None = None,
    color: str | None = None,
    shortcut: str | None = None,
    clear_shortcut: bool = False,
) -> None:
    """Rename, describe, recolour or re-key a label."""
    with write_session(engine) as session:
        label = session.get(Label, label_id)
        if label is None:
            raise LabelError(f"no label with id {label_id}")
        if name is not None and _check_name(name) != label.name:
            new_name = _check_name(name)
            if session.scalar(select(Label.id).where(Label.name == new_name)):
                raise LabelError(f"a label named “{new_name}” exists already")
            label.name = new_name
        if description is not None:
            label.description = description.strip()
        if color is not None:
            label.color = _check_colour(color)
        if clear_shortcut:
            label.shortcut = None
        elif shortcut is not None and shortcut.strip().upper() != (label.shortcut or ""):
            if label.archived:
                raise LabelError("an archived label has no key: restore it first")
            label.shortcut = _check_key(session, shortcut, label_id)


def is_used(session: Session, label_id: int) -> bool:
    return bool(session.scalar(select(exists().where(annotation_labels.c.label_id == label_id))))


def archive_label(engine: Engine, label_id: int) -> str:
    """Retire a label: archived when used (annotations keep it), deleted when never used.

    Returns "archived" or "deleted".
    """
    with write_session(engine) as session:
        label = session.get(Label, label_id)
        if label is None:
            raise LabelError(f"no label with id {label_id}")
        if is_used(session, label_id):
            label.archived = True
            label.shortcut = None
            return "archived"
        session.delete(label)
        return "deleted"


def restore_label(engine: Engine, label_id: int) -> str | None:
    """Make an archived label usable again. Its key is kept when still free, else cleared;
    returns a note when it was cleared."""
    with write_session(engine) as session:
        label = session.get(Label, label_id)
        if label is None:
            raise LabelError(f"no label with id {label_id}")
        label.archived = False
        if label.shortcut is None:
            return None
        try:
            _check_key(session, label.shortcut, label_id)
        except LabelError:
            key, label.shortcut = label.shortcut, None
            return f"its key {key} now belongs to another label, so it has none"
        return None
