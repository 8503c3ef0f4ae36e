"""The OpenAI-compatible logging proxy: forwards every request to the upstream and logs
`POST /v1/chat/completions` and `POST /v1/completions` as calls.

Paths under `/v1/` go to the upstream's base URL (`--upstream http://host:8000/v1`: `/v1/models`
-> `http://host:8000/v1/models`); other paths (`/health`, `/metrics`) go to the upstream's
origin unchanged. Bodies are relayed piece by piece as they arrive (a stream is never held
back); status, headers and body of the upstream's answer reach the client unchanged, errors
included; an unreachable upstream is a 502 with a JSON error. Each call is logged after its
answer is sent, through the batching client (a slow store does not slow answers; only a full
queue makes a handler wait: back-pressure, never a drop); on stop, `drain()` lets the requests
in flight finish and be logged before the client is closed. Headers are never stored.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import urlsplit

from evalboard.ingest.http_body import read_body
from evalboard.ingest.proxy_logging import ENDPOINTS, CallRecorder, TokenCounter, header_secrets

log = logging.getLogger(__name__)

API_PREFIX = "/v1"
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                         "te", "trailer", "trailers", "transfer-encoding", "upgrade", "host",
                         "content-length", "expect"})
_PIECE = 65536
_IDLE_KEPT = 64


class CallLog(Protocol):
    """What the proxy logs through: `evalboard.client.connection.Evalboard` in batch mode."""

    def log_call(self, input: Any, output: Any = None, **fields: Any) -> int: ...  # noqa: A002


class UpstreamError(OSError):
    """The upstream could not be reached or broke off before answering."""


class Upstream:
    """Keep-alive connections to the upstream server, reused across requests."""

    def __init__(self, base_url: str, timeout: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the upstream must be an http:// or https:// URL, got {base_url!r}")
        self.base_url = base_url
        self.netloc = parts.netloc
        self.base_path = parts.path.rstrip("/")
        self._connection_class = (http.client.HTTPSConnection if parts.scheme == "https"
                                  else http.client.HTTPConnection)
        self._host, self._port, self._timeout = parts.hostname, parts.port, timeout
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def target(self, path: str) -> str:
        """The upstream path for a request path (query string kept)."""
        if path == API_PREFIX or path.startswith((API_PREFIX + "/", API_PREFIX + "?")):
            return self.base_path + path[len(API_PREFIX):]
        return path

    def _connect(self) -> http.client.HTTPConnection:
        connection = self._connection_class(self._host, self._port, timeout=self._timeout)
        connection.connect()
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection

    def send(self, method: str, path: str, body: bytes, headers: dict[str, str]
             ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """Send a request; retries once on a fresh connection when a kept-alive one turns out
        to have been closed by the upstream. Raises UpstreamError."""
        with self._lock:
            connection = self._idle.pop() if self._idle else None
        for reused in (True, False):
            if connection is None:
                reused = False
                try:
                    connection = self._connect()
                except OSError as exc:
                    raise UpstreamError(f"cannot connect to the upstream {self.base_url}: "
                                        f"{exc}") from exc
            try:
                connection.request(method, path, body=body, headers=headers)
                return connection, connection.getresponse()
            except (http.client.HTTPException, OSError) as exc:
                connection.close()
                connection = None
                if not reused:
                    raise UpstreamError(f"the upstream {self.base_url} did not answer: "
                                        f"{exc or type(exc).__name__}") from exc
        raise AssertionError("unreachable")

    def release(self, connection: http.client.HTTPConnection,
                response: http.client.HTTPResponse, reusable: bool) -> None:
        """Keep the connection for the next request if the answer was read to its end."""
        if reusable and response.isclosed() and not response.will_close:
            with self._lock:
                if len(self._idle) < _IDLE_KEPT:
                    self._idle.append(connection)
                    return
        connection.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


class ProxyServer(ThreadingHTTPServer):
    """One thread per client connection; `serve_forever()` to run, `shutdown()` to stop."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], upstream: Upstream, calls: CallLog,
                 counter: TokenCounter | None = None) -> None:
        self.upstream = upstream
        self.calls = calls
        self.counter = counter or TokenCounter()
        self.stopping = False
        self._active = 0
        self._idle = threading.Condition()
        super().__init__(address, ProxyHandler)

    @contextmanager
    def exchange(self) -> Iterator[None]:
        """Count a request as in flight until it is answered and logged."""
        with self._idle:
            self._active += 1
        try:
            yield
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def drain(self, timeout: float) -> int:
        """After `serve_forever()` returned: refuse new requests (503) and wait at most
        `timeout` seconds for those in flight to be answered and logged; returns how many are
        still in flight."""
        deadline = time.monotonic() + timeout
        with self._idle:
            self.stopping = True
            while self._active and time.monotonic() < deadline:
                self._idle.wait(deadline - time.monotonic())
            return self._active

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}{API_PREFIX}"

    def server_close(self) -> None:
        super().server_close()
        self.upstream.close()

    def record(self, recorder: CallRecorder, error: str | None = None) -> None:
        """Log the exchange; a call the store refuses is reported in the proxy's log."""
        try:
            self.calls.log_call(**recorder.fields(time.perf_counter(), self.counter, error))
        except Exception as exc:  # noqa: BLE001 - the answer is sent; say what was not logged
            log.error("evalboard proxy: the call to %s was not logged: %s", recorder.path, exc)


