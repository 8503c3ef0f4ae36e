"""A fake OpenAI-compatible chat server on 127.0.0.1 that answers from a script.

Each POST to /v1/chat/completions takes the next scripted reply (the last one repeats when the
script runs out; with none, `default`). A reply is the assistant's text, or a `Reply` with an
HTTP status, a raw body or a delay. `FakeOpenAI(answer=fn)` answers with fn(request body)
instead. Every request body is kept (`requests`; headers with lowercase names in `headers_seen`),
so a test counts what a backend asked.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.fake_openai_upstream import running

PASS = '{"verdict": "pass", "score": 1.0, "reason": "looks right"}'
FAIL = '{"verdict": "fail", "score": 0.0, "reason": "states a false fact"}'


@dataclass(frozen=True)
class Reply:
    """One scripted answer: assistant text, or an HTTP error status / a raw body."""

    text: str = ""
    status: int = 200
    raw_body: bytes | None = None
    delay_s: float = 0.0


Script = Sequence[str | Reply]


class FakeOpenAI(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, script: Script = (), *, default: str | Reply = PASS,
                 answer: Callable[[dict[str, Any]], str | Reply] | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self._script = list(script)
        self.default = default
        self.answer = answer
        self.requests: list[dict[str, Any]] = []
        self.headers_seen: list[dict[str, str]] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def script(self, *replies: str | Reply) -> None:
        """Replace the script: the next requests get these replies in order."""
        with self._lock:
            self._script = list(replies)

    def prompts(self) -> list[str]:
        """The last message's content of every request, in order."""
        return [r["messages"][-1]["content"] for r in self.requests]

    def next_reply(self, body: dict[str, Any], headers: dict[str, str]) -> Reply:
        with self._lock:
            self.requests.append(body)
            self.headers_seen.append(headers)
            if self.answer is not None:
                reply: str | Reply = self.answer(body)
            elif self._script:
                reply = self._script.pop(0) if len(self._script) > 1 else self._script[0]
            else:
                reply = self.default
        return Reply(text=reply) if isinstance(reply, str) else reply


def completion(text: str, model: str) -> dict[str, Any]:
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeOpenAI

    def setup(self) -> None:
        super().setup()  # as real servers do: no Nagle delay between headers and body
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._send(400, b'{"error": {"message": "not JSON"}}')
            return
        reply = self.server.next_reply(body, {k.lower(): v for k, v in self.headers.items()})
        if reply.delay_s:
            time.sleep(reply.delay_s)
        if reply.raw_body is not None:
            self._send(reply.status, reply.raw_body)
        elif reply.status != 200:
            self._send(reply.status, json.dumps({"error": {
                "message": reply.text or f"scripted {reply.status}", "type": "server_error"}
            }).encode())
        else:
            self._send(200, json.dumps(completion(reply.text, body.get("model", ""))).encode())


@contextmanager
def fake_openai(script: Script = (), **kwargs: Any) -> Iterator[FakeOpenAI]:
    """A started FakeOpenAI for the block."""
    with running(FakeOpenAI(script, **kwargs)) as server:
        yield server
