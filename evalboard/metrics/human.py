"""Human review metrics per model version, over the final answers of the calls in scope.

A call's final answer is its adjudication when reviewers' disagreement was settled, else each
reviewer's current judgement (newest unretracted judge row; see `is_final_answer`): a call
nobody adjudicated and several reviewers judged has several.

- verdict rates: share of pass / fail / unsure among final answers that carry a verdict;
- label rates: share of judged calls (calls with at least one final answer) on which some
  final answer carries the label.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, String, cast, func, literal, null, select, union_all

from evalboard.metrics.axis import PRODUCTION, CallScope, VersionRef, on_axis, version_axis
from evalboard.metrics.intervals import with_wilson
from evalboard.review.annotations import is_final_answer
from evalboard.store.models import Call
from evalboard.store.review_models import VERDICTS, Annotation, Label, annotation_labels


def _judged(conn: Connection, scope: CallScope, columns: Sequence[Any]) -> Any:
    """SELECT columns FROM final answers JOIN their calls (in scope). Annotations drive
    the join: the scope's conditions do not seek on calls, which are reached by id."""
    return (select(Call.model_version_id, *columns).select_from(Annotation)
            .join(Call, Call.id == Annotation.call_id)
            .where(is_final_answer(), *scope.conditions(conn.dialect.name, seek=False)))


def verdict_query(conn: Connection, scope: CallScope) -> Any:
    """(model_version_id, verdict, current judgements with that verdict)."""
    return (_judged(conn, scope, [Annotation.verdict, func.count()])
            .where(Annotation.verdict.is_not(None))
            .group_by(Call.model_version_id, Annotation.verdict))


def verdict_rates(engine: Engine, *, scope: CallScope = PRODUCTION,
                  versions: Sequence[str] | None = None) -> pd.DataFrame:
    """Per (model version, verdict): model_version, version_order, verdict, count,
    judgements (current judgements with a verdict), rate, low, high (95% Wilson interval).
    Every verdict has a row for each version with judgements."""
    with engine.connect() as conn:
        axis = version_axis(conn, versions)
        counts = {(vid, verdict): n for vid, verdict, n in conn.execute(verdict_query(conn, scope))}
    return _verdict_frame(counts, axis)


def _verdict_frame(counts: dict[tuple[int, str], int], axis: Sequence[VersionRef]
                   ) -> pd.DataFrame:
    totals: dict[int, int] = {}
    for (vid, _verdict), n in counts.items():
        totals[vid] = totals.get(vid, 0) + n
    rows = [(vid, verdict, counts.get((vid, verdict), 0), total)
            for vid, total in totals.items() for verdict in VERDICTS]
    frame = on_axis(rows, ["verdict", "count", "judgements"], axis)
    frame["rate"] = frame["count"] / frame["judgements"]
    return with_wilson(frame, "count", "judgements")


def _judged_cte(conn: Connection, scope: CallScope) -> Any:
    """Current judgements in scope with their labels (a row per label, one with NULL for a
    judgement without), found once (a materialised CTE) for every count made of them."""
    return (_judged(conn, scope, [Annotation.id.label("annotation_id"), Annotation.call_id,
                                  Annotation.verdict, Label.name.label("label")])
            .outerjoin(annotation_labels, annotation_labels.c.annotation_id == Annotation.id)
            .outerjoin(Label, Label.id == annotation_labels.c.label_id)
            .cte("judged").prefix_with("MATERIALIZED"))


def _label_branches(judged: Any) -> list[Any]:
    """(model_version_id, NULL, judged calls) per version and (model_version_id, label, calls
    carrying it) per label."""
    calls = func.count(judged.c.call_id.distinct())
    return [select(judged.c.model_version_id, cast(null(), String), calls)
            .group_by(judged.c.model_version_id),
            select(judged.c.model_version_id, judged.c.label, calls)
            .where(judged.c.label.is_not(None))
            .group_by(judged.c.model_version_id, judged.c.label)]


def label_calls_query(conn: Connection, scope: CallScope) -> Any:
    """(model_version_id, label, distinct calls) per label whose current judgements carry it,
    plus one row per version with label NULL: its judged calls."""
    return union_all(*_label_branches(_judged_cte(conn, scope)))


def human_counts_query(conn: Connection, scope: CallScope) -> Any:
    """label_calls_query's rows tagged 'label', and verdict_query's tagged 'verdict': both from
    one pass over the current judgements and their calls."""
    judged = _judged_cte(conn, scope)
    verdicts = (select(judged.c.model_version_id, judged.c.verdict,
                       func.count(judged.c.annotation_id.distinct()), literal("verdict"))
                .where(judged.c.verdict.is_not(None))
                .group_by(judged.c.model_version_id, judged.c.verdict))
    labels = [branch.add_columns(literal("label")) for branch in _label_branches(judged)]
    return union_all(verdicts, *labels)


def label_rates(engine: Engine, *, scope: CallScope = PRODUCTION,
                versions: Sequence[str] | None = None) -> pd.DataFrame:
    """Per (model version, label): model_version, version_order, label, kind, calls (judged calls
    carrying the label), judged_calls, rate, low, high (95% Wilson interval). Every label that
    is not archived (and every label in use) has a row for each version with judged calls."""
    with engine.connect() as conn:
        axis = version_axis(conn, versions)
        counts = {(vid, name): n for vid, name, n in conn.execute(label_calls_query(conn, scope))}
        return _label_frame(conn, counts, axis)


def human_rates(engine: Engine, *, scope: CallScope = PRODUCTION,
                versions: Sequence[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """verdict_rates and label_rates at once, from one pass over the current judgements."""
    with engine.connect() as conn:
        axis = version_axis(conn, versions)
        verdicts: dict[tuple[int, str], int] = {}
        labels: dict[tuple[int, str | None], int] = {}
        for vid, name, n, kind in conn.execute(human_counts_query(conn, scope)):
            if kind == "verdict":
                verdicts[(vid, name)] = n
            else:
                labels[(vid, name)] = n
        return _verdict_frame(verdicts, axis), _label_frame(conn, labels, axis)


def _label_frame(conn: Connection, counts: dict[tuple[int, str | None], int],
                 axis: Sequence[VersionRef]) -> pd.DataFrame:
    kinds = dict(conn.execute(select(Label.name, Label.kind).order_by(
        Label.position, Label.name)).all())
    active = set(conn.scalars(select(Label.name).where(Label.archived.is_(False))))
    judged = {vid: n for (vid, name), n in counts.items() if name is None}
    used = {name for _vid, name in counts if name is not None}
    names = [name for name in kinds if name in active or name in used]
    rows = [(vid, name, kinds[name], counts.get((vid, name), 0), total)
            for vid, total in judged.items() for name in names]
    frame = on_axis(rows, ["label", "kind", "calls", "judged_calls"], axis)
    frame["rate"] = frame["calls"] / frame["judged_calls"]
    return with_wilson(frame, "calls", "judged_calls")
