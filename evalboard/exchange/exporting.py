"""Export calls as JSONL, CSV or Parquet, streamed in keyset batches (never a whole table)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine

from evalboard.errors import EvalboardError
from evalboard.exchange.fields import CALL_FIELDS, EXPORT_COLUMNS
from evalboard.iterutil import chunked
from evalboard.store.calls_query import CallFilter, iter_calls

EXPORT_FORMATS = ("jsonl", "csv", "parquet")


def _flat(record: dict[str, Any]) -> dict[str, Any]:
    """A record with nested values (chat messages, metadata) as JSON text, for tables."""
    return {
        key: json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value
        for key, value in record.items()
    }


def write_jsonl(records: Iterable[dict[str, Any]], out: IO[str]) -> int:
    count = 0
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


def write_csv(records: Iterable[dict[str, Any]], out: IO[str]) -> int:
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    count = 0
    for record in records:
        writer.writerow(_flat(record))
        count += 1
    return count


def write_parquet(records: Iterable[dict[str, Any]], path: Path, batch_size: int = 10_000) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow_types = {"number": pa.float64(), "integer": pa.int64()}
    schema = pa.schema([("id", pa.int64())] + [
        (field.name, arrow_types.get(field.kind, pa.string())) for field in CALL_FIELDS])
    count = 0
    with pq.ParquetWriter(path, schema) as writer:
        for chunk in chunked(records, batch_size):
            writer.write_table(pa.Table.from_pylist([_flat(r) for r in chunk], schema=schema))
            count += len(chunk)
    return count


class ExportError(EvalboardError, ValueError):
    """An export that cannot be written as asked (an unknown format)."""


def export_calls(
    engine: Engine, path: str | Path, fmt: str | None = None, f: CallFilter | None = None
) -> int:
    """Write the calls matching `f` to `path`; return how many were written."""
    path = Path(path)
    fmt = fmt or path.suffix.lower().lstrip(".")
    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    records = iter_calls(engine, f or CallFilter())
    if fmt == "parquet":
        return write_parquet(records, path)
    with path.open("w", encoding="utf-8", newline="") as out:
        return write_jsonl(records, out) if fmt == "jsonl" else write_csv(records, out)
