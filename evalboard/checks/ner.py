"""The `ner` check: entities found in the output against the case's expected entities.

Spans are character offsets into the case input text (for chat input: the last user
message), `end` exclusive as in Python slicing, spaCy and transformers: `text[start:end]`
is the entity. The score is nervaluate's own number (overall precision, recall or F1 in the
chosen mode) for those spans, handed to nervaluate with its inclusive `end` (end - 1).

How entities are read from the output (`format`):

- `json` (default): a JSON list (bare, in a ```json fence, or under an "entities" key) of
  `{"type" or "label", "start", "end"}` or of `{"type" or "label", "text"}`; a text is
  placed in the input (see `place`; case-insensitive as a fallback). An entity whose text
  is not in the input counts as spurious.
- `tagged`: the input rewritten with inline XML-style tags, `<PER>Ada Lovelace</PER> was
  born in <LOC>London</LOC>.` Offsets come from the text without its tags when that text is
  the input; otherwise each tagged text is placed in the input as for json.
- `model`: a local token-classification model directory (`params.model`) run through
  transformers' pipeline(aggregation_strategy="simple") on the input text; the output is not
  read. Use it to test an NER model directly.

Expected entities are mappings with a `label` (or `type`) and `start`/`end`, or a `text`
placed in the input the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from evalboard.checks.base import CheckContext, CheckError, CheckOutcome, Param, register

FORMATS = ("json", "tagged", "model")
MODES = ("strict", "exact", "partial", "ent_type")
METRICS = ("f1", "precision", "recall")
_TAG = re.compile(r"<([A-Za-z][\w.-]*)>(.*?)</\1>", re.DOTALL)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)


class Span(NamedTuple):
    label: str
    start: int
    end: int  # exclusive


class Mention(NamedTuple):
    """An entity given by its text only, to be placed in the input."""

    label: str
    text: str


def input_text(context: CheckContext) -> str | None:
    """The text entities point into: the input, or the last user message of chat input."""
    value = context.input
    if value is None or isinstance(value, str):
        return value
    for message in reversed(list(value)):
        if isinstance(message, Mapping) and message.get("role", "user") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else None
    return None


def _label(item: Mapping[str, Any], label_map: Mapping[str, str]) -> str | None:
    for key in ("label", "type", "entity_group", "entity"):
        value = item.get(key)
        if isinstance(value, str) and value:
            return label_map.get(value, value)
    return None


def _entity(item: Any, label_map: Mapping[str, str]) -> Span | Mention | None:
    """One entity mapping as a Span or a Mention; None when it has neither."""
    if not isinstance(item, Mapping):
        return None
    label = _label(item, label_map)
    if label is None:
        return None
    start, end = item.get("start"), item.get("end")
    if isinstance(start, int) and isinstance(end, int) and not isinstance(start, bool) \
            and 0 <= start < end:
        return Span(label, start, end)
    text = item.get("text") or item.get("word")
    return Mention(label, text) if isinstance(text, str) and text.strip() else None


def _occurrences(haystack: str, needle: str, start: int = 0) -> Any:
    """Every position of `needle` in `haystack` from `start`, overlapping ones included."""
    at = haystack.find(needle, start)
    while at >= 0:
        yield at
        at = haystack.find(needle, at + 1)


def _free_position(haystack: str, needle: str, cursor: int, taken: bytearray) -> int:
    """Where a mention of `needle` goes: the first occurrence from `cursor` that overlaps no
    span placed already, else the first such occurrence anywhere, else (a nested or repeated
    mention) the first occurrence from `cursor`, else anywhere; -1 when there is none."""
    width = len(needle)
    for start in (cursor, 0):
        for at in _occurrences(haystack, needle, start):
            if not any(taken[at : at + width]):
                return at
    at = haystack.find(needle, cursor)
    return at if at >= 0 else haystack.find(needle)


def place(entities: Sequence[Span | Mention], source: str | None) -> tuple[list[Span], int]:
    """Spans for every entity, in order: a Span stays, a Mention is placed in `source`.

    Mentions are placed left to right without overlapping a span placed already, longer
    texts first: in "New York is bigger than York." the mention "York" lands on the second
    York, not inside "New York", whichever order they are listed in. A repeated text takes
    the occurrences after its previous mention. A mention not found (also ignoring case)
    gets a span past the end of `source`, so it overlaps nothing and counts as spurious; the
    second value counts them.
    """
    text_of = source or ""
    lowered = text_of.lower()
    taken = bytearray(len(text_of))
    spans: list[Span | None] = [None] * len(entities)
    for index, entity in enumerate(entities):
        if isinstance(entity, Span):
            spans[index] = entity
            covered = taken[entity.start : entity.end]
            taken[entity.start : entity.end] = b"\x01" * len(covered)
    mentions = sorted((i for i, e in enumerate(entities) if isinstance(e, Mention)),
                      key=lambda i: -len(entities[i].text))
    cursors: dict[str, int] = {}
    missing = 0
    for index in mentions:
        entity = entities[index]
        assert isinstance(entity, Mention)
        text = entity.text
        at = _free_position(text_of, text, cursors.get(text, 0), taken)
        if at < 0 and len(text.lower()) == len(text) and len(lowered) == len(text_of):
            at = _free_position(lowered, text.lower(), cursors.get(text, 0), taken)
        if at < 0:
            base = len(text_of) + 2 + 2 * missing
            spans[index] = Span(entity.label, base, base + 1)
            missing += 1
            continue
        spans[index] = Span(entity.label, at, at + len(text))
        taken[at : at + len(text)] = b"\x01" * len(text)
        cursors[text] = at + len(text)
    return [span for span in spans if span is not None], missing


def _json_entities(output: str) -> list[Any] | None:
    """The entity list in the output; None when there is none."""
    candidates = [output.strip(), *(m.group(1).strip() for m in _FENCE.finditer(output))]
    first, last = output.find("["), output.rfind("]")
    if 0 <= first < last:
        candidates.append(output[first : last + 1])
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(data, Mapping) and isinstance(data.get("entities"), list):
            data = data["entities"]
        if isinstance(data, list):
            return data
    return None


def _tagged_entities(output: str, source: str | None, label_map: Mapping[str, str]
                     ) -> list[Span | Mention]:
    plain: list[str] = []
    length, last = 0, 0
    spans: list[Span] = []
    for match in _TAG.finditer(output):
        before = output[last : match.start()]
        plain.append(before)
        length += len(before)
        inner = match.group(2)
        spans.append(Span(label_map.get(match.group(1), match.group(1)), length,
                          length + len(inner)))
        plain.append(inner)
        length += len(inner)
        last = match.end()
    plain.append(output[last:])
    if source is None or "".join(plain) == source:
        return [s for s in spans if s.end > s.start]
    text = "".join(plain)
    return [Mention(s.label, text[s.start : s.end]) for s in spans if s.end > s.start]


@lru_cache(maxsize=4)
def _ner_pipeline(model_dir: str) -> Any:
    """A token-classification pipeline on a local model directory, loaded once per process."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline

    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModelForTokenClassification.from_pretrained(model_dir, local_files_only=True)
    return pipeline("token-classification", model=model, tokenizer=tokenizer,
                    aggregation_strategy="simple", device="cpu")


