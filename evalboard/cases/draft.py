"""A test case's editable content, validated before it is stored."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from evalboard.checks import CheckContext, CheckError, CheckSpec, validate_spec
from evalboard.checks.base import one_line
from evalboard.errors import EvalboardError
from evalboard.store.case_models import CASE_MODES, SEVERITIES
from evalboard.store.records import messages_to_text

_SLUG = re.compile(r"[^a-z0-9]+")


class CaseError(EvalboardError, ValueError):
    """A case that cannot be stored; `field` names the culprit (e.g. "checks[1].params.x")."""

    def __init__(self, field_name: str, reason: str) -> None:
        reason = one_line(reason)
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


def slugify(text: str, max_length: int = 60) -> str:
    """A readable case name from free text: 'Who was Julius Caesar?' -> 'who-was-julius-caesar'."""
    slug = _SLUG.sub("-", text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "case"


@dataclass(frozen=True)
class CaseDraft:
    """Everything a reviewer edits about a test case."""

    name: str
    input: str | tuple[Mapping[str, Any], ...]
    mode: str = "success"
    label: str | None = None
    checks: tuple[CheckSpec, ...] = ()
    references: tuple[str, ...] = ()
    expected_entities: tuple[Mapping[str, Any], ...] = ()
    tags: tuple[str, ...] = ()
    severity: str = "medium"
    threshold: float | None = None
    active: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def input_text(self) -> str:
        return self.input if isinstance(self.input, str) else messages_to_text(self.input)

    @property
    def input_messages(self) -> list[dict[str, Any]] | None:
        return None if isinstance(self.input, str) else [dict(m) for m in self.input]

    def check_context(self) -> CheckContext:
        """What the case tells its checks: input, (non-blank) references, expected entities."""
        return CheckContext(input=self.input,
                            references=tuple(r for r in self.references if r.strip()),
                            expected_entities=tuple(self.expected_entities))

    def content(self) -> dict[str, Any]:
        """The versioned content, as stored and as compared to spot a real edit."""
        return {
            "name": self.name,
            "input_text": self.input_text,
            "input_messages": self.input_messages,
            "mode": self.mode,
            "label": self.label,
            "checks": [spec.to_dict() for spec in self.checks],
            "references": list(self.references),
            "expected_entities": [dict(e) for e in self.expected_entities],
            "tags": list(self.tags),
            "severity": self.severity,
            "threshold": self.threshold,
        }

    def validated(self) -> CaseDraft:
        """A cleaned copy; raise CaseError naming the first bad field."""
        name = " ".join(self.name.split())
        if not name:
            raise CaseError("name", "a case needs a name")
        if len(name) > 200:
            raise CaseError("name", "at most 200 characters")
        if isinstance(self.input, str):
            if not self.input.strip():
                raise CaseError("input", "a case needs an input (a prompt or chat messages)")
        else:
            _check_messages(self.input)
        if self.mode not in CASE_MODES:
            raise CaseError("mode", f"success or failure, not {self.mode!r}")
        if self.severity not in SEVERITIES:
            raise CaseError("severity", f"one of {', '.join(SEVERITIES)}, not {self.severity!r}")
        if not self.checks:
            raise CaseError("checks", "a case needs at least one check")
        case = self.check_context()
        for index, spec in enumerate(self.checks):
            try:
                validate_spec(spec, case)
            except CheckError as exc:
                raise CaseError(f"checks[{index}].{exc.field}", exc.reason) from None
        if self.threshold is not None and not 0 <= self.threshold <= 1:
            raise CaseError("threshold", "a case threshold is a score between 0 and 1")
        tags = tuple(dict.fromkeys(t.strip() for t in self.tags if t.strip()))
        references = tuple(r for r in self.references if r.strip())
        return replace(self, name=name, tags=tags, references=references)


def _check_messages(messages: Sequence[Any]) -> None:
    if not messages:
        raise CaseError("input", "an empty list of messages")
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping) or "role" not in message:
            raise CaseError(f"input[{index}]", "a chat message is an object with role and content")
