"""The judge's prompt: a str.format-style template over a fixed set of fields.

Only plain `{field}` names are accepted (no attribute access, indexing, conversion or format
spec: a template is data typed by a person, never code), literal braces are written `{{` and
`}}`. Unknown fields are refused when the judge is saved, naming the fields it may use.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evalboard.judges.errors import JudgeError

FIELDS: dict[str, str] = {
    "input": "the call's input (chat messages as 'role: text' lines)",
    "output": "the call's output",
    "reference": "the reference output, when there is one (else empty)",
    "label": "the name of the judge's label",
    "label_description": "the label's description",
    "guidelines": "the review guidelines",
    "examples": "the few-shot examples of this judge version (empty when it has none)",
}
MAX_TEMPLATE_CHARS = 20_000


@dataclass(frozen=True)
class PromptFields:
    """The values a template is rendered with."""

    input: str
    output: str
    reference: str = ""
    label: str = ""
    label_description: str = ""
    guidelines: str = ""
    examples: str = ""

    def as_dict(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in FIELDS}


def _pieces(template: str) -> list[tuple[str, str | None]]:
    """(literal text, field name or None) pairs; JudgeError for anything but a plain field."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise JudgeError(f"template: {exc} (write a literal brace as {{{{ or }}}})") from None
    pieces: list[tuple[str, str | None]] = []
    for literal, name, spec, conversion in parsed:
        if name is not None and (spec or conversion or not name.isidentifier()):
            shown = "{" + name + (f"!{conversion}" if conversion else "") + \
                (f":{spec}" if spec else "") + "}"
            raise JudgeError(f"template: {shown} is not a plain field; use one of "
                             f"{', '.join('{' + f + '}' for f in FIELDS)}")
        pieces.append((literal, name))
    return pieces


def validate_template(template: str) -> None:
    """Raise JudgeError when the template is empty, too long, malformed, names an unknown
    field or does not show the output to the judge."""
    if not template.strip():
        raise JudgeError("template: a judge needs a prompt template")
    if len(template) > MAX_TEMPLATE_CHARS:
        raise JudgeError(f"template: at most {MAX_TEMPLATE_CHARS:,} characters, "
                         f"got {len(template):,}")
    names = [name for _, name in _pieces(template) if name is not None]
    unknown = [name for name in names if name not in FIELDS]
    if unknown:
        raise JudgeError(f"template: unknown field {{{unknown[0]}}}; the fields are "
                         f"{', '.join('{' + f + '}' for f in FIELDS)}")
    if "output" not in names:
        raise JudgeError("template: it must show the judge the output: add {output}")


def render(template: str, fields: PromptFields) -> str:
    """The prompt: each field replaced by its value, as text (values are never re-parsed)."""
    values = fields.as_dict()
    return "".join(literal + (values[name] if name is not None else "")
                   for literal, name in _pieces(template))


def input_text(value: str | Sequence[Mapping[str, Any]] | None) -> str:
    """A call's input as text: chat messages become 'role: content' lines."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    lines = []
    for message in value:
        content = message.get("content", "")
        if isinstance(content, list):  # content parts: keep the text ones
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
        lines.append(f"{message.get('role', 'user')}: {content}")
    return "\n".join(lines)


def render_examples(examples: Sequence[Mapping[str, Any]]) -> str:
    """Few-shot examples as text: each an input, an output and the expected JSON answer."""
    blocks = []
    for number, example in enumerate(examples, 1):
        answer = {"verdict": example.get("verdict"), "reason": example.get("reason", "")}
        blocks.append(f"Example {number}\nInput:\n{example.get('input', '')}\n"
                      f"Output:\n{example.get('output', '')}\n"
                      f"Answer: {json.dumps(answer, ensure_ascii=False)}")
    return ("Examples judged by people:\n\n" + "\n\n".join(blocks) + "\n") if blocks else ""
