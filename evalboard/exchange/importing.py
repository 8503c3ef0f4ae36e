"""Import calls logged by other tools: map foreign fields, report bad rows, never duplicate."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine

from evalboard.errors import EvalboardError
from evalboard.exchange.fields import CALL_FIELDS, FIELD_NAMES
from evalboard.exchange.readers import SourceRecord, canonical_bytes, detect_format, read_records
from evalboard.exchange.refusals import (
    bisect_failures,
    is_row_refusal,
    refusal,
    refusal_reason,
    refused_field,
)
from evalboard.iterutil import chunked
from evalboard.store.ids import IdPool
from evalboard.store.models import SOURCES
from evalboard.store.records import CallValidationError, normalize_call
from evalboard.store.writes import write_calls

OnError = Literal["skip", "abort"]
BATCH_SIZE = 2000
MAX_FIELD_SEARCHES = 20  # refused rows of a batch whose field is searched by trial

# Columns of evalboard's own export that are not call fields (the exporting store's id and a
# derived total): not kept in metadata when such a file is imported again.
EXPORT_ONLY_COLUMNS = ("id", "total_tokens")



class MappingError(EvalboardError, ValueError):
    """A --map option that cannot be used."""


@dataclass(frozen=True)
class RowProblem:
    where: str
    field: str
    reason: str
    number: int = 0  # the line, item or row number: problems are listed in file order

    def __str__(self) -> str:
        field_part = f" {self.field}:" if self.field else ""
        return f"{self.where}:{field_part} {self.reason}"


@dataclass
class ImportSummary:
    imported: int = 0
    already_present: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    aborted: bool = False

    @property
    def skipped(self) -> int:
        return len(self.problems)


def parse_mapping(items: Iterable[str]) -> dict[str, str]:
    """Parse `FIELD=SOURCE` options; SOURCE is a field name or a dotted path."""
    mapping: dict[str, str] = {}
    for item in items:
        target, sep, source = item.partition("=")
        target, source = target.strip(), source.strip()
        if not sep or not target or not source:
            raise MappingError(f"--map {item!r}: expected FIELD=SOURCE, e.g. input=instruction")
        if target not in FIELD_NAMES:
            raise MappingError(
                f"--map {item!r}: unknown field {target!r}; fields are {', '.join(FIELD_NAMES)}"
            )
        mapping[target] = source
    return mapping


_MISSING = object()


def lookup(record: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path (`usage.prompt_tokens`, `messages.0.content`), or _MISSING."""
    if path in record:
        return record[path]
    value: Any = record
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _json_text(value: str) -> Any:
    """The JSON value a string spells, or _MISSING when it spells none."""
    try:
        return json.loads(value)
    except (json.JSONDecodeError, RecursionError):
        return _MISSING


