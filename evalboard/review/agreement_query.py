"""How much reviewers agree, from their current judgements in the store.

A reviewer's *current* judgement of a call is their newest ``judge`` row (by ``created_at``,
then id) that no ``retract`` row names: retracting a judgement makes the reviewer's previous
unretracted judgement current again, and ``skip`` rows change nothing. Only calls with a
current judgement from at least two reviewers take part. Calls are filtered like Browse:
by model version and by the call's ``created_at`` in ``[since, until)``.

Agreement is measured on the verdict (pass/fail/unsure, nominal) and on every label ticked
at least once, as a yes/no question per reviewer ("did this reviewer tick the label?").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Connection,
    Engine,
    func,
    select,
    union,
)

from evalboard.review.agreement import (
    NotEnoughRatings,
    category_counts,
    cohens_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    percent_agreement,
)
from evalboard.review.annotations import is_current_judgement
from evalboard.store.calls_query import CallFilter, filter_conditions
from evalboard.store.models import Call, ModelVersion
from evalboard.store.review_models import Annotation, Label, annotation_labels

VERDICT = "verdict"
DISAGREEMENTS_LIMIT = 50


@dataclass(frozen=True)
class PairAgreement:
    """Two reviewers on the calls both of them judged."""

    reviewers: tuple[str, str]
    calls: int
    percent_agreement: float | None
    cohens_kappa: float | None


@dataclass(frozen=True)
class Agreement:
    """Agreement on one question: the verdict, or whether a label applies.

    ``percent_agreement`` is the share of agreeing reviewer pairs averaged over calls (with two
    reviewers: the share of calls they agree on). ``fleiss_kappa`` is only given when every
    call has the same number of reviewers; ``krippendorff_alpha`` (nominal) takes any number.
    A statistic is None when fewer than two calls allow it (see `evalboard.review.agreement`).
    """

    subject: str
    kind: str  # "verdict", or the label's kind ("failure" / "success")
    calls: int
    reviewers: tuple[str, ...]
    ratings: int
    percent_agreement: float | None
    krippendorff_alpha: float | None
    fleiss_kappa: float | None
    pairs: tuple[PairAgreement, ...]

    @property
    def cohens_kappa(self) -> float | None:
        """Cohen's kappa when exactly two reviewers took part (else see `pairs`)."""
        return self.pairs[0].cohens_kappa if len(self.reviewers) == 2 and self.pairs else None


@dataclass(frozen=True)
class AgreementReport:
    """Agreement on the verdict and on each label ticked at least once."""

    calls: int
    reviewers: tuple[str, ...]
    verdict: Agreement
    labels: tuple[Agreement, ...]

    def label(self, name: str) -> Agreement | None:
        return next((a for a in self.labels if a.subject == name), None)


@dataclass(frozen=True)
class Judgement:
    """One reviewer's current judgement of a call."""

    reviewer: str
    verdict: str | None
    labels: tuple[str, ...]
    annotation_id: int
    judged_at: datetime


@dataclass(frozen=True)
class Disagreement:
    """A call whose current judgements differ, with every reviewer's judgement."""

    call_id: int
    call_created_at: datetime
    model_version: str
    verdict_differs: bool
    differing_labels: tuple[str, ...]  # ticked by some reviewers of the call, not all
    judgements: tuple[Judgement, ...]  # ordered by reviewer


@dataclass(frozen=True)
class _LabelInfo:
    name: str
    kind: str
    position: int


def current_judgements(conditions: Sequence[ColumnElement[bool]] = ()) -> CTE:
    """One row per (call, reviewer) with a current judgement (see `is_current_judgement`),
    for calls matching `conditions`.

    Columns: annotation_id, call_id, reviewer, verdict, judged_at and ``raters`` (how many
    reviewers currently judge that call).
    """
    current = (
        select(
            Annotation.id.label("annotation_id"),
            Annotation.call_id,
            Annotation.reviewer,
            Annotation.verdict,
            Annotation.created_at.label("judged_at"),
        )
        .join(Call, Call.id == Annotation.call_id)
        .where(is_current_judgement(), *conditions)
        .subquery("current")
    )
    return (
        select(
            current.c.annotation_id,
            current.c.call_id,
            current.c.reviewer,
            current.c.verdict,
            current.c.judged_at,
            func.count().over(partition_by=current.c.call_id).label("raters"),
        )
        .cte("current_judgements")
    )


def _conditions(
    conn: Connection,
    model_versions: Sequence[str],
    since: datetime | None,
    until: datetime | None,
) -> list[ColumnElement[bool]]:
    f = CallFilter(model_versions=tuple(model_versions), since=since, until=until)
    return filter_conditions(conn, f)


def _load_shared(
    conn: Connection, current: CTE
) -> tuple[dict[int, dict[str, Judgement]], dict[str, _LabelInfo]]:
    """Current judgements (with labels) of the calls judged by two or more reviewers."""
    rows = conn.execute(
        select(
            current.c.call_id,
            current.c.reviewer,
            current.c.annotation_id,
            current.c.verdict,
            current.c.judged_at,
            Label.name,
            Label.kind,
            Label.position,
        )
        .select_from(current)
        .outerjoin(annotation_labels, annotation_labels.c.annotation_id == current.c.annotation_id)
        .outerjoin(Label, Label.id == annotation_labels.c.label_id)
        .where(current.c.raters >= 2)
        .order_by(current.c.call_id, current.c.reviewer, Label.position, Label.name)
    )
    parts: dict[int, dict[str, tuple[Any, list[str]]]] = {}
    labels: dict[str, _LabelInfo] = {}
    for call_id, reviewer, annotation_id, verdict, judged_at, name, kind, position in rows:
        head, ticked = parts.setdefault(call_id, {}).setdefault(
            reviewer, ((annotation_id, verdict, judged_at), [])
        )
        if name is not None:
            ticked.append(name)
            labels.setdefault(name, _LabelInfo(name, kind, position or 0))
    calls = {
        call_id: {
            reviewer: Judgement(reviewer, head[1], tuple(ticked), head[0], head[2])
            for reviewer, (head, ticked) in by_reviewer.items()
        }
        for call_id, by_reviewer in parts.items()
    }
    return calls, labels


