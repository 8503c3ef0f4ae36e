"""The review-state part of a Browse filter: what reviewers said about a call.

A call matches the judgement filters (verdicts, labels, reviewers, corrected output) when one
current judgement of it (`annotations.is_current`: a reviewer's newest unretracted answer)
satisfies all of them at once: "Ann said fail with hallucination". `reviewed=False` asks for
calls without a current judgement (by the chosen reviewers, when some are chosen); `promoted`
for calls a test case was made from.

Plans (SQLite): a page sorted by time walks the calls' sort index and probes the annotations
per row (EXISTS over `ix_annotations_current`), which stops after one page when matches are
common; when they are rare, the page looks the matching calls up by id from the annotations'
own indexes and sorts those few instead (a walk would read most of the store). The choice is
made per page from a bounded count, and it names the bound parameters (`judged_probe_*` or
`judged_lookup_*`), so a compiled page's SQL shape always says which plan it holds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Connection, Select, exists, func, select

from evalboard.store.case_models import EvalCase
from evalboard.store.models import Call
from evalboard.store.review_models import Annotation, Label, annotation_labels

RARE_MATCHES = 2000  # fewer matching rows than this: look the calls up and sort them

Bind = Callable[..., Any]  # NamedBinds: (name, value, column, *, of=field) -> value or bind


class ReviewState(Protocol):
    """The review-state fields of a CallFilter."""

    verdicts: tuple[str, ...]
    labels: tuple[str, ...]
    reviewers: tuple[str, ...]
    reviewed: bool | None
    corrected: bool
    promoted: bool


def judges(f: ReviewState) -> bool:
    """Whether the filter asks about the content of a judgement (not only whether one exists)."""
    return bool(f.verdicts or f.labels or f.corrected)


def has_review_state(f: ReviewState) -> bool:
    return judges(f) or bool(f.reviewers) or f.reviewed is not None or f.promoted


def _judged(f: ReviewState, bind: Bind, prefix: str, *, with_judgement: bool = True
            ) -> Select[Any]:
    """call_id of the current judgements that satisfy the filter (all at once). `is_current`
    is compared with a bound parameter too: every variant then has its own parameter names."""
    conditions: list[ColumnElement[bool]] = [
        Annotation.is_current == bind(f"{prefix}current", True, Annotation.is_current,
                                      of="review_plan")]
    if f.reviewers:
        conditions.append(Annotation.reviewer.in_(
            [bind(f"{prefix}reviewer_{k}", name, Annotation.reviewer, of="reviewers")
             for k, name in enumerate(f.reviewers)]))
    if with_judgement and f.verdicts:
        conditions.append(Annotation.verdict.in_(
            [bind(f"{prefix}verdict_{k}", verdict, Annotation.verdict, of="verdicts")
             for k, verdict in enumerate(f.verdicts)]))
    if with_judgement and f.corrected:
        conditions.append(Annotation.corrected_output.isnot(None))
    if with_judgement and f.labels:
        names = [bind(f"{prefix}label_{k}", name, Label.name, of="labels")
                 for k, name in enumerate(f.labels)]
        conditions.append(Annotation.id.in_(
            select(annotation_labels.c.annotation_id)
            .join(Label, Label.id == annotation_labels.c.label_id)
            .where(Label.name.in_(names))))
    return select(Annotation.call_id).where(*conditions)


def _promoted(bind: Bind, prefix: str) -> Select[Any]:
    """origin_call_id of every test case made from a call (ids start at 1)."""
    return select(EvalCase.origin_call_id).where(
        EvalCase.origin_call_id >= bind(f"{prefix}first_id", 1, EvalCase.origin_call_id,
                                        of="review_plan"))


def _plain(name: str, value: Any, column: Any, *, of: str) -> Any:
    return value


def membership(conn: Connection | None, build: Callable[[Bind, str], Select[Any]],
                bind: Bind, column: Any, prefix: str) -> ColumnElement[bool]:
    """Call.id among the ids `build` selects: looked up by id when they are rare (or off
    SQLite, where the planner chooses), else probed per row of the page's walk (`column`:
    the selected id column). `prefix` names the bound parameters of each plan."""
    if conn is None or conn.dialect.name != "sqlite":
        return Call.id.in_(build(bind, f"{prefix}_"))
    counted = build(_plain, f"{prefix}_count_").limit(RARE_MATCHES).subquery()
    if conn.execute(select(func.count()).select_from(counted)).scalar_one() < RARE_MATCHES:
        return Call.id.in_(build(bind, f"{prefix}_lookup_"))
    return exists(build(bind, f"{prefix}_probe_").where(column == Call.id))


def review_conditions(f: ReviewState, bind: Bind, conn: Connection | None = None
                      ) -> list[ColumnElement[bool]]:
    """The WHERE clauses of the review-state fields. With `conn` (for one sorted page), the
    plan of each membership is chosen from a bounded count (see the module docstring)."""
    conditions: list[ColumnElement[bool]] = []
    if judges(f) or f.reviewed is True or (f.reviewers and f.reviewed is None):
        conditions.append(membership(
            conn, lambda b, prefix: _judged(f, b, prefix), bind, Annotation.call_id, "judged"))
    if f.reviewed is False:
        anyone = _judged(f, bind, "unjudged_", with_judgement=False)
        conditions.append(~exists(anyone.where(Annotation.call_id == Call.id)))
    if f.promoted:
        conditions.append(membership(conn, _promoted, bind, EvalCase.origin_call_id,
                                      "promoted"))
    return conditions
