"""Turn a reviewed call into a test case draft: input copied, correction as the reference,
checks suggested from the reviewer's labels (the reviewer edits them before saving)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine

from evalboard.cases.draft import CaseDraft, slugify
from evalboard.cases.repository import Provenance
from evalboard.checks import CheckSpec
from evalboard.review.annotations import AnnotationView, current_judgements
from evalboard.review.labels import list_labels
from evalboard.store.calls_query import get_call
from evalboard.store.models import Call


@dataclass(frozen=True)
class Promotion:
    """A prefilled case and where it came from; `hints` tell the reviewer what to fill in."""

    draft: CaseDraft
    provenance: Provenance
    hints: tuple[str, ...]


def _expects_json(call: Call) -> bool:
    if (call.meta or {}).get("expected_format") == "json":
        return True
    return "json" in call.input_text.lower()


def _looks_like_json(text: str | None) -> bool:
    try:
        json.loads(text or "")
    except (TypeError, ValueError):
        return False
    return True


def _detected_language(text: str) -> str | None:
    try:
        from langdetect import DetectorFactory, detect

        DetectorFactory.seed = 0
        return str(detect(text)) if len(text.strip()) >= 12 else None
    except Exception:  # noqa: BLE001 - langdetect raises on text without features
        return None


def suggest_checks(
    call: Call, labels: Sequence[str], reference: str | None
) -> tuple[list[CheckSpec], list[str]]:
    """Checks suggested by the labels, and hints about what the reviewer should edit."""
    checks: list[CheckSpec] = []
    hints: list[str] = []
    label_set = set(labels)
    if "wrong format" in label_set or "correct format" in label_set:
        if _expects_json(call) or _looks_like_json(reference):
            checks.append(CheckSpec("is_json"))
        else:
            checks.append(CheckSpec("regex", {"pattern": "^.+$"}))
            hints.append("Wrong format: edit the regex to the format the answer must have.")
    if "hallucination" in label_set:
        checks.append(CheckSpec("contains_any", {"values": []}, negate=True))
        hints.append(
            "Hallucination: paste the invented claim(s) from the output into the "
            "must-not-contain check."
        )
        if reference:
            checks.append(CheckSpec("semantic_similarity"))
    if "biased or insulting" in label_set:
        checks.append(CheckSpec("insult"))
    if "garbled or incoherent" in label_set:
        checks.append(CheckSpec("garbled"))
    if "edge case mishandled" in label_set or "edge case handled" in label_set:
        language = _detected_language(call.input_text)
        if language and language != "en":
            checks.append(CheckSpec("language", {"expected": language}))
        else:
            checks.append(CheckSpec("contains_any", {"values": []}))
            hints.append(
                "Edge case: list words a correct answer must contain (or swap the "
                "check for a regex)."
            )
    if (
        "appropriate response" in label_set
        and reference
        and not any(c.type == "semantic_similarity" for c in checks)
    ):
        checks.append(CheckSpec("semantic_similarity"))
    if not checks:
        checks.append(CheckSpec("contains_any", {"values": []}))
        hints.append("No label suggests a check: say what a good answer must contain.")
    return checks, hints


def _question(call: Call) -> str:
    """What was asked: the last user turn of a chat, else the prompt."""
    for message in reversed(call.input_messages or []):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            return message["content"]
    return call.input_text


def _chosen_judgement(
    views: Sequence[AnnotationView], reviewer: str | None
) -> AnnotationView | None:
    mine = [v for v in views if v.reviewer == reviewer]
    return (mine or list(views) or [None])[0]


def promote_call(engine: Engine, call_id: int, reviewer: str | None = None) -> Promotion:
    """A draft case from a call and its final answer (the adjudication, else preferably this
    reviewer's current judgement)."""
    call = get_call(engine, call_id)
    if call is None:
        raise ValueError(f"there is no call {call_id}")
    final = current_judgements(engine, [call_id], final=True).get(call_id, [])
    judgement = _chosen_judgement(final, reviewer)
    labels = judgement.labels if judgement else ()
    reference = judgement.corrected_output if judgement else None
    checks, hints = suggest_checks(call, labels, reference)
    kinds = {label.name: label.kind for label in list_labels(engine, include_archived=True)}
    failure = [name for name in labels if kinds.get(name) == "failure"]
    label = failure[0] if failure else (labels[0] if labels else None)
    draft = CaseDraft(
        name=slugify(f"{_question(call)[:50]} {label or ''}"),
        input=tuple(call.input_messages) if call.input_messages else call.input_text,
        mode="failure" if failure else "success",
        label=label,
        checks=tuple(checks),
        references=(reference,) if reference else (),
        tags=(call.model_version.name,),
    )
    provenance = Provenance(
        call.id,
        call.model_version.name,
        judgement.reviewer if judgement else reviewer,
        tuple(labels),
        judgement.note if judgement else None,
    )
    return Promotion(draft, provenance, tuple(hints))
