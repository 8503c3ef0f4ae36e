"""Pairwise answers written through evalboard's own API: a new input per answer, one call of
each version for it, and the reviewer's verdict."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import count
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evalboard.pairwise.answers import PairVerdict, record_answer
from evalboard.store.models import Call
from tests.support.calls import T0, add_calls

_inputs = count()


def add_pair(engine: Engine, version_a: str, version_b: str, *, output_a: str = "answer a",
             output_b: str = "answer b", prompt: str | list[dict[str, Any]] | None = None,
             created_at: datetime = T0, source: str = "production") -> tuple[int, int]:
    """One call of each version for a new input (or `prompt`); returns (call_a_id, call_b_id)."""
    text = prompt if prompt is not None else f"question {next(_inputs)}"
    add_calls(engine, [
        {"input": text, "output": output_a, "model_version": version_a,
         "created_at": created_at, "source": source},
        {"input": text, "output": output_b, "model_version": version_b,
         "created_at": created_at + timedelta(seconds=1), "source": source}])
    with Session(engine) as session:
        ids = session.scalars(select(Call.id).order_by(Call.id.desc()).limit(2)).all()
    return ids[1], ids[0]


def add_answers(engine: Engine, version_a: str, version_b: str, outcomes: Sequence[str], *,
                reviewer: str = "ana", outputs: Sequence[tuple[str, str]] | None = None
                ) -> list[int]:
    """Record one answer per outcome ('a', 'b', 'tie', 'both_bad') on a new pair of calls of
    the two versions; `outputs` gives each pair's (output a, output b)."""
    answer_ids = []
    for k, outcome in enumerate(outcomes):
        a, b = outputs[k] if outputs else ("answer a", "answer b")
        call_a, call_b = add_pair(engine, version_a, version_b, output_a=a, output_b=b)
        answer_ids.append(record_answer(engine, call_a, call_b, reviewer, PairVerdict(outcome)))
    return answer_ids


def ensure_versions(engine: Engine, names: Sequence[str]) -> None:
    """Create the model versions one by one in this order (the axis order of charts)."""
    for name in names:
        add_calls(engine, [{"input": f"warm-up {name}", "output": "", "model_version": name,
                            "created_at": T0 - timedelta(days=1), "source": "import"}])


def add_run_outputs(engine: Engine, suite_name: str, version: str,
                    results: Sequence[tuple[str, str, bool]], *, case_label: str | None = None,
                    created_by: str | None = None, status: str = "finished") -> int:
    """A run of `version` on the suite (created with its cases when new): per (case name,
    output, passed), a logged eval call with the case's input and that output; returns the
    run id."""
    from evalboard.store.case_models import CaseVersion, EvalCase, Suite
    from evalboard.store.models import ModelVersion
    from evalboard.store.run_models import CaseResult, EvalRun
    from tests.support.metric_stores import add_suite

    add_calls(engine, [{"input": f"case {name}", "output": output, "model_version": version,
                        "created_at": T0, "source": "eval"} for name, output, _ in results])
    with Session(engine) as session, session.begin():
        suite = session.scalar(select(Suite).where(Suite.name == suite_name)) or add_suite(
            session, suite_name, [(name, case_label) for name, _, _ in results])
        version_id = session.scalar(select(ModelVersion.id).where(ModelVersion.name == version))
        run = EvalRun(suite_id=suite.id, model_version_id=version_id, generator="replay",
                      generator_config={}, selection={}, status=status, started_at=T0,
                      created_by=created_by)
        session.add(run)
        session.flush()
        for name, output, passed in results:
            case = session.scalar(select(EvalCase).where(EvalCase.suite_id == suite.id,
                                                         EvalCase.name == name))
            case_version = session.scalar(select(CaseVersion.id).where(
                CaseVersion.case_id == case.id))
            call_id = session.scalar(select(Call.id).where(
                Call.model_version_id == version_id, Call.input_text == f"case {name}",
                Call.output == output).order_by(Call.id.desc()).limit(1))
            session.add(CaseResult(run_id=run.id, case_id=case.id, case_version_id=case_version,
                                   call_id=call_id, status="pass" if passed else "fail",
                                   passed=passed, score=1.0 if passed else 0.0))
        return run.id
