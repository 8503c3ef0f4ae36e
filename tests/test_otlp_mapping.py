"""Spans of each instrumentation dialect, sent by the real OpenTelemetry SDK exporter, as calls."""

from __future__ import annotations

import json

from opentelemetry.sdk.trace.export import SpanExportResult
from sqlalchemy import select
from sqlalchemy.orm import Session

from evalboard.store.models import Call
from tests.support.otlp import export, make_spans, running_receiver

QUESTION = "What is the refund window?"
ANSWER = "30 days from delivery."


def stored_calls(engine) -> list[Call]:
    with Session(engine) as session:
        calls = list(session.scalars(select(Call).order_by(Call.created_at)))
        for call in calls:
            _ = call.model_version.name
        return calls


def send(engine, *specs, **options) -> list[Call]:
    with running_receiver(engine, **options) as server:
        assert export(server, make_spans(*specs)) == SpanExportResult.SUCCESS
    return stored_calls(engine)


def test_genai_semconv_messages_with_tool_calls_and_usage(engine):
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "llama-3-8b-ft",
        "gen_ai.response.model": "llama-3-8b-ft-0613",
        "gen_ai.request.temperature": 0.2,
        "gen_ai.usage.input_tokens": 42,
        "gen_ai.usage.output_tokens": 7,
        "gen_ai.conversation.id": "conv-9",
        "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be brief."}]),
        "gen_ai.input.messages": json.dumps([
            {"role": "user", "parts": [{"type": "text", "content": QUESTION}]},
            {"role": "assistant", "parts": [{"type": "tool_call", "id": "call_1",
                                             "name": "policy", "arguments": {"topic": "refund"}}]},
            {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1",
                                        "response": "30 days"}]},
        ]),
        "gen_ai.output.messages": json.dumps([
            {"role": "assistant", "parts": [{"type": "text", "content": ANSWER}],
             "finish_reason": "stop"}]),
        "app.user_tier": "gold",
    }
    [call] = send(engine, {"attributes": attributes})
    roles = [m["role"] for m in call.input_messages]
    assert roles == ["system", "user", "assistant", "tool"]
    assert call.input_messages[1]["content"] == QUESTION
    tool_call = call.input_messages[2]["tool_calls"][0]
    assert tool_call["function"] == {"name": "policy", "arguments": '{"topic": "refund"}'}
    assert call.input_messages[3]["tool_call_id"] == "call_1"
    assert call.output == ANSWER
    assert (call.prompt_tokens, call.completion_tokens, call.total_tokens) == (42, 7, 49)
    assert call.model_version.name == "llama-3-8b-ft-0613"  # response model over request model
    assert call.session_id == "conv-9"
    assert call.meta["request"] == {"temperature": 0.2}
    assert call.meta["attributes"]["app.user_tier"] == "gold"
    assert call.meta["resource"]["service.name"] == "support-bot"
    assert call.latency_ms is not None and call.latency_ms >= 0
    assert call.source == "production"


def test_older_genai_prompt_and_completion_attributes(engine):
    attributes = {
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-ft",
        "gen_ai.prompt.0.role": "system", "gen_ai.prompt.0.content": "Be brief.",
        "gen_ai.prompt.1.role": "user", "gen_ai.prompt.1.content": QUESTION,
        "gen_ai.completion.0.role": "assistant", "gen_ai.completion.0.content": "",
        "gen_ai.completion.0.tool_calls.0.id": "call_7",
        "gen_ai.completion.0.tool_calls.0.name": "lookup",
        "gen_ai.completion.0.tool_calls.0.arguments": '{"q": "refund"}',
        "gen_ai.usage.prompt_tokens": 11,
    }
    [call] = send(engine, {"attributes": attributes})
    assert [m["content"] for m in call.input_messages] == ["Be brief.", QUESTION]
    output = json.loads(call.output)  # a tool call answer is kept as the message
    assert output["tool_calls"][0]["function"]["name"] == "lookup"
    assert (call.prompt_tokens, call.completion_tokens) == (11, None)
    assert call.model_version.name == "gpt-ft"


def test_genai_event_form(engine):
    events = [("gen_ai.user.message", {"content": QUESTION}),
              ("gen_ai.choice", {"message": json.dumps({"role": "assistant",
                                                        "content": ANSWER})})]
    [call] = send(engine, {"attributes": {"gen_ai.operation.name": "chat",
                                          "gen_ai.request.model": "m"}, "events": events})
    assert call.input_messages == [{"role": "user", "content": QUESTION}]
    assert call.output == ANSWER


