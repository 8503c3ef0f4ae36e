"""The one list of call fields: what `log_call` takes, imports read and exports write.

Each field has the kind of value an export column holds and the names an import looks for
when no `--map` names it (the first present, non-empty one wins). Exports write the fields in
this order, after the exporting store's `id`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FieldKind = Literal["text", "number", "integer", "json", "time"]


@dataclass(frozen=True)
class CallField:
    name: str
    kind: FieldKind
    aliases: tuple[str, ...]


CALL_FIELDS: tuple[CallField, ...] = (
    CallField("created_at", "time", ("created_at", "timestamp")),
    CallField("model_version", "text", ("model_version", "model")),
    CallField("source", "text", ("source",)),  # used when it names a source; --source overrides
    CallField("input", "json", ("input", "prompt", "messages")),
    CallField("output", "text", ("output", "response", "completion")),
    CallField("latency_ms", "number", ("latency_ms",)),
    CallField("prompt_tokens", "integer", ("prompt_tokens", "usage.prompt_tokens")),
    CallField("completion_tokens", "integer", ("completion_tokens", "usage.completion_tokens")),
    CallField("error", "text", ("error",)),
    CallField("metadata", "json", ("metadata",)),
    CallField("session_id", "text", ("session_id",)),
    CallField("external_id", "text", ("external_id", "id")),
)
FIELD_NAMES: tuple[str, ...] = tuple(field.name for field in CALL_FIELDS)
EXPORT_COLUMNS: tuple[str, ...] = ("id", *FIELD_NAMES)
