"""The check contract: one registry of named, parameterised assertions on an output.

A check function takes (output, params, context) and returns a CheckOutcome (passed, a score
in [0, 1], a reason). `run_check` adds what every check can do: negation, a score threshold,
and turning an exception into an error result so a run goes on.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from evalboard.errors import EvalboardError

# Parameter types: the Python types accepted, and how a message names them. `text` is a string
# or a number (promptfoo converts numbers); `texts` is a string or a list of strings.
PARAM_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "text": (str, int, float),
    "texts": (str, list, tuple),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "list[str]": (list, tuple),
    "dict": (dict,),
    "any": (object,),
}
TYPE_NAMES = {"str": "a string", "text": "a string or a number",
              "texts": "a string or a list of strings", "int": "a whole number",
              "float": "a number", "bool": "true or false", "list[str]": "a list of strings",
              "dict": "an object", "any": "a value"}
_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")


def one_line(text: str) -> str:
    """`text` with its line breaks turned into spaces: messages are one line."""
    return _LINE_BREAKS.sub(" ", text).strip()


class CheckError(EvalboardError, ValueError):
    """A check specification that cannot run: unknown type, missing or bad parameter.

    `field` names the culprit, e.g. "type", "params.pattern", "threshold".
    """

    def __init__(self, field_name: str, reason: str) -> None:
        reason = one_line(reason)
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


@dataclass(frozen=True)
class CheckContext:
    """What a check may know besides the output: the case and the call around it."""

    input: str | Sequence[Mapping[str, Any]] | None = None
    references: tuple[str, ...] = ()
    expected_entities: tuple[Mapping[str, Any], ...] = ()
    latency_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    error: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckOutcome:
    """What a check function returns."""

    passed: bool
    score: float
    reason: str
    judge_version_id: int | None = None  # the judge version that graded it (judge checks)


def _number_text(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


@dataclass(frozen=True)
class Param:
    """One parameter of a check type, with what it accepts: validate_spec derives every
    check's save-time validation from these declarations."""

    type: str = "str"
    required: bool = False
    default: Any = None
    doc: str = ""
    choices: tuple[Any, ...] = ()  # the only values accepted (for a list: for each item)
    minimum: float | None = None  # inclusive
    maximum: float | None = None  # inclusive
    above: float | None = None  # exclusive lower bound, e.g. a timeout must be above 0

    def fits_type(self, value: Any) -> bool:
        """Whether `value` has one of the Python types this parameter takes (true and false
        are not numbers here)."""
        if isinstance(value, bool) and self.type not in ("bool", "any"):
            return False
        return isinstance(value, PARAM_TYPES[self.type])

    def problem(self, value: Any) -> str | None:
        """Why `value` does not fit this parameter, or None when it does."""
        if not self.fits_type(value):
            return f"expected {TYPE_NAMES[self.type]}, got {value!r}"
        items = value if isinstance(value, list | tuple) else None
        if self.type in ("list[str]", "texts") and items is not None and not all(
                isinstance(item, str) for item in items):
            return "expected a list of strings"
        if isinstance(value, float) and not math.isfinite(value):
            return f"expected a finite number, got {value!r}"
        if self.choices:
            bad = [v for v in (items if items is not None else [value]) if v not in self.choices]
            if bad:
                return (f"expected one of {', '.join(map(str, self.choices))}, "
                        f"got {bad[0]!r}")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return self.range_problem(value)
        return None

    def range_problem(self, value: float) -> str | None:
        """Why the number `value` is outside this parameter's bounds, or None."""
        low_ok = (self.minimum is None or value >= self.minimum) and (
            self.above is None or value > self.above)
        if low_ok and (self.maximum is None or value <= self.maximum):
            return None
        return f"must be {self.bounds()}, got {value!r}"

    def bounds(self) -> str:
        """The accepted range in words: 'from 0 to 1', 'above 0 and at most 60'."""
        low = (f"above {_number_text(self.above)}" if self.above is not None else
               f"at least {_number_text(self.minimum)}" if self.minimum is not None else "")
        if self.maximum is None:
            return low
        if self.minimum is not None and self.above is None:
            return f"from {_number_text(self.minimum)} to {_number_text(self.maximum)}"
        high = f"at most {_number_text(self.maximum)}"
        return f"{low} and {high}" if low else high


@dataclass(frozen=True)
class ThresholdRange:
    """What a check-level threshold means for a check, and the values it may take.

    For a score-based check the threshold is a minimum score, and every score lies in
    [0, 1] (SCORE). A check with its own threshold (levenshtein, latency) declares its unit.
    """

    low: float = 0.0
    high: float | None = 1.0
    meaning: str = "a minimum score"

    def problem(self, value: float) -> str | None:
        if math.isfinite(value) and value >= self.low and (self.high is None
                                                           or value <= self.high):
            return None
        span = (f"from {self.low:g} to {self.high:g}" if self.high is not None
                else f"{self.low:g} or more")
        return f"the threshold is {self.meaning}, {span}; got {value:g}"


