"""`gen_ai.evaluation.result` events of LLM spans as monitor results on their calls.

Each evaluator (the event's `gen_ai.evaluation.name`) is one monitor, `otel: <name>`, created
on first sight. It has no checks and is disabled, so the monitor worker never runs it (the
worker takes enabled monitors only): its results come from the app's own evaluation events.
Each event is one result on the span's call, its check named after the evaluator:
  passed  from `gen_ai.evaluation.score.label` when it is a clear verdict (PASS_LABELS,
          FAIL_LABELS, any case). A result needs a verdict, so an event with any other label,
          or none, is no result: it stays in the call's metadata (`evaluations`) only.
  score   `gen_ai.evaluation.score.value`; without one, 1.0 for a pass and 0.0 for a fail.
  reason  the label, then `gen_ai.evaluation.explanation` ("fail: answers another question").
Results are written right after their calls, keyed by (monitor, call, check name): an
exporter's retry stores nothing twice, and of two events of one evaluator on one span the
first is kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select

from evalboard.store.engine import write_connection
from evalboard.store.models import Call, utcnow
from evalboard.store.monitor_models import Monitor, MonitorResult
from evalboard.store.upsert import conflict_insert

MONITOR_PREFIX = "otel: "
PASS_LABELS = frozenset({"pass", "passed", "true", "correct", "yes"})
FAIL_LABELS = frozenset({"fail", "failed", "false", "incorrect", "no"})
_NAME_LIMIT = 200  # monitors.name and monitor_results.check_name
_REASON_LIMIT = 10_000
_CHUNK = 500


@dataclass(frozen=True)
class Evaluation:
    """One evaluation event with a verdict, as a monitor result's fields."""

    evaluator: str
    passed: bool
    score: float
    reason: str

    @property
    def monitor_name(self) -> str:
        return (MONITOR_PREFIX + self.evaluator)[:_NAME_LIMIT]


def verdict(label: Any) -> bool | None:
    """True for a pass label, False for a fail label, None for anything else."""
    word = str(label).strip().lower() if label is not None else ""
    if word in PASS_LABELS:
        return True
    if word in FAIL_LABELS:
        return False
    return None


def _score(value: Any, passed: bool) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return 1.0 if passed else 0.0


def evaluation_of(event: Mapping[str, Any]) -> Evaluation | None:
    """An `evaluations` entry of a call's metadata (name, score, label, explanation) as a
    result, or None when it has no evaluator name or no clear verdict."""
    name = str(event.get("name") or "").strip()
    passed = verdict(event.get("label"))
    if not name or passed is None:
        return None
    label = str(event["label"]).strip()
    explanation = str(event.get("explanation") or "").strip()
    reason = f"{label}: {explanation}" if explanation else label
    return Evaluation(name[:_NAME_LIMIT], passed, _score(event.get("score"), passed),
                      reason[:_REASON_LIMIT])


def _evaluations_by_call(rows: Sequence[Mapping[str, Any]], call_ids: Sequence[int]
                         ) -> dict[int, list[Evaluation]]:
    found: dict[int, list[Evaluation]] = {}
    for row, call_id in zip(rows, call_ids, strict=True):
        events = (row.get("meta") or {}).get("evaluations") or ()
        kept = found.setdefault(call_id, [])
        for evaluation in filter(None, map(evaluation_of, events)):
            if all(e.evaluator != evaluation.evaluator for e in kept):
                kept.append(evaluation)  # the first of an evaluator's events on the call
    return {call_id: kept for call_id, kept in found.items() if kept}


def ensure_monitors(conn: Connection, names: Iterable[str]) -> dict[str, int]:
    """The ids of the named evaluator monitors, creating the missing ones (disabled, no
    checks). A concurrent writer creating one too is no error: the name is unique."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    now = utcnow()
    conn.execute(conflict_insert(conn.dialect.name, Monitor).values([
        {"name": name, "checks": [], "model_versions": [], "source": None,
         "metadata_filter": {}, "sampling_rate": 1.0, "enabled": False, "created_at": now}
        for name in wanted]).on_conflict_do_nothing())
    return dict(conn.execute(select(Monitor.name, Monitor.id)
                             .where(Monitor.name.in_(wanted))).all())


def _calls(conn: Connection, call_ids: Sequence[int]) -> dict[int, Any]:
    """id -> (model_version_id, created_at) of the calls."""
    ordered = sorted(call_ids)
    found: dict[int, Any] = {}
    for start in range(0, len(ordered), _CHUNK):
        found.update((row.id, row) for row in conn.execute(
            select(Call.id, Call.model_version_id, Call.created_at)
            .where(Call.id.in_(ordered[start:start + _CHUNK]))))
    return found


def record_evaluations(engine: Engine, rows: Sequence[Mapping[str, Any]],
                       call_ids: Sequence[int]) -> int:
    """Store the evaluation events of written call `rows` (stored as `call_ids`, in order)
    as monitor results, in one write transaction; how many results are new. Rows without
    evaluations cost nothing (no transaction)."""
    by_call = _evaluations_by_call(rows, call_ids)
    if not by_call:
        return 0
    with write_connection(engine) as conn:
        monitors = ensure_monitors(conn, (e.monitor_name for es in by_call.values()
                                          for e in es))
        calls = _calls(conn, list(by_call))
        now = utcnow()
        results = [
            {"monitor_id": monitors[e.monitor_name], "call_id": call_id,
             "model_version_id": calls[call_id].model_version_id,
             "call_created_at": calls[call_id].created_at, "check_name": e.evaluator,
             "passed": e.passed, "score": e.score, "reason": e.reason, "error": None,
             "judge_version_id": None, "created_at": now}
            for call_id, evaluations in by_call.items() if call_id in calls
            for e in evaluations]
        if not results:
            return 0
        inserted = conn.execute(conflict_insert(conn.dialect.name, MonitorResult)
                                .on_conflict_do_nothing().returning(MonitorResult.id),
                                results).all()
    return len(inserted)
