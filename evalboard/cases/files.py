"""Suites as files: YAML (hand-edited, kept in git) and JSONL, both ways.

YAML, with the one-line shorthand for the simplest cases::

    suite: support-bot
    cases:
      - {name: caesar, input: "Who was Julius Caesar?", expect: {contains_any: [caesar, italian]}}
      - {name: no-hanks, input: "Who was Julius Caesar?", mode: failure, label: hallucination,
         expect_not: {contains_any: [tom hanks, spiderman]}}
      - name: json-reply
        input: Return the customer as JSON.
        checks:
          - {type: is_json}
          - {type: json_path, params: {path: $.email, contains: "@"}}

`expect: {CHECK: VALUE}` is a check whose main parameter is VALUE (a mapping of the check's
own parameters is its parameters; `{CHECK: {}}` is a check without any); `expect_not`
negates it (and makes the case a failure-mode case unless `mode` says otherwise).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine

from evalboard.cases.draft import CaseDraft, CaseError
from evalboard.cases.repository import CaseQuery, CaseView, list_cases, upsert_case
from evalboard.checks import CheckError, CheckSpec
from evalboard.checks.base import catalogue, validate_spec
from evalboard.errors import EvalboardError

CASE_FIELDS = {
    "name",
    "input",
    "mode",
    "label",
    "checks",
    "expect",
    "expect_not",
    "references",
    "reference",
    "expected_entities",
    "tags",
    "severity",
    "threshold",
    "active",
    "suite",
}


_CHECK_INDEX = re.compile(r"checks\[(\d+)\]")


class CaseFileError(EvalboardError, ValueError):
    """A suite file problem, naming the file, the case and the field."""

    def __init__(self, path: Path, where: str, field_name: str, reason: str) -> None:
        super().__init__(f"{path.name}: {where}: {field_name + ': ' if field_name else ''}{reason}")
        self.path, self.where, self.field, self.reason = path, where, field_name, reason


@dataclass
class CaseFileSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    suites: set[str] = field(default_factory=set)


def main_param(check_type: str) -> str:
    """The parameter that the shorthand `{check: value}` fills."""
    check = catalogue().get(check_type)
    if check is None:
        raise CheckError(
            "type", f"unknown check {check_type!r}; known checks: {', '.join(sorted(catalogue()))}"
        )
    required = [name for name, param in check.params.items() if param.required]
    names = required or list(check.params)
    if not names:
        raise CheckError("type", f"{check_type} takes no value: write {{{check_type}: {{}}}} "
                         f"(or checks: [{{type: {check_type}}}])")
    return names[0]


def _shorthand_params(check_type: str, value: Any) -> dict[str, Any]:
    """The parameters `{check_type: value}` stands for: a mapping of the check's parameters
    is its parameters (`{regex: {pattern: x, flags: i}}`); anything else fills its main one
    (a mapping too, when that one takes an object: `{json_schema: {type: object}}`)."""
    check = catalogue().get(check_type)
    if isinstance(value, Mapping) and check is not None and set(value) <= set(check.params):
        return dict(value)
    return {main_param(check_type): value}


def _explain_shorthand(key: str, check_type: str, value: Any, exc: CheckError) -> CheckError:
    """The error of a shorthand check, saying what the shorthand's value meant."""
    main = main_param(check_type)
    param = catalogue()[check_type].params[main]
    if exc.field != f"params.{main}" or param.fits_type(value):
        return exc
    written = json.dumps(value, ensure_ascii=False, default=str)
    meaning = (f"in `{key}: {{{check_type}: {written}}}` the value is {check_type}'s "
               f"`{main}` ({param.doc})")
    if not param.required:
        meaning += (f"; for {check_type} without parameters write `{key}: {{{check_type}: {{}}}}`"
                    f" or `checks: [{{type: {check_type}}}]`")
    return CheckError(exc.field, f"{exc.reason}; {meaning}")


def _shorthand(key: str, items: Any, negate: bool) -> list[CheckSpec]:
    if not isinstance(items, Mapping):
        raise CheckError("expect", "expected {check_type: value}, e.g. {contains: refund}")
    specs = []
    for check_type, value in items.items():
        spec = CheckSpec(type=str(check_type), params=_shorthand_params(str(check_type), value),
                         negate=negate)
        try:
            validate_spec(spec)
        except CheckError as exc:
            raise _explain_shorthand(key, str(check_type), value, exc) from None
        specs.append(spec)
    return specs


