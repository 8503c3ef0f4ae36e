"""The verdict in a judge's answer: JSON {"verdict": "pass"|"fail", "score": x, "reason": ...}.

Tolerant of what models wrap around JSON (code fences, a sentence before or after), strict
about what it keeps: a verdict that is neither pass nor fail, or a score outside [0, 1], is a
JudgeParseError carrying the raw answer. In score mode a bare number is an answer too.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from evalboard.judges.errors import JudgeParseError

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_NUMBER = re.compile(r"^\s*(?:score\s*[:=]\s*)?(-?\d+(?:\.\d+)?)\s*$", re.IGNORECASE)
PASS_WORDS = {"pass", "passed", "yes", "true", "ok", "good", "correct"}
FAIL_WORDS = {"fail", "failed", "no", "false", "bad", "incorrect"}
RAW_SHOWN = 200


@dataclass(frozen=True)
class ParsedVerdict:
    """What a judge said: passed, a score in [0, 1], and its reason."""

    passed: bool
    score: float
    reason: str


def _shown(raw: str) -> str:
    flat = " ".join(raw.split())
    return repr(flat if len(flat) <= RAW_SHOWN else flat[: RAW_SHOWN - 1] + "…")


def _json_objects(text: str) -> list[dict[str, Any]]:
    """Every JSON object in `text`: inside code fences first, then anywhere."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    for candidate in candidates:
        start = candidate.find("{")
        while start != -1:
            try:
                value, end = decoder.raw_decode(candidate, start)
            except ValueError:
                start = candidate.find("{", start + 1)
                continue
            if isinstance(value, dict):
                found.append(value)
            start = candidate.find("{", end)
    return found


def _verdict_word(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in PASS_WORDS:
            return True
        if word in FAIL_WORDS:
            return False
    return None


def _score(value: Any, raw: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise JudgeParseError(f"the judge's score {value!r} is not a number; answer: "
                                  f"{_shown(raw)}", raw) from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not 0 <= value <= 1:
        raise JudgeParseError(f"the judge's score must be a number from 0 to 1, got {value!r}; "
                              f"answer: {_shown(raw)}", raw)
    return float(value)


def parse_verdict(raw: str, mode: str = "pass_fail", threshold: float | None = None
                  ) -> ParsedVerdict:
    """The verdict in `raw`. `mode` "pass_fail" needs a verdict (a score is kept when given);
    "score" needs a score and passes at `threshold` (default 0.5)."""
    cut = 0.5 if threshold is None else threshold
    objects = [o for o in _json_objects(raw) if "verdict" in o or "score" in o]
    if not objects:
        number = _NUMBER.match(raw) if mode == "score" else None
        if number:
            score = _score(number.group(1), raw)
            assert score is not None
            return ParsedVerdict(score >= cut, score, "")
        raise JudgeParseError(f"the judge's answer holds no JSON verdict; answer: {_shown(raw)}",
                              raw)
    answer = objects[0]
    reason = answer.get("reason", "")
    reason = reason if isinstance(reason, str) else json.dumps(reason, ensure_ascii=False)
    score = _score(answer.get("score"), raw)
    if mode == "score":
        if score is None:
            raise JudgeParseError(f"the judge gave no score; answer: {_shown(raw)}", raw)
        return ParsedVerdict(score >= cut, score, reason)
    passed = _verdict_word(answer.get("verdict"))
    if passed is None:
        raise JudgeParseError(f"the judge's verdict must be \"pass\" or \"fail\", got "
                              f"{answer.get('verdict')!r}; answer: {_shown(raw)}", raw)
    return ParsedVerdict(passed, (1.0 if passed else 0.0) if score is None else score, reason)
