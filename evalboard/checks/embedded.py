"""Structures inside prose: `contains_json` and `contains_xml` (promptfoo contains-json,
contains-xml).

They pass when a JSON value or an XML element appears anywhere in the output (after a
sentence, inside a ```json fence...), where is_json and is_xml need the whole output to be
one. contains_json reads strict JSON objects and arrays, outermost first, and with `schema`
passes when one of them matches it. contains_xml reads balanced elements with defusedxml
(DTDs and entities refused, never resolved), and with `required_elements` passes when every
dotted path is found from some element of the XML found. Reading is bounded: at most
MAX_CANDIDATES starting points, and about SCAN_BUDGET characters scanned beyond the output's
own length, so a megabyte of brackets costs milliseconds, not minutes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from evalboard.checks.base import CheckContext, CheckOutcome, Param, register
from evalboard.checks.structure import (
    json_kind,
    missing_element,
    parse_xml,
    schema_problem,
    validate_element_paths,
    validate_schema_param,
)
from evalboard.checks.support import STRICT_JSON, clip, clip_list, plural, shorten, verdict

CATEGORY = "structure"
MAX_CANDIDATES = 1000
SCAN_BUDGET = 2_000_000
_JSON_START = re.compile(r"[\[{]")
# An XML start, end or empty-element tag (comments, CDATA and <?...?> are not tags).
_XML_TAG = re.compile(r"<(/?)([^\W\d][\w.:-]*)(?:\s[^<>]*?)?(/?)>")


@dataclass(frozen=True)
class Found:
    """A value read from the output, and the character offset it starts at."""

    start: int
    value: Any


class _Budget:
    """Characters a reader may still scan, and whether it ran out."""

    def __init__(self, text: str) -> None:
        self.left = SCAN_BUDGET + 2 * len(text)
        self.candidates = MAX_CANDIDATES
        self.exhausted = False

    def spend(self, characters: int) -> bool:
        """Take one candidate costing `characters`; False once the budget is spent."""
        self.candidates -= 1
        self.left -= max(1, characters)
        self.exhausted = self.candidates < 0 or self.left < 0
        return not self.exhausted


def json_values(text: str, budget: _Budget | None = None) -> list[Found]:
    """Every outermost JSON object or array in `text`, left to right."""
    budget = budget or _Budget(text)
    found: list[Found] = []
    position = 0
    while (start := _JSON_START.search(text, position)) is not None:
        begin = start.start()
        try:
            value, end = STRICT_JSON.raw_decode(text, begin)
        except ValueError as exc:  # JSONDecodeError, or NaN/Infinity refused
            reached = getattr(exc, "pos", begin + 1)
            if not budget.spend(reached - begin):
                break
            position = begin + 1
            continue
        except RecursionError:
            if not budget.spend(1000):
                break
            position = begin + 1
            continue
        found.append(Found(begin, value))
        if not budget.spend(end - begin):
            break
        position = end
    return found


def _xml_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every balanced element in `text`, outermost first."""
    spans: list[tuple[int, int]] = []
    open_tags: list[tuple[str, int]] = []
    for tag in _XML_TAG.finditer(text):
        closing, name, empty = tag.groups()
        if empty and not closing:
            spans.append((tag.start(), tag.end()))
        elif not closing:
            open_tags.append((name, tag.start()))
        elif any(open_name == name for open_name, _ in open_tags):
            while open_tags:  # tags left open inside (e.g. <br>) close with their parent
                open_name, start = open_tags.pop()
                if open_name == name:
                    spans.append((start, tag.end()))
                    break
    return sorted(spans, key=lambda span: (span[0], -span[1]))


def xml_elements(text: str, budget: _Budget | None = None) -> tuple[list[Found], str | None]:
    """The outermost well-formed XML elements in `text`, and why the first balanced candidate
    that failed did (None when none failed)."""
    budget = budget or _Budget(text)
    found: list[Found] = []
    covered_until = -1
    first_problem = None
    for start, end in _xml_spans(text):
        if end <= covered_until:
            continue  # inside an element already read
        if not budget.spend(end - start):
            break
        try:
            root = parse_xml(text[start:end])
        except (ParseError, ValueError) as exc:  # defusedxml refusals are ValueErrors
            first_problem = first_problem or f"at character {start}: {shorten(str(exc), 80)}"
            continue
        found.append(Found(start, root))
        covered_until = end
    return found, first_problem


def _elements(roots: Sequence[Found]) -> Iterator[Element]:
    for found in roots:
        yield from found.value.iter()


def _cut_note(budget: _Budget) -> str:
    return "; stopped reading after the scan limit" if budget.exhausted else ""


@register("contains_json", category=CATEGORY, validate=validate_schema_param, params={
    "schema": Param("dict", doc="optional JSON schema: one of the JSON values in the output "
                    "must match it"),
})
def contains_json(output: str, params: Mapping[str, Any], context: CheckContext
                  ) -> CheckOutcome:
    """The output contains a JSON object or array somewhere, e.g. in prose or a code fence,
    optionally matching a schema (promptfoo contains-json)."""
    budget = _Budget(output)
    values = json_values(output, budget)
    if not values:
        return verdict(False, f"output contains no JSON object or array{_cut_note(budget)}")
    schema = params.get("schema")
    if schema is None:
        first = values[0]
        return verdict(True, f"output contains JSON: {json_kind(first.value)} at character "
                             f"{first.start}")
    problems = []
    for found in values:
        problem = schema_problem(found.value, schema)
        if problem is None:
            return verdict(True, f"output contains JSON matching the schema: "
                                 f"{json_kind(found.value)} at character {found.start}")
        problems.append(problem)
    return verdict(False, f"none of the {plural(len(values), 'JSON value')} matches the "
                          f"schema; the first fails {problems[0]}{_cut_note(budget)}")


@register("contains_xml", category=CATEGORY, validate=validate_element_paths, params={
    "required_elements": Param("list[str]", doc="dotted element paths that must be found, "
                               "each from some element of the XML found, e.g. "
                               "analysis.classification (promptfoo requiredElements)"),
})
def contains_xml(output: str, params: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
    """The output contains a well-formed XML element somewhere, e.g. in prose or a code fence
    (promptfoo contains-xml); DTDs and entities are refused, never resolved."""
    budget = _Budget(output)
    roots, problem = xml_elements(output, budget)
    if not roots:
        why = f" (the first candidate fails {problem})" if problem else ""
        return verdict(False, f"output contains no well-formed XML element{why}"
                              f"{_cut_note(budget)}")
    required = params.get("required_elements") or ()
    missing = [path for path in required
               if all(missing_element(element, path) for element in _elements(roots))]
    if missing:
        return verdict(False, f"the XML in the output lacks the elements {clip_list(missing)}")
    first = roots[0]
    return verdict(True, f"output contains well-formed XML: <{clip(first.value.tag, 30)[1:-1]}> "
                         f"at character {first.start}")
