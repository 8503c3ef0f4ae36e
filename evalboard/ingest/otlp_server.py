"""The OTLP/HTTP trace receiver: `POST /v1/traces` → calls in the store.

LLM spans become calls (see `otlp_mapping`); other spans are counted and ignored. Spans that
cannot be stored as calls are rejected with OTLP partial success. The answer has the request's
content type (protobuf or JSON).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from evalboard.ingest.http_body import BodyError, read_body
from evalboard.ingest.otlp_attributes import attributes
from evalboard.ingest.otlp_codec import (
    CONTENT_TYPES,
    PROTOBUF,
    BadRequest,
    decode_request,
    decompress,
    encode_response,
    encode_status,
    media_type,
)
from evalboard.ingest.otlp_mapping import DEFAULT_MODEL_VERSION_FROM, span_to_call
from evalboard.ingest.otlp_writer import Busy, Rows, Writer
from evalboard.store.records import normalize_call
from evalboard.store.values import CallValidationError

log = logging.getLogger(__name__)
TRACES_PATH = "/v1/traces"
MAX_BODY_BYTES = 64 * 1024 * 1024
RETRY_AFTER_S = 2
WRITE_WAIT_S = 60.0
# Calls handed to the writer at a time while a request is mapped: with one exporter waiting
# for each answer, the store writes the first chunk while the next is mapped.
MAP_CHUNK_ROWS = 128
_GRPC_INVALID_ARGUMENT, _GRPC_UNAVAILABLE = 3, 14


class RequestMapping:
    """The calls of an ExportTraceServiceRequest, mapped chunk by chunk (`chunks`): the
    writer can write the first calls while the rest are still being mapped. Non-LLM spans
    are counted in `ignored`, LLM spans that cannot be calls in `rejected` (one reason each)."""

    def __init__(self, request: Any, *, source: str, model_version_from: str) -> None:
        self._request = request
        self._source = source
        self._model_version_from = model_version_from
        self.ignored = 0
        self.rejected: list[str] = []

    def chunks(self, size: int) -> Iterator[Rows]:
        """Lists of at most `size` call rows, each as soon as it is mapped."""
        rows: Rows = []
        for resource_spans in self._request.resource_spans:
            resource = attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    row = self._row(span, resource)
                    if row is not None:
                        rows.append(row)
                        if len(rows) >= size:
                            yield rows
                            rows = []
        if rows:
            yield rows

    def _row(self, span: Any, resource: dict[str, Any]) -> dict[str, Any] | None:
        fields = span_to_call(span, resource, model_version_from=self._model_version_from)
        if fields is None:
            self.ignored += 1
            return None
        try:
            return normalize_call(source=self._source, **fields)
        except (CallValidationError, TypeError) as error:
            self.rejected.append(f"span {span.span_id.hex()}: {error}")
            return None


class OtlpHandler(BaseHTTPRequestHandler):
    server: OtlpServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base name
        log.debug(format, *args)

    def _reply(self, status: int, content_type: str, body: bytes,
               headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, content_type: str, message: str, grpc_code: int,
               headers: dict[str, str] | None = None) -> None:
        log.info("OTLP request refused (%d): %s", status, message)
        self._reply(status, content_type, encode_status(content_type, message, grpc_code),
                    headers)

    def do_POST(self) -> None:  # noqa: N802 - the http.server name
        content_type = media_type(self.headers.get("Content-Type"))
        answer_type = content_type if content_type in CONTENT_TYPES else PROTOBUF
        try:
            body = read_body(self.headers, self.rfile, MAX_BODY_BYTES)
        except BodyError as error:
            self.close_connection = True
            self._error(error.status, answer_type, str(error), _GRPC_INVALID_ARGUMENT)
            return
        if body is None:
            self.close_connection = True
            self._error(411, answer_type, "a Content-Length header or a chunked body is "
                        "required", _GRPC_INVALID_ARGUMENT)
        elif self.path.split("?")[0] != TRACES_PATH:
            self._error(404, answer_type, f"no such endpoint {self.path}; use {TRACES_PATH}", 5)
        elif content_type not in CONTENT_TYPES:
            self._error(415, PROTOBUF, f"Content-Type must be {' or '.join(CONTENT_TYPES)}, "
                        f"got {content_type or 'none'!r}", _GRPC_INVALID_ARGUMENT)
        else:
            self._export(body, content_type)

    def _export(self, body: bytes, content_type: str) -> None:
        try:
            plain = decompress(body, self.headers.get("Content-Encoding"), MAX_BODY_BYTES)
            request = decode_request(plain, content_type)
        except BadRequest as error:
            self._error(400, content_type, str(error), _GRPC_INVALID_ARGUMENT)
            return
        mapping = RequestMapping(request, source=self.server.source,
                                 model_version_from=self.server.model_version_from)
        try:
            stored, already = self.server.writer.store(mapping.chunks(MAP_CHUNK_ROWS),
                                                       WRITE_WAIT_S)
        except Busy as busy:
            self._error(503, content_type, str(busy), _GRPC_UNAVAILABLE,
                        {"Retry-After": str(RETRY_AFTER_S)})
            return
        rejected = mapping.rejected
        self.server.count(stored, already, mapping.ignored, len(rejected))
        message = "; ".join(rejected[:5])
        if rejected:
            message = f"{len(rejected)} LLM span(s) not stored as calls: {message}"
        self._reply(200, content_type, encode_response(content_type, len(rejected), message))


class OtlpServer(ThreadingHTTPServer):
    """The receiver; `serve_forever()` in a thread, `close()` to stop and finish writing."""

    daemon_threads = True

    def __init__(self, writer: Writer, host: str = "127.0.0.1", port: int = 4318, *,
                 source: str = "production",
                 model_version_from: str = DEFAULT_MODEL_VERSION_FROM) -> None:
        super().__init__((host, port), OtlpHandler)
        self.writer = writer
        self.source = source
        self.model_version_from = model_version_from
        self._lock = threading.Lock()
        self.totals = {"stored": 0, "already_stored": 0, "ignored": 0, "rejected": 0}

    def count(self, stored: int, already: int, ignored: int, rejected: int) -> None:
        with self._lock:
            for key, value in zip(self.totals, (stored, already, ignored, rejected), strict=True):
                self.totals[key] += value
        log.info("OTLP export: %d calls stored, %d already stored, %d non-LLM spans ignored, "
                 "%d rejected", stored, already, ignored, rejected)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """An exporter that hung up is logged in one line; anything else with its traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            log.info("OTLP client %s went away: %s", client_address[0], error)
        else:
            log.exception("OTLP receiver: error while serving %s", client_address[0])

    @property
    def port(self) -> int:
        return self.server_address[1]

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        self.writer.close()