def model_dir(params: Mapping[str, Any]) -> str:
    """params["model"], which must be an existing local directory."""
    value = params.get("model")
    if not value:
        raise CheckError("params.model", "needs a local model directory")
    path = Path(str(value)).expanduser()
    if not (path / "config.json").is_file():
        raise CheckError("params.model", f"{path} is not a local model directory "
                         "(no config.json); nothing is downloaded")
    return str(path.resolve())


def nervaluate_results(true: Sequence[Span], pred: Sequence[Span],
                       tags: Sequence[str]) -> dict[str, Any]:
    """nervaluate's evaluate() for one document (spans converted to its inclusive ends)."""
    from nervaluate import Evaluator

    def docs(spans: Sequence[Span]) -> list[list[dict[str, Any]]]:
        return [[{"label": s.label, "start": s.start, "end": s.end - 1} for s in spans]]

    return Evaluator(docs(true), docs(pred), tags=list(tags), loader="dict").evaluate()


def _predicted(output: str, params: Mapping[str, Any], source: str | None,
               label_map: Mapping[str, str]) -> tuple[list[Span | Mention], int] | None:
    """Entities from the output (or the model) and how many items could not be read; None
    when the output holds no JSON list of entities."""
    fmt = params["format"]
    if fmt == "model":
        if not source:
            raise CheckError("input", "format model runs the model on the case input, "
                             "and the case has no input text")
        found = _ner_pipeline(model_dir(params))(source)
        return [Span(label_map.get(e["entity_group"], e["entity_group"]), int(e["start"]),
                     int(e["end"])) for e in found if int(e["end"]) > int(e["start"])], 0
    if fmt == "tagged":
        return _tagged_entities(output, source, label_map), 0
    items = _json_entities(output)
    if items is None:
        return None
    entities = [_entity(item, label_map) for item in items]
    return [e for e in entities if e is not None], sum(e is None for e in entities)


