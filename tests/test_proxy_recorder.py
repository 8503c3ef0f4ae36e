"""What the proxy makes of an exchange it saw: streamed tool calls, several choices, a gzip
answer, a body that is not JSON, a cut stream, secrets echoed back."""

from __future__ import annotations

import gzip
import json

from evalboard.ingest.proxy_logging import (
    CHAT,
    COMPLETIONS,
    CallRecorder,
    TokenCounter,
    header_secrets,
)

MESSAGES = [{"role": "user", "content": "Where is order A17?"}]


def _events(*chunks: dict) -> bytes:
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + \
        b"data: [DONE]\n\n"


def _chat(stream: bool = False) -> CallRecorder:
    body = json.dumps({"model": "m", "messages": MESSAGES, "stream": stream}).encode()
    return CallRecorder(CHAT, "/v1/chat/completions", body, started=0.0)


def test_streamed_tool_call_deltas_are_joined():
    recorder = _chat(stream=True)
    recorder.response_started(200, "text/event-stream; charset=utf-8", None)
    data = _events(
        {"choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [
            {"index": 0, "id": "call_9", "type": "function",
             "function": {"name": "lookup", "arguments": ""}}]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "function": {"arguments": '{"order_id": '}}]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "function": {"arguments": '"A17"}'}}]}, "finish_reason": "tool_calls"}]},
    )
    for offset in range(0, len(data), 7):  # pieces that cut lines anywhere
        recorder.feed(data[offset:offset + 7], now=0.01)
    fields = recorder.fields(0.5, TokenCounter())
    [call] = fields["metadata"]["tool_calls"]
    assert call == {"id": "call_9", "type": "function",
                    "function": {"name": "lookup", "arguments": '{"order_id": "A17"}'}}
    assert json.loads(fields["output"]) == [call]
    assert fields["metadata"]["finish_reason"] == "tool_calls"
    assert fields["metadata"]["ttft_ms"] == 10.0
    assert fields["latency_ms"] == 500.0


def test_other_choices_and_a_gzip_answer():
    recorder = CallRecorder(COMPLETIONS, "/v1/completions",
                            json.dumps({"model": "m", "prompt": ["Hi"], "n": 2}).encode(), 0.0)
    recorder.response_started(200, "application/json", "gzip")
    recorder.feed(gzip.compress(json.dumps({"choices": [
        {"index": 1, "text": "second"}, {"index": 0, "text": "first"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2}}).encode()), 0.1)
    fields = recorder.fields(0.2, TokenCounter())
    assert fields["input"] == "Hi"
    assert fields["output"] == "first"
    assert fields["metadata"]["other_choices"] == ["second"]
    assert fields["metadata"]["parameters"] == {"n": 2}
    assert (fields["prompt_tokens"], fields["completion_tokens"]) == (1, 2)


def test_a_body_that_is_not_json_is_logged_as_sent_with_the_upstream_error():
    recorder = CallRecorder(CHAT, "/v1/chat/completions", b"{not json", 0.0)
    recorder.response_started(400, "application/json", None)
    recorder.feed(b'{"detail": "invalid JSON"}', 0.1)
    fields = recorder.fields(0.1, TokenCounter())
    assert fields["input"] == "{not json"
    assert fields["error"] == "upstream answered 400: invalid JSON"
    assert fields["prompt_tokens"] is None and fields["output"] is None


def test_a_cut_stream_keeps_what_arrived_and_says_why():
    recorder = _chat(stream=True)
    recorder.response_started(200, "text/event-stream", None)
    recorder.feed(_events({"choices": [{"index": 0, "delta": {"content": "Order A17 is"}}]})[:-15],
                  0.1)
    fields = recorder.fields(0.2, TokenCounter(), error="the client disconnected")
    assert fields["output"] == "Order A17 is"
    assert fields["error"] == "the client disconnected"
    assert fields["metadata"]["token_counts"] == "estimate"
    assert fields["completion_tokens"] == 3  # 12 characters


def test_secrets_are_scrubbed_from_every_field():
    key = "sk-live-secret"
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": f"my key {key}"}],
                       "user": key}).encode()
    recorder = CallRecorder(CHAT, "/v1/chat/completions", body, 0.0,
                            header_secrets(f"Bearer {key}"))
    recorder.response_started(401, "application/json", None)
    recorder.feed(json.dumps({"error": {"message": f"bad key Bearer {key}"}}).encode(), 0.1)
    fields = recorder.fields(0.1, TokenCounter())
    assert key not in json.dumps(fields)
    assert fields["error"] == "upstream answered 401: bad key [redacted]"
