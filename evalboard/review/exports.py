"""Export review work: corrected outputs as fine-tuning examples, annotations as rows.

A reviewer's *current* judgement of a call is their newest (highest id) ``judge`` row that no
``retract`` row names, as in `evalboard.review.annotations`. Filters select calls like Browse:
by model version and by the call's ``created_at`` in ``[since, until)``; ``reviewer`` keeps
that reviewer's annotations only. Everything streams in keyset batches.

One SFT example (a JSONL line) has the chat shape TRL and OpenAI fine-tuning read::

    {"messages": [{"role": "user", "content": "..."}, ...,
                  {"role": "assistant", "content": "<corrected output>"}],
     "metadata": {"call_id": 7, "annotation_id": 12, "model_version": "bot-v2",
                  "reviewer": "ana", "labels": ["hallucination"], "verdict": "fail",
                  "annotated_at": "2026-11-01T09:30:00"}}

An annotation row carries its own scores: ``"scores": {"helpfulness": 4, "tone": "friendly"}``
in JSONL (numbers as numbers: a rating a whole number), and a ``score:<name>`` column per
score configuration in CSV (empty where the row has no such score).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import ColumnElement, Engine, exists, or_, select, true
from sqlalchemy.orm import Session

from evalboard.exchange.exporting import write_jsonl
from evalboard.review.annotations import is_final_answer
from evalboard.store.calls_query import CallFilter, filter_conditions
from evalboard.store.models import Call, ModelVersion
from evalboard.store.review_models import Annotation
from evalboard.store.team_models import AnnotationScore, ScoreConfig
from evalboard.teams.scores import list_score_configs

BATCH_SIZE = 500
ANNOTATION_FORMATS = ("csv", "jsonl")
LABEL_SEPARATOR = ";"
# The columns of an annotation export, in order (CSV header; keys of each JSONL object).
ANNOTATION_COLUMNS = (
    "annotation_id",
    "call_id",
    "model_version",
    "reviewer",
    "action",  # judge | skip | retract | adjudicate (a final answer)
    "verdict",  # pass | fail | unsure | empty
    "labels",  # a list in JSONL; names joined by ";" in CSV
    "note",
    "corrected_output",
    "seconds_spent",
    "review_session_id",
    "batch_id",  # shared by the rows of one bulk action
    "retracted",  # a later retract row undoes this row
    "retracts_id",  # on retract rows: the annotation they undo
    "created_at",  # ISO 8601, UTC
)
SCORES = "scores"  # after the columns: {configuration name: value}; a column each in CSV
SCORE_COLUMN = "score:{name}"
ScoreValue = int | float | str


def _has_correction(annotation: Annotation) -> bool:
    return bool((annotation.corrected_output or "").strip())


def _label_names(annotation: Annotation) -> list[str]:
    return [label.name for label in sorted(annotation.labels, key=lambda x: (x.position, x.name))]


def _reviewer_condition(reviewer: str | None) -> ColumnElement[bool]:
    return Annotation.reviewer == reviewer if reviewer else true()


def _call_conditions(
    session: Session,
    model_versions: Sequence[str],
    since: datetime | None,
    until: datetime | None,
) -> list[ColumnElement[bool]]:
    f = CallFilter(model_versions=tuple(model_versions), since=since, until=until)
    return filter_conditions(session.connection(), f)


def _prompt_messages(call: Call) -> list[dict[str, Any]]:
    """The call's input as chat messages (a plain prompt becomes one user turn)."""
    if call.input_messages:
        return [dict(message) for message in call.input_messages]
    return [{"role": "user", "content": call.input_text}]


def _sft_example(call: Call, version: str, judgement: Annotation, answer: str) -> dict[str, Any]:
    return {
        "messages": [*_prompt_messages(call), {"role": "assistant", "content": answer}],
        "metadata": {
            "call_id": call.id,
            "annotation_id": judgement.id,
            "model_version": version,
            "reviewer": judgement.reviewer,
            "labels": _label_names(judgement),
            "verdict": judgement.verdict,
            "annotated_at": judgement.created_at.isoformat(),
        },
    }