def _as_metadata(value: Any) -> Mapping[str, Any]:
    """Metadata as an object: an object as it is, a string holding a JSON object parsed (many
    exports store metadata as JSON text); any other value kept under the `metadata` key."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str) and value.lstrip().startswith("{"):
        decoded = _json_text(value)
        if isinstance(decoded, dict):
            return decoded
    return {"metadata": value}


def _as_input(value: Any) -> Any:
    """A string holding a JSON list of chat messages becomes those messages; any other value is
    left for validation (a string is a prompt)."""
    if not isinstance(value, str) or not value.lstrip().startswith("["):
        return value
    decoded = _json_text(value)
    if (
        isinstance(decoded, list)
        and decoded
        and all(isinstance(m, dict) and "role" in m for m in decoded)
    ):
        return decoded
    return value


_FIELD_SHAPES: dict[str, Callable[[Any], Any]] = {"metadata": _as_metadata, "input": _as_input}


class RecordMapper:
    """Turns a foreign record into call fields; unmapped fields are kept in metadata."""

    def __init__(
        self,
        mapping: Mapping[str, str],
        defaults: Mapping[str, Any],
        *,
        overrides: Mapping[str, Any] | None = None,
    ) -> None:
        self.mapping = dict(mapping)
        self.overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
        self.defaults = {k: v for k, v in defaults.items() if v is not None}

    def fields(self, record: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        used: set[str] = set()
        for call_field in CALL_FIELDS:
            target = call_field.name
            candidates = (self.mapping[target],) if target in self.mapping else call_field.aliases
            for path in candidates:
                value = lookup(record, path)
                if target == "source" and target not in self.mapping and value not in SOURCES:
                    continue  # a foreign "source" column means something else: keep it
                if value is not _MISSING and value is not None and value != "":
                    values[target] = _FIELD_SHAPES.get(target, _same)(value)
                    used.add(path.split(".")[0])
                    break
        for target, default in self.defaults.items():
            values.setdefault(target, default)
        values.update(self.overrides)
        extra = {
            k: v
            for k, v in record.items()
            if k not in used and k not in EXPORT_ONLY_COLUMNS and v not in (None, "")
        }
        if extra and "metadata" not in self.mapping:
            values["metadata"] = {**extra, **values.get("metadata", {})}
        return values


def _same(value: Any) -> Any:
    return value


def _content_id(record: SourceRecord) -> str:
    """The same record content gives the same id, however the file spells it."""
    return "sha1:" + hashlib.sha1(canonical_bytes(record.data)).hexdigest()


@dataclass(frozen=True)
class _Pending:
    """A normalised row and the place in the file it came from."""

    where: str
    number: int
    row: dict[str, Any]


def _rows(
    records: Iterator[SourceRecord], mapper: RecordMapper, summary: ImportSummary
) -> Iterator[_Pending]:
    for record in records:
        if record.problem is not None or record.data is None:
            summary.problems.append(
                RowProblem(record.where, record.field, record.problem or "empty", record.number)
            )
            continue
        try:
            values = mapper.fields(record.data)
            row = normalize_call(input=values.pop("input", None), **values)
        except CallValidationError as exc:
            summary.problems.append(RowProblem(record.where, exc.field, exc.reason, record.number))
            continue
        if row["external_id"] is None:
            row["external_id"] = _content_id(record)
        yield _Pending(record.where, record.number, row)


def import_file(
    engine: Engine,
    path: str | Path,
    *,
    mapping: Mapping[str, str] | None = None,
    model_version: str | None = None,
    source: str | None = None,
    fmt: str | None = None,
    on_error: OnError = "skip",
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import a JSONL, JSON, CSV or Parquet file; see ImportSummary for what happened.

    Rows are written in short batches, so an interrupted import can simply be run again: rows
    already present (same external id, or same content) are not added twice. A batch the store
    refuses is split until the refused rows are found: they are reported with their line, the
    others land. With on_error="abort" the whole file is checked first, every batch tried in a
    transaction that is rolled back, and nothing is written if any row has a problem.
    """
    path = Path(path)
    fmt = detect_format(path, fmt)
    mapper = RecordMapper(
        mapping or {},
        {"model_version": model_version, "source": "import"},
        overrides={"source": source},
    )
    if on_error == "abort":
        check = ImportSummary()
        for batch in chunked(_rows(read_records(path, fmt), mapper, check), BATCH_SIZE):
            _report_refused(engine, batch, lambda rows: refusal(engine, rows), check)
        if check.problems:
            check.aborted = True
            check.problems.sort(key=_in_file_order)
            return check
    summary = ImportSummary()
    ids = IdPool(engine)

    def write(rows: list[dict[str, Any]]) -> Exception | None:
        try:
            written = write_calls(engine, rows, ids)
        except Exception as exc:  # noqa: BLE001 - sorted by is_row_refusal
            if not is_row_refusal(exc):
                raise
            return exc
        summary.imported += written.inserted
        summary.already_present += written.already_present
        return None

    for batch in chunked(_rows(read_records(path, fmt), mapper, summary), BATCH_SIZE):
        _report_refused(engine, batch, write, summary)
        if progress is not None:
            progress(len(batch))
    summary.problems.sort(key=_in_file_order)
    return summary


def _in_file_order(problem: RowProblem) -> int:
    return problem.number


def _report_refused(
    engine: Engine,
    batch: list[_Pending],
    attempt: Callable[[list[dict[str, Any]]], Exception | None],
    summary: ImportSummary,
) -> None:
    """Apply `attempt` to the batch; where it fails, split the batch in halves until the rows
    that fail alone are found, and report each with its line and the field the store refuses
    (searched by trial for the first MAX_FIELD_SEARCHES rows of a batch)."""
    failures = bisect_failures(batch, lambda part: attempt([p.row for p in part]))
    for searched, (pending, error) in enumerate(failures):
        field = refused_field(engine, pending.row) if searched < MAX_FIELD_SEARCHES else ""
        summary.problems.append(
            RowProblem(pending.where, field, refusal_reason(error), pending.number)
        )
