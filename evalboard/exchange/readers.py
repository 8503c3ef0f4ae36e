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
from typing import Any, BinaryIO

from evalboard.errors import EvalboardError

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
TOO_DEEP = "nested too deeply to read (about 1,000 levels of objects and lists)"


class ImportFileError(EvalboardError, ValueError):
    """The file as a whole cannot be read (missing, empty, unknown format)."""


@dataclass(frozen=True)
class SourceRecord:
    """One record of a source file; `where` names its place, e.g. 'line 12'."""

    where: str
    number: int
    data: dict[str, Any] | None
    raw: bytes | None = None
    problem: str | None = None
    field: str = ""  # the field the problem is in, when the reader can tell


def canonical_bytes(value: Any) -> bytes:
    """A record's content as bytes, the same however the file spells it (key order, escapes);
    a lone surrogate (JSON allows "\\ud800") is kept as it is."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return text.encode("utf-8", "surrogatepass")


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
            text = first.decode("utf-8-sig")
            json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return False
        except RecursionError:  # nested too deeply to read: is it a whole value all the same?
            end, _ = scan_json_value(text, 0)
            if text[end:].strip():
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
    """One record per line, numbered as an editor numbers them: blank lines count, a line may
    end in CRLF, a byte order mark may open any line (files joined with `cat`), and a last
    line cut short is reported as malformed JSON."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            where = f"line {number}"
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8").removeprefix("\ufeff")
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
            except RecursionError:
                yield _too_deep(where, number, text, 0, raw)
                continue
            yield _object_or_problem(where, number, value, raw)


def _too_deep(where: str, number: int, text: str, start: int, raw: bytes | None) -> SourceRecord:
    """The record for a JSON value nested too deeply to read, naming the field that is."""
    _, key = scan_json_value(text, start)
    return SourceRecord(where, number, None, raw, TOO_DEEP, field=key or "")


def scan_json_value(text: str, start: int) -> tuple[int, str | None]:
    """Walk the JSON value at `start` without building it (it may be nested beyond Python's
    recursion limit): the index just after it, and the top-level key whose value nests
    deepest (None when the value is not an object)."""
    depth = deepest = 0
    key: str | None = None
    deepest_key: str | None = None
    index = start
    while index < len(text):
        char = text[index]
        if char == '"':
            end = index + 1
            while end < len(text) and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            if depth == 1 and _is_key(text, end + 1):
                key = json.loads(text[index : end + 1])
            index = end + 1
            if depth == 0:
                return index, None
            continue
        if char in "[{":
            depth += 1
            if depth > deepest:
                deepest, deepest_key = depth, key
        elif char in "]}":
            depth -= 1
            if depth == 0:
                return index + 1, deepest_key
        elif depth == 0 and char not in " \t\r\n":
            end = index
            while end < len(text) and text[end] not in ",]} \t\r\n":
                end += 1
            return end, None
        index += 1
    return index, deepest_key


def _is_key(text: str, index: int) -> bool:
    """True when the string that ends just before `index` is followed by a colon."""
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return text[index : index + 1] == ":"


def _read_json(path: Path) -> Iterator[SourceRecord]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{path.name} is not valid UTF-8 (byte {exc.start + 1})") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFileError(
            f"{path.name} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except RecursionError:
        yield from _read_json_array_items(path, text)
        return
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
        raw = canonical_bytes(item)
        yield _object_or_problem(f"item {index}", index, item, raw)


def _read_json_array_items(path: Path, text: str) -> Iterator[SourceRecord]:
    """The items of a JSON array read one by one, for a file where some item nests too deeply
    to read: that item is reported, the others are read as usual."""
    decoder = json.JSONDecoder()
    index = len(text) - len(text.lstrip())
    if text[index : index + 1] != "[":
        raise ImportFileError(f"{path.name}: {TOO_DEEP}")
    index += 1
    number = 0
    while True:
        index = _skip_space(text, index)
        if text[index : index + 1] == "]":
            return
        number += 1
        where = f"item {number}"
        try:
            item, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError as exc:
            raise ImportFileError(f"{path.name} is not valid JSON: {exc.msg} ({where})") from None
        except RecursionError:
            yield _too_deep(where, number, text, index, None)
            index, _ = scan_json_value(text, index)
        else:
            raw = canonical_bytes(item)
            yield _object_or_problem(where, number, item, raw)
        index = _skip_space(text, index)
        if text[index : index + 1] == ",":
            index += 1
        elif text[index : index + 1] != "]":
            raise ImportFileError(f"{path.name} is not valid JSON: ',' expected after {where}")


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