def _or_none(statistic: Callable[..., float], *args: Any) -> float | None:
    try:
        return statistic(*args)
    except NotEnoughRatings:
        return None


def _agreement(subject: str, kind: str, units: dict[int, dict[str, Any]]) -> Agreement:
    """Statistics on `units` ({call: {reviewer: value}}; None = no rating)."""
    rated = {
        unit: given
        for unit, ratings in units.items()
        if len(given := {r: v for r, v in ratings.items() if v is not None}) >= 2
    }
    reviewers = sorted({r for ratings in rated.values() for r in ratings})
    pairs = []
    for a, b in combinations(reviewers, 2):
        common = [
            (ratings[a], ratings[b]) for ratings in rated.values() if a in ratings and b in ratings
        ]
        if common:
            xs, ys = [x for x, _ in common], [y for _, y in common]
            pairs.append(
                PairAgreement(
                    reviewers=(a, b),
                    calls=len(common),
                    percent_agreement=_or_none(percent_agreement, [xs, ys]),
                    cohens_kappa=_or_none(cohens_kappa, xs, ys),
                )
            )
    same_size = len({len(ratings) for ratings in rated.values()}) == 1
    return Agreement(
        subject=subject,
        kind=kind,
        calls=len(rated),
        reviewers=tuple(reviewers),
        ratings=sum(len(ratings) for ratings in rated.values()),
        percent_agreement=_or_none(percent_agreement, rated),
        krippendorff_alpha=_or_none(krippendorff_alpha, rated),
        fleiss_kappa=_or_none(fleiss_kappa, category_counts(rated)) if same_size else None,
        pairs=tuple(pairs),
    )


def agreement_report(
    engine: Engine,
    *,
    model_versions: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
) -> AgreementReport:
    """Agreement on the verdict and per label over the calls judged by two or more reviewers."""
    with engine.connect() as conn:
        current = current_judgements(_conditions(conn, model_versions, since, until))
        calls, labels = _load_shared(conn, current)
    verdict = _agreement(
        VERDICT,
        VERDICT,
        {call: {r: j.verdict for r, j in judged.items()} for call, judged in calls.items()},
    )
    per_label = tuple(
        _agreement(
            info.name,
            info.kind,
            {
                call: {r: info.name in j.labels for r, j in judged.items()}
                for call, judged in calls.items()
            },
        )
        for info in sorted(labels.values(), key=lambda i: (i.position, i.name))
    )
    reviewers = sorted({r for judged in calls.values() for r in judged})
    return AgreementReport(
        calls=len(calls), reviewers=tuple(reviewers), verdict=verdict, labels=per_label
    )


def disagreements(
    engine: Engine,
    *,
    limit: int = DISAGREEMENTS_LIMIT,
    model_versions: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    where: Sequence[ColumnElement[bool]] = (),
) -> list[Disagreement]:
    """Calls whose current judgements differ (verdict, or a label ticked by some reviewers but
    not all), newest call first, at most `limit`, with each reviewer's judgement. `where`
    narrows the calls further (conditions on Call)."""
    if limit <= 0:
        return []
    with engine.connect() as conn:
        conditions = [*_conditions(conn, model_versions, since, until), *where]
        current = current_judgements(conditions)
        shared = select(current).where(current.c.raters >= 2).subquery("shared")
        verdict_split = (
            select(shared.c.call_id)
            .group_by(shared.c.call_id)
            .having(func.count(func.coalesce(shared.c.verdict, "").distinct()) > 1)
        )
        label_split = (
            select(shared.c.call_id)
            .join(annotation_labels, annotation_labels.c.annotation_id == shared.c.annotation_id)
            .group_by(shared.c.call_id, annotation_labels.c.label_id)
            .having(func.count() < func.max(shared.c.raters))
        )
        split = union(verdict_split, label_split).subquery("split")
        page = conn.execute(
            select(Call.id, Call.created_at, ModelVersion.name)
            .join(ModelVersion, ModelVersion.id == Call.model_version_id)
            .where(Call.id.in_(select(split.c.call_id)))
            .order_by(Call.created_at.desc(), Call.id.desc())
            .limit(limit)
        ).all()
        if not page:
            return []
        on_page = current_judgements([*conditions, Call.id.in_([row.id for row in page])])
        calls, labels = _load_shared(conn, on_page)

    def label_order(name: str) -> tuple[int, str]:
        return labels[name].position, name

    result = []
    for call_id, created_at, version in page:
        judged = [calls[call_id][r] for r in sorted(calls[call_id])]
        ticked = [set(j.labels) for j in judged]
        result.append(
            Disagreement(
                call_id=call_id,
                call_created_at=created_at,
                model_version=version,
                verdict_differs=len({j.verdict for j in judged}) > 1,
                differing_labels=tuple(
                    sorted(set.union(*ticked) - set.intersection(*ticked), key=label_order)
                ),
                judgements=tuple(judged),
            )
        )
    return result


__all__ = [
    "Agreement",
    "AgreementReport",
    "Disagreement",
    "Judgement",
    "PairAgreement",
    "agreement_report",
    "current_judgements",
    "disagreements",
]
