"""Score configurations (answer types beyond the verdict) and the scores answers carry.

A configuration is a 1–N rating (keys 1…N in review), a number in a range, one choice of
several, or free text. An answer gives at most one score per configuration; a score is
validated against its configuration when it is recorded, and a configuration when it is
saved."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from evalboard.errors import EvalboardError
from evalboard.store.engine import write_session
from evalboard.store.team_models import SCORE_KINDS, AnnotationScore, ScoreConfig

MAX_RATING = 10
MAX_CHOICES = 20
MAX_TEXT = 5_000
KIND_NAMES = {"rating": "Rating 1–N", "numeric": "Number in a range",
              "choice": "One choice of several", "text": "Free text"}


class ScoreError(EvalboardError, ValueError):
    """A score or configuration that cannot be saved; the message says why."""


@dataclass(frozen=True)
class ScoreConfigView:
    id: int
    name: str
    kind: str
    minimum: float | None
    maximum: float | None
    choices: tuple[str, ...]
    description: str

    @property
    def numeric(self) -> bool:
        return self.kind in ("rating", "numeric")

    def describe(self) -> str:
        if self.kind == "rating":
            return f"rating 1–{int(self.maximum or 5)}"
        if self.kind == "numeric":
            return f"number {self.minimum:g} to {self.maximum:g}"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        return "free text"

    def parse(self, raw: object) -> tuple[float | None, str | None]:
        """(number, text) to store for a raw answer; ScoreError names what is wrong."""
        if self.kind == "text":
            text = str(raw).strip()
            if not text:
                raise ScoreError(f"{self.name}: write something, or leave the score out")
            if len(text) > MAX_TEXT:
                raise ScoreError(f"{self.name}: at most {MAX_TEXT:,} characters")
            return None, text
        if self.kind == "choice":
            if str(raw) not in self.choices:
                raise ScoreError(f"{self.name}: choose one of {', '.join(self.choices)}, not "
                                 f"{raw!r}")
            return None, str(raw)
        try:
            number = float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ScoreError(f"{self.name}: a number, not {raw!r}") from None
        low, high = (1.0, float(self.maximum or 5)) if self.kind == "rating" else (
            self.minimum, self.maximum)
        if not math.isfinite(number) or (low is not None and number < low) or (
                high is not None and number > high):
            raise ScoreError(f"{self.name}: {self.describe()}, not {raw!r}")
        if self.kind == "rating" and not number.is_integer():
            raise ScoreError(f"{self.name}: a whole number 1–{int(high or 5)}, not {raw!r}")
        return number, None


def _view(config: ScoreConfig) -> ScoreConfigView:
    return ScoreConfigView(config.id, config.name, config.kind, config.minimum, config.maximum,
                           tuple(config.choices or ()), config.description)


def check_config(name: str, kind: str, minimum: float | None, maximum: float | None,
                 choices: Sequence[str]) -> tuple[str, float | None, float | None, list[str]]:
    """The configuration as it is stored; ScoreError when it makes no sense."""
    name = " ".join(name.split())
    if not name:
        raise ScoreError("a score configuration needs a name")
    if kind not in SCORE_KINDS:
        raise ScoreError(f"a score is one of {', '.join(SCORE_KINDS)}, not {kind!r}")
    cleaned = list(dict.fromkeys(c.strip() for c in choices if c.strip()))
    if kind == "rating":
        top = 5 if maximum is None else maximum
        if not float(top).is_integer() or not 2 <= top <= MAX_RATING:
            raise ScoreError(f"a rating goes from 1 to a whole number 2–{MAX_RATING}")
        return name, 1.0, float(top), []
    if kind == "numeric":
        if minimum is None or maximum is None or not minimum < maximum:
            raise ScoreError("a number needs a range: a minimum below the maximum")
        return name, float(minimum), float(maximum), []
    if kind == "choice":
        if not 2 <= len(cleaned) <= MAX_CHOICES:
            raise ScoreError(f"a choice needs 2 to {MAX_CHOICES} different options")
        return name, None, None, cleaned
    return name, None, None, []


def create_score_config(engine: Engine, name: str, kind: str, *, minimum: float | None = None,
                        maximum: float | None = None, choices: Sequence[str] = (),
                        description: str = "") -> int:
    name, minimum, maximum, cleaned = check_config(name, kind, minimum, maximum, choices)
    with write_session(engine) as session:
        if session.scalar(select(ScoreConfig.id).where(ScoreConfig.name == name)):
            raise ScoreError(f"a score configuration named {name!r} exists already")
        config = ScoreConfig(name=name, kind=kind, minimum=minimum, maximum=maximum,
                             choices=cleaned, description=description.strip())
        session.add(config)
        session.flush()
        return config.id


def list_score_configs(engine: Engine) -> list[ScoreConfigView]:
    with Session(engine) as session:
        return [_view(c) for c in session.scalars(select(ScoreConfig).order_by(ScoreConfig.name))]


def score_config(engine: Engine, config_id: int) -> ScoreConfigView | None:
    with Session(engine) as session:
        config = session.get(ScoreConfig, config_id)
        return None if config is None else _view(config)


def score_rows(session: Session, scores: Sequence[tuple[str, object]]) -> list[AnnotationScore]:
    """Validated rows (without their annotation) for an answer's scores, by configuration
    name; ScoreError for an unknown name or a value its configuration refuses."""
    rows = []
    for name, raw in dict(scores).items():
        config = session.scalar(select(ScoreConfig).where(ScoreConfig.name == name))
        if config is None:
            raise ScoreError(f"there is no score configuration {name!r}")
        number, text = _view(config).parse(raw)
        rows.append(AnnotationScore(score_config_id=config.id, number=number, text=text))
    return rows


def score_values(engine: Engine, annotation_ids: Sequence[int]
                 ) -> dict[int, dict[str, float | str]]:
    """{annotation id: {configuration name: its score}}: a number, or the text of a choice or
    text score."""
    if not annotation_ids:
        return {}
    with Session(engine) as session:
        rows = session.execute(
            select(AnnotationScore.annotation_id, ScoreConfig.name, AnnotationScore.number,
                   AnnotationScore.text)
            .join(ScoreConfig, ScoreConfig.id == AnnotationScore.score_config_id)
            .where(AnnotationScore.annotation_id.in_(annotation_ids))).all()
    found: dict[int, dict[str, float | str]] = {}
    for annotation_id, name, number, text in rows:
        found.setdefault(annotation_id, {})[name] = number if number is not None else text or ""
    return found


def scores_of(engine: Engine, annotation_ids: Sequence[int]) -> dict[int, dict[str, str]]:
    """{annotation id: {configuration name: the score as shown}}."""
    return {annotation_id: {name: value if isinstance(value, str) else f"{value:g}"
                            for name, value in scores.items()}
            for annotation_id, scores in score_values(engine, annotation_ids).items()}


def usage_counts(engine: Engine) -> dict[int, int]:
    """How many answers carry a score of each configuration."""
    with Session(engine) as session:
        return dict(session.execute(  # type: ignore[arg-type]
            select(AnnotationScore.score_config_id, func.count())
            .group_by(AnnotationScore.score_config_id)).all())
