"""The custom check: a Python function of the team's own, named "package.module:function".

The function has the check signature `(output, params, context)`; its extra parameters arrive
as `params["args"]`. It may return a CheckOutcome, a bool, a number (a score in [0, 1]: passed
when > 0, or when it reaches the spec's threshold), or a dict {passed|pass, score, reason}.
It runs in a daemon worker thread with a time limit: after `timeout_s` the check gives up with
an error result. Python cannot kill a thread, so a hanging function is abandoned, not stopped:
it keeps running in the background until it returns or the process exits.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping
from typing import Any

from evalboard.checks.base import CheckContext, CheckError, CheckOutcome, Param, register
from evalboard.checks.support import call_with_timeout, clip, verdict

CATEGORY = "custom"
MAX_TIMEOUT_S = 600.0


def _split(reference: str) -> tuple[str, str]:
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise CheckError("params.function", f"expected 'module:function', got {clip(reference)}")
    return module_name, attribute


def _validate(params: Mapping[str, Any]) -> None:
    """Save-time check of the spec; the module is imported only when the check runs."""
    _split(params["function"])


def resolve(reference: str) -> Callable[..., Any]:
    """Import "package.module:function" and return the function."""
    module_name, attribute = _split(reference)
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise CheckError("params.function", f"cannot import {module_name!r}: {exc}") from None
    for part in attribute.split("."):
        target = getattr(target, part, None)
    if not callable(target):
        raise CheckError("params.function", f"{module_name!r} has no function {attribute!r}")
    return target


def _score(value: Any, reference: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value) \
            or not 0.0 <= value <= 1.0:
        raise TypeError(f"{reference} returned the score {clip(value)}; scores are numbers "
                        "from 0 to 1")
    return float(value)


def _from_dict(value: Mapping[str, Any], reference: str) -> CheckOutcome:
    flag = next((value[k] for k in ("passed", "pass", "pass_") if k in value), None)
    score = _score(value["score"], reference) if value.get("score") is not None else None
    if flag is None and score is None:
        raise TypeError(f"{reference} returned a dict without 'passed' or 'score'")
    passed = bool(flag) if flag is not None else score > 0
    reason = str(value.get("reason") or f"{reference} returned {'pass' if passed else 'fail'}")
    return verdict(passed, reason, score=score)


def to_outcome(value: Any, reference: str) -> CheckOutcome:
    """Turn what a custom function returned into a CheckOutcome, or raise TypeError."""
    if isinstance(value, CheckOutcome):
        return value
    if isinstance(value, bool):
        return verdict(value, f"{reference} returned {value}")
    if isinstance(value, int | float):
        score = _score(value, reference)
        return verdict(score > 0, f"{reference} returned the score {score:g}", score=score)
    if isinstance(value, Mapping):
        return _from_dict(value, reference)
    raise TypeError(f"{reference} returned {type(value).__name__}; expected a CheckOutcome, "
                    "bool, score or dict")


@register("custom", category=CATEGORY, validate=_validate, params={
    "function": Param("str", required=True, doc="the check function as 'module:function', "
                      "called as function(output, params, context)"),
    "args": Param("dict", doc="extra parameters, passed on as params['args']"),
    "timeout_s": Param("float", default=10.0, above=0, maximum=MAX_TIMEOUT_S,
                       doc="give up (error result) after this many seconds"),
})
def custom(output: str, params: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
    """A team's own Python check function, with a time limit."""
    reference = params["function"]
    timeout = float(params["timeout_s"])
    passed_on = {**params, "args": dict(params.get("args") or {})}
    # Importing runs inside the time limit too: a module may hang at import as well.
    value = call_with_timeout(lambda: resolve(reference)(output, passed_on, context), timeout,
                              f"custom check {reference}")
    return to_outcome(value, reference)
