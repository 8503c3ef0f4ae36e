"""Run a judge over calls: the human-labelled ones it has not answered yet, a bounded batch at
a time (a button click, a CLI run), so its alignment with people can be measured."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evalboard.iterutil import chunked
from evalboard.judges.alignment import human_answers, version_answers
from evalboard.judges.backends import Backend
from evalboard.judges.judging import JudgeItem, JudgeOutcome, JudgeRunner
from evalboard.judges.repository import JudgeVersionView, resolve
from evalboard.store.models import Call

Progress = Callable[[int, int], None]
DEFAULT_BATCH = 50


@dataclass(frozen=True)
class RunReport:
    """What one bounded run did."""

    version: JudgeVersionView
    judged: int
    cached: int
    errors: int
    backend_calls: int
    remaining: int  # human-labelled calls still without an answer of this version
    first_error: str | None = None


def items_for(engine: Engine, call_ids: Sequence[int]) -> list[JudgeItem]:
    """What a judge sees of each call, in the order of `call_ids` (missing calls left out)."""
    found: dict[int, JudgeItem] = {}
    with Session(engine) as session:
        for chunk in chunked(list(call_ids), 500):
            for call_id, text, messages, output in session.execute(
                    select(Call.id, Call.input_text, Call.input_messages, Call.output)
                    .where(Call.id.in_(chunk))):
                found[call_id] = JudgeItem(input=messages or text, output=output or "",
                                           call_id=call_id)
    return [found[c] for c in call_ids if c in found]


def pending_calls(engine: Engine, version: JudgeVersionView) -> list[int]:
    """Human-labelled calls this version has no usable answer on (errors are asked again)."""
    answered = {c for c, (verdict, _, _) in version_answers(version, engine).items()
                if verdict is not None}
    labelled = human_answers(engine, version.label, version.label_kind)
    return sorted(set(labelled) - answered)


def judge_calls(engine: Engine, version: JudgeVersionView, call_ids: Sequence[int], *,
                backend: Backend | None = None, progress: Progress | None = None
                ) -> tuple[list[JudgeOutcome], int]:
    """Judge these calls with this version; (outcomes, backend calls made)."""
    runner = JudgeRunner(engine, version, backend=backend)
    items = items_for(engine, call_ids)
    outcomes = []
    for done, item in enumerate(items, 1):
        outcomes.append(runner.judge(item))
        if progress is not None:
            progress(done, len(items))
    return outcomes, runner.backend_calls


def run_on_labelled(engine: Engine, ref: str | int | JudgeVersionView, *,
                    limit: int = DEFAULT_BATCH, backend: Backend | None = None,
                    progress: Progress | None = None) -> RunReport:
    """Judge up to `limit` human-labelled calls this version has not answered yet."""
    version = ref if isinstance(ref, JudgeVersionView) else resolve(engine, ref)
    pending = pending_calls(engine, version)
    batch = pending[:max(0, limit)]
    outcomes, calls = judge_calls(engine, version, batch, backend=backend, progress=progress)
    errors = [o.error for o in outcomes if o.error]
    return RunReport(version, len(outcomes), sum(o.cached for o in outcomes), len(errors),
                     calls, len(pending) - len(batch) + len(errors),
                     errors[0] if errors else None)
