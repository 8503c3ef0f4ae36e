"""Run a suite against a model version: generate (or replay), log, check, store, resume.

Case results and their check results are written in short transactions of up to
`RECORD_BATCH` cases, keyed by (run, case): a run started again after an interruption finishes
the remaining cases only. Every generated output is logged as a call (source "eval") of the
model version, with an external id per run and case, so a repeated attempt never logs it
twice; outputs are logged at the latest `LOG_EVERY_SECONDS` after they were generated (a fast
generator's are gathered, so a run's writes are a few statements per batch of cases, not per
case: on PostgreSQL each statement is a round trip).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from evalboard.cases.evaluate import evaluate
from evalboard.cases.repository import CaseQuery, CaseView, list_cases
from evalboard.checks import CaseOutcome
from evalboard.errors import EvalboardError
from evalboard.iterutil import chunked
from evalboard.judges.binding import use_store
from evalboard.runs.generators import Generated, Generator
from evalboard.runs.replay import match_logged_calls
from evalboard.runs.results import RunSummary, run_summary
from evalboard.runs.totals import record_run_totals
from evalboard.store.case_models import Suite
from evalboard.store.engine import write_session
from evalboard.store.ids import IdPool
from evalboard.store.models import Call, ModelVersion, utcnow
from evalboard.store.records import normalize_call
from evalboard.store.run_models import CaseResult, CheckResultRow, EvalRun
from evalboard.store.writes import ensure_model_versions, write_calls

Progress = Callable[[int, int], None]
RECORD_BATCH = 50  # cases whose results are written together (rounded up to the generator's)
LOG_EVERY_SECONDS = 2.0  # generated outputs wait at most this long before they are logged


class RunError(EvalboardError, ValueError):
    """A run that cannot start: unknown suite, no cases, bad generator."""


@dataclass(frozen=True)
class Selection:
    """Which cases of the suite run: all active ones, or those with these tags or labels."""

    tags: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()

    def as_json(self) -> dict[str, list[str]]:
        return {"tags": sorted(self.tags), "labels": sorted(self.labels)}

    def matches(self, case: CaseView) -> bool:
        tags_ok = not self.tags or bool(set(self.tags) & set(case.draft.tags))
        labels_ok = not self.labels or case.draft.label in self.labels
        return tags_ok and labels_ok


def select_cases(engine: Engine, suite: str, selection: Selection) -> list[CaseView]:
    with Session(engine) as session:
        if session.scalar(select(Suite.id).where(Suite.name == suite)) is None:
            raise RunError(f"there is no suite {suite!r}")
    return [c for c in list_cases(engine, CaseQuery(suite=suite)) if selection.matches(c)]


def start_or_resume(engine: Engine, suite: str, model_version: str, kind: str,
                    config: dict[str, Any], selection: Selection, author: str | None = None
                    ) -> tuple[int, bool]:
    """The unfinished run with the same settings (resumed), or a new one."""
    with write_session(engine) as session:
        suite_id = session.scalar(select(Suite.id).where(Suite.name == suite))
        if suite_id is None:
            raise RunError(f"there is no suite {suite!r}")
        version_id = ensure_model_versions(session.connection(), [model_version])[model_version]
        for run in session.scalars(select(EvalRun).where(
                EvalRun.suite_id == suite_id, EvalRun.model_version_id == version_id,
                EvalRun.generator == kind, EvalRun.status != "finished")
                .order_by(EvalRun.id.desc())):
            if run.generator_config == config and run.selection == selection.as_json():
                run.status = "running"
                return run.id, True
        run = EvalRun(suite_id=suite_id, model_version_id=version_id, generator=kind,
                      generator_config=config, selection=selection.as_json(),
                      created_by=author)
        session.add(run)
        session.flush()
        return run.id, False


def _done_cases(engine: Engine, run_id: int) -> set[int]:
    with Session(engine) as session:
        return set(session.scalars(select(CaseResult.case_id).where(CaseResult.run_id == run_id)))


def _log_outputs(engine: Engine, run_id: int, model_version: str,
                 pairs: Sequence[tuple[CaseView, Generated]], ids: IdPool) -> list[int]:
    """Log each output as an eval call (idempotent by external id); return the call ids."""
    rows = [normalize_call(
        input=case.draft.input, output=generated.output, model_version=model_version,
        source="eval", latency_ms=generated.latency_ms, error=generated.error,
        prompt_tokens=generated.prompt_tokens, completion_tokens=generated.completion_tokens,
        metadata={"run_id": run_id, "case_id": case.id, "case_version": case.version},
        external_id=f"run-{run_id}-case-{case.id}") for case, generated in pairs]
    for row in rows:  # one at a time from the pool's blocks: no reservation per batch
        row["id"] = ids.take()
    write_calls(engine, rows, ids)
    with Session(engine) as session:
        found = dict(session.execute(select(Call.external_id, Call.id).where(
            Call.source == "eval", Call.external_id.in_([r["external_id"] for r in rows]))).all())
    return [found[r["external_id"]] for r in rows]


def _generate_and_log(engine: Engine, run_id: int, model_version: str, generator: Generator,
                      cases: Sequence[CaseView], ids: IdPool, call_ids: dict[int, int],
                      generated: Callable[[int], None]) -> None:
    """Generate the cases' outputs in the generator's batches and log them into `call_ids`
    ({case id: call id}), gathered until LOG_EVERY_SECONDS have passed since the last write,
    and at the end, an interruption's too. `generated` hears how many have their output."""
    waiting: list[tuple[CaseView, Generated]] = []
    last_write = time.monotonic()

    def log_waiting() -> None:
        call_ids.update(zip((case.id for case, _ in waiting), _log_outputs(
            engine, run_id, model_version, waiting, ids), strict=True))
        waiting.clear()

    try:
        for part in chunked(cases, generator.batch_size):
            waiting.extend(zip(part, generator.generate([c.draft.input for c in part]),
                               strict=True))
            generated(len(call_ids) + len(waiting))
            if time.monotonic() - last_write >= LOG_EVERY_SECONDS:
                log_waiting()
                last_write = time.monotonic()
    finally:
        if waiting:
            log_waiting()