def _pick(
    current: list[Annotation], call: Call, include_passing: bool
) -> tuple[Annotation, str] | None:
    """The judgement and assistant answer a call contributes, if any.

    `current` is newest first. The newest correction wins; without one, a call every current
    judgement passes gives its own output (when `include_passing`)."""
    corrections = [a for a in current if _has_correction(a)]
    if corrections:
        return corrections[0], corrections[0].corrected_output or ""
    if include_passing and current and all(a.verdict == "pass" for a in current) and call.output:
        return current[0], call.output
    return None


def iter_sft_examples(
    engine: Engine,
    *,
    model_versions: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    reviewer: str | None = None,
    include_passing: bool = False,
    batch_size: int = BATCH_SIZE,
) -> Iterator[dict[str, Any]]:
    """Fine-tuning examples from corrected outputs, oldest call first.

    A call gives one example when a final answer carries a non-empty corrected output
    (the newest such correction across reviewers is the assistant turn). With
    `include_passing`, a call without a correction whose final answers all pass gives
    its own output as the assistant turn (a positive example). The call's input chat is kept
    whole, even when it ends with an assistant turn.
    """
    wanted = Annotation.corrected_output.isnot(None) & (Annotation.corrected_output != "")
    if include_passing:
        wanted = or_(wanted, Annotation.verdict == "pass")
    last_id = 0
    while True:
        examples = []
        with Session(engine) as session:
            candidate = exists().where(
                Annotation.call_id == Call.id,
                _reviewer_condition(reviewer),
                is_final_answer(),
                wanted,
            )
            calls = session.execute(
                select(Call, ModelVersion.name)
                .join(ModelVersion, ModelVersion.id == Call.model_version_id)
                .where(
                    Call.id > last_id,
                    candidate,
                    *_call_conditions(session, model_versions, since, until),
                )
                .order_by(Call.id)
                .limit(batch_size)
            ).all()
            if not calls:
                return
            current: dict[int, list[Annotation]] = {}
            for annotation in session.scalars(
                select(Annotation)
                .where(
                    Annotation.call_id.in_([call.id for call, _ in calls]),
                    _reviewer_condition(reviewer),
                    is_final_answer(),
                )
                .order_by(Annotation.id.desc())
            ):
                current.setdefault(annotation.call_id, []).append(annotation)
            for call, version in calls:
                picked = _pick(current.get(call.id, []), call, include_passing)
                if picked is not None:
                    examples.append(_sft_example(call, version, *picked))
            last_id = calls[-1][0].id
        yield from examples


def _scores_of(session: Session, annotation_ids: Sequence[int]
               ) -> dict[int, dict[str, ScoreValue]]:
    """{annotation id: {configuration name: value}}, names in order."""
    found: dict[int, dict[str, ScoreValue]] = {}
    for annotation_id, name, kind, number, text in session.execute(
            select(AnnotationScore.annotation_id, ScoreConfig.name, ScoreConfig.kind,
                   AnnotationScore.number, AnnotationScore.text)
            .join(ScoreConfig, ScoreConfig.id == AnnotationScore.score_config_id)
            .where(AnnotationScore.annotation_id.in_(annotation_ids))
            .order_by(AnnotationScore.annotation_id, ScoreConfig.name)):
        value: ScoreValue | None = text if number is None else (
            int(number) if kind == "rating" else float(number))
        if value is not None:
            found.setdefault(annotation_id, {})[name] = value
    return found


def _annotation_row(annotation: Annotation, version: str, retracted: bool,
                    scores: dict[str, ScoreValue]) -> dict[str, Any]:
    return {
        "annotation_id": annotation.id,
        "call_id": annotation.call_id,
        "model_version": version,
        "reviewer": annotation.reviewer,
        "action": annotation.action,
        "verdict": annotation.verdict,
        "labels": _label_names(annotation),
        "note": annotation.note,
        "corrected_output": annotation.corrected_output,
        "seconds_spent": annotation.seconds_spent,
        "review_session_id": annotation.review_session_id,
        "batch_id": annotation.batch_id,
        "retracted": retracted,
        "retracts_id": annotation.retracts_id,
        "created_at": annotation.created_at.isoformat(),
        SCORES: scores,
    }


