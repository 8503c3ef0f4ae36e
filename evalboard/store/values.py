"""The one rule that turns a logged Python value into what every store can keep.

Applied to a call's input messages, output, metadata (keys and values) and text fields, by
the client, the importers and the tests alike (`records.normalize_call`):

- text: NUL and lone surrogates become U+FFFD (a surrogate pair becomes its character);
- NaN and ±infinity become null (JSON has no such numbers);
- datetime, date, time → ISO 8601 text; timedelta → seconds; UUID → text; Enum → its value;
  Decimal and numpy scalars → numbers (numpy arrays → lists);
- tuples, lists, sets and frozensets → lists (sets sorted when their items can be);
- dataclass instances and pydantic models → objects;
- bytes → text when they are UTF-8, else refused;
- nesting deeper than `MAX_DEPTH` levels is refused (a ValueError, never a RecursionError);
- anything else is refused with a `CallTypeError` naming the field and where in it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from evalboard.errors import EvalboardError

MAX_DEPTH = 64
REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")
_SEQUENCES = (list, tuple, set, frozenset)
_SHOWN_PATH = 6


class CallValidationError(EvalboardError, ValueError):
    """A call cannot be stored; `field` names the culprit."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class CallTypeError(CallValidationError, TypeError):
    """A value of a type the store cannot keep (also a TypeError)."""


def clean_text(text: str) -> str:
    """`text` with NUL and lone surrogates replaced by U+FFFD (PostgreSQL refuses NUL, no
    store can encode a lone surrogate as UTF-8); a surrogate pair becomes its character."""
    if "\x00" in text:
        text = text.replace("\x00", REPLACEMENT)
    if text.isascii() or _SURROGATE.search(text) is None:
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


_NOT_UTF8 = "bytes that are not UTF-8 text cannot be stored (decode them first)"


def decode_bytes(value: bytes | bytearray | memoryview, field: str, where: str = "") -> str:
    """UTF-8 bytes as text; other bytes are refused (never stored as the text "b'...'")."""
    try:
        return clean_text(bytes(value).decode("utf-8"))
    except UnicodeDecodeError:
        raise CallTypeError(field, f"{where}{_NOT_UTF8}") from None


class _Refused(Exception):
    """A value refused inside a field; the path to it is gathered while the error unwinds
    (so converting a value that is fine builds no paths)."""

    def __init__(self, reason: str, *, wrong_type: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wrong_type = wrong_type
        self.path: list[Any] = []  # innermost first

    def error(self, field: str) -> CallValidationError:
        kind = CallTypeError if self.wrong_type else CallValidationError
        return kind(field, f"{_where(tuple(reversed(self.path)))}{self.reason}")


def finite_or_none(number: float) -> float | None:
    return number if math.isfinite(number) else None


def to_json(value: Any, field: str) -> Any:
    """`value` as plain JSON data (dict, list, str, int, float, bool, None) by the rule above;
    raises CallValidationError/CallTypeError naming `field`."""
    try:
        return _convert(value, 0)
    except _Refused as refused:
        raise refused.error(field) from None


def is_structured(value: Any) -> bool:
    """Whether `value` is stored as JSON text when it is a call's output."""
    return (
        isinstance(value, (Mapping, *_SEQUENCES))
        or _is_dataclass_instance(value)
        or hasattr(value, "model_dump")
        or _is_numpy(value) and getattr(value, "ndim", 0) > 0
    )


def to_json_text(value: Any, field: str) -> str:
    return json.dumps(to_json(value, field), ensure_ascii=False, allow_nan=False)


def _convert(value: Any, depth: int) -> Any:
    kind = type(value)
    if kind is str:
        return clean_text(value)
    if value is None or kind is bool or kind is int:
        return value
    if kind is float:
        return finite_or_none(value)
    if depth >= MAX_DEPTH:
        raise _Refused(f"nested deeper than {MAX_DEPTH} levels (a circular reference?)",
                       wrong_type=False)
    if kind is dict or isinstance(value, Mapping):
        converted: dict[str, Any] = {}
        for key, item in value.items():
            name = _key(key)
            try:
                converted[name] = _convert(item, depth + 1)
            except _Refused as refused:
                refused.path.append(key)
                raise
        return converted
    if kind is list or isinstance(value, _SEQUENCES):
        items = _ordered(value) if isinstance(value, set | frozenset) else value
        plain: list[Any] = []
        for index, item in enumerate(items):
            try:
                plain.append(_convert(item, depth + 1))
            except _Refused as refused:
                refused.path.append(index)
                raise
        return plain
    return _convert(_plain(value), depth + 1)


def _plain(value: Any) -> Any:
    """One step from an unusual value towards plain JSON data."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        try:
            return clean_text(bytes(value).decode("utf-8"))
        except UnicodeDecodeError:
            raise _Refused(_NOT_UTF8) from None
    if _is_numpy(value) and hasattr(value, "tolist"):
        return value.tolist()
    if _is_dataclass_instance(value):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump"):  # a pydantic (v2) model
        return value.model_dump()
    raise _Refused(f"a value of type {type(value).__name__} cannot be stored "
                   "(give text, a number, a list or an object)")


def _key(key: Any) -> str:
    if type(key) is str:
        return clean_text(key)
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)  # what JSON itself does with such keys
    plain = _convert(key, 0)
    if isinstance(plain, str):
        return plain
    raise _Refused(f"a key of type {type(key).__name__} cannot be stored (keys are text)")


def _ordered(items: set[Any] | frozenset[Any]) -> list[Any]:
    try:
        return sorted(items)
    except TypeError:  # items of mixed types: keep the set's own order
        return list(items)


def _is_numpy(value: Any) -> bool:
    return type(value).__module__ == "numpy"


def _is_dataclass_instance(value: Any) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def _where(path: tuple[Any, ...]) -> str:
    """Where in a field a value sits, as a prefix of a reason: 'at ["user"][0]: '."""
    if not path:
        return ""
    shown = "".join(f"[{json.dumps(part, default=str)}]" for part in path[:_SHOWN_PATH])
    return f"at {shown}{'...' if len(path) > _SHOWN_PATH else ''}: "