class ProxyHandler(BaseHTTPRequestHandler):
    """Relays one client connection's requests to the upstream."""

    protocol_version = "HTTP/1.1"
    server: ProxyServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        with self.server.exchange():
            if self.server.stopping:
                self.close_connection = True
                self._send_json(503, {"error": {"message": "the proxy is stopping",
                                                "type": "unavailable", "code": 503}})
            else:
                self._proxy()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _proxy(self) -> None:
        started = time.perf_counter()
        try:
            body = self._read_body()
        except ValueError:
            self.close_connection = True  # where the next request starts is unknown
            self._send_json(400, {"error": {"message": "the request body's length or chunked "
                                            "framing is malformed", "type": "bad_request",
                                            "code": 400}})
            return
        upstream = self.server.upstream
        path = upstream.target(self.path)
        api_path = self.path[len(API_PREFIX):].split("?", 1)[0]
        in_api = self.path.startswith(API_PREFIX + "/")
        kind = ENDPOINTS.get(api_path) if self.command == "POST" and in_api else None
        recorder = None
        if kind is not None:
            secrets = header_secrets(self.headers.get("Authorization"),
                                     self.headers.get("api-key"), self.headers.get("x-api-key"))
            recorder = CallRecorder(kind, API_PREFIX + api_path, body, started, secrets)
        headers = {name: value for name, value in self.headers.items()
                   if name.lower() not in _HOP_BY_HOP}
        headers["Host"] = upstream.netloc
        if recorder is not None:
            headers["Accept-Encoding"] = "identity"  # the log reads the body as it passes
        if body or self.command in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = str(len(body))
        try:
            connection, response = upstream.send(self.command, path, body, headers)
        except UpstreamError as exc:
            self._send_json(502, {"error": {"message": str(exc), "type": "upstream_unreachable",
                                            "code": 502}})
            if recorder is not None:
                self.server.record(recorder, str(exc))
            return
        reusable = False
        try:
            reusable = self._relay(connection, response, recorder)
        finally:
            upstream.release(connection, response, reusable)

    def _read_body(self) -> bytes:
        return read_body(self.headers, self.rfile) or b""

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _relay(self, connection: http.client.HTTPConnection, response: http.client.HTTPResponse,
               recorder: CallRecorder | None) -> bool:
        """Send the upstream's answer on as it arrives; True when it was relayed whole."""
        if recorder is not None:
            recorder.response_started(response.status, response.getheader("Content-Type"),
                                      response.getheader("Content-Encoding"))
        length = response.getheader("Content-Length")
        bodiless = self.command == "HEAD" or response.status in (204, 304) or response.status < 200
        chunked = length is None and not bodiless and self.request_version == "HTTP/1.1"
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        if length is not None:
            self.send_header("Content-Length", length)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif length is None and not bodiless:
            self.close_connection = True  # an HTTP/1.0 client: the body ends with the connection
        try:
            self.end_headers()
        except OSError:
            return self._client_left(connection, recorder, 0)
        frame: Callable[[bytes], bytes] = (
            (lambda piece: b"%x\r\n%s\r\n" % (len(piece), piece)) if chunked else (lambda p: p))
        pieces = 0
        while True:
            try:
                piece = response.read1(_PIECE)
            except (http.client.HTTPException, OSError) as exc:
                self.close_connection = True  # the client must not take a cut body as whole
                if recorder is not None:
                    self.server.record(recorder, f"the upstream broke off its answer: {exc}")
                return False
            if not piece:
                break
            if recorder is not None:
                recorder.feed(piece, time.perf_counter())
            try:
                self.wfile.write(frame(piece))
            except OSError:
                return self._client_left(connection, recorder, pieces)
            pieces += 1
        try:
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except OSError:
            return self._client_left(connection, recorder, pieces)
        if recorder is not None:
            self.server.record(recorder)
        return True

    def _client_left(self, connection: http.client.HTTPConnection,
                     recorder: CallRecorder | None, pieces: int) -> bool:
        """The client went away: close the upstream's stream and log what was generated."""
        self.close_connection = True
        connection.close()
        if recorder is not None:
            self.server.record(recorder, f"the client disconnected after {pieces} piece(s) of "
                                         "the answer; the output is partial")
        return False


def make_proxy(upstream_url: str, calls: CallLog, *, host: str = "127.0.0.1", port: int = 8700,
               timeout: float = 600.0, counter: TokenCounter | None = None) -> ProxyServer:
    """A proxy server bound to host:port (port 0: a free one) in front of `upstream_url`."""
    return ProxyServer((host, port), Upstream(upstream_url, timeout), calls, counter)
