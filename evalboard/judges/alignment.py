"""How far a judge agrees with people, on the calls both judged.

The human answer for a judge of failure label L: "fail" when the reviewer put L on the call,
"pass" when they passed it or failed it for other labels (a fail without labels says nothing
about L). For a success label S: "pass" when S is on the call or the call passed, "fail" when
it failed without S. For a judge without a label: the reviewer's verdict. Several reviewers:
the majority; a tie is left out, as are "unsure" answers.

"fail" is the positive class (what a judge is there to catch): precision is the share of the
judge's fails people agree with, recall the share of people's fails the judge caught.
A judge version is trusted from Cohen's κ 0.6 (a common bar); below it, or unmeasured, its
results are suggestions only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, exists, select
from sqlalchemy.orm import Session

from evalboard.iterutil import chunked
from evalboard.judges.repository import JudgeVersionView, list_judges, resolve
from evalboard.review.agreement import NotEnoughRatings, cohens_kappa
from evalboard.store.judge_models import JudgeCallResult, JudgeResult
from evalboard.store.review_models import Annotation, Label, annotation_labels

TRUST_KAPPA = 0.6
POSITIVE = "fail"
DISAGREEMENTS_SHOWN = 200


@dataclass(frozen=True)
class Confusion:
    """Judge against people, "fail" positive: tp both fail, fp only the judge fails, fn only
    people fail, tn both pass."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        return None if p is None or r is None or p + r == 0 else 2 * p * r / (p + r)

    @property
    def accuracy(self) -> float | None:
        return (self.tp + self.tn) / self.n if self.n else None


def confusion(judge: Sequence[str], human: Sequence[str]) -> Confusion:
    """The confusion matrix of paired pass/fail answers."""
    counts = Counter(zip(judge, human, strict=True))
    return Confusion(tp=counts[("fail", "fail")], fp=counts[("fail", "pass")],
                     fn=counts[("pass", "fail")], tn=counts[("pass", "pass")])


def kappa(judge: Sequence[str], human: Sequence[str]) -> float | None:
    """Cohen's κ of the paired answers; None below 2 pairs."""
    try:
        return cohens_kappa(list(judge), list(human))
    except NotEnoughRatings:
        return None


@dataclass(frozen=True)
class Disagreement:
    call_id: int
    judge: str
    human: str
    reason: str


@dataclass(frozen=True)
class Alignment:
    """A judge version against people on the calls both judged."""

    version: JudgeVersionView
    kappa: float | None
    confusion: Confusion
    disagreements: tuple[Disagreement, ...]
    errors: int  # calls the judge could not answer (left out)

    @property
    def calls(self) -> int:
        return self.confusion.n

    @property
    def trusted(self) -> bool:
        return self.kappa is not None and self.kappa >= TRUST_KAPPA

    @property
    def trust_text(self) -> str:
        if self.kappa is None:
            return "not trusted (not measured: no call judged by both)"
        return ("trusted" if self.trusted else "not trusted") + f" (κ {self.kappa:.2f})"


def _reviewer_answer(verdict: str, has_label: bool, any_label: bool, label: str | None,
                     kind: str | None) -> str | None:
    if verdict not in ("pass", "fail"):
        return None
    if label is None:
        return verdict
    if kind == "success":
        return "pass" if has_label or verdict == "pass" else "fail"
    if has_label:
        return "fail"
    return "pass" if verdict == "pass" or any_label else None


def human_answers(engine: Engine, label: str | None, kind: str | None,
                  call_ids: Iterable[int] | None = None) -> dict[int, str]:
    """call id -> the people's pass/fail answer for a judge of `label` (see the module)."""
    with engine.connect() as session:
        label_id = session.scalar(select(Label.id).where(Label.name == label)) \
            if label is not None else None
        tagged = annotation_labels.c.annotation_id == Annotation.id
        query = (select(Annotation.call_id, Annotation.verdict,
                        exists().where(tagged, annotation_labels.c.label_id == label_id),
                        exists().where(tagged))
                 .where(Annotation.is_current.is_(True), Annotation.action == "judge",
                        Annotation.verdict.in_(("pass", "fail"))))
        if call_ids is None:
            rows = session.execute(query).all()
        else:
            rows = []
            for chunk in chunked(list(call_ids), 500):
                rows += session.execute(query.where(Annotation.call_id.in_(chunk))).all()
    fails: Counter[int] = Counter()
    passes: Counter[int] = Counter()
    for call_id, verdict, has_label, any_label in rows:
        answer = _reviewer_answer(verdict, bool(has_label), bool(any_label), label, kind)
        if answer == "fail":
            fails[call_id] += 1
        elif answer == "pass":
            passes[call_id] += 1
    return {call_id: "fail" if fails[call_id] > passes[call_id] else "pass"
            for call_id in fails.keys() | passes.keys()
            if fails[call_id] != passes[call_id]}  # a tie is left out


def version_answers(version: JudgeVersionView, engine: Engine
                    ) -> dict[int, tuple[str | None, str, str | None]]:
    """call id -> (verdict or None, reason, error) of this version on the calls it judged."""
    with Session(engine) as session:
        return {call_id: (verdict, reason, error) for call_id, verdict, reason, error in
                session.execute(select(JudgeCallResult.call_id, JudgeResult.verdict,
                                       JudgeResult.reason, JudgeResult.error)
                                .join(JudgeResult, JudgeResult.id == JudgeCallResult.result_id)
                                .where(JudgeCallResult.judge_version_id == version.id))}


def measure(version: JudgeVersionView, judged: dict[int, str], human: dict[int, str],
            reasons: dict[int, str] | None = None, errors: int = 0) -> Alignment:
    """The alignment of `judged` against `human` answers on the calls in both."""
    shared = sorted(set(judged) & set(human))
    judge_side = [judged[c] for c in shared]
    human_side = [human[c] for c in shared]
    reasons = reasons or {}
    differ = tuple(Disagreement(c, judged[c], human[c], reasons.get(c, ""))
                   for c in shared if judged[c] != human[c])
    return Alignment(version, kappa(judge_side, human_side), confusion(judge_side, human_side),
                     differ[:DISAGREEMENTS_SHOWN], errors)


def alignment(engine: Engine, ref: str | int | JudgeVersionView,
              call_ids: Iterable[int] | None = None) -> Alignment:
    """A judge version (default: the newest) against people, on every call both judged (or
    on `call_ids` only)."""
    version = ref if isinstance(ref, JudgeVersionView) else resolve(engine, ref)
    answers = version_answers(version, engine)
    if call_ids is not None:
        wanted = set(call_ids)
        answers = {c: a for c, a in answers.items() if c in wanted}
    judged = {c: v for c, (v, _, _) in answers.items() if v is not None}
    reasons = {c: r for c, (_, r, _) in answers.items()}
    errors = sum(1 for v, _, _ in answers.values() if v is None)
    human = human_answers(engine, version.label, version.label_kind, judged)
    return measure(version, judged, human, reasons, errors)


def alignment_report(engine: Engine) -> list[Alignment]:
    """The newest version of every judge against people."""
    return [alignment(engine, summary.newest) for summary in list_judges(engine)]


def is_trusted(engine: Engine, version_id: int) -> bool:
    """Whether this judge version reaches κ 0.6 against people."""
    return alignment(engine, version_id).trusted