def draft_from_data(data: Mapping[str, Any]) -> CaseDraft:
    """A draft from one case's plain data; raise CheckError/CaseError naming the field."""
    unknown = set(data) - CASE_FIELDS
    if unknown:
        raise CaseError(
            sorted(unknown)[0], f"unknown field (fields: {', '.join(sorted(CASE_FIELDS))})"
        )
    checks: list[CheckSpec] = []
    origins: list[str] = []  # where each check is written: checks[0], expect, expect_not
    for index, item in enumerate(data.get("checks") or []):
        try:
            checks.append(CheckSpec.from_dict(item))
        except CheckError as exc:
            raise CaseError(f"checks[{index}].{exc.field}", exc.reason) from None
        origins.append(f"checks[{index}]")
    for key, negate in (("expect", False), ("expect_not", True)):
        if key in data:
            try:
                written = _shorthand(key, data[key], negate)
            except CheckError as exc:
                raise CaseError(f"{key}.{exc.field}", exc.reason) from None
            checks.extend(written)
            origins.extend([key] * len(written))
    raw_input = data.get("input", "")
    input_value = tuple(raw_input) if isinstance(raw_input, list) else str(raw_input or "")
    references = data.get("references") or ([data["reference"]] if data.get("reference") else [])
    mode = data.get("mode") or (
        "failure" if "expect_not" in data and "expect" not in data else "success"
    )
    draft = CaseDraft(
        name=str(data.get("name") or ""),
        input=input_value,
        mode=str(mode),
        label=data.get("label"),
        checks=tuple(checks),
        references=tuple(str(r) for r in references),
        expected_entities=tuple(data.get("expected_entities") or ()),
        tags=tuple(str(t) for t in (data.get("tags") or ())),
        severity=str(data.get("severity") or "medium"),
        threshold=data.get("threshold"),
        active=bool(data.get("active", True)),
    )
    try:
        return draft.validated()
    except CaseError as exc:  # name the check as the file writes it, not by its list index
        index = _CHECK_INDEX.match(exc.field)
        if index is None:
            raise
        where = origins[int(index.group(1))]
        raise CaseError(where + exc.field[index.end():], exc.reason) from None


def case_to_data(view: CaseView) -> dict[str, Any]:
    """A case as plain data: the full form, readable and round-trippable."""
    draft = view.draft
    data: dict[str, Any] = {
        "name": draft.name,
        "input": draft.input if isinstance(draft.input, str) else [dict(m) for m in draft.input],
        "mode": draft.mode,
    }
    if draft.label:
        data["label"] = draft.label
    data["checks"] = [spec.to_dict() for spec in draft.checks]
    for key, value in (
        ("references", list(draft.references)),
        ("expected_entities", [dict(e) for e in draft.expected_entities]),
        ("tags", list(draft.tags)),
    ):
        if value:
            data[key] = value
    if draft.severity != "medium":
        data["severity"] = draft.severity
    if draft.threshold is not None:
        data["threshold"] = draft.threshold
    if not draft.active:
        data["active"] = False
    return data


def _records(path: Path) -> Iterator[tuple[str, str | None, Mapping[str, Any]]]:
    """(where, suite, case data) for every case of a YAML or JSONL file."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CaseFileError(
                    path, f"line {number}", "", f"malformed JSON: {exc.msg}"
                ) from None
            if not isinstance(data, Mapping):
                raise CaseFileError(path, f"line {number}", "", "expected a JSON object")
            yield f"line {number} (case {data.get('name', '?')!r})", data.get("suite"), data
        return
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "file"
        raise CaseFileError(
            path, where, "", f"not valid YAML: {getattr(exc, 'problem', exc)}"
        ) from None
    if isinstance(document, list):
        document = {"cases": document}
    if not isinstance(document, Mapping) or not isinstance(document.get("cases"), list):
        raise CaseFileError(path, "file", "cases", "expected `cases:` with a list of cases")
    for index, data in enumerate(document["cases"], start=1):
        if not isinstance(data, Mapping):
            raise CaseFileError(path, f"case {index}", "", "expected a mapping")
        yield (
            f"case {index} ({data.get('name', '?')!r})",
            data.get("suite") or document.get("suite"),
            data,
        )


def read_case_file(
    path: str | Path, default_suite: str | None = None
) -> list[tuple[str, CaseDraft]]:
    """(suite, draft) of every case in the file; raise CaseFileError at the first problem."""
    path = Path(path)
    if not path.is_file():
        raise CaseFileError(path, "file", "", "no such file")
    drafts = []
    for where, suite, data in _records(path):
        suite_name = suite or default_suite
        if not suite_name:
            raise CaseFileError(
                path, where, "suite", "name the suite in the file (`suite:`) or with --suite"
            )
        try:
            drafts.append((str(suite_name), draft_from_data(data)))
        except (CaseError, CheckError) as exc:
            raise CaseFileError(path, where, exc.field, exc.reason) from None
    return drafts


def import_case_file(
    engine: Engine, path: str | Path, default_suite: str | None = None, author: str | None = None
) -> CaseFileSummary:
    """Create or update the file's cases (by suite and name); nothing is written on an error."""
    drafts = read_case_file(path, default_suite)
    summary = CaseFileSummary()
    for suite, draft in drafts:
        _, outcome = upsert_case(engine, suite, draft, author=author)
        setattr(summary, outcome, getattr(summary, outcome) + 1)
        summary.suites.add(suite)
    return summary


def export_suite(
    engine: Engine, suite: str, path: str | Path, *, include_inactive: bool = True
) -> int:
    """Write a suite as YAML or JSONL (by suffix); returns the number of cases."""
    path = Path(path)
    cases = list_cases(engine, CaseQuery(suite=suite, active=None if include_inactive else True))
    if path.suffix.lower() == ".jsonl":
        with path.open("w", encoding="utf-8") as out:
            for view in cases:
                out.write(
                    json.dumps({"suite": suite, **case_to_data(view)}, ensure_ascii=False) + "\n"
                )
    elif path.suffix.lower() in (".yaml", ".yml"):
        document = {"suite": suite, "cases": [case_to_data(view) for view in cases]}
        path.write_text(
            yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100),
            encoding="utf-8",
        )
    else:
        raise ValueError(f"write a suite as .yaml or .jsonl, not {path.suffix or 'no suffix'}")
    return len(cases)
