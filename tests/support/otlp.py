"""OTLP test helpers: a receiver on a free 127.0.0.1 port, spans made by the real
OpenTelemetry SDK, and raw posts (protobuf, OTLP JSON, gzip)."""

from __future__ import annotations

import base64
import gzip
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode
from sqlalchemy import Engine

from evalboard.ingest.otlp_server import OtlpServer
from evalboard.ingest.otlp_writer import WriteRows, make_writer

RESOURCE = {"service.name": "support-bot", "service.version": "v5"}


@contextmanager
def running_receiver(engine: Engine, *, write: WriteRows | None = None, ack: str = "stored",
                     writer_options: dict[str, Any] | None = None,
                     **options: Any) -> Iterator[OtlpServer]:
    """A receiver on 127.0.0.1 (a free port), served from a thread, closed afterwards."""
    writer = make_writer(engine, ack, write, **(writer_options or {}))
    server = OtlpServer(writer, "127.0.0.1", 0, **options)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.close()
        thread.join(5)


def endpoint(server: OtlpServer) -> str:
    return f"http://127.0.0.1:{server.port}/v1/traces"


def make_spans(*specs: dict[str, Any], resource: dict[str, Any] | None = None
               ) -> list[ReadableSpan]:
    """Finished SDK spans: each spec has `attributes`, optional `name`, `events`
    ([(name, attributes)]) and `error` (a status message)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create(resource or RESOURCE))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("evalboard-tests")
    for spec in specs:
        with tracer.start_as_current_span(spec.get("name", "chat"),
                                          attributes=spec.get("attributes", {})) as span:
            for name, attrs in spec.get("events", []):
                span.add_event(name, attrs)
            if "error" in spec:
                span.set_status(Status(StatusCode.ERROR, spec["error"]))
    provider.shutdown()
    return list(memory.get_finished_spans())


def export(server: OtlpServer, spans: Sequence[ReadableSpan], *, gzip_body: bool = False) -> Any:
    """Send with the SDK's OTLP/HTTP exporter (protobuf); its SpanExportResult."""
    return export_to(endpoint(server), spans, gzip_body=gzip_body)


def export_to(url: str, spans: Sequence[ReadableSpan], *, gzip_body: bool = False) -> Any:
    exporter = OTLPSpanExporter(endpoint=url, timeout=10,
                                compression=Compression.Gzip if gzip_body else None)
    try:
        return exporter.export(spans)
    finally:
        exporter.shutdown()


def protobuf_body(spans: Sequence[ReadableSpan]) -> bytes:
    return encode_spans(spans).SerializeToString()


def json_body(spans: Sequence[ReadableSpan]) -> bytes:
    """The OTLP JSON form of the spans (hex ids, lowerCamelCase), as an exporter sends it."""
    document = json_format.MessageToDict(encode_spans(spans))
    _ids_to_hex(document)
    return json.dumps(document).encode()


def _ids_to_hex(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _ids_to_hex(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in ("traceId", "spanId", "parentSpanId"):
                node[key] = base64.b64decode(value).hex()
            else:
                _ids_to_hex(value)


def post(server: OtlpServer, body: bytes, content_type: str, *, gzip_body: bool = False,
         path: str = "/v1/traces", content_encoding: str | None = None
         ) -> tuple[int, dict[str, str], bytes]:
    """POST a raw body (gzipped with gzip_body; `content_encoding` claims one without
    encoding it); (status, headers, body) whatever the status."""
    headers = {"Content-Type": content_type}
    if content_encoding:
        headers["Content-Encoding"] = content_encoding
    if gzip_body:
        body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}", data=body,
                                     headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def blocking_writer(release: threading.Event, write: WriteRows,
                    entered: threading.Event | None = None) -> WriteRows:
    """A writer that waits for `release` before each write (a store that has fallen behind);
    it sets `entered` once a write is waiting."""
    def write_when_released(rows: list[dict[str, Any]]) -> Any:
        if entered is not None:
            entered.set()
        release.wait(30)
        return write(rows)
    return write_when_released


def when(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Wait until `condition()` holds (polling), at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
