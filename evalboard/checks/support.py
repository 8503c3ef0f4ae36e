"""Small helpers every check module shares: values quoted in reasons, outcomes, strict JSON,
parameter coercion, and running user code with a time limit."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from evalboard.checks.base import CheckError, CheckOutcome


def shorten(text: str, limit: int = 120) -> str:
    """`text` cut to at most `limit` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clip(value: Any, limit: int = 60) -> str:
    """A value quoted for a reason (repr, so newlines show as \\n), cut to about `limit` chars."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                          default=str)
    return repr(shorten(text, limit))


def plural(count: int, noun: str) -> str:
    """'1 line', '3 lines'."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def clip_list(values: Sequence[Any], shown: int = 5) -> str:
    """Several values for a reason: the first `shown` clipped, then how many more."""
    head = ", ".join(clip(v, 30) for v in values[:shown])
    return head + (f" and {len(values) - shown} more" if len(values) > shown else "")


def verdict(passed: bool, reason: str, score: float | None = None) -> CheckOutcome:
    """A CheckOutcome whose score defaults to 1.0 for a pass and 0.0 for a fail."""
    return CheckOutcome(passed, (1.0 if passed else 0.0) if score is None else score, reason)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# Strict JSON, as JSON.parse reads it: NaN and Infinity are not JSON.
STRICT_JSON = json.JSONDecoder(parse_constant=_reject_constant)


def parse_json(text: str) -> tuple[Any, str | None]:
    """Parse strict JSON (no NaN/Infinity, as JSON.parse); return (value, problem or None)."""
    if not text.strip():
        return None, "output is empty"
    try:
        return STRICT_JSON.decode(text), None
    except ValueError as exc:  # JSONDecodeError is a ValueError
        return None, str(exc)
    except RecursionError:
        return None, "JSON is nested too deeply"


def json_equal(left: Any, right: Any) -> bool:
    """Deep equality of JSON values where true != 1 (Python's == would say equal)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return len(left) == len(right) and all(map(json_equal, left, right))
    return left == right


def scalar_text(field: str, value: Any) -> str:
    """A string or number parameter as text (promptfoo converts numbers); else CheckError."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise CheckError(field, f"expected a string or a number, got {clip(value)}")


def call_with_timeout(function: Callable[[], Any], timeout_s: float, name: str) -> Any:
    """Run `function` in a daemon thread; return its result, re-raise its exception, or raise
    TimeoutError after `timeout_s` (the thread is abandoned, not killed)."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = function()
        except Exception as exc:  # noqa: BLE001 - re-raised in the caller below
            box["error"] = exc
        except BaseException as exc:  # SystemExit & co. must not end the whole run
            box["error"] = RuntimeError(f"{name} raised {type(exc).__name__}: {exc}")

    worker = threading.Thread(target=work, name=name, daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise TimeoutError(f"{name} did not return within {timeout_s:g} s; it was abandoned "
                           "(still running in the background)")
    if "error" in box:
        raise box["error"]
    return box.get("value")
