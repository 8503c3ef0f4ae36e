"""A small scripted OpenAI-compatible server on 127.0.0.1, for the proxy's tests and bench.

The request's `model` picks the script: any model answers ANSWER (streamed word by word with
`stream: true`, usage included unless the model is "no-usage"; a stream's usage chunk only with
`stream_options.include_usage`); "tools" answers with a tool call; "fail-400" and "fail-503"
answer that status with an OpenAI-style error that echoes the caller's Authorization header
(as some servers echo the key); "slow-stream" streams SLOW_PIECES words SLOW_GAP_S apart;
"break-stream" closes its connection after two words of a stream.
The server keeps the headers of the last request and counts streams a client cut short.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANSWER = "The answer is 42."
SLOW_PIECES, SLOW_GAP_S = 200, 0.01
TOOL_CALL = {"id": "call_1", "type": "function",
             "function": {"name": "lookup_order", "arguments": '{"order_id": "A17"}'}}


def _words(text: str) -> list[str]:
    words = text.split(" ")
    return [words[0]] + [" " + word for word in words[1:]]


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


class FakeUpstream(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.last_headers: Message = Message()
        self.streams_cut_short = 0
        self.requests = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeUpstream

    def setup(self) -> None:
        super().setup()  # as uvicorn and other servers do: no Nagle delay on small writes
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.server.requests += 1
        self.server.last_headers = self.headers
        if self.path == "/v1/models":
            self._json(200, {"object": "list", "data": [
                {"id": "fake-model", "object": "model", "created": 0, "owned_by": "test"}]})
        elif self.path == "/health":
            self._json(200, {"status": "ok"})
        else:
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

    def do_POST(self) -> None:
        self.server.requests += 1
        self.server.last_headers = self.headers
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        model = request.get("model", "")
        if model.startswith("fail-"):
            status = int(model.split("-")[1])
            self._json(status, {"error": {
                "message": f"refused for {self.headers.get('Authorization')}",
                "type": "invalid_request_error", "param": None, "code": "refused"}})
            return
        chat = self.path == "/v1/chat/completions"
        if self.path not in ("/v1/chat/completions", "/v1/completions"):
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            return
        if request.get("stream"):
            self._stream(request, chat)
            return
        usage = None if model == "no-usage" else _usage(11, 5)
        if chat:
            message: dict[str, Any] = {"role": "assistant", "content": ANSWER}
            finish = "stop"
            if model == "tools":
                message, finish = {"role": "assistant", "content": None,
                                   "tool_calls": [TOOL_CALL]}, "tool_calls"
            choice = {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
            body = {"id": "chatcmpl-1", "object": "chat.completion", "created": 0,
                    "model": model, "choices": [choice]}
        else:
            body = {"id": "cmpl-1", "object": "text_completion", "created": 0, "model": model,
                    "choices": [{"index": 0, "text": ANSWER, "finish_reason": "stop",
                                 "logprobs": None}]}
        if usage:
            body["usage"] = usage
        self._json(200, body)

    def _stream(self, request: dict[str, Any], chat: bool) -> None:
        model = request.get("model", "")
        slow = model == "slow-stream"
        words = ["word"] * SLOW_PIECES if slow else _words(ANSWER)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        base = {"id": "chatcmpl-s" if chat else "cmpl-s", "created": 0, "model": model,
                "object": "chat.completion.chunk" if chat else "text_completion"}
        chunks = []
        for index, word in enumerate(words):
            if chat:
                delta = {"role": "assistant", "content": word} if index == 0 else {"content": word}
                choice = {"index": 0, "delta": delta, "finish_reason": None}
            else:
                choice = {"index": 0, "text": word, "finish_reason": None}
            chunks.append({**base, "choices": [choice]})
        last = {"index": 0, "finish_reason": "stop", **({"delta": {}} if chat else {"text": ""})}
        chunks.append({**base, "choices": [last]})
        include_usage = (request.get("stream_options") or {}).get("include_usage")
        if include_usage and model != "no-usage":
            chunks.append({**base, "choices": [], "usage": _usage(11, len(words))})
        try:
            for index, chunk in enumerate(chunks):
                if model == "break-stream" and index == 2:
                    self.close_connection = True  # the server died mid-answer
                    return
                self._event(f"data: {json.dumps(chunk)}\n\n".encode())
                if slow:
                    time.sleep(SLOW_GAP_S)
            self._event(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            self.server.streams_cut_short += 1
            self.close_connection = True

    def _event(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))


@contextmanager
def running(server: ThreadingHTTPServer) -> Iterator[ThreadingHTTPServer]:
    """Serve `server` on a thread for the block; shut it down after, whatever happens."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def main() -> None:
    """`python -m tests.support.fake_openai_upstream`: serve on a free port (its base URL is the
    first line printed) until stopped."""
    server = FakeUpstream()
    print(server.url, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
