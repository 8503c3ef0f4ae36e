"""Turn what a form holds (text fields, a checks table) into case content, with clear errors."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from evalboard.cases.draft import CaseError
from evalboard.checks import CheckError, CheckSpec

REFERENCE_SEPARATOR = "\n---\n"


def _cell(value: Any) -> Any:
    """A data-editor cell: NaN and empty strings are 'nothing'."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, str) and not value.strip():
        return None
    return value


def specs_from_rows(rows: Iterable[Mapping[str, Any]]) -> tuple[CheckSpec, ...]:
    """Check specs from table rows {type, params (JSON text), negate, weight, threshold}."""
    specs = []
    for number, row in enumerate(rows, start=1):
        check_type = _cell(row.get("type"))
        if check_type is None:
            continue  # an empty row the user added and left blank
        raw_params = _cell(row.get("params")) or "{}"
        try:
            params = json.loads(raw_params) if isinstance(raw_params, str) else raw_params
        except json.JSONDecodeError as exc:
            raise CaseError(f"checks row {number}.params",
                            f"not JSON ({exc.msg}); write e.g. {{\"values\": [\"a\", \"b\"]}}"
                            ) from None
        data = {"type": str(check_type), "params": params,
                "negate": bool(_cell(row.get("negate")) or False),
                "weight": float(_cell(row.get("weight")) or 1.0)}
        if _cell(row.get("threshold")) is not None:
            data["threshold"] = float(row["threshold"])
        try:
            specs.append(CheckSpec.from_dict(data))
        except CheckError as exc:
            raise CaseError(f"checks row {number}.{exc.field}", exc.reason) from None
    return tuple(specs)


def rows_from_specs(specs: Sequence[CheckSpec]) -> list[dict[str, Any]]:
    return [{"type": s.type, "params": json.dumps(dict(s.params), ensure_ascii=False),
             "negate": s.negate, "weight": s.weight, "threshold": s.threshold} for s in specs]


def parse_input(text: str, as_chat: bool) -> str | tuple[Mapping[str, Any], ...]:
    """A prompt, or chat messages written as a JSON list of {role, content}."""
    if not as_chat:
        return text
    try:
        messages = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CaseError("input", f"chat input is a JSON list of {{role, content}}: {exc.msg}"
                        ) from None
    if not isinstance(messages, list):
        raise CaseError("input", "chat input is a JSON list of {role, content}")
    return tuple(messages)


def input_as_text(value: str | Sequence[Mapping[str, Any]]) -> str:
    return value if isinstance(value, str) else json.dumps(list(value), ensure_ascii=False,
                                                           indent=2)


def parse_references(text: str) -> tuple[str, ...]:
    """References separated by a line holding only ---."""
    return tuple(part.strip("\n") for part in text.split(REFERENCE_SEPARATOR) if part.strip())


def parse_tags(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))


def parse_entities(text: str) -> tuple[Mapping[str, Any], ...]:
    if not text.strip():
        return ()
    try:
        entities = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CaseError("expected_entities", f"not JSON: {exc.msg}") from None
    if not isinstance(entities, list) or not all(isinstance(e, dict) for e in entities):
        raise CaseError("expected_entities", 'a JSON list like [{"label": "PER", "start": 0, '
                        '"end": 3}]')
    return tuple(entities)
