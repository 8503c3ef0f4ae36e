"""Call-level checks: what the logged call says about itself (latency, token counts, error),
not what the output text says."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evalboard.checks.base import (
    CheckContext,
    CheckError,
    CheckOutcome,
    Param,
    ThresholdRange,
    register,
)
from evalboard.checks.support import clip, verdict

CATEGORY = "call"


def _limit_ms(params: Mapping[str, Any]) -> float:
    """The slowest latency that passes: the spec's threshold, else max_ms. Also the save
    hook (which sees the threshold too, as latency decides its own)."""
    limit = params.get("threshold", params.get("max_ms"))
    if limit is None:
        raise CheckError("params.max_ms", "needs the slowest latency that passes, in ms: give "
                         "max_ms or a threshold")
    return float(limit)


def _validate_latency(params: Mapping[str, Any]) -> None:
    _limit_ms(params)


@register("latency", category=CATEGORY, own_threshold=True, validate=_validate_latency,
          threshold_range=ThresholdRange(0, None, "the slowest latency that passes, in ms"),
          params={"max_ms": Param("float", minimum=0, doc="the slowest latency that passes, "
                                  "in milliseconds (the spec's threshold, when given, takes "
                                  "precedence)")})
def latency(output: str, params: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
    """The call took at most `threshold` milliseconds (promptfoo latency); score = limit/latency
    when slower."""
    limit = _limit_ms(params)
    if context.latency_ms is None:
        return verdict(False, "the call has no recorded latency")
    took = float(context.latency_ms)
    if took <= limit:
        return verdict(True, f"latency {took:g} ms is within {limit:g} ms")
    return verdict(False, f"latency {took:g} ms is above {limit:g} ms", score=limit / took)


_TOKEN_LIMITS = {  # the first is what the case-file shorthand {token_usage: N} fills
    "max_completion_tokens": ("completion_tokens", "completion"),
    "max_prompt_tokens": ("prompt_tokens", "prompt"),
    "max_total_tokens": (None, "total"),
}


def _used(context: CheckContext, attribute: str | None) -> int | None:
    if attribute is not None:
        return getattr(context, attribute)
    if context.prompt_tokens is None or context.completion_tokens is None:
        return None
    return context.prompt_tokens + context.completion_tokens


def _token_limits(params: Mapping[str, Any]) -> dict[str, int]:
    """The maxima given; CheckError unless at least one. Also the save hook."""
    limits = {name: params[name] for name in _TOKEN_LIMITS if params.get(name) is not None}
    if not limits:
        raise CheckError("params.max_completion_tokens", "give at least one of "
                         + ", ".join(_TOKEN_LIMITS))
    return limits


def _validate_token_limits(params: Mapping[str, Any]) -> None:
    _token_limits(params)


@register("token_usage", category=CATEGORY, validate=_validate_token_limits, params={
    name: Param("int", minimum=0, doc=f"the most {label} tokens the call may use")
    for name, (_, label) in _TOKEN_LIMITS.items()
})
def token_usage(output: str, params: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
    """The call's prompt/completion/total token counts are within the given maxima."""
    found = []
    for name, limit in _token_limits(params).items():
        attribute, label = _TOKEN_LIMITS[name]
        used = _used(context, attribute)
        if used is None:
            return verdict(False, f"the call has no {label} token count")
        if used > limit:
            return verdict(False, f"{label} tokens {used} are above the maximum {limit}",
                           score=limit / used)
        found.append(f"{label} tokens {used} <= {limit}")
    return verdict(True, "; ".join(found))


@register("no_error", category=CATEGORY)
def no_error(output: str, params: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
    """The call finished without an error."""
    if context.error is None:
        return verdict(True, "the call finished without an error")
    return verdict(False, f"the call failed: {clip(context.error, 120)}")