def _logged_calls(engine: Engine, run_id: int, cases: Sequence[CaseView]) -> dict[int, int]:
    """{case id: call id} of outputs this run logged already (before an interruption)."""
    external = {f"run-{run_id}-case-{case.id}": case.id for case in cases}
    with Session(engine) as session:
        return {external[ext]: call_id for ext, call_id in session.execute(
            select(Call.external_id, Call.id).where(
                Call.source == "eval", Call.external_id.in_(list(external))))}


def _scored_on(case: CaseView, call: Call) -> Scored:
    """A case scored on the output a call stored (the call the result links to)."""
    outcome = None if call.error else evaluate(case.draft, call.output, call)
    return Scored(case, call.id, outcome, call.error, call.latency_ms)


def _score_logged(engine: Engine, cases: Sequence[CaseView], call_ids: dict[int, int]
                  ) -> list[Scored]:
    """Score each case on the output its call stored."""
    with Session(engine) as session, use_store(engine):  # judge checks: this store's judges
        calls = {call.id: call for call in session.scalars(
            select(Call).where(Call.id.in_([call_ids[case.id] for case in cases])))}
        return [_scored_on(case, calls[call_ids[case.id]]) for case in cases]


def _status(outcome: CaseOutcome | None, error: str | None) -> str:
    """error (no output: the generator or the call failed, or a check could not run), missing
    (no logged call to score), pass, fail."""
    if error:
        return "error"
    if outcome is None:
        return "missing"
    if any(r.error for r in outcome.results):
        return "error"
    return "pass" if outcome.passed else "fail"


@dataclass(frozen=True)
class Scored:
    """What a case's result records: its call, the outcome of its checks, the call's error,
    and for a missing case the reason it has no call (kept in the result's error text)."""

    case: CaseView
    call_id: int | None
    outcome: CaseOutcome | None
    error: str | None
    latency_ms: float | None
    missing_note: str | None = None

    @property
    def status(self) -> str:
        return "missing" if self.missing_note else _status(self.outcome, self.error)


