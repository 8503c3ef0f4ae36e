"""The demo's regression suite: built from its fixed eval set, replayed for every version.

Each eval task becomes a success-mode case (the answer must be close to the good answer, in
the right format and language, not garbled, not insulting) and, where the task can be
answered with invented facts, a failure-mode case whose invented words must not come back.
Replaying each version's logged eval calls gives the Runs and Compare pages true results.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import Engine

from evalboard.cases.draft import CaseDraft
from evalboard.cases.repository import upsert_case
from evalboard.checks import CheckSpec
from evalboard.demo.content import Task
from evalboard.runs.runner import run_suite

DEMO_SUITE = "support-bot-regressions"
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{3,}")


def _invented_words(task: Task, limit: int = 3) -> list[str]:
    """Words of the hallucinated answer that the good answer never uses (longest first)."""
    made_up = task.bad.get("hallucination")
    if not made_up:
        return []
    known = {w.lower() for w in _WORD.findall(task.good)} | {
        w.lower() for w in _WORD.findall(str(task.input))}
    fresh = [w for w in dict.fromkeys(_WORD.findall(made_up)) if w.lower() not in known]
    return sorted(fresh, key=len, reverse=True)[:limit]


def _success_checks(task: Task) -> list[CheckSpec]:
    checks = [CheckSpec("garbled"), CheckSpec("insult")]
    if task.expected_format == "json":
        checks.insert(0, CheckSpec("is_json"))
    elif task.language != "en":
        checks.insert(0, CheckSpec("language", {"expected": task.language}))
    if task.good.strip():
        checks.append(CheckSpec("rouge", {"variant": "rougeL"}, threshold=0.3, weight=2.0))
    return checks


def demo_case_drafts(tasks: Sequence[Task]) -> list[CaseDraft]:
    drafts = []
    for number, task in enumerate(tasks):
        if not str(task.input).strip():
            continue  # an empty input has no answer to compare
        name = f"{task.scenario}-{number:03d}"
        drafts.append(CaseDraft(
            name=name, input=task.input if isinstance(task.input, str) else tuple(task.input),
            label="correct format" if task.expected_format == "json" else "appropriate response",
            checks=tuple(_success_checks(task)), references=(task.good,),
            tags=(task.scenario, "demo")))
        invented = _invented_words(task)
        if invented:
            drafts.append(CaseDraft(
                name=f"{name}-no-invented-facts",
                input=task.input if isinstance(task.input, str) else tuple(task.input),
                mode="failure", label="hallucination",
                checks=(CheckSpec("icontains_any", {"values": invented}, negate=True),),
                tags=(task.scenario, "demo"), severity="high"))
    return drafts


def add_demo_suite(engine: Engine, tasks: Sequence[Task], versions: Sequence[str]) -> None:
    """Store the suite and replay every version's logged eval calls against it."""
    drafts = demo_case_drafts(tasks)
    if not drafts:
        return
    for draft in drafts:
        upsert_case(engine, DEMO_SUITE, draft, author="demo")
    for version in versions:
        run_suite(engine, DEMO_SUITE, version, None, author="demo")
