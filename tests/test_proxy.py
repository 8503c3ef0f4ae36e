"""The logging proxy with the official `openai` client in front and a fake upstream behind."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import openai
import pytest
from sqlalchemy import Engine, make_url, select
from sqlalchemy.orm import Session

from evalboard.client.connection import Evalboard
from evalboard.ingest.proxy_logging import TokenCounter
from evalboard.ingest.proxy_server import ProxyServer, make_proxy
from evalboard.store.models import Call
from tests.support.fake_openai_upstream import ANSWER, FakeUpstream, running
from tests.support.marks import sqlite_only

API_KEY = "sk-test-0123456789abcdef"
VERSION = "support-bot-v5"
MESSAGES = [{"role": "system", "content": "You are terse."},
            {"role": "user", "content": "What is the answer?"}]


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with running(FakeUpstream()) as server:
        yield server  # type: ignore[misc]


@contextmanager
def proxy_in_front(db_url: str, upstream_url: str, counter: TokenCounter | None = None
                   ) -> Iterator[tuple[ProxyServer, Evalboard]]:
    calls = Evalboard(db_url, model_version=VERSION, handle_signals=False, flush_interval=0.02)
    try:
        with running(make_proxy(upstream_url, calls, port=0, counter=counter)) as proxy:
            yield proxy, calls  # type: ignore[misc]
    finally:
        calls.close()


@pytest.fixture
def proxy(engine: Engine, db_url: str, upstream: FakeUpstream
          ) -> Iterator[tuple[ProxyServer, Evalboard]]:
    with proxy_in_front(db_url, upstream.url) as running_proxy:
        yield running_proxy


@pytest.fixture
def client(proxy: tuple[ProxyServer, Evalboard]) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy[0].url, api_key=API_KEY, max_retries=0)


def wait_until(condition: Callable[[], bool], seconds: float = 4.0) -> bool:
    """Whether `condition()` held within `seconds` (checked every 20 ms)."""
    waiting = threading.Event()
    for _ in range(int(seconds / 0.02)):
        if condition():
            return True
        waiting.wait(0.02)
    return condition()


def stored(engine: Engine, calls: Evalboard, expected: int = 1) -> list[Call]:
    """The stored calls, once `expected` are written (the proxy logs a call after its answer
    is sent, so the client may hold the answer a moment before the call is logged)."""
    rows: list[Call] = []

    def written() -> bool:
        calls.flush()
        with Session(engine) as session:
            rows[:] = session.scalars(select(Call).order_by(Call.id)).all()
            for row in rows:
                _ = row.model_version.name
        return len(rows) >= expected

    wait_until(written)
    return rows


def test_chat_completion_is_answered_and_logged(engine, proxy, client, upstream):
    answer = client.chat.completions.create(model="fake-model", messages=MESSAGES,
                                            temperature=0.2, max_tokens=64)
    assert answer.choices[0].message.content == ANSWER
    assert upstream.last_headers["Authorization"] == f"Bearer {API_KEY}"  # forwarded
    [call] = stored(engine, proxy[1])
    assert call.model_version.name == VERSION
    assert call.input_messages == MESSAGES
    assert call.output == ANSWER
    assert (call.prompt_tokens, call.completion_tokens) == (11, 5)
    assert call.error is None and call.latency_ms > 0
    assert call.meta["model"] == "fake-model"
    assert call.meta["parameters"] == {"temperature": 0.2, "max_tokens": 64}
    assert call.meta["token_counts"] == "usage"
    assert call.meta["endpoint"] == "/v1/chat/completions"
    assert call.meta["finish_reason"] == "stop"


def test_streamed_chat_reaches_the_client_and_is_assembled(engine, proxy, client):
    stream = client.chat.completions.create(model="fake-model", messages=MESSAGES, stream=True,
                                            stream_options={"include_usage": True})
    pieces = [chunk.choices[0].delta.content for chunk in stream
              if chunk.choices and chunk.choices[0].delta.content]
    assert pieces == ["The", " answer", " is", " 42."]
    [call] = stored(engine, proxy[1])
    assert call.output == ANSWER
    assert (call.prompt_tokens, call.completion_tokens) == (11, 4)
    assert 0 < call.meta["ttft_ms"] <= call.latency_ms
    assert call.meta["parameters"]["stream"] is True


def test_token_counts_are_estimated_when_the_upstream_gives_none(engine, proxy, client):
    stream = client.chat.completions.create(model="no-usage", messages=MESSAGES, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == ANSWER
    [call] = stored(engine, proxy[1])
    assert call.meta["token_counts"] == "estimate"
    prompt_text = "You are terse.\nWhat is the answer?"
    assert call.prompt_tokens == -(-len(prompt_text) // 4)
    assert call.completion_tokens == -(-len(ANSWER) // 4)


def test_token_counts_come_from_a_local_tokenizer_when_given(engine, db_url, upstream, tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = ["The", "answer", "is", "42", ".", "Say", "it", ":"]
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="The"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    counter = TokenCounter(tmp_path / "tokenizer.json")
    with proxy_in_front(db_url, upstream.url, counter) as (server, calls):
        client = openai.OpenAI(base_url=server.url, api_key=API_KEY, max_retries=0)
        client.completions.create(model="no-usage", prompt="Say it:")
        [call] = stored(engine, calls)
    assert call.meta["token_counts"] == "tokenizer"
    assert (call.prompt_tokens, call.completion_tokens) == (3, 5)  # "Say it :", "The ... 42 ."


def test_completions_and_tool_calls(engine, proxy, client):
    text = client.completions.create(model="fake-model", prompt="Say it:", max_tokens=8)
    assert text.choices[0].text == ANSWER
    tool = client.chat.completions.create(model="tools", messages=MESSAGES, tools=[{
        "type": "function", "function": {"name": "lookup_order", "parameters": {}}}])
    assert tool.choices[0].message.tool_calls[0].function.name == "lookup_order"
    completion, tool_call = stored(engine, proxy[1], 2)
    assert completion.input_text == "Say it:" and completion.input_messages is None
    assert completion.output == ANSWER
    assert completion.meta["endpoint"] == "/v1/completions"
    assert tool_call.meta["tool_calls"][0]["function"]["arguments"] == '{"order_id": "A17"}'
    assert json.loads(tool_call.output)[0]["function"]["name"] == "lookup_order"
    assert tool_call.meta["finish_reason"] == "tool_calls"


def test_models_and_other_paths_pass_through_unlogged(engine, proxy, client):
    assert [model.id for model in client.models.list()] == ["fake-model"]
    origin = proxy[0].url.removesuffix("/v1")
    with urllib.request.urlopen(f"{origin}/health") as answer:
        assert json.load(answer) == {"status": "ok"}
    client.completions.create(model="fake-model", prompt="Say it:")
    [call] = stored(engine, proxy[1])  # only the completion
    assert call.meta["endpoint"] == "/v1/completions"


@pytest.mark.parametrize("status, error", [(400, openai.BadRequestError),
                                           (503, openai.InternalServerError)])
def test_upstream_error_reaches_the_client_unchanged_and_is_logged(engine, proxy, client,
                                                                   status, error):
    with pytest.raises(error) as raised:
        client.chat.completions.create(model=f"fail-{status}", messages=MESSAGES)
    assert raised.value.status_code == status
    assert raised.value.body["code"] == "refused"  # the upstream's own body
    [call] = stored(engine, proxy[1])
    assert call.error.startswith(f"upstream answered {status}: refused for ")
    assert call.output is None and call.meta["status"] == status


def test_unreachable_upstream_is_a_502_and_logged(engine, db_url):
    with FakeUpstream() as closed:  # a port that nobody listens on once it is closed
        dead_url = closed.url
    with proxy_in_front(db_url, dead_url) as (server, calls):
        client = openai.OpenAI(base_url=server.url, api_key=API_KEY, max_retries=0)
        with pytest.raises(openai.APIStatusError) as raised:
            client.chat.completions.create(model="fake-model", messages=MESSAGES)
        assert raised.value.status_code == 502
        assert raised.value.body["type"] == "upstream_unreachable"
        [call] = stored(engine, calls)
    assert call.error.startswith("cannot connect to the upstream")
    assert call.input_messages == MESSAGES


def test_client_leaving_mid_stream_closes_the_upstream_and_logs_the_partial_output(
        engine, proxy, client, upstream):
    stream = client.chat.completions.create(model="slow-stream", messages=MESSAGES, stream=True)
    received = []
    for chunk in stream:
        received.append(chunk.choices[0].delta.content)
        if len(received) == 3:
            break
    stream.close()
    [call] = stored(engine, proxy[1])
    assert "client disconnected" in call.error and "partial" in call.error
    assert call.output.startswith("".join(received))
    assert len(call.output) < len("word") * 200
    assert wait_until(lambda: upstream.streams_cut_short == 1)  # noticed at its next write


def test_an_upstream_breaking_off_mid_stream_is_passed_on_and_logged(engine, proxy, client):
    stream = client.chat.completions.create(model="break-stream", messages=MESSAGES, stream=True)
    received = []
    with pytest.raises(openai.APIConnectionError):  # the client sees a cut answer, not a whole
        for chunk in stream:
            received.append(chunk.choices[0].delta.content)
    assert received == ["The", " answer"]
    [call] = stored(engine, proxy[1])
    assert call.output == "The answer"
    assert call.error.startswith("the upstream broke off its answer")


@sqlite_only
def test_a_locked_store_does_not_slow_answers_and_loses_nothing(engine, db_url, proxy, client):
    with sqlite3.connect(make_url(db_url).database, isolation_level=None) as blocker:
        blocker.execute("BEGIN IMMEDIATE")  # holds the write lock
        for index in range(5):
            started = time.perf_counter()
            client.completions.create(model="fake-model", prompt=f"p{index}")
            assert time.perf_counter() - started < 0.5
        # all five wait for the lock (the fifth is logged just after its answer is sent)
        assert wait_until(lambda: proxy[1].pending == 5)
        blocker.execute("ROLLBACK")
    calls = stored(engine, proxy[1], 5)
    assert [call.input_text for call in calls] == [f"p{index}" for index in range(5)]


def test_a_malformed_request_is_a_400_and_not_forwarded(engine, proxy, upstream):
    with socket.create_connection(proxy[0].server_address[:2]) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: lots\r\n\r\n{}")
        answer = sock.makefile("rb").read()
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"malformed" in answer
    assert upstream.requests == 0


def test_a_chunked_request_is_forwarded_whole_and_a_cut_chunk_is_a_400(engine, proxy,
                                                                      upstream):
    body = json.dumps({"model": "fake-model", "messages": MESSAGES}).encode()
    middle = len(body) // 2
    framed = b"".join(b"%x\r\n%s\r\n" % (len(part), part)
                      for part in (body[:middle], body[middle:])) + b"0\r\n\r\n"
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    with socket.create_connection(proxy[0].server_address[:2]) as sock:
        sock.sendall(head + framed)
        answer = sock.makefile("rb").read()
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert stored(engine, proxy[1])[0].input_messages == MESSAGES
    with socket.create_connection(proxy[0].server_address[:2]) as sock:
        sock.sendall(head + b"ff\r\n{}")
        sock.shutdown(socket.SHUT_WR)
        assert sock.makefile("rb").read().startswith(b"HTTP/1.1 400 ")
    assert upstream.requests == 1


def test_a_stop_lets_the_requests_in_flight_finish_and_logs_them(engine, db_url, upstream):
    calls = Evalboard(db_url, model_version=VERSION, handle_signals=False)
    server = make_proxy(upstream.url, calls, port=0)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    client = openai.OpenAI(base_url=server.url, api_key=API_KEY, max_retries=0)
    pieces: list[str] = []

    def read_a_long_stream() -> None:
        for chunk in client.chat.completions.create(model="slow-stream", messages=MESSAGES,
                                                    stream=True):
            pieces.extend(c.delta.content for c in chunk.choices if c.delta.content)

    reading = threading.Thread(target=read_a_long_stream)
    reading.start()
    try:
        assert wait_until(lambda: len(pieces) > 3)
        server.shutdown()  # as SIGTERM does in `evalboard proxy`
        assert server.drain(10) == 0
    finally:
        server.server_close()
        calls.close()
        reading.join(10)
    assert len(pieces) == 200
    [call] = stored(engine, calls)
    assert call.output == "word" * 200 and call.error is None


def test_the_api_key_is_forwarded_and_never_stored(engine, proxy, client, upstream):
    client.chat.completions.create(model="fake-model", messages=MESSAGES)
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model="fail-400", messages=MESSAGES)
    assert API_KEY in raised.value.message  # the upstream echoed it to the client, unchanged
    assert upstream.last_headers["Authorization"] == f"Bearer {API_KEY}"
    calls = stored(engine, proxy[1], 2)
    assert len(calls) == 2
    for call in calls:
        row = {column.key: getattr(call, column.key) for column in Call.__mapper__.column_attrs}
        assert API_KEY not in json.dumps(row, default=str)
        assert "Bearer" not in json.dumps(row, default=str)
    assert "[redacted]" in calls[1].error
