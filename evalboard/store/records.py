"""Validate and normalise one call before it is written, whoever logs it."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from evalboard.store.models import SOURCES, utcnow
from evalboard.store.values import (
    CallTypeError,
    CallValidationError,
    clean_text,
    decode_bytes,
    is_structured,
    to_json,
    to_json_text,
)

__all__ = ["CallTypeError", "CallValidationError", "normalize_call"]

DEFAULT_MODEL_VERSION = "unversioned"
# Token counts fit a PostgreSQL integer column on every store; text ids fit their columns.
MAX_TOKENS = 2**31 - 1
MAX_TEXT_ID = 200
_EPOCH = re.compile(r"^\d{9,13}(\.\d+)?$")


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
    same before and after `clean_text` (NUL and lone surrogates)."""
    return hashlib.sha1(normalize_text(clean_text(input_text)).encode()).hexdigest()


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
        plain = to_json(message, "input")
        if not isinstance(plain, dict) or "role" not in plain:
            raise CallValidationError(
                "input",
                f"message {index} is not an object with a 'role' (chat input is a list "
                "of {role, content})",
            )
        messages.append(plain)
    return messages


def _plain_number(value: Any) -> Any:
    """Decimal and numpy scalars as Python numbers; other values as they are."""
    if isinstance(value, Decimal):
        whole = value.is_finite() and value == value.to_integral_value()
        return int(value) if whole else float(value)
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return value.item()
    return value


def _optional_number(field: str, value: Any, kind: type, maximum: float = math.inf) -> Any:
    """A count or a measure: None for no value; NaN and infinity become None for a measure
    (`kind` float) and are refused for a count (`kind` int)."""
    if value is None or (isinstance(value, str) and value == ""):
        return None
    value = _plain_number(value)
    if isinstance(value, bool):
        raise CallValidationError(field, f"expected a number, got {value!r}")
    try:
        number = kind(value)
    except (TypeError, ValueError, OverflowError):
        raise CallValidationError(field, f"expected a number, got {value!r}") from None
    if kind is float and not math.isfinite(number):
        return None
    if kind is int and isinstance(value, float) and not value.is_integer():
        raise CallValidationError(field, f"expected a whole number, got {value!r}")
    if number < 0:
        raise CallValidationError(field, f"must not be negative, got {value!r}")
    if number > maximum:
        raise CallValidationError(field, f"must be at most {maximum:,}, got {value!r}")
    return number


def _optional_text(field: str, value: Any, max_length: int | None = None) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        text = clean_text(str.__str__(value))
    elif isinstance(value, bytes | bytearray):
        text = decode_bytes(value, field)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        text = str(value)
    else:
        raise CallTypeError(field, f"expected text, got {type(value).__name__}")
    if max_length is not None and len(text) > max_length:
        raise CallValidationError(
            field, f"at most {max_length} characters, got {len(text):,} ({text[:40]!r}...)"
        )
    return text


def _output_text(output: Any) -> str | None:
    """Text as it is; bytes decoded (UTF-8) or refused; objects, lists and other structured
    values as JSON text; any other value as its str()."""
    if output is None:
        return None
    if isinstance(output, str):
        return clean_text(str.__str__(output))
    if isinstance(output, bytes | bytearray | memoryview):
        return decode_bytes(output, "output")
    if is_structured(output):
        return to_json_text(output, "output")
    return clean_text(str(output))


def _timestamp(value: Any) -> datetime:
    if value is None or value == "":
        return utcnow()
    value = _plain_number(value)
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value  # epoch milliseconds or seconds
        try:
            return datetime.fromtimestamp(seconds, tz=UTC).replace(tzinfo=None)
        except (ValueError, OverflowError, OSError):
            raise CallValidationError("created_at", f"not a time: {value!r}") from None
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
        raise CallTypeError("created_at", f"expected a time, got {type(value).__name__}")
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
    """Return a row for `calls` (with `model_version` as a name), or raise CallValidationError
    (CallTypeError, also a TypeError, for a value of a type that cannot be stored).

    Values are converted by the rule of `evalboard.store.values` (NUL and lone surrogates
    become U+FFFD, NaN and infinity null, datetimes ISO 8601 text, ...); token counts are
    whole numbers up to MAX_TOKENS; model_version, session_id and external_id are at most
    MAX_TEXT_ID characters (the column size on PostgreSQL), on every store.
    """
    if input is None:
        raise CallValidationError("input", "missing (a prompt string or a list of chat messages)")
    if isinstance(input, str):
        input_text, input_messages = clean_text(str.__str__(input)), None
    elif isinstance(input, Sequence) and not isinstance(input, bytes | bytearray):
        input_messages = _check_messages(input)
        input_text = messages_to_text(input_messages)
    else:
        raise CallTypeError(
            "input",
            f"expected a prompt string or a list of chat messages, got {type(input).__name__}",
        )
    if source not in SOURCES:
        raise CallValidationError("source", f"must be one of {', '.join(SOURCES)}, got {source!r}")
    meta = None if metadata is None else to_json(metadata, "metadata")
    if meta is not None and not isinstance(meta, dict):
        raise CallTypeError("metadata", f"expected an object, got {type(metadata).__name__}")
    version = _optional_text("model_version", model_version, MAX_TEXT_ID)
    prompt = _optional_number("prompt_tokens", prompt_tokens, int, MAX_TOKENS)
    completion = _optional_number("completion_tokens", completion_tokens, int, MAX_TOKENS)
    total = None if prompt is None and completion is None else (prompt or 0) + (completion or 0)
    if total is not None and total > MAX_TOKENS:
        raise CallValidationError(
            "completion_tokens", f"prompt and completion tokens add up to more than {MAX_TOKENS:,}"
        )
    return {
        "created_at": _timestamp(created_at),
        "model_version": (version or "").strip() or DEFAULT_MODEL_VERSION,
        "source": source,
        "input_text": input_text,
        "input_messages": input_messages,
        "input_hash": input_hash(input_text),
        "output": _output_text(output),
        "latency_ms": _optional_number("latency_ms", latency_ms, float),
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": total,
        "error": _optional_text("error", error),
        "meta": meta or None,
        "session_id": _optional_text("session_id", session_id, MAX_TEXT_ID),
        "external_id": _optional_text("external_id", external_id, MAX_TEXT_ID),
    }
