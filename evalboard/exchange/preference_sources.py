"""Where preference data comes from: corrections, pairwise answers, eval runs, single verdicts.

Every source streams small batches (keyset on ids) and yields `PreferencePair` (prompt, chosen,
rejected) or `Verdict` (prompt, completion, desirable or not) values with their provenance. The
filter selects like Browse and the review exports: calls of some model versions, logged in
[since, until) (both calls of a pair), judged by some reviewers and carrying some labels.

- corrections: a final answer with a corrected output: chosen = the correction,
  rejected = the model's output.
- pairwise: the live answers on a pair of calls (every reviewer's, either orientation) decide
  by plurality among a / b / tie / both bad; only a unique a or b plurality gives a pair (the
  winner's output chosen). Ties, both-bad and undecided pairs are counted, not exported.
- runs: for a case, the latest finished run of each version: every output that passed its
  checks against every output that failed, for the same prompt.
- verdicts: a call whose final answers all pass (desirable) or all fail (undesirable).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, exists, func, select, true
from sqlalchemy.orm import Session, aliased

from evalboard.errors import EvalboardError
from evalboard.review.annotations import is_final_answer
from evalboard.store.case_models import EvalCase
from evalboard.store.models import Call, ModelVersion
from evalboard.store.pairwise_models import PairwiseAnswer, pairwise_answer_labels
from evalboard.store.review_models import Annotation, Label, annotation_labels
from evalboard.store.run_models import CaseResult, EvalRun

BATCH_SIZE = 500


class PreferenceExportError(EvalboardError, ValueError):
    """Preference data that cannot be exported as asked; the message says why."""


@dataclass(frozen=True)
class PreferenceFilter:
    """Which judgements count (every field empty or None: no restriction)."""

    model_versions: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Prompt:
    """A call's input as chat messages reduced to role and content text; `text` is the plain
    prompt when the call had no chat input."""

    messages: list[dict[str, str]]
    text: str | None

    @property
    def key(self) -> str:
        """sha1 of the messages: the same prompt has the same key in every source and run."""
        canonical = json.dumps(self.messages, ensure_ascii=False, sort_keys=True)
        return hashlib.sha1(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Side:
    """One output of a preference: its text and, when a model wrote it, the call and version."""

    text: str
    call_id: int | None = None
    model_version: str | None = None


@dataclass(frozen=True)
class Provenance:
    """Who or what decided: reviewers, labels, the judgement rows, a case, the time."""

    reviewers: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    judgement_ids: tuple[int, ...] = ()
    case_id: int | None = None
    judged_at: datetime | None = None


@dataclass(frozen=True)
class PreferencePair:
    source: str
    prompt: Prompt
    chosen: Side
    rejected: Side
    provenance: Provenance


@dataclass(frozen=True)
class Verdict:
    """An unpaired example (KTO): the completion is desirable (`label`) or not."""

    source: str
    prompt: Prompt
    completion: Side
    label: bool
    provenance: Provenance


@dataclass
class Skipped:
    """What a source met and did not export, by reason."""

    counts: Counter[str] = field(default_factory=Counter)

    def add(self, reason: str, n: int = 1) -> None:
        self.counts[reason] += n


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: keep the text ones
        parts = [part.get("text", "") for part in content
                 if isinstance(part, dict) and part.get("type") == "text"]
        if len(parts) == len(content):
            return "".join(parts)
    return json.dumps(content, ensure_ascii=False)


def prompt_of(input_text: str, input_messages: list[dict[str, Any]] | None) -> Prompt:
    """The prompt a call (or a case) was given."""
    if input_messages:
        return Prompt([{"role": str(m.get("role", "user")), "content": _text(m.get("content"))}
                       for m in input_messages], None)
    return Prompt([{"role": "user", "content": input_text}], input_text)


def _version_ids(session: Session, names: Sequence[str]) -> list[int] | None:
    if not names:
        return None
    found = dict(session.execute(select(ModelVersion.name, ModelVersion.id)
                                 .where(ModelVersion.name.in_(names))).all())
    unknown = [name for name in names if name not in found]
    if unknown:
        raise PreferenceExportError(f"no model version named {', '.join(map(repr, unknown))}")
    return [found[name] for name in names]


def _call_scope(call: Any, f: PreferenceFilter, version_ids: list[int] | None
                ) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [call.output.is_not(None)]
    if version_ids is not None:
        conditions.append(call.model_version_id.in_(version_ids))
    if f.since is not None:
        conditions.append(call.created_at >= f.since)
    if f.until is not None:
        conditions.append(call.created_at < f.until)
    return conditions


def _in(column: Any, values: Sequence[str]) -> ColumnElement[bool]:
    return column.in_(values) if values else true()


def _annotation_labels(session: Session, ids: Sequence[int]) -> dict[int, list[str]]:
    names: dict[int, list[str]] = {}
    for annotation_id, name in session.execute(
            select(annotation_labels.c.annotation_id, Label.name)
            .join(Label, Label.id == annotation_labels.c.label_id)
            .where(annotation_labels.c.annotation_id.in_(ids))
            .order_by(Label.position, Label.name)):
        names.setdefault(annotation_id, []).append(name)
    return names


def _annotation_label_filter(labels: Sequence[str]) -> ColumnElement[bool]:
    if not labels:
        return true()
    return exists().where(annotation_labels.c.annotation_id == Annotation.id,
                          Label.id == annotation_labels.c.label_id, Label.name.in_(labels))


def correction_pairs(engine: Engine, f: PreferenceFilter, skipped: Skipped,
                     batch_size: int = BATCH_SIZE) -> Iterator[PreferencePair]:
    """chosen = a final answer's corrected output, rejected = the call's own output."""
    last_id = 0
    while True:
        with Session(engine) as session:
            version_ids = _version_ids(session, f.model_versions)
            rows = session.execute(
                select(Annotation.id, Annotation.reviewer, Annotation.corrected_output,
                       Annotation.created_at, Call.id, Call.input_text, Call.input_messages,
                       Call.output, ModelVersion.name)
                .join(Call, Call.id == Annotation.call_id)
                .join(ModelVersion, ModelVersion.id == Call.model_version_id)
                .where(Annotation.id > last_id, is_final_answer(),
                       Annotation.corrected_output.is_not(None),
                       Annotation.corrected_output != "",
                       _in(Annotation.reviewer, f.reviewers),
                       _annotation_label_filter(f.labels), *_call_scope(Call, f, version_ids))
                .order_by(Annotation.id).limit(batch_size)).all()
            labels = _annotation_labels(session, [row[0] for row in rows])
        if not rows:
            return
        for (annotation_id, reviewer, corrected, judged_at, call_id, input_text, messages,
             output, version) in rows:
            yield PreferencePair(
                "corrections", prompt_of(input_text, messages),
                Side(corrected, call_id, None), Side(output, call_id, version),
                Provenance((reviewer,), tuple(labels.get(annotation_id, ())), (annotation_id,),
                           None, judged_at))
        last_id = rows[-1][0]


@dataclass
class _Votes:
    outcomes: Counter[str] = field(default_factory=Counter)  # in terms of (low, high) call ids
    reviewers: set[str] = field(default_factory=set)
    answer_ids: list[int] = field(default_factory=list)
    judged_at: datetime | None = None


FLIP = {"a": "b", "b": "a", "tie": "tie", "both_bad": "both_bad"}


def _pairwise_votes(engine: Engine, f: PreferenceFilter, batch_size: int
                    ) -> dict[tuple[int, int], _Votes]:
    """Live answers per pair of calls (lower call id first), answers streamed by id. Answers
    are made by people (or judges) one pair at a time: they fit in memory; calls need not."""
    votes: dict[tuple[int, int], _Votes] = {}
    call_a, call_b = aliased(Call), aliased(Call)
    label_filter = (exists().where(pairwise_answer_labels.c.answer_id == PairwiseAnswer.id,
                                   Label.id == pairwise_answer_labels.c.label_id,
                                   Label.name.in_(f.labels)) if f.labels else true())
    last_id = 0
    while True:
        with Session(engine) as session:
            version_ids = _version_ids(session, f.model_versions)
            rows = session.execute(
                select(PairwiseAnswer.id, PairwiseAnswer.call_a_id, PairwiseAnswer.call_b_id,
                       PairwiseAnswer.outcome, PairwiseAnswer.reviewer,
                       PairwiseAnswer.created_at)
                .join(call_a, call_a.id == PairwiseAnswer.call_a_id)
                .join(call_b, call_b.id == PairwiseAnswer.call_b_id)
                .where(PairwiseAnswer.id > last_id, PairwiseAnswer.is_current.is_(True),
                       PairwiseAnswer.outcome.is_not(None), _in(PairwiseAnswer.reviewer,
                                                                 f.reviewers), label_filter,
                       *_call_scope(call_a, f, version_ids), *_call_scope(call_b, f, version_ids))
                .order_by(PairwiseAnswer.id).limit(batch_size)).all()
        if not rows:
            return votes
        for answer_id, a, b, outcome, reviewer, created_at in rows:
            key, outcome = ((a, b), outcome) if a < b else ((b, a), FLIP[outcome])
            entry = votes.setdefault(key, _Votes())
            entry.outcomes[outcome] += 1
            entry.reviewers.add(reviewer)
            entry.answer_ids.append(answer_id)
            entry.judged_at = max(filter(None, (entry.judged_at, created_at)))
        last_id = rows[-1][0]


def _decision(outcomes: Counter[str]) -> str:
    """The unique plurality outcome, or "undecided"."""
    ranked = outcomes.most_common()
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return "undecided"
    return ranked[0][0]


def _answer_labels(session: Session, ids: Sequence[int]) -> list[str]:
    return list(session.scalars(
        select(Label.name).join(pairwise_answer_labels,
                                Label.id == pairwise_answer_labels.c.label_id)
        .where(pairwise_answer_labels.c.answer_id.in_(ids)).distinct().order_by(Label.name)))


def pairwise_pairs(engine: Engine, f: PreferenceFilter, skipped: Skipped,
                   batch_size: int = BATCH_SIZE) -> Iterator[PreferencePair]:
    """chosen = the output the answers on a pair prefer (see the module docstring)."""
    decided: list[tuple[tuple[int, int], str, _Votes]] = []
    for key, entry in _pairwise_votes(engine, f, batch_size).items():
        decision = _decision(entry.outcomes)
        if decision in ("a", "b"):
            decided.append((key, decision, entry))
        else:
            skipped.add({"tie": "ties", "both_bad": "both bad"}.get(decision, "undecided"))
    for start in range(0, len(decided), batch_size):
        chunk = decided[start:start + batch_size]
        ids = {call_id for key, _, _ in chunk for call_id in key}
        with Session(engine) as session:
            calls = {row[0]: row for row in session.execute(
                select(Call.id, Call.input_text, Call.input_messages, Call.output,
                       ModelVersion.name)
                .join(ModelVersion, ModelVersion.id == Call.model_version_id)
                .where(Call.id.in_(ids)))}
            labels = {key: _answer_labels(session, entry.answer_ids) for key, _, entry in chunk}
        for key, decision, entry in chunk:
            win, lose = (calls[key[0]], calls[key[1]]) if decision == "a" else \
                (calls[key[1]], calls[key[0]])
            yield PreferencePair(
                "pairwise", prompt_of(win[1], win[2]), Side(win[3], win[0], win[4]),
                Side(lose[3], lose[0], lose[4]),
                Provenance(tuple(sorted(entry.reviewers)), tuple(labels[key]),
                           tuple(entry.answer_ids), None, entry.judged_at))


@dataclass(frozen=True)
class _Result:
    case_id: int
    label: str | None
    passed: bool
    prompt: Prompt
    output: Side
    run_id: int
    created_by: str | None
    at: datetime


def _latest_runs() -> Any:
    return (select(func.max(EvalRun.id)).where(EvalRun.status == "finished")
            .group_by(EvalRun.suite_id, EvalRun.model_version_id))


def run_results(engine: Engine, f: PreferenceFilter,
                batch_size: int = BATCH_SIZE) -> Iterator[list[_Result]]:
    """The passing and failing results of the latest finished run of each version, one list
    per case (cases in id order, a batch of cases per query)."""
    last_case = 0
    while True:
        with Session(engine) as session:
            version_ids = _version_ids(session, f.model_versions)
            scope = and_(CaseResult.run_id.in_(_latest_runs()),
                         CaseResult.status.in_(("pass", "fail")),
                         _in(EvalCase.label, f.labels), _in(EvalRun.created_by, f.reviewers),
                         *_call_scope(Call, f, version_ids))
            base = (select(CaseResult.case_id).join(EvalCase, EvalCase.id == CaseResult.case_id)
                    .join(EvalRun, EvalRun.id == CaseResult.run_id)
                    .join(Call, Call.id == CaseResult.call_id))
            cases = session.scalars(base.where(CaseResult.case_id > last_case, scope).distinct()
                                    .order_by(CaseResult.case_id).limit(batch_size)).all()
            if not cases:
                return
            rows = session.execute(
                select(CaseResult.case_id, EvalCase.label, CaseResult.passed, Call.input_text,
                       Call.input_messages, Call.output, Call.id, ModelVersion.name,
                       CaseResult.run_id, EvalRun.created_by, CaseResult.created_at)
                .join(EvalCase, EvalCase.id == CaseResult.case_id)
                .join(EvalRun, EvalRun.id == CaseResult.run_id)
                .join(Call, Call.id == CaseResult.call_id)
                .join(ModelVersion, ModelVersion.id == Call.model_version_id)
                .where(CaseResult.case_id.in_(cases), scope)
                .order_by(CaseResult.case_id, CaseResult.run_id)).all()
        by_case: dict[int, list[_Result]] = {}
        for (case_id, label, passed, text, messages, output, call_id, version, run_id,
             created_by, at) in rows:
            by_case.setdefault(case_id, []).append(_Result(
                case_id, label, passed, prompt_of(text, messages),
                Side(output, call_id, version), run_id, created_by, at))
        yield from by_case.values()
        last_case = cases[-1]


def _run_provenance(result: _Result, other: _Result | None = None) -> Provenance:
    results = [result] if other is None else [result, other]
    return Provenance(tuple(sorted({r.created_by for r in results if r.created_by})),
                      (result.label,) if result.label else (),
                      tuple(r.run_id for r in results), result.case_id,
                      max(r.at for r in results))


def run_pairs(engine: Engine, f: PreferenceFilter, skipped: Skipped,
              batch_size: int = BATCH_SIZE) -> Iterator[PreferencePair]:
    """For each case and prompt: every passing output against every failing one."""
    for results in run_results(engine, f, batch_size):
        by_prompt: dict[str, list[_Result]] = {}
        for result in results:
            by_prompt.setdefault(result.prompt.key, []).append(result)
        for group in by_prompt.values():
            passing = [r for r in group if r.passed]
            failing = [r for r in group if not r.passed]
            if not passing or not failing:
                skipped.add("cases without both a pass and a fail")
            for good in passing:
                for bad in failing:
                    yield PreferencePair("runs", good.prompt, good.output, bad.output,
                                         _run_provenance(good, bad))


def run_verdicts(engine: Engine, f: PreferenceFilter, skipped: Skipped,
                 batch_size: int = BATCH_SIZE) -> Iterator[Verdict]:
    """Each result of a latest run: passed its checks (desirable) or not."""
    for results in run_results(engine, f, batch_size):
        for result in results:
            yield Verdict("runs", result.prompt, result.output, result.passed,
                          _run_provenance(result))


def judgement_verdicts(engine: Engine, f: PreferenceFilter, skipped: Skipped,
                       batch_size: int = BATCH_SIZE) -> Iterator[Verdict]:
    """A call's output is desirable when its final answers (pass or fail ones; unsure
    ones do not count) all pass, undesirable when they all fail; mixed calls are skipped."""
    decisive = and_(is_final_answer(), Annotation.verdict.in_(("pass", "fail")),
                    _in(Annotation.reviewer, f.reviewers), _annotation_label_filter(f.labels))
    last_call = 0
    while True:
        with Session(engine) as session:
            version_ids = _version_ids(session, f.model_versions)
            call_ids = session.scalars(
                select(Annotation.call_id).join(Call, Call.id == Annotation.call_id)
                .where(Annotation.call_id > last_call, decisive,
                       *_call_scope(Call, f, version_ids))
                .distinct().order_by(Annotation.call_id).limit(batch_size)).all()
            if not call_ids:
                return
            judgements = session.execute(
                select(Annotation.call_id, Annotation.id, Annotation.reviewer,
                       Annotation.verdict, Annotation.created_at)
                .where(Annotation.call_id.in_(call_ids), decisive)
                .order_by(Annotation.call_id, Annotation.id)).all()
            calls = {row[0]: row for row in session.execute(
                select(Call.id, Call.input_text, Call.input_messages, Call.output,
                       ModelVersion.name)
                .join(ModelVersion, ModelVersion.id == Call.model_version_id)
                .where(Call.id.in_(call_ids)))}
            labels = _annotation_labels(session, [row[1] for row in judgements])
        by_call: dict[int, list[Any]] = {}
        for row in judgements:
            by_call.setdefault(row[0], []).append(row)
        for call_id, rows in by_call.items():
            verdicts = {row[3] for row in rows}
            if len(verdicts) > 1:
                skipped.add("disagreements")
                continue
            call = calls[call_id]
            names = tuple(dict.fromkeys(n for row in rows for n in labels.get(row[1], ())))
            yield Verdict("verdicts", prompt_of(call[1], call[2]),
                          Side(call[3], call_id, call[4]), verdicts == {"pass"},
                          Provenance(tuple(sorted({row[2] for row in rows})), names,
                                     tuple(row[1] for row in rows), None,
                                     max(row[4] for row in rows)))
        last_call = call_ids[-1]