def test_openinference_messages_and_missing_token_counts(engine):
    attributes = {
        "openinference.span.kind": "LLM",
        "llm.model_name": "mistral-ft",
        "llm.input_messages.0.message.role": "user",
        "llm.input_messages.0.message.content": QUESTION,
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.tool_calls.0.tool_call.id": "c1",
        "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "policy",
        "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": "{}",
        "llm.invocation_parameters": json.dumps({"max_tokens": 64}),
        "session.id": "s-1",
        "input.value": "ignored: messages win",
    }
    [call] = send(engine, {"attributes": attributes})
    assert call.input_messages == [{"role": "user", "content": QUESTION}]
    assert json.loads(call.output)["tool_calls"][0]["id"] == "c1"
    assert (call.prompt_tokens, call.completion_tokens, call.total_tokens) == (None, None, None)
    assert call.model_version.name == "mistral-ft"
    assert call.session_id == "s-1"
    assert call.meta["request"] == {"max_tokens": 64}


def test_openinference_input_and_output_values(engine):
    [call] = send(engine, {"attributes": {"openinference.span.kind": "LLM",
                                          "input.value": QUESTION, "output.value": ANSWER,
                                          "llm.token_count.prompt": 5,
                                          "llm.token_count.completion": 3}})
    assert (call.input_text, call.output) == (QUESTION, ANSWER)
    assert (call.prompt_tokens, call.completion_tokens) == (5, 3)


def test_genai_semconv_wins_over_openinference_on_the_same_span(engine):
    [call] = send(engine, {"attributes": {
        "gen_ai.operation.name": "chat", "openinference.span.kind": "LLM",
        "gen_ai.request.model": "semconv-model", "llm.model_name": "oi-model",
        "gen_ai.usage.input_tokens": 9, "llm.token_count.prompt": 1,
        "gen_ai.input.messages": json.dumps([{"role": "user",
                                              "parts": [{"type": "text", "content": "A"}]}]),
        "llm.input_messages.0.message.role": "user",
        "llm.input_messages.0.message.content": "B",
    }})
    assert call.input_messages[0]["content"] == "A"
    assert call.prompt_tokens == 9
    assert call.model_version.name == "semconv-model"


def test_non_llm_spans_are_counted_and_ignored(engine):
    llm = {"attributes": {"openinference.span.kind": "LLM", "input.value": QUESTION}}
    with running_receiver(engine) as server:
        spans = make_spans({"name": "GET /ask", "attributes": {"http.method": "GET"}},
                           {"attributes": {"gen_ai.operation.name": "execute_tool"}},
                           {"attributes": {"openinference.span.kind": "RETRIEVER"}}, llm)
        assert export(server, spans) == SpanExportResult.SUCCESS
        assert server.totals["ignored"] == 3 and server.totals["stored"] == 1
    assert [call.input_text for call in stored_calls(engine)] == [QUESTION]


def test_status_error_and_evaluation_events(engine):
    evaluation = ("gen_ai.evaluation.result", {
        "gen_ai.evaluation.name": "relevance", "gen_ai.evaluation.score.value": 0.25,
        "gen_ai.evaluation.score.label": "irrelevant",
        "gen_ai.evaluation.explanation": "answers another question"})
    [call] = send(engine, {"attributes": {"openinference.span.kind": "LLM",
                                          "input.value": QUESTION},
                           "events": [evaluation], "error": "upstream timed out"})
    assert call.error == "upstream timed out"
    assert call.meta["evaluations"] == [{"name": "relevance", "score": 0.25,
                                         "label": "irrelevant",
                                         "explanation": "answers another question"}]


def test_model_version_from_a_resource_or_span_attribute(engine):
    spec = {"attributes": {"gen_ai.operation.name": "chat", "gen_ai.request.model": "base-8b",
                           "input.value": QUESTION, "app.release": "r42"}}
    send(engine, spec, model_version_from="service.version")
    send(engine, spec, model_version_from="app.release")
    send(engine, spec, model_version_from="gen_ai.request.model")
    send(engine, spec, model_version_from="no.such.attribute")
    names = [call.model_version.name for call in stored_calls(engine)]
    assert names == ["v5", "r42", "base-8b", "base-8b"]
