"""What a demo store holds, read back for comparisons: its content without timestamps or row
ids (calls by external id, reviews, lineage, run results), and its timestamps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evalboard.store.case_models import EvalCase
from evalboard.store.models import Call, ModelVersion
from evalboard.store.review_models import Annotation
from evalboard.store.run_models import CaseResult, EvalRun


def demo_content(engine: Engine) -> dict[str, Any]:
    """Everything the demo decided, keyed so that row ids and dates do not matter."""
    with Session(engine) as session:
        names = dict(session.execute(select(ModelVersion.id, ModelVersion.name)).all())
        lineage = {v.name: (names.get(v.parent_id), v.base_model, v.notes)
                   for v in session.scalars(select(ModelVersion))}
        external: dict[int, str] = {}
        calls: dict[str, tuple[Any, ...]] = {}
        for call in session.scalars(select(Call)):
            external[call.id] = call.external_id
            calls[call.external_id] = (
                names[call.model_version_id], call.source, call.input_text, call.input_messages,
                call.output, call.error, call.meta, call.session_id, call.prompt_tokens,
                call.completion_tokens, call.latency_ms)
        reviews = sorted(
            (external[a.call_id], a.reviewer, a.action, a.verdict,
             tuple(sorted(label.name for label in a.labels)), a.note or "", a.seconds_spent)
            for a in session.scalars(select(Annotation)))
        case_names = dict(session.execute(select(EvalCase.id, EvalCase.name)).all())
        results = sorted(
            (names[version_id], status, case_names[case_id], result_status, score,
             external.get(call_id, ""))
            for version_id, status, case_id, result_status, score, call_id in session.execute(
                select(EvalRun.model_version_id, EvalRun.status, CaseResult.case_id,
                       CaseResult.status, CaseResult.score, CaseResult.call_id)
                .join(EvalRun, CaseResult.run_id == EvalRun.id)))
    return {"versions": lineage, "calls": calls, "reviews": reviews, "results": results}


def demo_timestamps(engine: Engine) -> dict[str, list[datetime]]:
    """When each call was logged, each version created and each review given (sorted)."""
    with engine.connect() as conn:
        return {
            "calls": sorted(conn.scalars(select(Call.created_at))),
            "versions": sorted(conn.scalars(select(ModelVersion.created_at))),
            "reviews": sorted(conn.scalars(select(Annotation.created_at))),
        }
