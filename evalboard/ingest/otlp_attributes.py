"""OTLP protobuf values as plain Python: attributes, ids and timestamps of a span."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any


def any_value(value: Any) -> Any:
    """An OTLP AnyValue as a Python value (str, bool, int, float, bytes as hex, list, dict)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def attributes(key_values: Any) -> dict[str, Any]:
    """Repeated KeyValue as a dict (a repeated key keeps its last value)."""
    return {kv.key: any_value(kv.value) for kv in key_values}


def hex_id(raw: bytes) -> str:
    return raw.hex()


def nanos_to_datetime(nanos: int) -> datetime | None:
    """Naive UTC datetime of Unix nanoseconds; None for 0 (not set)."""
    if not nanos:
        return None
    return datetime.fromtimestamp(nanos / 1e9, tz=UTC).replace(tzinfo=None)


def json_value(value: Any) -> Any:
    """A JSON-encoded attribute decoded (semantic conventions put messages in JSON text);
    a value that is not JSON text is returned as it is."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def indexed(attrs: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """Flattened list attributes `prefix.N.rest = value` as [{rest: value}, ...] in N order."""
    items: dict[int, dict[str, Any]] = {}
    for key, value in attrs.items():
        if not key.startswith(prefix):
            continue
        index, _, rest = key[len(prefix):].partition(".")
        if index.isdigit() and rest:
            items.setdefault(int(index), {})[rest] = value
    return [items[index] for index in sorted(items)]
