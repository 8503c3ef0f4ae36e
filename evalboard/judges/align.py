"""Align: a new judge version whose prompt carries few-shot examples from human-labelled calls.

The labelled calls are split by a seed: a held-out evaluation set, and a pool the examples are
drawn from (so the new version is never measured on its own examples). Examples are the pool
calls where the current version disagrees with people first, then the others, alternating
fail and pass. Both versions are then run on the held-out calls: κ before and after, side by
side, recorded as an align run.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evalboard.judges.alignment import Alignment, human_answers, measure
from evalboard.judges.backends import Backend
from evalboard.judges.errors import JudgeError
from evalboard.judges.judging import JudgeOutcome
from evalboard.judges.repository import JudgeVersionView, get_version_by_id, new_version, resolve
from evalboard.judges.running import items_for, judge_calls
from evalboard.judges.templates import input_text
from evalboard.store.engine import write_session
from evalboard.store.judge_models import JudgeAlignRun

MIN_LABELLED = 4
EXAMPLE_CHARS = 1500  # each example's input and output are cut to this


@dataclass(frozen=True)
class Split:
    """The seeded split of the labelled calls: examples come only from `pool`."""

    pool: tuple[int, ...]
    held_out: tuple[int, ...]


def split(call_ids: Sequence[int], seed: int, held_out_share: float = 0.5,
          max_held_out: int | None = None, max_pool: int | None = None) -> Split:
    """Shuffle the ids with `seed` and cut: the first share held out, the rest the pool."""
    ids = sorted(call_ids)
    random.Random(seed).shuffle(ids)
    cut = min(len(ids) - 1, max(1, math.ceil(len(ids) * held_out_share)))
    held_out, pool = ids[:cut], ids[cut:]
    if max_held_out is not None:
        held_out = held_out[:max_held_out]
    if max_pool is not None:
        pool = pool[:max_pool]
    return Split(tuple(pool), tuple(held_out))


def choose_examples(pool: Sequence[int], judged: Mapping[int, str], human: Mapping[int, str],
                    count: int) -> list[int]:
    """Fails and passes taken in turn (the examples show both answers), each side with its
    disagreements (the judge said otherwise) first; the side with more disagreements leads."""
    def side(answer: str) -> list[int]:
        ids = [c for c in pool if human[c] == answer]
        return [c for c in ids if judged.get(c, answer) != answer] + \
            [c for c in ids if judged.get(c, answer) == answer]

    def disagreeing(ids: list[int]) -> int:
        return sum(1 for c in ids if c in judged and judged[c] != human[c])

    fails, passes = side("fail"), side("pass")
    first, second = (fails, passes) if disagreeing(fails) >= disagreeing(passes) \
        else (passes, fails)
    mixed = [c for pair in zip(first, second, strict=False) for c in pair]
    rest = first[len(second):] + second[len(first):]
    return (mixed + rest)[:count]


def _verdicts(outcomes: Sequence[JudgeOutcome], call_ids: Sequence[int]) -> dict[int, str]:
    return {c: o.verdict for c, o in zip(call_ids, outcomes, strict=True) if o.verdict}


def _examples(engine: Engine, call_ids: Sequence[int], human: Mapping[int, str]
              ) -> list[dict[str, Any]]:
    def cut(text: str) -> str:
        return text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 1] + "…"

    return [{"call_id": item.call_id, "input": cut(input_text(item.input)),
             "output": cut(item.output), "verdict": human[item.call_id or 0],
             "reason": "judged by people"} for item in items_for(engine, call_ids)]


@dataclass(frozen=True)
class AlignReport:
    run_id: int
    before: Alignment
    after: Alignment
    example_call_ids: tuple[int, ...]
    held_out_call_ids: tuple[int, ...]
    backend_calls: int


def align(engine: Engine, ref: str | int | JudgeVersionView, *, seed: int = 0,
          examples: int = 8, held_out_share: float = 0.5, max_held_out: int = 200,
          max_pool: int = 200, backend: Backend | None = None) -> AlignReport:
    """Build, evaluate and record an aligned version of the judge `ref`."""
    version = ref if isinstance(ref, JudgeVersionView) else resolve(engine, ref)
    if examples < 1:
        raise JudgeError("examples: at least 1")
    human = human_answers(engine, version.label, version.label_kind)
    if len(human) < MIN_LABELLED:
        raise JudgeError(f"align needs at least {MIN_LABELLED} calls people judged for "
                         f"{version.label or 'a verdict'}; there are {len(human)}")
    parts = split(list(human), seed, held_out_share, max_held_out, max_pool)
    pool_outcomes, calls = judge_calls(engine, version, parts.pool, backend=backend)
    chosen = choose_examples(parts.pool, _verdicts(pool_outcomes, list(parts.pool)), human,
                             examples)
    definition = version.definition
    template = definition.template if "{examples}" in definition.template \
        else "{examples}\n" + definition.template
    aligned = new_version(engine, version.name, replace(
        definition, template=template,
        examples=tuple(_examples(engine, chosen, human))), parent_id=version.id,
        note=f"aligned from v{version.version}: {len(chosen)} few-shot examples, seed {seed}")
    held_out = list(parts.held_out)
    before_outcomes, before_calls = judge_calls(engine, version, held_out, backend=backend)
    after_outcomes, after_calls = judge_calls(engine, aligned, held_out, backend=backend)
    held_human = {c: human[c] for c in held_out}
    before = measure(version, _verdicts(before_outcomes, held_out), held_human)
    after = measure(aligned, _verdicts(after_outcomes, held_out), held_human)
    with write_session(engine) as session:
        run = JudgeAlignRun(judge_id=version.judge_id, from_version_id=version.id,
                            to_version_id=aligned.id, seed=seed, example_call_ids=chosen,
                            eval_call_ids=held_out, kappa_before=before.kappa,
                            kappa_after=after.kappa)
        session.add(run)
        session.flush()
        run_id = run.id
    return AlignReport(run_id, before, after, tuple(chosen), tuple(held_out),
                       calls + before_calls + after_calls)


@dataclass(frozen=True)
class AlignRunView:
    id: int
    from_version: JudgeVersionView
    to_version: JudgeVersionView
    seed: int
    examples: int
    held_out: int
    kappa_before: float | None
    kappa_after: float | None


def align_runs(engine: Engine, judge_name: str | None = None, limit: int = 20
               ) -> list[AlignRunView]:
    """Recorded align runs, newest first (of one judge, or of all)."""
    with Session(engine) as session:
        rows = session.scalars(select(JudgeAlignRun).order_by(JudgeAlignRun.id.desc())
                               .limit(limit * 5 if judge_name else limit)).all()
    views = []
    for row in rows:
        before = get_version_by_id(engine, row.from_version_id)
        if judge_name is not None and before.name != judge_name:
            continue
        views.append(AlignRunView(row.id, before, get_version_by_id(engine, row.to_version_id),
                                  row.seed, len(row.example_call_ids), len(row.eval_call_ids),
                                  row.kappa_before, row.kappa_after))
    return views[:limit]
