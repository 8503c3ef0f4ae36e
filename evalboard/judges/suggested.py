"""One suggested judge per label of the taxonomy: a prompt template written for the label's
kind, to be created (with a backend) and edited in Settings."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from evalboard.judges.backends import BackendSpec
from evalboard.judges.repository import JudgeDefinition, list_judges
from evalboard.review.labels import list_labels

DEFAULT_BACKEND = BackendSpec(kind="openai", base_url="http://127.0.0.1:8000/v1",
                              model="judge")

_ANSWER = ('Answer with JSON only: {{"verdict": "pass" or "fail", "score": a number from 0 '
           'to 1, "reason": "one sentence"}}.')

FAILURE_TEMPLATE = """You review the output of an AI assistant for one failure mode.

Failure mode: {label}: {label_description}

Review guidelines:
{guidelines}

{examples}
Input:
{input}

Reference (may be empty):
{reference}

Output to judge:
{output}

Does the output show the failure mode "{label}"? "fail" when it does, "pass" when it does not.
""" + _ANSWER

SUCCESS_TEMPLATE = """You review the output of an AI assistant for one quality it must have.

Quality: {label}: {label_description}

Review guidelines:
{guidelines}

{examples}
Input:
{input}

Reference (may be empty):
{reference}

Output to judge:
{output}

Does the output have the quality "{label}"? "pass" when it does, "fail" when it does not.
""" + _ANSWER

VERDICT_TEMPLATE = """You review the output of an AI assistant.

Review guidelines:
{guidelines}

{examples}
Input:
{input}

Output to judge:
{output}

Is this output acceptable? "pass" when it is, "fail" when it is not.
""" + _ANSWER


@dataclass(frozen=True)
class SuggestedJudge:
    name: str
    label: str | None
    kind: str | None
    description: str
    definition: JudgeDefinition
    exists: bool


def _name(label: str) -> str:
    return label.replace(" ", "_")


def suggested_judges(engine: Engine, backend: BackendSpec = DEFAULT_BACKEND
                     ) -> list[SuggestedJudge]:
    """A judge per active label (failure modes, then success modes), and one for the verdict;
    `exists` when a judge judges that label already."""
    judged = {s.label for s in list_judges(engine)}
    names = {s.name for s in list_judges(engine)}
    found = [SuggestedJudge(_name(label.name), label.name, label.kind, label.description,
                            JudgeDefinition(FAILURE_TEMPLATE if label.kind == "failure"
                                            else SUCCESS_TEMPLATE, backend),
                            label.name in judged or _name(label.name) in names)
             for label in list_labels(engine)]
    found.append(SuggestedJudge("verdict", None, None, "pass or fail as a whole",
                                JudgeDefinition(VERDICT_TEMPLATE, backend),
                                "verdict" in names))
    return found
