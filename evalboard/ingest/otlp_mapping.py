"""One OTLP span as the fields of a call, whichever dialect its instrumentation speaks.

Precedence, field by field (the first that is present wins):
  input     gen_ai.input.messages (+ gen_ai.system_instructions) > gen_ai.prompt.N.* >
            gen_ai.*.message events > llm.input_messages.N.message.* > input.value
  output    gen_ai.output.messages > gen_ai.completion.N.* > gen_ai.choice events >
            llm.output_messages.N.message.* > output.value
  model     gen_ai.response.model > gen_ai.request.model > llm.model_name
  tokens    gen_ai.usage.input_tokens / output_tokens > gen_ai.usage.prompt_tokens /
            completion_tokens > llm.token_count.prompt / completion
  session   gen_ai.conversation.id > session.id
The model version is the value of the `model_version_from` attribute (span first, then
resource), else the model. A span is an LLM span when it has `openinference.span.kind = LLM`
or a GenAI operation that generates text (or GenAI model attributes and no operation).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evalboard.ingest.otlp_attributes import attributes, hex_id, json_value, nanos_to_datetime
from evalboard.ingest.otlp_messages import (
    Message,
    event_messages,
    indexed_messages,
    openinference_messages,
    output_of,
    semconv_messages,
    system_instructions,
)

DEFAULT_MODEL_VERSION_FROM = "model"
LLM_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "completion"})
EVALUATION_EVENT = "gen_ai.evaluation.result"
_STATUS_ERROR = 2
# Attributes that become call fields, not metadata (prefixes end with a dot).
_CONSUMED = (
    "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions",
    "gen_ai.prompt.", "gen_ai.completion.", "gen_ai.request.", "gen_ai.usage.",
    "gen_ai.response.model", "gen_ai.conversation.id", "llm.input_messages.",
    "llm.output_messages.", "llm.model_name", "llm.token_count.", "input.value",
    "output.value", "session.id", "llm.invocation_parameters",
)


def _first(attrs: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if attrs.get(key) not in (None, ""):
            return attrs[key]
    return None


def is_llm_span(attrs: dict[str, Any]) -> bool:
    kind = attrs.get("openinference.span.kind")
    if kind is not None:
        return str(kind).upper() == "LLM"
    operation = attrs.get("gen_ai.operation.name")
    if operation is not None:
        return str(operation) in LLM_OPERATIONS
    model_keys = ("gen_ai.request.model", "gen_ai.system", "gen_ai.provider.name")
    return _first(attrs, *model_keys) is not None


def _first_found(*candidates: Callable[[], Any]) -> Any:
    """The first non-empty answer of `candidates`, asked in order (the rest are not asked)."""
    for candidate in candidates:
        found = candidate()
        if found:
            return found
    return None


def _input(attrs: dict[str, Any], event_inputs: list[Message] | None) -> Any:
    messages = semconv_messages(attrs.get("gen_ai.input.messages"))
    system = system_instructions(attrs.get("gen_ai.system_instructions"))
    if messages is not None:
        return [system, *messages] if system else messages
    found = _first_found(lambda: indexed_messages(attrs, "gen_ai.prompt."),
                         lambda: event_inputs,
                         lambda: openinference_messages(attrs, "llm.input_messages."))
    if found:
        return found
    value = attrs.get("input.value")
    return value if value is None or isinstance(value, str) else str(value)


def _output(attrs: dict[str, Any], event_outputs: list[Message] | None) -> Any:
    found = _first_found(lambda: semconv_messages(attrs.get("gen_ai.output.messages")),
                         lambda: indexed_messages(attrs, "gen_ai.completion."),
                         lambda: event_outputs,
                         lambda: openinference_messages(attrs, "llm.output_messages."))
    return output_of(found) if found else attrs.get("output.value")


def _evaluation(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": fields.get("gen_ai.evaluation.name"),
        "score": fields.get("gen_ai.evaluation.score.value"),
        "label": fields.get("gen_ai.evaluation.score.label"),
        "explanation": fields.get("gen_ai.evaluation.explanation"),
    }


def _metadata(span: Any, attrs: dict[str, Any], resource: dict[str, Any],
              events: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    request = {key.removeprefix("gen_ai.request."): value for key, value in attrs.items()
               if key.startswith("gen_ai.request.") and key != "gen_ai.request.model"}
    invocation = json_value(attrs.get("llm.invocation_parameters"))
    if isinstance(invocation, dict):
        request = {**invocation, **request}
    meta: dict[str, Any] = {
        "otel": {"trace_id": hex_id(span.trace_id), "span_id": hex_id(span.span_id),
                 "parent_span_id": hex_id(span.parent_span_id) or None, "name": span.name},
        "resource": resource,
        "attributes": {key: value for key, value in attrs.items()
                       if not key.startswith(_CONSUMED)},
    }
    if request:
        meta["request"] = request
    evaluations = [_evaluation(fields) for name, fields in events if name == EVALUATION_EVENT]
    if evaluations:
        meta["evaluations"] = evaluations
    return meta


def span_to_call(span: Any, resource: dict[str, Any], *,
                 model_version_from: str = DEFAULT_MODEL_VERSION_FROM) -> dict[str, Any] | None:
    """The `normalize_call` fields of an LLM span (protobuf `Span`), or None for any other
    span. `resource` is the span's resource attributes (a dict)."""
    attrs = attributes(span.attributes)
    if not is_llm_span(attrs):
        return None
    events = [(event.name, attributes(event.attributes)) for event in span.events]
    model = _first(attrs, "gen_ai.response.model", "gen_ai.request.model", "llm.model_name")
    version = None
    if model_version_from != DEFAULT_MODEL_VERSION_FROM:
        version = _first(attrs, model_version_from)
        version = version if version is not None else _first(resource, model_version_from)
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    error = None
    if span.status.code == _STATUS_ERROR:
        error = span.status.message or attrs.get("error.type") or "error"
    meta = _metadata(span, attrs, resource, events)
    if model is not None:
        meta["model"] = model
    event_inputs, event_outputs = event_messages(events)
    return {
        "input": _input(attrs, event_inputs),
        "output": _output(attrs, event_outputs),
        "model_version": str(version if version is not None else model or "") or None,
        "created_at": nanos_to_datetime(start),
        "latency_ms": (end - start) / 1e6 if start and end >= start else None,
        "prompt_tokens": _first(attrs, "gen_ai.usage.input_tokens",
                                "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"),
        "completion_tokens": _first(attrs, "gen_ai.usage.output_tokens",
                                    "gen_ai.usage.completion_tokens",
                                    "llm.token_count.completion"),
        "error": error,
        "session_id": _first(attrs, "gen_ai.conversation.id", "session.id"),
        "metadata": meta,
        "external_id": f"{hex_id(span.trace_id)}:{hex_id(span.span_id)}",
    }
