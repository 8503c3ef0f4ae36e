"""Find the rows, and the field of a row, that the store refuses to write.

Validation (`normalize_call`) catches what it can foresee; these helpers are the last resort
when a batch write still fails: split the batch until the refused rows are found, and try a
refused row with one field blanked at a time (in a transaction that is rolled back) to name
the field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError

from evalboard.store.engine import write_connection
from evalboard.store.records import DEFAULT_MODEL_VERSION
from evalboard.store.writes import ensure_model_versions, insert_calls

T = TypeVar("T")

# What each call field is replaced by when the store is asked whether that field is the one it
# refuses: the columns the field fills, with harmless values.
_BLANKED: dict[str, dict[str, Any]] = {
    "input": {"input_text": "", "input_messages": None, "input_hash": None},
    "output": {"output": None},
    "model_version": {"model_version": DEFAULT_MODEL_VERSION},
    "latency_ms": {"latency_ms": None},
    "prompt_tokens": {"prompt_tokens": None, "total_tokens": None},
    "completion_tokens": {"completion_tokens": None, "total_tokens": None},
    "error": {"error": None},
    "metadata": {"meta": None},
    "session_id": {"session_id": None},
    "external_id": {"external_id": None},
}


class _RollBack(Exception):
    """Raised inside a trial transaction so that nothing it wrote is kept."""


def is_row_refusal(exc: BaseException) -> bool:
    """True when an error of a write comes from the rows written (a value the driver cannot
    convert or the database refuses), not from the store itself (locked, unreachable)."""
    return isinstance(exc, Exception) and not isinstance(
        exc, OperationalError | InterfaceError | DisconnectionError
    )


def refusal(engine: Engine, rows: Sequence[dict[str, Any]]) -> Exception | None:
    """The error the store raises when `rows` are written, or None; nothing is kept either way.

    Rows without an id are tried with temporary negative ids, so no id is reserved.
    """
    trial = [{**row, "id": row.get("id") or -index} for index, row in enumerate(rows, start=1)]
    try:
        with write_connection(engine) as conn:
            versions = ensure_model_versions(conn, (row["model_version"] for row in trial))
            insert_calls(conn, trial, versions)
            raise _RollBack
    except _RollBack:
        return None
    except Exception as exc:  # noqa: BLE001 - sorted by is_row_refusal
        if not is_row_refusal(exc):
            raise
        return exc


def refused_field(engine: Engine, row: dict[str, Any]) -> str:
    """The call field whose value makes the store refuse `row` ("" when no single field does)."""
    for field, blanks in _BLANKED.items():
        if refusal(engine, [{**row, **blanks}]) is None:
            return field
    return ""


def refusal_reason(exc: Exception) -> str:
    """One line saying why the store refused a row."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    detail = lines[0] if lines else type(cause).__name__
    return f"the store refused this row: {detail}"


def bisect_failures(
    items: list[T], attempt: Callable[[list[T]], Exception | None]
) -> Iterator[tuple[T, Exception]]:
    """Apply `attempt` to `items`; where it fails, to each half in turn, down to single items:
    yield each item that fails alone with its error. Items of a part that succeeds are done."""
    error = attempt(items)
    if error is None:
        return
    if len(items) == 1:
        yield items[0], error
        return
    middle = len(items) // 2
    yield from bisect_failures(items[:middle], attempt)
    yield from bisect_failures(items[middle:], attempt)
