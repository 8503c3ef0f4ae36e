"""Store and read test cases: every edit is a new version; identity and provenance stay."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, delete, func, insert, select
from sqlalchemy.orm import Session, contains_eager

from evalboard.cases.draft import CaseDraft, CaseError
from evalboard.checks import CheckSpec
from evalboard.store.case_models import CaseVersion, EvalCase, Suite, case_tags
from evalboard.store.engine import write_session


@dataclass(frozen=True)
class Provenance:
    """Where a case came from: the call, its model version, the reviewer and their reading."""

    call_id: int | None = None
    model_version: str | None = None
    reviewer: str | None = None
    labels: tuple[str, ...] = ()
    note: str | None = None


@dataclass(frozen=True)
class CaseView:
    """A case with its current version's content."""

    id: int
    suite: str
    version: int
    version_id: int
    active: bool
    draft: CaseDraft
    provenance: Provenance
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class CaseQuery:
    """Filters of the Test cases page and `evalboard cases list`."""

    suite: str | None = None
    label: str | None = None
    mode: str | None = None
    tag: str | None = None
    active: bool | None = True
    text: str = ""


def ensure_suite(session: Session, name: str) -> Suite:
    name = " ".join(name.split())
    if not name:
        raise CaseError("suite", "a case belongs to a named suite")
    suite = session.scalar(select(Suite).where(Suite.name == name))
    if suite is None:
        suite = Suite(name=name)
        session.add(suite)
        session.flush()
    return suite


def _add_version(
    session: Session, case: EvalCase, draft: CaseDraft, version: int, author: str | None
) -> CaseVersion:
    row = CaseVersion(case_id=case.id, version=version, created_by=author, **draft.content())
    session.add(row)
    case.current_version, case.name = version, draft.name
    case.mode, case.label, case.severity = draft.mode, draft.label, draft.severity
    session.execute(delete(case_tags).where(case_tags.c.case_id == case.id))
    if draft.tags:
        session.execute(insert(case_tags), [{"case_id": case.id, "tag": t} for t in draft.tags])
    session.flush()
    return row


def _name_taken(session: Session, suite_id: int, name: str, case_id: int | None) -> bool:
    return (
        session.scalar(
            select(EvalCase.id).where(
                EvalCase.suite_id == suite_id, EvalCase.name == name, EvalCase.id != (case_id or -1)
            )
        )
        is not None
    )


def create_case(
    engine: Engine,
    suite: str,
    draft: CaseDraft,
    *,
    provenance: Provenance | None = None,
    author: str | None = None,
) -> int:
    """Store a new case (version 1); returns its id."""
    draft = draft.validated()
    origin = provenance or Provenance()
    with write_session(engine) as session:
        suite_row = ensure_suite(session, suite)
        if _name_taken(session, suite_row.id, draft.name, None):
            raise CaseError(
                "name", f"suite “{suite_row.name}” has a case named “{draft.name}” already"
            )
        case = EvalCase(
            suite_id=suite_row.id,
            name=draft.name,
            active=draft.active,
            mode=draft.mode,
            label=draft.label,
            severity=draft.severity,
            origin_call_id=origin.call_id,
            origin_model_version=origin.model_version,
            origin_reviewer=origin.reviewer,
            origin_labels=list(origin.labels) or None,
            origin_note=origin.note,
            created_by=author,
        )
        session.add(case)
        session.flush()
        _add_version(session, case, draft, 1, author)
        return case.id


def update_case(
    engine: Engine, case_id: int, draft: CaseDraft, *, author: str | None = None
) -> int:
    """Save an edit: a new version when the content changed. Returns the current version."""
    draft = draft.validated()
    with write_session(engine) as session:
        case = session.get(EvalCase, case_id)
        if case is None:
            raise CaseError("case", f"there is no case {case_id}")
        if _name_taken(session, case.suite_id, draft.name, case_id):
            raise CaseError("name", f"this suite has a case named “{draft.name}” already")
        case.active = draft.active
        current = _version_row(session, case)
        if _content(current) == draft.content():
            return case.current_version
        return _add_version(session, case, draft, case.current_version + 1, author).version


def set_active(engine: Engine, case_id: int, active: bool) -> None:
    with write_session(engine) as session:
        case = session.get(EvalCase, case_id)
        if case is None:
            raise CaseError("case", f"there is no case {case_id}")
        case.active = active


def duplicate_case(engine: Engine, case_id: int, *, author: str | None = None) -> int:
    """A copy named “… (copy)”, keeping the original's provenance."""
    original = get_case(engine, case_id)
    if original is None:
        raise CaseError("case", f"there is no case {case_id}")
    name = f"{original.draft.name} (copy)"
    with Session(engine) as session:
        suite_id = session.scalar(select(Suite.id).where(Suite.name == original.suite))
        number = 2
        while _name_taken(session, suite_id, name, None):
            name, number = f"{original.draft.name} (copy {number})", number + 1
    return create_case(
        engine,
        original.suite,
        replace(original.draft, name=name, active=True),
        provenance=original.provenance,
        author=author,
    )


def _version_row(session: Session, case: EvalCase, version: int | None = None) -> CaseVersion:
    row = session.scalar(
        select(CaseVersion).where(
            CaseVersion.case_id == case.id, CaseVersion.version == (version or case.current_version)
        )
    )
    assert row is not None, f"case {case.id} lost its version"
    return row


def _content(row: CaseVersion) -> dict[str, Any]:
    return {
        key: getattr(row, key)
        for key in (
            "name",
            "input_text",
            "input_messages",
            "mode",
            "label",
            "checks",
            "references",
            "expected_entities",
            "tags",
            "severity",
            "threshold",
        )
    }


