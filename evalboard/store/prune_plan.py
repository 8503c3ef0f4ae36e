"""What a prune removes and keeps: its options and report, the calls it keeps (what people
made refers to them), and the steps that remove a set of calls with every row computed from
them (dependants first), deleting or unlinking each referencing table's rows."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)

from evalboard import clock
from evalboard.errors import EvalboardError
from evalboard.store.case_models import EvalCase
from evalboard.store.judge_models import JudgeCallResult
from evalboard.store.models import Call
from evalboard.store.monitor_models import MonitorResult
from evalboard.store.pairwise_models import PairwiseAnswer, PairwiseItem, pairwise_answer_labels
from evalboard.store.review_models import (
    Annotation,
    CallEmbedding,
    ReviewAnswer,
    ReviewItem,
    Setting,
    annotation_labels,
)
from evalboard.store.run_models import CaseResult
from evalboard.store.team_models import CallComment, QueueClaim, QueueItem

DEFAULT_BATCH = 2_000
PRUNED_BEFORE_KEY = "retention.pruned_before"
_AGE = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")
_AGE_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


class PruneError(EvalboardError, ValueError):
    """A prune that cannot run as asked (a bad age, an archive without pyarrow, a folder)."""


def parse_age(text: str) -> timedelta:
    """'90d', '12w' or '36h' as a timedelta."""
    match = _AGE.match(text)
    if not match or int(match.group(1)) == 0:
        raise PruneError(f"not an age: {text!r} (expected e.g. 90d, 12w or 36h, above 0)")
    return timedelta(**{_AGE_UNITS[match.group(2)]: int(match.group(1))})


@dataclass(frozen=True)
class PruneOptions:
    """What to prune: calls created before `now - older_than`, less what is kept."""

    older_than: timedelta
    keep_reviewed: bool = True
    keep_cases: bool = True
    keep_runs: bool = True
    dry_run: bool = False
    archive: Path | None = None
    vacuum: bool = False
    batch_size: int = DEFAULT_BATCH


@dataclass
class PruneReport:
    """What a prune removed (or, dry, would remove): rows per table, links cleared, space."""

    cutoff: datetime
    dry_run: bool
    removed: dict[str, int] = field(default_factory=dict)
    unlinked: dict[str, int] = field(default_factory=dict)
    kept_calls: int = 0
    batches: int = 0
    bytes_freed: int | None = None
    space_note: str = ""
    archive_files: list[Path] = field(default_factory=list)
    dropped_months: list[str] = field(default_factory=list)  # partitions dropped whole

    def add(self, counts: dict[str, int], into: dict[str, int]) -> None:
        for table, rows in counts.items():
            if rows:
                into[table] = into.get(table, 0) + rows


class RowSink(Protocol):
    """Where removed rows go before their transaction commits (the Parquet archive)."""

    def write(self, table: str, rows: list[dict[str, Any]]) -> None: ...


# --- what references a call -------------------------------------------------------------

def _refs(columns: Sequence[Any], call_id: Any) -> list[ColumnElement[bool]]:
    return [exists().where(column == call_id) for column in columns]


def kept_conditions(options: PruneOptions, call_id: Any = Call.id) -> list[ColumnElement[bool]]:
    """EXISTS clauses on a call's id column: a call matching any of them is kept."""
    kept: list[ColumnElement[bool]] = []
    if options.keep_reviewed:
        kept += _refs([Annotation.call_id, ReviewItem.call_id, QueueItem.call_id,
                       CallComment.call_id, PairwiseItem.call_a_id, PairwiseItem.call_b_id,
                       PairwiseAnswer.call_a_id, PairwiseAnswer.call_b_id], call_id)
    if options.keep_cases:
        kept += _refs([EvalCase.origin_call_id], call_id)
    if options.keep_runs:
        kept += _refs([CaseResult.call_id], call_id)
    return kept


def candidates(options: PruneOptions, cutoff: datetime) -> Any:
    """(id, created_at) of the calls a prune removes."""
    query = select(Call.id, Call.created_at).where(Call.created_at < cutoff)
    kept = kept_conditions(options)
    return query.where(~or_(*kept)) if kept else query


# --- removing a set of calls ------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    """One table's rows of the calls removed: deleted (archived) or a link to the calls cleared."""

    table: Table
    where: Callable[[Any], ColumnElement[bool]]  # of the batch's ids (a subquery)
    clear: str | None = None  # a column set to NULL instead of deleting the row


