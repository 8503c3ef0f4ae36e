"""Read records from JSONL, JSON, CSV and Parquet files, each with its line (or row) number.

A reader yields `SourceRecord`s; a line that cannot be read becomes a record with `problem`
set, so the importer reports it with its number and goes on.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

FORMATS = ("jsonl", "json", "csv", "parquet")
_SUFFIXES = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
CSV_MAX_FIELD = 64 * 1024 * 1024


class ImportFileError(ValueError):
    """The file as a whole cannot be read (missing, empty, unknown format)."""


@dataclass(frozen=True)
class SourceRecord:
    """One record of a source file; `where` names its place, e.g. 'line 12'."""

    where: str
    number: int
    data: dict[str, Any] | None
    raw: bytes | None = None
    problem: str | None = None


def detect_format(path: Path, explicit: str | None = None) -> str:
    if explicit:
        if explicit not in FORMATS:
            raise ImportFileError(f"unknown format {explicit!r}; use one of {', '.join(FORMATS)}")
        return explicit
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise ImportFileError(
            f"cannot tell the format of {path.name} from its suffix; pass --format "
            f"({', '.join(FORMATS)})"
        )
    if fmt == "json" and _is_json_lines(path):
        return "jsonl"  # a .json file of one object per line
    return fmt


def _is_json_lines(path: Path) -> bool:
    """True when the first non-empty line is a whole JSON object and another line follows."""
    with path.open("rb") as handle:
        lines = (line for line in handle if line.strip())
        first = next(lines, b"")
        if not first.lstrip(b"\xef\xbb\xbf \t").startswith(b"{"):
            return False
        try:
            json.loads(first.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return False
        return next(lines, None) is not None


def read_records(path: Path, fmt: str) -> Iterator[SourceRecord]:
    """Yield the records of a file; raise ImportFileError when the file itself is unusable."""
    if not path.exists():
        raise ImportFileError(f"no such file: {path}")
    if path.is_dir():
        raise ImportFileError(f"{path} is a folder, not a file")
    if path.stat().st_size == 0:
        raise ImportFileError(f"{path} is empty: there is nothing to import")
    readers = {"jsonl": _read_jsonl, "json": _read_json, "csv": _read_csv, "parquet": _read_parquet}
    return readers[fmt](path)


def _object_or_problem(where: str, number: int, value: Any, raw: bytes | None) -> SourceRecord:
    if not isinstance(value, dict):
        return SourceRecord(
            where, number, None, raw, f"expected a JSON object, got {type(value).__name__}"
        )
    return SourceRecord(where, number, value, raw)


def _read_jsonl(path: Path) -> Iterator[SourceRecord]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            where = f"line {number}"
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                yield SourceRecord(
                    where, number, None, raw, f"invalid UTF-8 at byte {exc.start + 1}"
                )
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                yield SourceRecord(
                    where,
                    number,
                    None,
                    raw,
                    f"malformed JSON at character {exc.pos + 1}: {exc.msg}",
                )
                continue
            yield _object_or_problem(where, number, value, raw)


def _read_json(path: Path) -> Iterator[SourceRecord]:
    try:
        value = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{path.name} is not valid UTF-8 (byte {exc.start + 1})") from None
    except json.JSONDecodeError as exc:
        raise ImportFileError(
            f"{path.name} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    if isinstance(value, dict):
        for key in ("data", "records", "calls", "items", "rows"):
            if isinstance(value.get(key), list):
                value = value[key]
                break
        else:
            value = [value]
    if not isinstance(value, list):
        raise ImportFileError(f"{path.name}: expected a JSON array of objects")
    for index, item in enumerate(value, start=1):
        raw = json.dumps(item, sort_keys=True, ensure_ascii=False).encode()
        yield _object_or_problem(f"item {index}", index, item, raw)


def _sniff_delimiter(sample: str, suffix: str) -> str:
    if suffix == ".tsv":
        return "\t"
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _decoded_lines(path: Path, bad_lines: set[int]) -> Iterator[str]:
    """The file's lines as text; a line that is not UTF-8 is noted and replaced by a blank."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                bad_lines.add(number)
                yield raw.decode("utf-8", errors="replace")


def _read_csv(path: Path) -> Iterator[SourceRecord]:
    csv.field_size_limit(CSV_MAX_FIELD)
    bad_lines: set[int] = set()
    sample = "".join(islice(_decoded_lines(path, set()), 200))
    reader = csv.reader(
        _decoded_lines(path, bad_lines), delimiter=_sniff_delimiter(sample, path.suffix.lower())
    )
    header = next(reader, None)
    if not header:
        raise ImportFileError(f"{path.name} has no header row")
    first_line = reader.line_num + 1
    try:
        for row in reader:
            where, number, first_line = f"line {first_line}", first_line, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if bad_lines & set(range(number, reader.line_num + 1)):
                yield SourceRecord(where, number, None, None, "invalid UTF-8")
            elif len(row) != len(header):
                yield SourceRecord(
                    where,
                    number,
                    None,
                    None,
                    f"{len(row)} fields where the header has {len(header)}",
                )
            else:
                data = dict(zip(header, row, strict=True))
                raw = json.dumps(data, sort_keys=True, ensure_ascii=False).encode()
                yield SourceRecord(where, number, data, raw)
    except csv.Error as exc:
        yield SourceRecord(f"line {first_line}", first_line, None, None, f"CSV error: {exc}")


def _read_parquet(path: Path) -> Iterator[SourceRecord]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a bad file
        raise ImportFileError(f"{path.name} is not a readable Parquet file: {exc}") from None
    number = 0
    for batch in parquet.iter_batches(batch_size=10_000):
        for row in batch.to_pylist():
            number += 1
            raw = json.dumps(row, sort_keys=True, ensure_ascii=False, default=str).encode()
            yield SourceRecord(f"row {number}", number, row, raw)
