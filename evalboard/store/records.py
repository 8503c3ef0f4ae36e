"""Validate and normalise one call before it is written, whoever logs it."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from evalboard.store.models import SOURCES, utcnow

DEFAULT_MODEL_VERSION = "unversioned"
_EPOCH = re.compile(r"^\d{9,13}(\.\d+)?$")
CALL_FIELDS = (
    "input",
    "output",
    "model_version",
    "source",
    "latency_ms",
    "prompt_tokens",
    "completion_tokens",
    "error",
    "metadata",
    "session_id",
    "external_id",
    "created_at",
)


class CallValidationError(ValueError):
    """A call cannot be stored; `field` names the culprit."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def messages_to_text(messages: Sequence[Mapping[str, Any]]) -> str:
    """Flatten chat messages to searchable text: one `role: content` line per turn."""
    return "\n".join(f"{m.get('role', '')}: {_content_text(m.get('content'))}" for m in messages)


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # multi-part content: keep the text parts
        return " ".join(
            str(part.get("text", "")) if isinstance(part, Mapping) else str(part)
            for part in content
        )
    return str(content)


def normalize_text(text: str) -> str:
    """Text compared loosely: case-folded, whitespace collapsed."""
    return " ".join(text.casefold().split())


def input_hash(input_text: str) -> str:
    """The key that replay uses to find logged calls with the same (normalised) input; the
    same with or without NUL characters (see `replace_nul`)."""
    return hashlib.sha1(normalize_text(replace_nul(input_text)).encode()).hexdigest()


NUL_REPLACEMENT = "\ufffd"


def replace_nul(value: Any) -> Any:
    """`value` with every NUL character replaced by U+FFFD, in strings and inside lists and
    objects (keys too). PostgreSQL cannot store NUL in text or JSON, so no store keeps it."""
    if isinstance(value, str):
        return value.replace("\x00", NUL_REPLACEMENT) if "\x00" in value else value
    if isinstance(value, list | tuple):
        return [replace_nul(item) for item in value]
    if isinstance(value, Mapping):
        return {replace_nul(key): replace_nul(item) for key, item in value.items()}
    return value


def _check_messages(value: Sequence[Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for index, message in enumerate(value):
        if not isinstance(message, Mapping) or "role" not in message:
            raise CallValidationError(
                "input",
                f"message {index} is not an object with a 'role' (chat input is a list "
                "of {role, content})",
            )
        messages.append(dict(message))
    return messages


def _optional_number(field: str, value: Any, kind: type) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise CallValidationError(field, f"expected a number, got {value!r}")
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise CallValidationError(field, f"expected a number, got {value!r}") from None
    if kind is int and isinstance(value, float) and not value.is_integer():
        raise CallValidationError(field, f"expected a whole number, got {value!r}")
    if number < 0:
        raise CallValidationError(field, f"must not be negative, got {value!r}")
    return number


def _optional_text(field: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    raise CallValidationError(field, f"expected text, got {type(value).__name__}")


def _timestamp(value: Any) -> datetime:
    if value is None or value == "":
        return utcnow()
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value  # epoch milliseconds or seconds
        return datetime.fromtimestamp(seconds, tz=UTC).replace(tzinfo=None)
    elif isinstance(value, str) and _EPOCH.match(value.strip()):
        return _timestamp(float(value))
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise CallValidationError(
                "created_at", f"not an ISO 8601 time or epoch seconds: {value!r}"
            ) from None
    else:
        raise CallValidationError("created_at", f"expected a time, got {type(value).__name__}")
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def normalize_call(
    *,
    input: str | Sequence[Mapping[str, Any]] | None,  # noqa: A002 - the public field name
    output: Any = None,
    model_version: str | None = None,
    source: str = "production",
    latency_ms: Any = None,
    prompt_tokens: Any = None,
    completion_tokens: Any = None,
    error: Any = None,
    metadata: Mapping[str, Any] | None = None,
    session_id: Any = None,
    external_id: Any = None,
    created_at: Any = None,
) -> dict[str, Any]:
    """Return a row for `calls` (with `model_version` as a name), or raise CallValidationError.

    NUL characters anywhere in the call become U+FFFD (`replace_nul`), on every store.
    """
    if input is None:
        raise CallValidationError("input", "missing (a prompt string or a list of chat messages)")
    if isinstance(input, str):
        input_text, input_messages = input, None
    elif isinstance(input, Sequence) and not isinstance(input, bytes | bytearray):
        input_messages = _check_messages(input)
        input_text = messages_to_text(input_messages)
    else:
        raise CallValidationError(
            "input",
            f"expected a prompt string or a list of chat messages, got {type(input).__name__}",
        )
    if output is not None and not isinstance(output, str):
        output = (
            json.dumps(output, ensure_ascii=False)
            if isinstance(output, dict | list)
            else str(output)
        )
    if source not in SOURCES:
        raise CallValidationError("source", f"must be one of {', '.join(SOURCES)}, got {source!r}")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise CallValidationError("metadata", f"expected an object, got {type(metadata).__name__}")
    version = _optional_text("model_version", model_version) or DEFAULT_MODEL_VERSION
    prompt = _optional_number("prompt_tokens", prompt_tokens, int)
    completion = _optional_number("completion_tokens", completion_tokens, int)
    total = None if prompt is None and completion is None else (prompt or 0) + (completion or 0)
    row = {
        "created_at": _timestamp(created_at),
        "model_version": version.strip() or DEFAULT_MODEL_VERSION,
        "source": source,
        "input_text": input_text,
        "input_messages": input_messages,
        "input_hash": input_hash(input_text),
        "output": output,
        "latency_ms": _optional_number("latency_ms", latency_ms, float),
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": total,
        "error": _optional_text("error", error),
        "meta": dict(metadata) if metadata else None,
        "session_id": _optional_text("session_id", session_id),
        "external_id": _optional_text("external_id", external_id),
    }
    return {key: replace_nul(value) for key, value in row.items()}