SCORE = ThresholdRange()


CheckFunction = Callable[[str, Mapping[str, Any], CheckContext], CheckOutcome]


@dataclass(frozen=True)
class CheckType:
    """A registered check: its function, parameters and documentation."""

    name: str
    function: CheckFunction
    params: Mapping[str, Param]
    description: str
    category: str
    # For score-based checks: the threshold used when a spec gives none (promptfoo's
    # default where the name is shared); passed = score >= threshold.
    default_threshold: float | None = None
    # A check whose threshold is not a minimum score (levenshtein: a maximum distance;
    # latency: a maximum in ms) receives the spec's threshold as params["threshold"] and
    # decides `passed` itself.
    own_threshold: bool = False
    # Extra validation of the parameters together (e.g. "value or values, not empty"); raises
    # CheckError naming the field. Runs when a case is saved, before any output exists.
    validate: Callable[[Mapping[str, Any]], None] | None = None
    # Validation against the case (its references, input, expected entities), given the
    # parameters with their defaults; runs when a case is saved.
    validate_case: Callable[[Mapping[str, Any], CheckContext], None] | None = None
    # The values a spec's threshold may take, and what it means.
    threshold_range: ThresholdRange = SCORE


REGISTRY: dict[str, CheckType] = {}


def register(
    name: str,
    *,
    category: str,
    params: Mapping[str, Param] | None = None,
    default_threshold: float | None = None,
    own_threshold: bool = False,
    validate: Callable[[Mapping[str, Any]], None] | None = None,
    validate_case: Callable[[Mapping[str, Any], CheckContext], None] | None = None,
    threshold_range: ThresholdRange | None = None,
) -> Callable[[CheckFunction], CheckFunction]:
    """Decorator: add a check function to the registry under `name`."""

    def decorate(function: CheckFunction) -> CheckFunction:
        if name in REGISTRY:
            raise ValueError(f"check {name!r} is registered twice")
        if own_threshold and threshold_range is None:
            raise ValueError(f"check {name!r} decides its own threshold: declare its range")
        REGISTRY[name] = CheckType(
            name=name,
            function=function,
            params=dict(params or {}),
            description=(function.__doc__ or "").strip().splitlines()[0]
            if function.__doc__ else name,
            category=category,
            default_threshold=default_threshold,
            own_threshold=own_threshold,
            validate=validate,
            validate_case=validate_case,
            threshold_range=threshold_range or SCORE,
        )
        return function

    return decorate


@dataclass(frozen=True)
class CheckSpec:
    """One check of a test case: a type, its parameters, and how it counts."""

    type: str
    params: Mapping[str, Any] = field(default_factory=dict)
    negate: bool = False
    weight: float = 1.0
    threshold: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type}
        if self.params:
            data["params"] = dict(self.params)
        if self.negate:
            data["negate"] = True
        if self.weight != 1.0:
            data["weight"] = self.weight
        if self.threshold is not None:
            data["threshold"] = self.threshold
        return data

    @staticmethod
    def from_stored(data: Mapping[str, Any]) -> CheckSpec:
        """A spec as stored with a case version, unvalidated: a check retired or changed since
        then must become an error result when it runs, not stop the run from loading."""
        return CheckSpec(type=str(data.get("type", "")), params=dict(data.get("params") or {}),
                         negate=bool(data.get("negate", False)),
                         weight=float(data.get("weight", 1.0)),
                         threshold=data.get("threshold"))

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> CheckSpec:
        """Build a spec from plain data (YAML/JSON); raise CheckError naming a bad field."""
        if not isinstance(data, Mapping):
            raise CheckError("check", f"expected an object with a 'type', got {data!r}")
        unknown = set(data) - {"type", "params", "negate", "weight", "threshold"}
        if unknown:
            raise CheckError(sorted(unknown)[0], "unknown field (use type, params, negate, "
                             "weight, threshold)")
        params = data.get("params") or {}
        if not isinstance(params, Mapping):
            raise CheckError("params", "expected an object of parameters")
        negate = data.get("negate", False)
        if not isinstance(negate, bool):
            raise CheckError("negate", f"expected true or false, got {negate!r}")
        spec = CheckSpec(
            type=str(data.get("type", "")),
            params=dict(params),
            negate=negate,
            weight=_number("weight", data.get("weight", 1.0)),
            threshold=None if data.get("threshold") is None
            else _number("threshold", data["threshold"]),
        )
        validate_spec(spec)
        return spec


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(field_name: str, value: Any) -> float:
    if not _is_number(value):
        raise CheckError(field_name, f"expected a number, got {value!r}")
    return float(value)