def _in(*columns: Any) -> Callable[[Any], ColumnElement[bool]]:
    return lambda ids: or_(*(column.in_(ids) for column in columns))


def _annotations_of(ids: Any) -> Any:
    return select(Annotation.id).where(Annotation.call_id.in_(ids))


def _answers_of(ids: Any) -> Any:
    return select(PairwiseAnswer.id).where(
        or_(PairwiseAnswer.call_a_id.in_(ids), PairwiseAnswer.call_b_id.in_(ids)))


def steps_for(options: PruneOptions) -> list[Step]:
    """Every table referencing calls, in the order a batch handles them (dependants first);
    the last step deletes the calls."""
    steps = [
        Step(MonitorResult.__table__, _in(MonitorResult.call_id)),
        Step(JudgeCallResult.__table__, _in(JudgeCallResult.call_id)),
        Step(CallEmbedding.__table__, _in(CallEmbedding.call_id)),
    ]
    if not options.keep_reviewed:
        steps += [
            Step(ReviewItem.__table__, _in(ReviewItem.call_id)),
            Step(QueueClaim.__table__, _in(QueueClaim.call_id)),
            Step(QueueItem.__table__, _in(QueueItem.call_id)),
            Step(CallComment.__table__, _in(CallComment.call_id)),
            Step(ReviewAnswer.__table__,
                  lambda ids: ReviewAnswer.annotation_id.in_(_annotations_of(ids)),
                  clear="annotation_id"),
            Step(annotation_labels,
                  lambda ids: annotation_labels.c.annotation_id.in_(_annotations_of(ids))),
            Step(Annotation.__table__, _in(Annotation.call_id)),
            Step(PairwiseItem.__table__, _in(PairwiseItem.call_a_id, PairwiseItem.call_b_id)),
            Step(pairwise_answer_labels,
                  lambda ids: pairwise_answer_labels.c.answer_id.in_(_answers_of(ids))),
            Step(PairwiseAnswer.__table__,
                  _in(PairwiseAnswer.call_a_id, PairwiseAnswer.call_b_id)),
        ]
    if not options.keep_cases:
        steps.append(Step(EvalCase.__table__, _in(EvalCase.origin_call_id),
                           clear="origin_call_id"))
    if not options.keep_runs:
        steps.append(Step(CaseResult.__table__, _in(CaseResult.call_id), clear="call_id"))
    steps.append(Step(Call.__table__, lambda ids: Call.id.in_(ids)))
    return steps


def count_step(conn: Connection, step: Step, ids: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(step.table)
                            .where(step.where(ids))).scalar_one())


def run_step(conn: Connection, step: Step, ids: Any, archive: RowSink | None) -> int:
    """Delete (archiving them first) or unlink one table's rows of the calls `ids`."""
    if step.clear is not None:
        return int(conn.execute(update(step.table).where(step.where(ids))
                                .values({step.clear: None})).rowcount or 0)
    statement = delete(step.table).where(step.where(ids))
    if archive is None:
        return int(conn.execute(statement).rowcount or 0)
    rows = [dict(row._mapping) for row in conn.execute(statement.returning(*step.table.c))]
    archive.write(step.table.name, rows)
    return len(rows)


def record_horizon(conn: Connection, cutoff: datetime) -> None:
    """Remember the newest cutoff pruned: calls before it may be gone while the rollups still
    count them (a reader counting stored calls before it must count the calls)."""
    current = conn.execute(select(Setting.value).where(Setting.key == PRUNED_BEFORE_KEY)
                           ).scalar_one_or_none()
    value = cutoff.isoformat()
    if current is None:
        conn.execute(Setting.__table__.insert().values(key=PRUNED_BEFORE_KEY, value=value,
                                                       updated_at=clock.now()))
    elif str(current) < value:
        conn.execute(update(Setting.__table__).where(Setting.key == PRUNED_BEFORE_KEY)
                     .values(value=value, updated_at=clock.now()))


def pruned_before(conn: Connection) -> datetime | None:
    """The newest cutoff a prune used (calls created before it may have been deleted)."""
    value = conn.execute(select(Setting.value).where(Setting.key == PRUNED_BEFORE_KEY)
                         ).scalar_one_or_none()
    return datetime.fromisoformat(value) if value else None
