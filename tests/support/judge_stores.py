"""Judges and human-labelled calls written to a test store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine

from evalboard.judges.backends import BackendSpec
from evalboard.judges.repository import JudgeDefinition, JudgeVersionView, create_judge
from evalboard.review.annotations import Judgement, annotate
from tests.support.calls import add_calls, make_rows

TEMPLATE = ("Label {label}: {label_description}\nInput: {input}\nOutput: {output}\n"
            'Answer {{"verdict": ...}}')


def openai_backend(url: str, **params: Any) -> BackendSpec:
    """A backend on the fake server, without waits between retries."""
    return BackendSpec(**{"kind": "openai", "base_url": url, "model": "judge-model",
                          "backoff_s": 0.0, "timeout_s": 10.0, **params})


def openai_judge(engine: Engine, url: str, name: str = "hallucination",
                 label: str | None = "hallucination", template: str = TEMPLATE,
                 **params: Any) -> JudgeVersionView:
    return create_judge(engine, name, JudgeDefinition(template, openai_backend(url, **params)),
                        label=label)


def labelled_calls(engine: Engine, answers: Sequence[tuple[str, Sequence[str]]],
                   reviewer: str = "ada") -> list[int]:
    """One call per (verdict, labels), judged so by `reviewer`; the call ids in order.
    Each output is "answer number i", so a scripted judge can tell them apart."""
    ids = list(add_calls(engine, make_rows(len(answers), model_version="v1")).ids)
    for call_id, (verdict, labels) in zip(ids, answers, strict=True):
        annotate(engine, call_id, reviewer, Judgement(verdict, tuple(labels)))
    return ids