def _sniff_delimiter(sample: str, suffix: str) -> str:
    if suffix == ".tsv":
        return "\t"
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


class _CsvLines:
    """The file's lines as text for csv.reader, numbered from 1; a line that is not UTF-8 is
    noted in `bad_lines` and decoded with replacements. `restart_after_record_start` rewinds to
    the line after the one where the current record began, so a record that a stray quote
    stretched over later lines can be reported and those lines read again."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.number = 0  # lines read so far
        self.bad_lines: set[int] = set()
        self._record_start = 1
        self._after_record_start = 0  # byte offset after the record's first line

    def __iter__(self) -> _CsvLines:
        return self

    def __next__(self) -> str:
        raw = self._handle.readline()
        if not raw:
            raise StopIteration
        self.number += 1
        if self.number == self._record_start:
            self._after_record_start = self._handle.tell()
        try:
            return raw.decode("utf-8-sig" if self.number == 1 else "utf-8")
        except UnicodeDecodeError:
            self.bad_lines.add(self.number)
            return raw.decode("utf-8", errors="replace")

    @property
    def record_start(self) -> int:
        return self._record_start

    def start_record(self) -> None:
        """The next line read begins a record."""
        self._record_start = self.number + 1

    def restart_after_record_start(self) -> None:
        self._handle.seek(self._after_record_start)
        self.number = self._record_start
        self.start_record()


def _quote_problem(start: int, end: int, error: csv.Error) -> str:
    """What a CSV error at a record that began on line `start` and failed on line `end` means."""
    if str(error) == "unexpected end of data":
        return "unterminated quote: the quoted field opened on this line never closes"
    if end > start:
        return (
            f"unterminated quote: the quoted field opened on this line runs into line {end} "
            f"({error})"
        )
    return f"CSV error: {error}"


def _read_csv(path: Path) -> Iterator[SourceRecord]:
    """Rows of a CSV file, each numbered by the line it starts on.

    The reader is strict, so a quote that never closes (or closes somewhere in a later line,
    followed by text) is reported on the line where the quoted field opened, and reading goes
    on from the next line: the lines it would have swallowed are read as rows of their own.
    """
    csv.field_size_limit(CSV_MAX_FIELD)
    with path.open("rb") as handle:
        sample = b"".join(islice(handle, 200)).decode("utf-8-sig", errors="replace")
        handle.seek(0)
        delimiter = _sniff_delimiter(sample, path.suffix.lower())
        lines = _CsvLines(handle)
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise ImportFileError(f"{path.name}: the header row is not valid CSV: {exc}") from None
        if not header:
            raise ImportFileError(f"{path.name} has no header row")
        while True:
            lines.start_record()
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                start = lines.record_start
                yield SourceRecord(f"line {start}", start, None, None,
                                   _quote_problem(start, lines.number, exc))
                lines.restart_after_record_start()
                reader = csv.reader(lines, delimiter=delimiter, strict=True)
                continue
            yield from _csv_record(header, row, lines)


def _csv_record(header: list[str], row: list[str], lines: _CsvLines) -> Iterator[SourceRecord]:
    number = lines.record_start
    where = f"line {number}"
    if not any(cell.strip() for cell in row):
        return
    if lines.bad_lines & set(range(number, lines.number + 1)):
        yield SourceRecord(where, number, None, None, "invalid UTF-8")
    elif len(row) != len(header):
        span = (
            f" (a quoted field runs over lines {number}-{lines.number}: is a quote left open?)"
            if lines.number > number
            else ""
        )
        yield SourceRecord(
            where, number, None, None, f"{len(row)} fields where the header has {len(header)}{span}"
        )
    else:
        data = dict(zip(header, row, strict=True))
        raw = canonical_bytes(data)
        yield SourceRecord(where, number, data, raw)


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
            raw = canonical_bytes(row)
            yield SourceRecord(f"row {number}", number, row, raw)