def draft_from_version(row: CaseVersion, active: bool = True) -> CaseDraft:
    return CaseDraft(
        name=row.name,
        input=tuple(row.input_messages) if row.input_messages else row.input_text,
        mode=row.mode,
        label=row.label,
        checks=tuple(CheckSpec.from_stored(c) for c in row.checks),
        references=tuple(row.references),
        expected_entities=tuple(row.expected_entities),
        tags=tuple(row.tags),
        severity=row.severity,
        threshold=row.threshold,
        active=active,
    )


def _view(session: Session, case: EvalCase, version: int | None = None,
          row: CaseVersion | None = None) -> CaseView:
    """A case at a version (its current one by default); `row`: that version, loaded already."""
    row = row or _version_row(session, case, version)
    return CaseView(
        id=case.id,
        suite=case.suite.name,
        version=row.version,
        version_id=row.id,
        active=case.active,
        draft=draft_from_version(row, case.active),
        provenance=Provenance(
            case.origin_call_id,
            case.origin_model_version,
            case.origin_reviewer,
            tuple(case.origin_labels or ()),
            case.origin_note,
        ),
        created_at=case.created_at,
        updated_at=row.created_at,
    )


def get_case(engine: Engine, case_id: int, version: int | None = None) -> CaseView | None:
    """A case's current version (or an older one)."""
    with Session(engine) as session:
        case = session.get(EvalCase, case_id)
        return None if case is None else _view(session, case, version)


def case_history(engine: Engine, case_id: int) -> list[tuple[int, datetime, str | None]]:
    """(version, when, by whom), newest first."""
    with Session(engine) as session:
        return [
            tuple(row)
            for row in session.execute(  # type: ignore[misc]
                select(CaseVersion.version, CaseVersion.created_at, CaseVersion.created_by)
                .where(CaseVersion.case_id == case_id)
                .order_by(CaseVersion.version.desc())
            )
        ]


def list_cases(
    engine: Engine, query: CaseQuery = CaseQuery(), limit: int = 10_000
) -> list[CaseView]:
    """Cases matching the filters, by suite and name (each with its current version, loaded
    in the same query)."""
    with Session(engine) as session:
        select_cases = (
            select(EvalCase, CaseVersion)
            .join(Suite, Suite.id == EvalCase.suite_id)
            .join(CaseVersion, and_(CaseVersion.case_id == EvalCase.id,
                                    CaseVersion.version == EvalCase.current_version))
            .options(contains_eager(EvalCase.suite))
            .order_by(Suite.name, EvalCase.name))
        if query.suite:
            select_cases = select_cases.where(Suite.name == query.suite)
        if query.label:
            select_cases = select_cases.where(EvalCase.label == query.label)
        if query.mode:
            select_cases = select_cases.where(EvalCase.mode == query.mode)
        if query.active is not None:
            select_cases = select_cases.where(EvalCase.active.is_(query.active))
        if query.tag:
            select_cases = select_cases.where(
                EvalCase.id.in_(select(case_tags.c.case_id).where(case_tags.c.tag == query.tag))
            )
        if query.text.strip():
            select_cases = select_cases.where(
                EvalCase.name.icontains(query.text.strip(), autoescape=True)
            )
        return [_view(session, case, row=row)
                for case, row in session.execute(select_cases.limit(limit))]


def list_suites(engine: Engine) -> list[tuple[str, int]]:
    """(suite, number of active cases), by name."""
    with Session(engine) as session:
        return [
            tuple(row)
            for row in session.execute(  # type: ignore[misc]
                select(Suite.name, func.count(EvalCase.id))
                .outerjoin(EvalCase, (EvalCase.suite_id == Suite.id) & EvalCase.active.is_(True))
                .group_by(Suite.name)
                .order_by(Suite.name)
            )
        ]


def list_tags(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.scalars(select(case_tags.c.tag).distinct().order_by(case_tags.c.tag)))


def cases_from_call(engine: Engine, call_id: int) -> list[CaseView]:
    """The cases a call produced."""
    with Session(engine) as session:
        return [
            _view(session, case)
            for case in session.scalars(
                select(EvalCase).where(EvalCase.origin_call_id == call_id).order_by(EvalCase.id)
            )
        ]


def upsert_case(
    engine: Engine,
    suite: str,
    draft: CaseDraft,
    *,
    author: str | None = None,
    provenance: Provenance | None = None,
) -> tuple[int, str]:
    """Create the case, or update the suite's case of the same name (for file imports).

    Returns (case id, "created" | "updated" | "unchanged")."""
    with Session(engine) as session:
        case_id = session.scalar(
            select(EvalCase.id)
            .join(Suite)
            .where(
                Suite.name == " ".join(suite.split()), EvalCase.name == " ".join(draft.name.split())
            )
        )
        before = session.get(EvalCase, case_id).current_version if case_id else None
    if case_id is None:
        return create_case(engine, suite, draft, provenance=provenance, author=author), "created"
    after = update_case(engine, case_id, draft, author=author)
    return case_id, "unchanged" if after == before else "updated"


def checks_summary(specs: Sequence[CheckSpec]) -> str:
    """One line per case for tables: 'NOT contains_any(tom hanks, spiderman); is_json'."""

    def one(spec: CheckSpec) -> str:
        values = ", ".join(_short(v) for v in spec.params.values())
        return (
            f"{'NOT ' if spec.negate else ''}{spec.type}({values})"
            if values
            else f"{'NOT ' if spec.negate else ''}{spec.type}"
        )

    return "; ".join(one(spec) for spec in specs)


def _short(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_short(v) for v in value)
    if isinstance(value, Mapping):
        return "{…}"
    text = str(value)
    return text if len(text) <= 40 else text[:39] + "…"