def _record(engine: Engine, run_id: int, items: Sequence[Scored]) -> None:
    """Store case results and their check results in one transaction (an executemany of
    each, and a read of the results' ids: one per (run, case))."""
    results = []
    for item in items:
        outcome, error = item.outcome, item.error
        results.append({
            "run_id": run_id, "case_id": item.case.id, "case_version_id": item.case.version_id,
            "call_id": item.call_id, "status": item.status, "passed": item.status == "pass",
            "score": outcome.score if outcome and not error else 0.0,
            "error": error or item.missing_note, "latency_ms": item.latency_ms})
    with write_session(engine) as session:
        session.execute(insert(CaseResult), results)
        result_ids = dict(session.execute(select(CaseResult.case_id, CaseResult.id).where(
            CaseResult.run_id == run_id,
            CaseResult.case_id.in_([item.case.id for item in items]))).all())
        checks = [
            {"case_result_id": result_ids[item.case.id], "position": position,
             "check_type": check.spec.type,
             "params": dict(check.spec.params), "negate": check.spec.negate,
             "weight": check.spec.weight, "threshold": check.spec.threshold,
             "passed": check.passed, "score": check.score, "reason": check.reason,
             "error": check.error}
            for item in items
            for position, check in enumerate(item.outcome.results if item.outcome else ())]
        if checks:
            session.execute(insert(CheckResultRow), checks)


def finish(engine: Engine, run_id: int, status: str = "finished") -> None:
    with write_session(engine) as session:
        run = session.get(EvalRun, run_id)
        assert run is not None
        run.status = status
        run.finished_at = utcnow() if status == "finished" else None
        if status == "finished":
            session.flush()
            record_run_totals(session.connection(), run_id)


def run_suite(engine: Engine, suite: str, model_version: str, generator: Generator | None, *,
              selection: Selection = Selection(), progress: Progress | None = None,
              author: str | None = None) -> RunSummary:
    """Run the suite's active cases; `generator=None` replays the version's logged calls."""
    cases = select_cases(engine, suite, selection)
    if not cases:
        raise RunError(f"suite {suite!r} has no active cases matching {selection.as_json()}")
    kind = generator.kind if generator else "replay"
    config = generator.config() if generator else {"match": "normalised input"}
    run_id, resumed = start_or_resume(engine, suite, model_version, kind, config, selection,
                                      author)
    with write_session(engine) as session:
        run = session.get(EvalRun, run_id)
        run.total_cases = len(cases)
    done = _done_cases(engine, run_id)
    pending = [c for c in cases if c.id not in done]
    finished = len(cases) - len(pending)
    try:
        if generator is None:
            _replay(engine, run_id, model_version, pending, progress, finished, len(cases))
        else:
            ids = IdPool(engine, block_size=64)
            reported = [finished]

            def report(done: int) -> None:
                if progress and done != reported[0]:
                    progress(done, len(cases))
                reported[0] = done

            size = generator.batch_size
            for batch in chunked(pending, -(-RECORD_BATCH // size) * size):
                call_ids = _logged_calls(engine, run_id, batch)  # kept from an interrupted try
                try:
                    _generate_and_log(engine, run_id, model_version, generator,
                                      [case for case in batch if case.id not in call_ids], ids,
                                      call_ids, lambda n, before=finished: report(before + n))
                finally:  # an interruption's logged outputs are scored too
                    logged = [case for case in batch if case.id in call_ids]
                    if logged:
                        _record(engine, run_id, _score_logged(engine, logged, call_ids))
                finished += len(batch)
                report(finished)
    except BaseException:
        finish(engine, run_id, "interrupted")
        raise
    finish(engine, run_id)
    summary = run_summary(engine, run_id)
    summary.resumed = resumed
    return summary


def _replay(engine: Engine, run_id: int, model_version: str, pending: Sequence[CaseView],
            progress: Progress | None, finished: int, total: int) -> None:
    """Score the outputs already logged for the version whose input matches each case's, each
    logged call once (see `replay`)."""
    with Session(engine) as session, use_store(engine):  # judge checks: this store's judges
        version_id = session.scalar(select(ModelVersion.id).where(
            ModelVersion.name == model_version))
        matches = match_logged_calls(session, run_id, version_id, pending)
        for batch in chunked(matches, 50):
            _record(engine, run_id, [
                _scored_on(m.case, m.call) if m.call is not None
                else Scored(m.case, None, None, None, None, m.note) for m in batch])
            finished += len(batch)
            if progress:
                progress(finished, total)
