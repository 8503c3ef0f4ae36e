"""Text checks: exact and substring matches, regex, length bounds, edit distance, refusal.

Names and semantics follow promptfoo's deterministic assertions (promptfoo's `contains-any`
is `contains_any` here). Shared helpers live in `support`.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import regex
from rapidfuzz.distance import Levenshtein

from evalboard.checks.base import (
    CheckContext,
    CheckError,
    CheckOutcome,
    Param,
    ThresholdRange,
    register,
)
from evalboard.checks.regex_bounds import compile_bounded
from evalboard.checks.support import (
    call_with_timeout,
    clip,
    clip_list,
    json_equal,
    parse_json,
    scalar_text,
    verdict,
)

CATEGORY = "text"
MAX_REGEX_TIMEOUT_S = 60.0


def _text_value(doc: str) -> dict[str, Param]:
    """The `value` parameter of a check comparing with one string (a number is accepted)."""
    return {"value": Param("text", required=True, doc=f"{doc} (a string; numbers are converted)")}


# ---------------------------------------------------------------- equals


def _validate_equals(params: Mapping[str, Any]) -> None:
    if not isinstance(params["value"], Mapping | list):
        scalar_text("params.value", params["value"])


def _normalise(text: str, params: Mapping[str, Any]) -> str:
    text = text.strip() if params.get("strip") else text
    return text.casefold() if params.get("ignore_case") else text


@register("equals", category=CATEGORY, validate=_validate_equals, params={
    "value": Param("any", required=True, doc="the expected output; an object or list is "
                   "compared with the output parsed as JSON"),
    "ignore_case": Param("bool", default=False, doc="compare case-insensitively"),
    "strip": Param("bool", default=False, doc="ignore leading and trailing whitespace"),
})
def equals(output: str, params: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
    """The output equals the expected value exactly (promptfoo equals)."""
    expected = params["value"]
    if isinstance(expected, Mapping | list):
        value, problem = parse_json(output)
        if problem:
            return verdict(False, f"expected the JSON {clip(expected)}; output is not JSON")
        same = json_equal(value, expected)
        return verdict(same, f"output {'equals' if same else 'differs from'} the JSON "
                             f"{clip(expected)}")
    text = scalar_text("params.value", expected)
    if _normalise(output, params) == _normalise(text, params):
        return verdict(True, f"output equals {clip(text)}")
    return verdict(False, f"expected {clip(text)}, got {clip(output)}")


# ---------------------------------------------------------------- contains family


def _split_values(text: str) -> list[str]:
    """'a, "b, c", d' -> ['a', 'b, c', 'd'] (quotes protect commas, as promptfoo's CSV form)."""
    row = next(csv.reader([text], skipinitialspace=True), [])
    return [item.strip() for item in row if item.strip()]


def _needles(params: Mapping[str, Any]) -> list[str]:
    """The values to look for, from `values` or promptfoo's `value`: a list of strings or one
    comma-separated string. Raises CheckError naming the field (also the save-time hook)."""
    if "values" in params and "value" in params:
        raise CheckError("params.values", "give either 'value' or 'values', not both")
    field = "params.value" if "value" in params else "params.values"
    raw = params.get("value", params.get("values"))
    if raw is None:
        raise CheckError("params.values", "needs 'values': a list of strings to look for")
    if isinstance(raw, str):
        needles = _split_values(raw)
    elif isinstance(raw, list | tuple) and all(isinstance(item, str) for item in raw):
        needles = list(raw)
    else:
        raise CheckError(field, f"expected a list of strings or one comma-separated string, "
                                f"got {clip(raw)}")
    if not needles or not all(needles):
        raise CheckError(field, "needs at least one value, and no empty strings")
    return needles


def _validate_needles(params: Mapping[str, Any]) -> None:
    _needles(params)


def _match_many(output: str, needles: Sequence[str], *, require_all: bool,
                ignore_case: bool) -> CheckOutcome:
    """One scorer for contains/icontains and their _any/_all forms."""
    fold: Callable[[str], str] = str.casefold if ignore_case else str
    haystack = fold(output)
    found = [n for n in needles if fold(n) in haystack]
    if not require_all:
        if found:
            return verdict(True, f"output contains {clip(found[0])}")
        return verdict(False, f"output contains none of {clip_list(needles)}")
    missing = [n for n in needles if fold(n) not in haystack]
    if not missing:
        return verdict(True, f"output contains {clip_list(needles)}")
    counted = f" ({len(found)} of {len(needles)} found)" if len(needles) > 1 else ""
    return verdict(False, f"output does not contain {clip_list(missing)}{counted}",
                   score=len(found) / len(needles))


_SINGLE = _text_value("the substring to look for")
_MANY = {
    "values": Param("any", doc="the substrings to look for: a list of strings, or one "
                    "comma-separated string (quote a value that contains a comma)"),
    "value": Param("any", doc="promptfoo's name for `values`"),
}


def _register_contains(name: str, *, many: bool, require_all: bool, ignore_case: bool,
                       doc: str) -> None:
    def check(output: str, params: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
        needles = _needles(params) if many else [scalar_text("params.value", params["value"])]
        return _match_many(output, needles, require_all=require_all, ignore_case=ignore_case)

    check.__doc__ = doc
    check.__name__ = check.__qualname__ = name
    register(name, category=CATEGORY, params=_MANY if many else _SINGLE,
             validate=_validate_needles if many else None)(check)


for _name, _many, _all, _icase, _doc in (
    ("contains", False, True, False, "The output contains a substring (promptfoo contains)."),
    ("icontains", False, True, True, "The output contains a substring, ignoring case."),
    ("contains_any", True, False, False, "The output contains at least one of the values."),
    ("icontains_any", True, False, True, "The output contains one of the values, ignoring case."),
    ("contains_all", True, True, False, "The output contains every one of the values; "
     "score = share found."),
    ("icontains_all", True, True, True, "The output contains every value, ignoring case; "
     "score = share found."),
):
    _register_contains(_name, many=_many, require_all=_all, ignore_case=_icase, doc=_doc)


def _affix(output: str, params: Mapping[str, Any], *, at_start: bool) -> CheckOutcome:
    value = scalar_text("params.value", params["value"])
    where = "starts" if at_start else "ends"
    if output.startswith(value) if at_start else output.endswith(value):
        return verdict(True, f"output {where} with {clip(value)}")
    edge = output[: len(value) + 10] if at_start else output[-(len(value) + 10):]
    return verdict(False, f"expected output that {where} with {clip(value)}, "
                          f"it {where} with {clip(edge)}")


@register("starts_with", category=CATEGORY, params=_text_value("the expected beginning"))
def starts_with(output: str, params: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
    """The output begins with the value (promptfoo starts-with)."""
    return _affix(output, params, at_start=True)


@register("ends_with", category=CATEGORY, params=_text_value("the expected ending"))
def ends_with(output: str, params: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
    """The output ends with the value."""
    return _affix(output, params, at_start=False)


# ---------------------------------------------------------------- regex

_FLAGS = {"i": regex.IGNORECASE, "m": regex.MULTILINE, "s": regex.DOTALL,
          "x": regex.VERBOSE, "a": regex.ASCII, "u": 0}


@lru_cache(maxsize=64)
def _compile(pattern: str, flags: str) -> regex.Pattern[str]:
    bits = 0
    for letter in flags:
        if letter not in _FLAGS:
            raise CheckError("params.flags", f"unknown regex flag {letter!r} (use i, m, s, x, a)")
        bits |= _FLAGS[letter]
    return compile_bounded(pattern, bits)


_INLINE_CPU_S = 0.05


def _search(compiled: regex.Pattern[str], output: str, timeout: float) -> Any:
    """Search within `timeout` seconds of wall-clock time.

    The regex module's own timeout counts CPU time, which a busy machine stretches. So: try
    inline for 50 ms of CPU (almost every search ends there, with no thread cost); otherwise
    search again in a worker thread (GIL released) and give up after `timeout` wall seconds.
    An abandoned search still stops by itself once it has used `timeout` seconds of CPU.
    """
    try:
        return compiled.search(output, timeout=min(timeout, _INLINE_CPU_S))
    except TimeoutError:
        if timeout <= _INLINE_CPU_S:
            raise
    return call_with_timeout(lambda: compiled.search(output, timeout=timeout, concurrent=True),
                             timeout, "regex search")


def _validate_regex(params: Mapping[str, Any]) -> None:
    _compile(params["pattern"], params.get("flags", ""))


@register("regex", category=CATEGORY, validate=_validate_regex, params={
    "pattern": Param("str", required=True, doc="a regular expression searched anywhere in the "
                     "output (anchor it with ^...$ for a full match)"),
    "flags": Param("str", default="", doc="letters: i ignore case, m multiline, s dot matches "
                   "newline, x verbose, a ASCII-only classes"),
    "timeout_s": Param("float", default=1.0, above=0, maximum=MAX_REGEX_TIMEOUT_S,
                       doc="give up (an error result) after about this many seconds of "
                       "matching"),
})
def regex_check(output: str, params: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
    """The output matches a regular expression (promptfoo regex), with a time limit.

    A pattern that backtracks catastrophically raises TimeoutError, which run_check turns into
    an error result; an invalid pattern, or one too costly to compile, raises CheckError naming
    params.pattern (see regex_bounds).
    """
    pattern, timeout = params["pattern"], float(params["timeout_s"])
    compiled = _compile(pattern, params.get("flags", ""))
    try:
        match = _search(compiled, output, timeout)
    except TimeoutError:
        raise TimeoutError(f"regex {clip(pattern)} gave up after {timeout:g} s of matching "
                           "(catastrophic backtracking?); simplify it or raise timeout_s") from None
    if match is None:
        return verdict(False, f"output does not match {clip(pattern)}")
    return verdict(True, f"output matches {clip(pattern)} at {match.start()}: "
                         f"{clip(match.group(0), 40)}")


# ---------------------------------------------------------------- length bounds

_BOUNDS = {
    "min": Param("int", doc="the smallest count that passes (inclusive)"),
    "max": Param("int", doc="the largest count that passes (inclusive)"),
}


def _limits(params: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """(min, max) of a length check; CheckError unless at least one is given and they make
    sense. Also the save-time hook."""
    low, high = params.get("min"), params.get("max")
    if low is None and high is None:
        raise CheckError("params.max", "give min and/or max")
    for name, bound in (("min", low), ("max", high)):
        if bound is not None and bound < 0:
            raise CheckError(f"params.{name}", f"must not be negative, got {bound}")
    if low is not None and high is not None and low > high:
        raise CheckError("params.min", f"min ({low}) is greater than max ({high})")
    return low, high


def _validate_limits(params: Mapping[str, Any]) -> None:
    _limits(params)


def _bounds(what: str, count: int, params: Mapping[str, Any]) -> CheckOutcome:
    """Pass when min <= count <= max; a count outside scores min/count or max/count."""
    low, high = _limits(params)
    if low is not None and count < low:
        return verdict(False, f"{what} {count} is below the minimum {low}", score=count / low)
    if high is not None and count > high:
        return verdict(False, f"{what} {count} is above the maximum {high}", score=high / count)
    wanted = (f"between {low} and {high}" if low is not None and high is not None
              else f"at least {low}" if low is not None else f"at most {high}")
    return verdict(True, f"{what} {count} is {wanted}")


_CJK = r"\p{Han}\p{Hiragana}\p{Katakana}"
_WORD = regex.compile(rf"[{_CJK}]|[^\s{_CJK}]+")
_PIECE = regex.compile(rf"[{_CJK}]|[^\W{_CJK}]+|[^\w\s]")


def count_words(text: str) -> int:
    """Whitespace-separated words (promptfoo word-count); each CJK character counts as a word,
    since Chinese and Japanese do not put spaces between words."""
    return len(text.split()) if text.isascii() else len(_WORD.findall(text))


def approximate_tokens(text: str) -> int:
    """A tokenizer-free estimate: one token per 4 characters of a word (rounded up), one per
    punctuation mark, one per CJK character."""
    return sum(math.ceil(len(p) / 4) if p[0].isalnum() or p[0] == "_" else 1
               for p in _PIECE.findall(text))


@lru_cache(maxsize=4)
def _tokenizer(directory: str) -> Any:
    if not Path(directory).is_dir():
        raise CheckError("params.tokenizer", f"no tokenizer directory at {clip(directory)} "
                         "(tokenizers load from local directories only)")
    from transformers import AutoTokenizer  # imported lazily: slow, and optional

    return AutoTokenizer.from_pretrained(directory, local_files_only=True)


@register("word_count", category=CATEGORY, params=_BOUNDS, validate=_validate_limits)
def word_count(output: str, params: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
    """The number of words is within bounds (promptfoo word-count with min/max)."""
    return _bounds("word count", count_words(output), params)


@register("char_count", category=CATEGORY, params=_BOUNDS, validate=_validate_limits)
def char_count(output: str, params: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
    """The number of characters (Unicode code points) is within bounds."""
    return _bounds("character count", len(output), params)


@register("token_count", category=CATEGORY, validate=_validate_limits, params=_BOUNDS | {
    "tokenizer": Param("str", doc="a local directory holding a Hugging Face tokenizer; without "
                       "it the count is approximate (see approximate_tokens)"),
})
def token_count(output: str, params: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
    """The number of tokens is within bounds, by a local tokenizer or an approximation."""
    directory = params.get("tokenizer")
    if directory is None:
        return _bounds("approximate token count", approximate_tokens(output), params)
    tokens = _tokenizer(directory).encode(output, add_special_tokens=False, verbose=False)
    return _bounds("token count", len(tokens), params)


# ---------------------------------------------------------------- levenshtein

# len(a) * len(b) above which only "more than the threshold" is computed: the exact distance
# of two 100k-character texts takes about a second, of two 1 MB texts over a minute.
_EXACT_LIMIT = 10**10


@register("levenshtein", category=CATEGORY, own_threshold=True,
          params=_text_value("the expected output"),
          threshold_range=ThresholdRange(0, None, "the largest edit distance that passes"))
def levenshtein(output: str, params: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
    """The edit distance to the value is at most the threshold (default 5, as promptfoo);
    score = 1 - distance / length of the longer text."""
    expected, limit = scalar_text("params.value", params["value"]), params.get("threshold", 5)
    longest = max(len(output), len(expected))
    if len(output) * len(expected) <= _EXACT_LIMIT:
        distance = Levenshtein.distance(output, expected)
    else:  # banded computation: exact up to the limit, else limit + 1
        distance = Levenshtein.distance(output, expected, score_cutoff=int(limit))
        distance = max(distance, abs(len(output) - len(expected)))
    score = 1.0 - distance / longest if longest else 1.0
    relation = "within" if distance <= limit else "more than"
    return verdict(distance <= limit, f"edit distance {distance} to {clip(expected)} is "
                                      f"{relation} the threshold {limit:g}", score=score)


# ---------------------------------------------------------------- refusal

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u2032": "'", "\u02bc": "'"})
# After "i"/"we": " cannot", " won't", "'m unable to"... but not "cannot wait" & co.
_CANNOT = (r"(?:\ can\ ?not|\ can't|\ won't|\ will\ not"
           r"|(?:\ am|\ are|'m|'re)\ (?:unable|not\ able|not\ allowed)\ to)"
           r"(?!\ (?:wait|help\ but|stress|emphasi[sz]e|overstate|thank|believe)\b)")
_REFUSAL = re.compile(rf"""
    ^(?:i|we){_CANNOT}\b                                               # "I cannot ..."
  | ^(?:i(?:\ am|'m)\ (?:so\ |really\ |very\ )?sorry|i\ apologi[sz]e|my\ apologies|sorry)\b
     [^.!?\n]{{0,80}}[.!?,]?\s*(?:but\ )?(?:i|we)(?:{_CANNOT}|\ must\ decline)\b
  | \b(?:i|we){_CANNOT}\ (?:help|assist|comply|fulfil|fulfill|provide|answer|create|generate
        |write|support|engage|participate|give|share|do\ that)\b
  | \b(?:i|we)\ (?:do\ not|don't)\ (?:help\ with|assist\ with|engage\ in|provide
        |feel\ comfortable)\b
  | \b(?:i|we)\ (?:must\ |have\ to\ |need\ to\ )?(?:respectfully\ )?(?:decline|refuse)\ to\b
  | \bas\ an?\ (?:ai|artificial\ intelligence|(?:large\ )?language\ model|ai\ language\ model)\b
  | \b(?:that|this|it)\ (?:would\ not|wouldn't|is\ not|isn't)\ be\ (?:appropriate|ethical)\b
  | \b(?:that|this|it)\ (?:is|would\ be)\ (?:not\ appropriate|illegal\ and\ unethical)\b
  | \bgoes\ against\ (?:my|our)\ (?:guidelines|principles|programming|policies)\b
  | \bblocked\ by\ (?:our|the)\ content\ filters?\b
""", re.VERBOSE)


def refusal_phrase(text: str) -> str | None:
    """The English refusal phrasing found in `text`, or None."""
    match = _REFUSAL.search(text.strip().lower().translate(_APOSTROPHES))
    return match.group(0) if match else None


@register("refusal", category=CATEGORY)
def refusal(output: str, params: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
    """The output is a refusal (promptfoo is-refusal); negate it for "must not refuse".

    Detects common English refusal phrasings ("I'm sorry, but I can't", "As an AI",
    "I cannot help with"...); an empty output counts as a refusal, as in promptfoo.
    """
    if not output.strip():
        return verdict(True, "empty output counts as a refusal")
    phrase = refusal_phrase(output)
    if phrase:
        return verdict(True, f"output is a refusal: {clip(phrase, 50)}")
    return verdict(False, "output is not a refusal (no refusal phrasing found)")