def iter_annotation_rows(
    engine: Engine,
    *,
    current_only: bool = True,
    model_versions: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    reviewer: str | None = None,
    batch_size: int = BATCH_SIZE,
) -> Iterator[dict[str, Any]]:
    """Annotations as dicts (keys: `ANNOTATION_COLUMNS`, then `SCORES`), oldest first.

    By default only final answers; `current_only=False` gives the whole append-only
    history, skips and retracts included, with `retracted` set on the rows later undone.
    """
    last_id = 0
    while True:
        with Session(engine) as session:
            rows = session.execute(
                select(Annotation, ModelVersion.name)
                .join(Call, Call.id == Annotation.call_id)
                .join(ModelVersion, ModelVersion.id == Call.model_version_id)
                .where(
                    Annotation.id > last_id,
                    _reviewer_condition(reviewer),
                    is_final_answer() if current_only else true(),
                    *_call_conditions(session, model_versions, since, until),
                )
                .order_by(Annotation.id)
                .limit(batch_size)
            ).all()
            if not rows:
                return
            ids = [annotation.id for annotation, _ in rows]
            retracted = (
                set()
                if current_only
                else set(
                    session.scalars(
                        select(Annotation.retracts_id).where(Annotation.retracts_id.in_(ids))
                    )
                )
            )
            scores = _scores_of(session, ids)
            batch = [_annotation_row(a, version, a.id in retracted, scores.get(a.id, {}))
                     for a, version in rows]
            last_id = ids[-1]
        yield from batch


def write_sft_jsonl(records: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """Write SFT examples as JSON lines; return how many."""
    return write_jsonl(records, out)


def _csv_cell(value: Any) -> Any:
    if isinstance(value, list):
        return LABEL_SEPARATOR.join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def score_names(engine: Engine) -> list[str]:
    """The score configurations' names, in the order of their CSV columns."""
    return [config.name for config in list_score_configs(engine)]


def write_annotations_csv(rows: Iterable[dict[str, Any]], out: IO[str],
                          scores: Sequence[str] = ()) -> int:
    """Write annotation rows as CSV: the `ANNOTATION_COLUMNS` header, then a `score:<name>`
    column per name of `scores` (see `score_names`); return how many rows."""
    columns = {name: SCORE_COLUMN.format(name=name) for name in scores}
    writer = csv.DictWriter(out, fieldnames=[*ANNOTATION_COLUMNS, *columns.values()],
                            extrasaction="ignore")
    writer.writeheader()
    count = 0
    for row in rows:
        cells = {key: _csv_cell(value) for key, value in row.items() if key != SCORES}
        given = row.get(SCORES) or {}
        cells |= {column: given[name] for name, column in columns.items() if name in given}
        writer.writerow(cells)
        count += 1
    return count


@contextmanager
def _replace_on_success(path: Path) -> Iterator[IO[str]]:
    """A text file that appears at `path` only once it is completely written."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as out:
            yield out
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def annotation_format(path: str | Path, fmt: str | None = None) -> str:
    """`fmt`, or the format named by the file's suffix; ValueError when it is not one we write."""
    fmt = (fmt or Path(path).suffix.lstrip(".")).lower()
    if fmt not in ANNOTATION_FORMATS:
        problem = (
            f"cannot write annotations as {fmt!r}"
            if fmt
            else f"cannot tell the format of {Path(path).name}"
        )
        raise ValueError(f"{problem}; use one of {', '.join(ANNOTATION_FORMATS)}")
    return fmt


def export_sft(engine: Engine, path: str | Path, **filters: Any) -> int:
    """Write `iter_sft_examples(engine, **filters)` to a JSONL file; return how many."""
    with _replace_on_success(Path(path)) as out:
        return write_sft_jsonl(iter_sft_examples(engine, **filters), out)


def export_annotations(
    engine: Engine, path: str | Path, fmt: str | None = None, **filters: Any
) -> int:
    """Write `iter_annotation_rows(engine, **filters)` as CSV or JSONL (by suffix, or `fmt`)."""
    fmt = annotation_format(path, fmt)
    rows = iter_annotation_rows(engine, **filters)
    with _replace_on_success(Path(path)) as out:
        if fmt == "csv":
            return write_annotations_csv(rows, out, score_names(engine))
        return write_jsonl(rows, out)