def catalogue() -> Mapping[str, CheckType]:
    """The registry with every check module loaded."""
    from evalboard.checks import catalogue as _modules  # noqa: F401 - fills the registry

    return REGISTRY


def validate_spec(spec: CheckSpec, case: CheckContext | None = None) -> None:
    """Raise CheckError when the spec names an unknown type or has a bad parameter or
    threshold; with `case`, also when it cannot run on that case (e.g. a reference-based
    check on a case without a reference). Every message names the check."""
    check = catalogue().get(spec.type)
    if check is None:
        raise CheckError("type", f"unknown check {spec.type!r}; known checks: "
                         f"{', '.join(sorted(REGISTRY))}")
    try:
        _validate(check, spec, case)
    except CheckError as exc:
        raise CheckError(exc.field, f"{spec.type}: {exc.reason}") from None


def _validate(check: CheckType, spec: CheckSpec, case: CheckContext | None) -> None:
    if not (_is_number(spec.weight) and math.isfinite(spec.weight) and spec.weight >= 0):
        raise CheckError("weight", f"must be a number of 0 or more, got {spec.weight!r}")
    if spec.threshold is not None:
        if not _is_number(spec.threshold):
            raise CheckError("threshold", f"expected a number, got {spec.threshold!r}")
        problem = check.threshold_range.problem(float(spec.threshold))
        if problem:
            raise CheckError("threshold", problem)
    for name, value in spec.params.items():
        param = check.params.get(name)
        if param is None:
            raise CheckError(f"params.{name}", f"takes no parameter {name!r} "
                             f"(it takes: {', '.join(check.params) or 'none'})")
        problem = param.problem(value)
        if problem:
            raise CheckError(f"params.{name}", problem)
    for name, param in check.params.items():
        if param.required and name not in spec.params:
            raise CheckError(f"params.{name}", f"needs {name!r}: {param.doc}")
        if param.required and spec.params.get(name) in ("", [], (), {}):
            raise CheckError(f"params.{name}", f"needs a non-empty {name!r}: {param.doc}")
    if check.validate is not None:
        own = check.own_threshold and spec.threshold is not None
        check.validate({**spec.params, "threshold": spec.threshold} if own else spec.params)
    if case is not None and check.validate_case is not None:
        check.validate_case(resolved_params(spec), case)


def resolved_params(spec: CheckSpec) -> dict[str, Any]:
    """The spec's parameters with the check type's defaults filled in."""
    check = REGISTRY[spec.type]
    return {**{k: p.default for k, p in check.params.items() if p.default is not None},
            **spec.params}


@dataclass(frozen=True)
class CheckResult:
    """A check's result inside a case: what the spec asked, and what came out."""

    spec: CheckSpec
    passed: bool
    score: float
    reason: str
    error: str | None = None
    judge_version_id: int | None = None  # the judge version that graded it (judge checks)


def run_check(spec: CheckSpec, output: str, context: CheckContext) -> CheckResult:
    """Run one check; negation, thresholds and errors are applied here, once for all checks."""
    try:
        validate_spec(spec)
        check = REGISTRY[spec.type]
        params = resolved_params(spec)
        if check.own_threshold and spec.threshold is not None:
            params["threshold"] = spec.threshold
        outcome = check.function(output or "", params, context)
    except Exception as exc:  # noqa: BLE001 - a failing check is a result, not a crash
        return CheckResult(spec, False, 0.0, f"error: {type(exc).__name__}: {exc}",
                           error=f"{type(exc).__name__}: {exc}")
    score = min(1.0, max(0.0, float(outcome.score)))
    threshold = None if check.own_threshold else (
        spec.threshold if spec.threshold is not None else check.default_threshold)
    passed = score >= threshold if threshold is not None else bool(outcome.passed)
    reason = outcome.reason
    if threshold is not None:
        reason = f"{reason} (score {score:.3f} vs threshold {threshold:g})"
    if spec.negate:
        return CheckResult(spec, not passed, 1.0 - score, f"NOT: {reason}",
                           judge_version_id=outcome.judge_version_id)
    return CheckResult(spec, passed, score, reason, judge_version_id=outcome.judge_version_id)


@dataclass(frozen=True)
class CaseOutcome:
    passed: bool
    score: float
    results: tuple[CheckResult, ...]


def score_case(results: Sequence[CheckResult], threshold: float | None = None) -> CaseOutcome:
    """A case passes when its weighted score reaches `threshold`; without one, when every check
    passes. The weighted score is sum(weight * score) / sum(weight)."""
    total_weight = sum(r.spec.weight for r in results)
    score = (sum(r.spec.weight * r.score for r in results) / total_weight) if total_weight \
        else (1.0 if all(r.passed for r in results) else 0.0)
    passed = score >= threshold if threshold is not None else all(r.passed for r in results)
    if any(r.error for r in results) and threshold is None:
        passed = False
    return CaseOutcome(passed, score, tuple(results))
