"""Import calls logged by other tools: map foreign fields, report bad rows, never duplicate."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine

from evalboard.import_readers import SourceRecord, detect_format, read_records
from evalboard.iterutil import chunked
from evalboard.store.ids import IdPool
from evalboard.store.models import SOURCES
from evalboard.store.records import CALL_FIELDS, CallValidationError, normalize_call
from evalboard.store.writes import write_calls

OnError = Literal["skip", "abort"]
BATCH_SIZE = 2000

# Columns of evalboard's own export that are not call fields (the exporting store's id and a
# derived total): not kept in metadata when such a file is imported again.
EXPORT_ONLY_COLUMNS = ("id", "total_tokens")

# Where each call field is looked for when no --map names it: the first present, non-empty wins.
DEFAULT_SOURCES: dict[str, tuple[str, ...]] = {
    "input": ("input", "prompt", "messages"),
    "output": ("output", "response", "completion"),
    "model_version": ("model_version", "model"),
    "source": ("source",),  # used when it names a valid source; --source overrides
    "latency_ms": ("latency_ms",),
    "prompt_tokens": ("prompt_tokens", "usage.prompt_tokens"),
    "completion_tokens": ("completion_tokens", "usage.completion_tokens"),
    "error": ("error",),
    "metadata": ("metadata",),
    "session_id": ("session_id",),
    "external_id": ("external_id", "id"),
    "created_at": ("created_at", "timestamp"),
}


class MappingError(ValueError):
    """A --map option that cannot be used."""


@dataclass(frozen=True)
class RowProblem:
    where: str
    field: str
    reason: str

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
        if target not in CALL_FIELDS:
            raise MappingError(
                f"--map {item!r}: unknown field {target!r}; fields are {', '.join(CALL_FIELDS)}"
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


def _decode_json_text(target: str, value: Any) -> Any:
    """CSV cells are text: read back metadata objects and chat-message lists written as JSON."""
    if not isinstance(value, str) or target not in ("metadata", "input"):
        return value
    stripped = value.strip()
    if not stripped.startswith("{" if target == "metadata" else "[{"):
        return value
    try:
        decoded = json.loads(stripped)
    except json.JSONDecodeError:
        return value
    if target == "input" and not all(isinstance(m, dict) and "role" in m for m in decoded):
        return value
    return decoded


class RecordMapper:
    """Turns a foreign record into call fields; unmapped fields are kept in metadata."""

    def __init__(
        self,
        mapping: Mapping[str, str],
        defaults: Mapping[str, Any],
        *,
        overrides: Mapping[str, Any] | None = None,
        text_cells: bool = False,
    ) -> None:
        self.mapping = dict(mapping)
        self.overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
        self.defaults = {k: v for k, v in defaults.items() if v is not None}
        self.text_cells = text_cells

    def fields(self, record: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        used: set[str] = set()
        for target in CALL_FIELDS:
            candidates = (
                (self.mapping[target],) if target in self.mapping else DEFAULT_SOURCES[target]
            )
            for path in candidates:
                value = lookup(record, path)
                if target == "source" and target not in self.mapping and value not in SOURCES:
                    continue  # a foreign "source" column means something else: keep it
                if value is not _MISSING and value is not None and value != "":
                    values[target] = _decode_json_text(target, value) if self.text_cells else value
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
            metadata = values.get("metadata")
            if metadata is None:
                values["metadata"] = extra
            elif isinstance(metadata, Mapping):
                values["metadata"] = {**extra, **metadata}
            # other metadata is left as it is, for validation to report
        return values


def _content_id(record: SourceRecord) -> str:
    """The same record content gives the same id, however the file spells it."""
    canonical = json.dumps(record.data, sort_keys=True, ensure_ascii=False, default=str)
    return "sha1:" + hashlib.sha1(canonical.encode()).hexdigest()


def _rows(
    records: Iterator[SourceRecord], mapper: RecordMapper, summary: ImportSummary
) -> Iterator[dict[str, Any]]:
    for record in records:
        if record.problem is not None or record.data is None:
            summary.problems.append(RowProblem(record.where, "", record.problem or "empty"))
            continue
        try:
            values = mapper.fields(record.data)
            row = normalize_call(input=values.pop("input", None), **values)
        except CallValidationError as exc:
            summary.problems.append(RowProblem(record.where, exc.field, exc.reason))
            continue
        if row["external_id"] is None:
            row["external_id"] = _content_id(record)
        yield row


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

    With on_error="abort" the file is checked first and nothing is written if any row has a
    problem. Rows are written in short batches, so an interrupted import can simply be run
    again: rows already present (same external id, or same content) are not added twice.
    """
    path = Path(path)
    fmt = detect_format(path, fmt)
    mapper = RecordMapper(
        mapping or {},
        {"model_version": model_version, "source": "import"},
        overrides={"source": source},
        text_cells=fmt in ("csv", "parquet"),
    )
    if on_error == "abort":
        check = ImportSummary()
        for _ in _rows(read_records(path, fmt), mapper, check):
            pass
        if check.problems:
            check.aborted = True
            return check
    summary = ImportSummary()
    ids = IdPool(engine)
    for batch in chunked(_rows(read_records(path, fmt), mapper, summary), BATCH_SIZE):
        written = write_calls(engine, batch, ids)
        summary.imported += written.inserted
        summary.already_present += written.already_present
        if progress is not None:
            progress(len(batch))
    return summary