def _expected(context: CheckContext, source: str | None) -> list[Span]:
    entities = []
    for index, item in enumerate(context.expected_entities):
        entity = _entity(item, {})
        if entity is None:
            raise CheckError("expected_entities", f"entity {index + 1} needs a label (or "
                             "type) and start < end, or a text")
        entities.append(entity)
    spans, missing = place(entities, source)
    if missing:
        raise CheckError("expected_entities", f"{missing} expected entity text(s) not found "
                         "in the input")
    return spans


def _validate_ner(params: Mapping[str, Any]) -> None:
    if params.get("format") == "model" and not params.get("model"):
        raise CheckError("params.model", "format model needs model: a local "
                         "token-classification model directory")


def _validate_ner_case(params: Mapping[str, Any], case: CheckContext) -> None:
    """Save-time hook: the expected entities can be placed in the case input."""
    source = input_text(case)
    if params["format"] == "model" and not source:
        raise CheckError("input", "format model runs the model on the case input, and the "
                         "case has no input text")
    _expected(case, source)


@register(
    "ner",
    category="ner",
    validate=_validate_ner,
    validate_case=_validate_ner_case,
    params={
        "format": Param("str", default="json", choices=FORMATS,
                        doc="how entities are read: json, tagged (<PER>Ada</PER>) or model"),
        "mode": Param("str", default="strict", choices=MODES,
                      doc="nervaluate mode: strict, exact, partial or ent_type"),
        "metric": Param("str", default="f1", choices=METRICS, doc="f1, precision or recall"),
        "model": Param("str", doc="format model: a local token-classification model directory"),
        "tags": Param("list[str]", doc="entity types to score (default: every type seen)"),
        "label_map": Param("dict", doc="rename predicted labels, e.g. {PERSON: PER}"),
    },
    default_threshold=1.0,
)
def ner(output: str, params: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
    """Named entities in the output against the expected ones (nervaluate precision/recall/F1)."""
    mode, metric = params["mode"], params["metric"]
    label_map = {str(k): str(v) for k, v in (params.get("label_map") or {}).items()}
    source = input_text(context)
    true = _expected(context, source)
    predicted = _predicted(output, params, source, label_map)
    if predicted is None:
        what = "empty output" if not output.strip() else "the output holds no JSON list"
        return CheckOutcome(False, 0.0, f"{what}: no entities to score")
    found, unreadable = predicted
    pred, not_in_input = place(found, source)
    tags = list(params.get("tags") or sorted({s.label for s in (*true, *pred)}))
    notes = []
    if unreadable:
        notes.append(f"{unreadable} item(s) without a label and span or text ignored")
    if not_in_input:
        notes.append(f"{not_in_input} entity text(s) not in the input")
    if not true and not pred:
        return CheckOutcome(True, 1.0, "; ".join(["no entities expected, none found", *notes]))
    results = nervaluate_results(true, pred, tags)
    overall = results["overall"][mode]
    score = float(getattr(overall, metric))
    per_type = ", ".join(f"{tag} {getattr(results['entities'][tag][mode], metric):.2f}"
                         for tag in sorted(results["entities"]))
    counts = ", ".join(f"{n} {name}" for name, n in (
        ("correct", overall.correct), ("incorrect", overall.incorrect),
        ("partial", overall.partial), ("missed", overall.missed),
        ("spurious", overall.spurious)) if n)
    reason = f"{mode} {metric}: {per_type or 'no scored types'} ({counts or 'nothing scored'})"
    return CheckOutcome(score >= 1.0, score, "; ".join([reason, *notes]))
